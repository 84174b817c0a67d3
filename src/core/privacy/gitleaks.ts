/**
 * gitleaks' rule set, compiled to detectors. The rules are gitleaks' own file
 * (`vendor/gitleaks/gitleaks.toml`, MIT), parsed by the caller and handed here as data, so
 * that updating the rules is replacing that one file. Each rule is applied as gitleaks
 * applies it to a fragment of text: keywords first (no keyword, no regex), then the regex,
 * the secret group, the entropy threshold, and the rule's and the global allowlists. Rules
 * tied to file paths (a `path` of their own) do not apply to log values and are skipped.
 *
 * The regexes are Go RE2 syntax and run on re2js, a JavaScript port of RE2: the same
 * semantics as gitleaks (JavaScript's engine reads several of them differently or not at
 * all) and matching in linear time, so a hostile value cannot make a regex backtrack for
 * seconds.
 */
import { RE2JS } from "re2js";
import { GenlogError } from "../../errors.js";
import type { Detector, Finding } from "./detectors.js";

/** One compiled gitleaks rule. */
interface CompiledRule {
  id: string;
  /** Lower-case keywords; the rule runs only on text that contains one. */
  keywords: readonly string[];
  regex: RE2JS;
  secretGroup: number;
  entropy: number;
  allowlists: readonly CompiledAllowlist[];
}

interface CompiledAllowlist {
  /** "OR": any one check allows the finding; "AND": all must. */
  condition: "OR" | "AND";
  regexes: readonly RE2JS[];
  regexTarget: "secret" | "match" | "line";
  stopwords: readonly string[];
  /** An allowlist that also needs a file path can never apply to a log value under AND. */
  needsPath: boolean;
}

/** What {@link compileGitleaksRules} made of a rule file. */
export interface GitleaksRuleSet {
  /** The detector that runs every rule (rule names are `secret:<gitleaks id>`). */
  detector: Detector;
  /** Ids of the rules compiled. */
  ruleIds: readonly string[];
  /** Ids of the rules skipped because they only apply to file paths. */
  skipped: readonly string[];
  /** Every keyword of every rule, lower case. */
  keywords: readonly string[];
}

/**
 * Compiles a parsed gitleaks configuration (the object `smol-toml` returns for
 * `gitleaks.toml`).
 *
 * @throws {GenlogError} `GENLOG_E_CONFIG` naming the rule and field that cannot be used.
 */
export function compileGitleaksRules(config: unknown): GitleaksRuleSet {
  const root = asTable(config, "the rule file");
  const rulesIn = root["rules"];
  if (!Array.isArray(rulesIn) || rulesIn.length === 0) {
    throw configError("rules: expected a non-empty array of [[rules]]");
  }
  const global =
    root["allowlist"] === undefined ? [] : [compileAllowlist(root["allowlist"], "allowlist")];
  const rules: CompiledRule[] = [];
  const skipped: string[] = [];
  for (const [i, raw] of rulesIn.entries()) {
    const r = asTable(raw, `rules[${i}]`);
    const id = str(r["id"], `rules[${i}].id`);
    const where = `rule ${id}`;
    if (r["path"] !== undefined || r["regex"] === undefined) {
      skipped.push(id);
      continue;
    }
    const keywords =
      r["keywords"] === undefined ? [] : strList(r["keywords"], `${where}: keywords`);
    rules.push({
      id,
      keywords: keywords.map((k) => k.toLowerCase()),
      regex: compileRe2(str(r["regex"], `${where}: regex`), `${where}: regex`),
      secretGroup:
        r["secretGroup"] === undefined ? 0 : int(r["secretGroup"], `${where}: secretGroup`),
      entropy: r["entropy"] === undefined ? 0 : num(r["entropy"], `${where}: entropy`),
      allowlists: [
        ...(Array.isArray(r["allowlists"])
          ? r["allowlists"].map((a, j) => compileAllowlist(a, `${where}: allowlists[${j}]`))
          : []),
        ...global,
      ],
    });
  }
  const keywords = [...new Set(rules.flatMap((r) => r.keywords))];
  return {
    detector: gitleaksDetector(rules),
    ruleIds: rules.map((r) => r.id),
    skipped,
    keywords,
  };
}

/**
 * Texts longer than this are scanned in overlapping windows: a secret is far shorter, and
 * the cost of locating a match's groups grows with the text before it.
 */
const WINDOW = 8192;
const OVERLAP = 2048;

function gitleaksDetector(rules: readonly CompiledRule[]): Detector {
  // One case-insensitive alternation of every keyword: a text that contains none (most do
  // not) costs one scan, and no rule runs.
  const keywords = [...new Set(rules.flatMap((r) => r.keywords))].sort(
    (a, b) => b.length - a.length,
  );
  const gate = new RegExp(keywords.map(escapeRegExp).join("|"), "i");
  const unconditional = rules.filter((r) => r.keywords.length === 0);
  const index = keywordIndex(keywords);
  const ruleKeywords = rules.map((r) => r.keywords.map((k) => keywords.indexOf(k)));
  return {
    name: "gitleaks",
    category: "secret",
    scan(text: string): Finding[] {
      const found: Finding[] = [];
      const gated = gate.test(text);
      if (!gated && unconditional.length === 0) return found;
      // Which keywords the text holds, found in one pass over it (not one search per rule).
      const present = gated ? index.find(text.toLowerCase()) : undefined;
      for (let r = 0; r < rules.length; r++) {
        const rule = rules[r]!;
        if (rule.keywords.length > 0) {
          if (present === undefined) continue;
          const ks = ruleKeywords[r]!;
          let any = false;
          for (let i = 0; i < ks.length && !any; i++) any = present.has(ks[i]!);
          if (!any) continue;
        }
        if (text.length <= WINDOW) {
          scanRule(rule, text, 0, found);
        } else {
          for (let at = 0; at < text.length; at += WINDOW - OVERLAP) {
            scanRule(rule, text.slice(at, at + WINDOW), at, found);
            if (at + WINDOW >= text.length) break;
          }
        }
      }
      return found;
    },
  };
}

/** The keywords a lower-case text contains, by their index in the keyword list. */
interface KeywordIndex {
  find(lower: string): KeywordSet;
}

interface KeywordSet {
  has(keyword: number): boolean;
}

/**
 * Finds every keyword occurring in a text (overlapping ones too, exactly as `includes` on
 * each would) in one pass: keywords are filed under their first two UTF-16 code units, and
 * each position of the text looks up only the keywords that start with its two units.
 * Keywords shorter than two units are searched with `includes`.
 */
function keywordIndex(keywords: readonly string[]): KeywordIndex {
  const byPair = new Map<number, number[]>();
  const short: number[] = [];
  keywords.forEach((k, i) => {
    if (k.length < 2) {
      short.push(i);
      return;
    }
    const pair = (k.charCodeAt(0) << 16) | k.charCodeAt(1);
    let list = byPair.get(pair);
    if (list === undefined) byPair.set(pair, (list = []));
    list.push(i);
  });
  // Stamps instead of a fresh set per text: keyword i is present when stamp[i] === epoch.
  const stamp = new Uint32Array(keywords.length);
  let epoch = 0;
  const set: KeywordSet = { has: (i) => stamp[i] === epoch };
  return {
    find(lower) {
      if (++epoch === 0xffffffff) {
        stamp.fill(0);
        epoch = 1;
      }
      for (const i of short) if (lower.includes(keywords[i]!)) stamp[i] = epoch;
      const end = lower.length - 1;
      let next = lower.charCodeAt(0);
      for (let at = 0; at < end; at++) {
        const first = next;
        next = lower.charCodeAt(at + 1);
        const list = byPair.get((first << 16) | next);
        if (list === undefined) continue;
        for (const i of list) {
          if (stamp[i] !== epoch && lower.startsWith(keywords[i]!, at)) stamp[i] = epoch;
        }
      }
      return set;
    },
  };
}

function scanRule(rule: CompiledRule, text: string, offset: number, out: Finding[]): void {
  // A match-or-not test runs on RE2's DFA, an order of magnitude faster than finding the
  // groups: most texts that pass the keyword gate still fail here.
  if (!rule.regex.test(text)) return;
  const m = rule.regex.matcher(text);
  let from = 0;
  while (from <= text.length && m.find(from)) {
    const start = m.start(0);
    const end = m.end(0);
    from = end > start ? end : end + 1;
    const [sStart, sEnd] = secretSpan(m, rule.secretGroup);
    const secret = text.slice(sStart, sEnd);
    if (secret.length === 0) continue;
    if (rule.entropy > 0 && shannonEntropy(secret) <= rule.entropy) continue;
    // gitleaks' own rule for its generic rules: a secret without a digit is a word.
    if (rule.id.startsWith("generic") && !/[0-9]/.test(secret)) continue;
    const match = text.slice(start, end);
    if (rule.allowlists.some((a) => allows(a, secret, match, lineAround(text, start, end)))) {
      continue;
    }
    out.push({ rule: `secret:${rule.id}`, start: offset + sStart, end: offset + sEnd });
  }
}

/** The secret's span: the rule's group, else the first non-empty group, else the match. */
function secretSpan(m: ReturnType<RE2JS["matcher"]>, group: number): [number, number] {
  const groups = m.groupCount();
  if (group > 0 && group <= groups && m.start(group) >= 0) return [m.start(group), m.end(group)];
  for (let g = 1; g <= groups; g++) {
    const s = m.start(g);
    if (s >= 0 && m.end(g) > s) return [s, m.end(g)];
  }
  return [m.start(0), m.end(0)];
}

function allows(a: CompiledAllowlist, secret: string, match: string, line: string): boolean {
  if (a.needsPath && a.condition === "AND") return false;
  const target = a.regexTarget === "match" ? match : a.regexTarget === "line" ? line : secret;
  const checks: boolean[] = [];
  if (a.regexes.length > 0) checks.push(a.regexes.some((re) => re.test(target)));
  if (a.stopwords.length > 0) {
    const s = secret.toLowerCase();
    checks.push(a.stopwords.some((w) => s.includes(w)));
  }
  if (checks.length === 0) return false;
  return a.condition === "AND" ? checks.every(Boolean) : checks.some(Boolean);
}

function lineAround(text: string, start: number, end: number): string {
  const from = text.lastIndexOf("\n", start - 1) + 1;
  const to = text.indexOf("\n", end);
  return text.slice(from, to < 0 ? text.length : to);
}

/** Shannon entropy in bits per character, as gitleaks computes it (over bytes of ASCII). */
export function shannonEntropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let n = 0;
  for (const c of counts.values()) n += c;
  let h = 0;
  for (const c of counts.values()) {
    const p = c / n;
    h -= p * Math.log2(p);
  }
  return h;
}

function compileAllowlist(raw: unknown, where: string): CompiledAllowlist {
  const a = asTable(raw, where);
  const target = a["regexTarget"] ?? "secret";
  if (target !== "secret" && target !== "match" && target !== "line") {
    throw configError(
      `${where}: regexTarget: expected secret, match or line, got ${String(target)}`,
    );
  }
  const condition = a["condition"] ?? "OR";
  if (condition !== "OR" && condition !== "AND") {
    throw configError(`${where}: condition: expected OR or AND, got ${String(condition)}`);
  }
  return {
    condition,
    regexTarget: target,
    regexes: (a["regexes"] === undefined ? [] : strList(a["regexes"], `${where}: regexes`)).map(
      (p, i) => compileRe2(p, `${where}: regexes[${i}]`),
    ),
    stopwords: (a["stopwords"] === undefined
      ? []
      : strList(a["stopwords"], `${where}: stopwords`)
    ).map((w) => w.toLowerCase()),
    needsPath: a["paths"] !== undefined,
  };
}

function compileRe2(pattern: string, where: string): RE2JS {
  try {
    return RE2JS.compile(pattern);
  } catch (cause) {
    throw configError(
      `${where}: not an RE2 regular expression (${(cause as Error).message})`,
      cause,
    );
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

function asTable(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw configError(`${where}: expected a table`);
  }
  return v as Record<string, unknown>;
}

function str(v: unknown, where: string): string {
  if (typeof v !== "string" || v.length === 0) throw configError(`${where}: expected a string`);
  return v;
}

function strList(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw configError(`${where}: expected an array of strings`);
  }
  return v as string[];
}

function int(v: unknown, where: string): number {
  // smol-toml reads integers as numbers (or bigints beyond 2^53).
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
    throw configError(`${where}: expected a whole number`);
  }
  return n;
}

function num(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw configError(`${where}: expected a number from 0`);
  }
  return v;
}

function configError(message: string, cause?: unknown): GenlogError {
  return new GenlogError("GENLOG_E_CONFIG", `gitleaks rules: ${message}`, {
    ...(cause !== undefined ? { cause } : {}),
  });
}
