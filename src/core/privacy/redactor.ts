/**
 * The redact stage: secrets never reach a record, and personal data leaves it as the
 * tenant's policy says. Every member of `meta` (at any depth, keys and values) and every
 * artifact name goes through the same rules, in this order:
 *
 * 1. a key name that says "secret" (`password`, `api_key`, …): the value goes (`secrets`);
 * 2. a policy pointer (`/meta/customer/address`): the whole value gets its action;
 * 3. a key name that holds personal data (`email`, `patient`, …): likewise;
 * 4. value detectors on every string and long integer: secrets (gitleaks' rules and
 *    genlog's own) and personal data (e-mail, phone, IP, IBAN, card); each finding's span is
 *    replaced by its action's token, or the whole value dropped.
 *
 * The copies are made with every object's members in RFC 8785 order (the order of the
 * stored text), and the record lists each redaction as `{action, path, rule}` in that order
 * of the members; the value is never kept.
 */
import { createHmac } from "node:crypto";
import { pointerOf } from "../event-schema.js";
import type { Artifact } from "../record.js";
import { scanText, type Detector, type Finding } from "./detectors.js";
import { normaliseKeyName, secretKeyRuleOf } from "./key-names.js";
import type { CompiledPolicy, PolicyAction } from "./policy.js";

/** Where a value was removed or replaced, by which rule and how. The value itself is never kept. */
export interface Redaction {
  /** JSON Pointer into the record, e.g. `/meta/db/password`. */
  path: string;
  /** The rule that matched: `key:password`, `secret:aws-access-token`, `pii:email`, `pointer:/meta/x`. */
  rule: string;
  /** What was done: `drop`, `mask`, `hash` or `encrypt`. */
  action: PolicyAction;
}

/** What a redactor returns: fresh copies without secrets, and what it removed. */
export interface RedactionResult {
  /**
   * True when `JSON.stringify` of `meta`, `artifacts` and `redactions` is their RFC 8785
   * text: every object's members were added in sorted order, none is named like an array
   * index (JavaScript lists those first, whatever the order they were added in), and every
   * string is well-formed UTF-16 (`JSON.stringify` would escape a lone surrogate, RFC 8785
   * refuses it). When false, the record is canonicalised the slow way, which refuses what
   * must be refused.
   */
  stringifiable: boolean;
  meta: Record<string, unknown>;
  artifacts: Artifact[];
  redactions: Redaction[];
  /**
   * The clear values the policy sent to `encrypt`, by JSON Pointer (a string with spans
   * encrypted is kept whole): for the subject's envelope, never for the record.
   */
  sealed: Record<string, unknown>;
}

/** Options of one {@link Redactor.redact} call. */
export interface RedactOptions {
  /**
   * True when the event has a subject (an actor) whose envelope can hold encrypted values;
   * without one, `encrypt` masks instead.
   */
  subject: boolean;
}

/**
 * Removes secrets and personal data from an event's free text. Implementations MUST NOT
 * mutate their input and MUST return deep copies, so that a caller changing its object
 * after `append` cannot change what is committed.
 */
export interface Redactor {
  redact(
    meta: Record<string, unknown>,
    artifacts: readonly Artifact[],
    options?: RedactOptions,
  ): RedactionResult;
}

/** The text that replaces a masked value, so readers see that something was there. */
export const REDACTED = "[REDACTED]";
/** The text that replaces a value moved into the subject's envelope. */
export const ENCRYPTED = "[ENCRYPTED]";

/** The state of one redact call. */
interface Ctx {
  out: Redaction[];
  sealed: Record<string, unknown>;
  subject: boolean;
  /** See {@link RedactionResult.stringifiable}. */
  stringifiable: boolean;
}

/** A name JavaScript treats as an array index, enumerated first in numeric order. */
const ARRAY_INDEX = /^(?:0|[1-9][0-9]{0,9})$/;

function isArrayIndex(key: string): boolean {
  return ARRAY_INDEX.test(key) && Number(key) <= 4_294_967_294;
}

/** Options of {@link PolicyRedactor}. */
export interface PolicyRedactorOptions {
  policy: CompiledPolicy;
  /** Value detectors in priority order (secrets first); empty for key names only. */
  detectors: readonly Detector[];
  /** The tenant's hashing key (32 bytes), for the `hash` action. */
  hashKey?: Uint8Array;
}

/**
 * Verdicts of recent strings and keys: metadata repeats the same few keys and values event
 * after event. Only short strings are kept and the map is emptied when full, so hostile
 * input with endless new values cannot make it hold more than about a megabyte. One cache
 * per redactor: two tenants' policies never share verdicts.
 */
const CACHE_MAX = 4096;
const CACHE_TEXT_MAX = 128;

/** Integers this long may be a phone or card number written as a JSON number. */
const LONG_INTEGER = 1_000_000;

/** The redactor of a tenant's pipeline. */
export class PolicyRedactor implements Redactor {
  readonly #policy: CompiledPolicy;
  readonly #detectors: readonly Detector[];
  readonly #hashKey: Uint8Array | undefined;
  readonly #keyVerdicts = new Map<string, KeyVerdict | null>();
  readonly #textVerdicts = new Map<string, readonly Finding[]>();

  constructor(options: PolicyRedactorOptions) {
    this.#policy = options.policy;
    this.#detectors = options.detectors;
    this.#hashKey = options.hashKey;
    const needsKey =
      Object.values(options.policy.detectors).includes("hash") ||
      [...options.policy.keys.values()].includes("hash") ||
      options.policy.pointers.some((p) => p.action === "hash");
    if (needsKey && options.hashKey === undefined) {
      throw new Error("PolicyRedactor: the policy hashes values but no hashKey was given");
    }
  }

  redact(
    meta: Record<string, unknown>,
    artifacts: readonly Artifact[],
    options: RedactOptions = { subject: false },
  ): RedactionResult {
    const out: Redaction[] = [];
    const ctx: Ctx = { out, sealed: {}, subject: options.subject, stringifiable: true };
    const path: string[] = ["meta"];
    const copy = this.#object(meta, path, ctx);
    const arts: Artifact[] = artifacts.map((a, i) => {
      const where = ["artifacts", String(i), "name"];
      const rule = this.#pointerRule(where);
      let name: string;
      if (rule !== undefined) {
        const w = this.#whole(a.name, rule.action, `pointer:${rule.pointer}`, where, ctx);
        name = typeof w === "string" ? w : REDACTED;
      } else {
        const v = this.#text(a.name, where, ctx);
        name = v === DROP ? REDACTED : v;
      }
      return { digest: a.digest, name, size: a.size };
    });
    return {
      stringifiable: ctx.stringifiable,
      meta: copy,
      artifacts: arts,
      redactions: dedupe(out),
      sealed: ctx.sealed,
    };
  }

  /** A copy of an object, its members added in RFC 8785 order (sorted by UTF-16 code units). */
  #object(value: Record<string, unknown>, path: string[], ctx: Ctx): Record<string, unknown> {
    const rawKeys = sortKeys(Object.keys(value));
    const keys: string[] = [];
    const values: unknown[] = [];
    let renamed = false;
    for (const rawKey of rawKeys) {
      const v = value[rawKey];
      // A key can be a secret or a person too: such a key is replaced like a value would be
      // (masked: a key has no place in an envelope).
      let key = rawKey;
      const keyFindings = this.#findings(rawKey);
      if (keyFindings.length > 0) {
        key = this.#replaceSpans(rawKey, keyFindings, false, false) ?? REDACTED;
        while (keys.includes(key) || Object.hasOwn(value, key)) key += "~";
        renamed = true;
        const where = pointerOf("", [...path, key]);
        for (const f of keyFindings) {
          const action = this.#actionOf(f.rule, false);
          ctx.out.push({ action, path: where, rule: f.rule });
        }
      }
      if (ctx.stringifiable && (isArrayIndex(key) || !key.isWellFormed())) {
        ctx.stringifiable = false;
      }
      path.push(key);
      const copied = this.#member(rawKey, v, path, ctx);
      path.pop();
      if (copied === DROP) continue;
      keys.push(key);
      values.push(copied);
    }
    // A replaced key may sort elsewhere than the original did.
    const order = renamed ? sortedOrder(keys) : undefined;
    const obj: Record<string, unknown> = {};
    for (let j = 0; j < keys.length; j++) {
      const i = order === undefined ? j : order[j]!;
      const key = keys[i]!;
      // JSON.parse makes "__proto__" an own key; plain assignment would set the prototype instead.
      if (key === "__proto__") {
        Object.defineProperty(obj, key, {
          value: values[i],
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        obj[key] = values[i];
      }
    }
    return obj;
  }

  /** The copy of member `key` at `path` (which ends with the stored key), or DROP. */
  #member(key: string, v: unknown, path: string[], ctx: Ctx): unknown {
    const verdict = this.#keyVerdict(key);
    if (verdict?.secret === true) {
      return this.#whole(v, this.#policy.secrets, verdict.rule, path, ctx);
    }
    const pointer = this.#pointerRule(path);
    if (pointer !== undefined) {
      return this.#whole(v, pointer.action, `pointer:${pointer.pointer}`, path, ctx);
    }
    if (verdict !== null) return this.#whole(v, verdict.action, verdict.rule, path, ctx);
    return this.#value(v, path, ctx);
  }

  #value(v: unknown, path: string[], ctx: Ctx): unknown {
    if (typeof v === "string") return this.#text(v, path, ctx);
    if (typeof v === "number") {
      if (!Number.isInteger(v) || Math.abs(v) < LONG_INTEGER) return v;
      const text = String(v);
      if (this.#findings(text).length === 0) return v;
      const r = this.#text(text, path, ctx);
      // The envelope keeps the number as a number.
      if (Object.hasOwn(ctx.sealed, pointerOf("", path))) ctx.sealed[pointerOf("", path)] = v;
      return r;
    }
    if (typeof v !== "object" || v === null) return v;
    if (Array.isArray(v)) {
      const arr = new Array<unknown>(v.length);
      for (let i = 0; i < v.length; i++) {
        path.push(String(i));
        const pointer = this.#pointerRule(path);
        const c =
          pointer === undefined
            ? this.#value(v[i], path, ctx)
            : this.#whole(v[i], pointer.action, `pointer:${pointer.pointer}`, path, ctx);
        path.pop();
        // An array keeps its length: a dropped item leaves a mark, not a shifted index.
        arr[i] = c === DROP ? REDACTED : c;
      }
      return arr;
    }
    return this.#object(v as Record<string, unknown>, path, ctx);
  }

  /** A string with every finding replaced, or DROP when a finding's action is `drop`. */
  #text(text: string, path: string[], ctx: Ctx): string | typeof DROP {
    if (ctx.stringifiable && !text.isWellFormed()) ctx.stringifiable = false;
    const findings = this.#findings(text);
    if (findings.length === 0) return text;
    const where = pointerOf("", path);
    let sealing = false;
    for (const f of findings) {
      const action = this.#actionOf(f.rule, ctx.subject);
      ctx.out.push({ action, path: where, rule: f.rule });
      sealing ||= action === "encrypt";
    }
    const stored = this.#replaceSpans(text, findings, ctx.subject, false);
    // The envelope keeps the text with only the encrypted spans left in clear: a secret or a
    // value to hash beside them is replaced there too, and a dropped value is kept nowhere.
    if (sealing && stored !== undefined) {
      ctx.sealed[where] = this.#replaceSpans(text, findings, ctx.subject, true);
    }
    return stored ?? DROP;
  }

  /**
   * `text` with each finding's span replaced by its token (`keepEncrypted`: spans to encrypt
   * left as they are, for the envelope); undefined when one says drop.
   */
  #replaceSpans(
    text: string,
    findings: readonly Finding[],
    subject: boolean,
    keepEncrypted: boolean,
  ): string | undefined {
    let result = "";
    let at = 0;
    for (const f of findings) {
      const action = this.#actionOf(f.rule, subject);
      if (action === "drop") return undefined;
      const span = text.slice(f.start, f.end);
      result += text.slice(at, f.start);
      result += keepEncrypted && action === "encrypt" ? span : this.#token(action, span);
      at = f.end;
    }
    return result + text.slice(at);
  }

  /**
   * A copy of `v` with its secrets replaced (masked or dropped as the policy says) and its
   * personal data left as it is: what an envelope may hold.
   */
  #secretFree(v: unknown, path: string[]): unknown {
    if (typeof v === "string") {
      const secrets = this.#findings(v).filter((f) => f.rule.startsWith("secret:"));
      if (secrets.length === 0) return v;
      return this.#replaceSpans(v, secrets, false, false) ?? REDACTED;
    }
    if (typeof v !== "object" || v === null) return v;
    if (Array.isArray(v)) {
      return v.map((x, i) => {
        const pointed = this.#pointerDropped([...path, String(i)]);
        if (pointed !== undefined) return pointed === DROP ? REDACTED : pointed;
        return this.#secretFree(x, [...path, String(i)]);
      });
    }
    const obj: Record<string, unknown> = {};
    for (const key in v) {
      const secret = this.#keyVerdict(key)?.secret === true;
      if (secret && this.#policy.secrets === "drop") continue;
      // A policy pointer under the encrypted value still applies: `drop` leaves it out.
      const inner = [...path, key];
      const pointed = this.#pointerDropped(inner);
      if (pointed === DROP) continue;
      const safeKey = this.#findings(key).some((f) => f.rule.startsWith("secret:"))
        ? REDACTED
        : key;
      const value = secret
        ? REDACTED
        : (pointed ?? this.#secretFree((v as Record<string, unknown>)[key], inner));
      Object.defineProperty(obj, safeKey, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return obj;
  }

  /** What a `drop` or `mask` pointer at `path` leaves of a value, or undefined for none. */
  #pointerDropped(path: readonly string[]): typeof DROP | string | undefined {
    const rule = this.#pointerRule(path);
    if (rule?.action === "drop") return DROP;
    if (rule?.action === "mask") return REDACTED;
    return undefined;
  }

  /** A whole value acted on: a token in its place, or DROP. */
  #whole(v: unknown, wanted: PolicyAction, rule: string, path: string[], ctx: Ctx): unknown {
    const action = wanted === "encrypt" && !ctx.subject ? "mask" : wanted;
    const where = pointerOf("", path);
    // A policy's pointer is part of the rule's name.
    if (ctx.stringifiable && !rule.isWellFormed()) ctx.stringifiable = false;
    ctx.out.push({ action, path: where, rule });
    if (action === "drop") return DROP;
    if (action === "encrypt") ctx.sealed[where] = this.#secretFree(v, [...path]);
    // A number or an object is hashed as its JSON text: equal values, equal tokens.
    return this.#token(action, typeof v === "string" ? v : (JSON.stringify(v) ?? "null"));
  }

  #token(action: "mask" | "hash" | "encrypt", value: string): string {
    if (action === "mask") return REDACTED;
    if (action === "encrypt") return ENCRYPTED;
    const mac = createHmac("sha256", this.#hashKey!).update(value, "utf8").digest();
    return `[hmac:${mac.subarray(0, 16).toString("base64url")}]`;
  }

  /** The action for a finding of `rule`; `encrypt` only where there is a subject. */
  #actionOf(rule: string, subject: boolean): PolicyAction {
    if (rule.startsWith("secret:")) return this.#policy.secrets;
    const name = rule.slice("pii:".length) as keyof CompiledPolicy["detectors"];
    const action = this.#policy.detectors[name];
    return action === "encrypt" && !subject ? "mask" : action;
  }

  #findings(text: string): readonly Finding[] {
    if (this.#detectors.length === 0) return NONE;
    let found = this.#textVerdicts.get(text);
    if (found === undefined) {
      found = scanText(text, this.#detectors);
      if (found.length === 0) found = NONE;
      if (text.length <= CACHE_TEXT_MAX) {
        if (this.#textVerdicts.size >= CACHE_MAX) this.#textVerdicts.clear();
        this.#textVerdicts.set(text, found);
      }
    }
    return found;
  }

  #keyVerdict(key: string): KeyVerdict | null {
    let verdict = this.#keyVerdicts.get(key);
    if (verdict === undefined) {
      const normalised = normaliseKeyName(key);
      const secret = secretKeyRuleOf(normalised);
      const personal = this.#policy.keys.get(normalised);
      verdict =
        secret !== undefined
          ? { secret: true, rule: secret, action: this.#policy.secrets }
          : personal !== undefined
            ? { secret: false, rule: `key:${normalised}`, action: personal }
            : null;
      if (key.length <= CACHE_TEXT_MAX) {
        if (this.#keyVerdicts.size >= CACHE_MAX) this.#keyVerdicts.clear();
        this.#keyVerdicts.set(key, verdict);
      }
    }
    return verdict;
  }

  #pointerRule(path: readonly string[]): CompiledPolicy["pointers"][number] | undefined {
    for (const rule of this.#policy.pointers) {
      if (rule.segments.length !== path.length) continue;
      if (rule.segments.every((s, i) => s === "*" || s === path[i])) return rule;
    }
    return undefined;
  }
}

/**
 * `keys` sorted in place by UTF-16 code units (RFC 8785's order, also `sort()`'s): by
 * insertion for the few keys of most objects, which allocates nothing.
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

/** The indexes of `keys` in the order of their keys (UTF-16 code units, as RFC 8785 sorts). */
function sortedOrder(keys: readonly string[]): number[] {
  return keys
    .map((_, i) => i)
    .sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : 0));
}

interface KeyVerdict {
  secret: boolean;
  rule: string;
  action: PolicyAction;
}

const DROP = Symbol("drop");
const NONE: readonly Finding[] = Object.freeze([]);

/**
 * The redactions of a record without any: one frozen array for all of them, rather than an
 * empty one per record held until its commit.
 */
const NO_REDACTIONS = Object.freeze([]) as unknown as Redaction[];

/** One entry per (path, rule, action): a value with three e-mail addresses is listed once. */
function dedupe(list: Redaction[]): Redaction[] {
  if (list.length === 0) return NO_REDACTIONS;
  if (list.length < 2) return list;
  const seen = new Set<string>();
  return list.filter((r) => {
    const k = `${r.path}\u0000${r.rule}\u0000${r.action}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * A redactor of key names only (secret and personal), with no value detectors: the
 * pipeline before value detection, kept for comparison in benchmarks and for tools that
 * need no tenant policy.
 */
export function keyNameRedactor(policy: CompiledPolicy): PolicyRedactor {
  return new PolicyRedactor({ policy, detectors: [] });
}
