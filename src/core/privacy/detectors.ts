/**
 * Value detectors: find secrets and personal data inside free text, wherever a value sits
 * and whatever its key is called. Each detector is a cheap prefilter (a character or a
 * keyword the value must contain) followed by a pattern and, where one exists, a check that
 * the pattern alone cannot make: a Luhn sum for cards, the mod-97 checksum and country length
 * for IBANs, `node:net` for IP addresses, libphonenumber's numbering plans for phones.
 *
 * What gitleaks lacks for logs is here too: URLs and connection strings with a password,
 * `Authorization` values, PEM blocks, `.npmrc` auth lines.
 */
import { isIP } from "node:net";
import { PhoneNumberMatcher, type CountryCode } from "libphonenumber-js";
import { isValidIBAN } from "ibantools";

/** Where a detector found something: a span of the text and the rule that matched. */
export interface Finding {
  /** `secret:<id>` or `pii:<kind>`, e.g. `secret:aws-access-token`, `pii:email`. */
  rule: string;
  /** UTF-16 offsets of the sensitive part: what gets masked, hashed or encrypted. */
  start: number;
  end: number;
}

/** A detector of one family. */
export interface Detector {
  /** Family name, e.g. `gitleaks`, `email`. */
  readonly name: string;
  readonly category: "secret" | "pii";
  /** Every finding in `text`, in any order; findings may overlap (see {@link scanText}). */
  scan(text: string): Finding[];
}

/** The personal-data detectors, by name; also the names policies use. */
export const PII_DETECTORS = ["email", "phone", "ip", "iban", "card"] as const;
export type PiiDetectorName = (typeof PII_DETECTORS)[number];

/** The secret detectors genlog adds to gitleaks' rules, by name. */
export const EXTRA_SECRET_DETECTORS = [
  "url-password",
  "authorization",
  "pem-block",
  "npmrc-auth",
] as const;

/**
 * Every finding of `detectors` in `text`, sorted by position, with overlaps resolved: a
 * finding that overlaps an earlier detector's is dropped (the order of `detectors` is the
 * priority: secrets before personal data), and of one detector's overlapping findings the
 * first, longest one is kept.
 */
export function scanText(text: string, detectors: readonly Detector[]): Finding[] {
  // Kept findings, sorted by start and never overlapping: an overlap test is a binary search.
  const kept: Finding[] = [];
  for (const d of detectors) {
    const found = d.scan(text).sort((a, b) => a.start - b.start || b.end - a.end);
    for (const f of found) {
      let lo = 0;
      let hi = kept.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (kept[mid]!.start < f.start) lo = mid + 1;
        else hi = mid;
      }
      const before = kept[lo - 1];
      const after = kept[lo];
      if (
        (before !== undefined && before.end > f.start) ||
        (after !== undefined && after.start < f.end)
      ) {
        continue;
      }
      kept.splice(lo, 0, f);
    }
  }
  return kept;
}

// --- Secrets gitleaks does not cover ---------------------------------------------------

/** `scheme://user:password@host`: the password. `redis://:pw@host` has an empty user. */
const URL_PASSWORD = /\b[a-z][a-z0-9+.-]{1,31}:\/\/[^\s:/?#@"'`<>]*:([^\s/?#@"'`<>]+)@/dgi;

/** An `Authorization` header or field: its value, after the scheme if there is one. */
const AUTH_HEADER =
  /\b(?:proxy-)?authorization\b["']?[ \t]*[:=][ \t]*["']?(?:(?:bearer|basic|digest|negotiate|token)[ \t]+)?([^\s"',;]{6,})/dgi;
/** A bare `Bearer <token>` in text (a short word after "bearer" is prose, not a token). */
const BEARER = /\bbearer[ \t]+([A-Za-z0-9._~+/-]{16,}=*)/dgi;
/** A bare `Basic <base64>`: a credential only if it decodes to `user:password`. */
const BASIC = /\bbasic[ \t]+([A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])/dgi;

/** A PEM block, to its END line or, cut short, to the end of the text. */
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]{1,64})-----[\s\S]*?(?:-----END \1-----|$)/dg;

/** `.npmrc` lines: `//registry/:_authToken=…`, `_auth=…`, `_password=…`. */
const NPMRC_AUTH = /(?:^|[\s:])_(?:authToken|auth|password)[ \t]*=[ \t]*["']?([^\s"']+)/dg;

/** The detectors of {@link EXTRA_SECRET_DETECTORS}. */
export function extraSecretDetectors(): Detector[] {
  return [
    regexDetector("url-password", "secret", "://", URL_PASSWORD, 1),
    {
      name: "authorization",
      category: "secret",
      scan(text) {
        const lower = text.toLowerCase();
        const out: Finding[] = [];
        if (lower.includes("authorization")) {
          for (const m of text.matchAll(AUTH_HEADER)) pushGroup(out, "secret:authorization", m, 1);
        }
        if (lower.includes("bearer")) {
          for (const m of text.matchAll(BEARER)) pushGroup(out, "secret:authorization", m, 1);
        }
        if (lower.includes("basic")) {
          for (const m of text.matchAll(BASIC)) {
            if (isBasicCredential(m[1]!)) pushGroup(out, "secret:authorization", m, 1);
          }
        }
        return out;
      },
    },
    regexDetector("pem-block", "secret", "-----BEGIN ", PEM_BLOCK, 0),
    regexDetector("npmrc-auth", "secret", "_", NPMRC_AUTH, 1),
  ];
}

/** Base64 that decodes to printable `user:password`, as HTTP Basic credentials are. */
function isBasicCredential(b64: string): boolean {
  const text = Buffer.from(b64, "base64").toString("latin1");
  return /^[\x20-\x7e]+$/.test(text) && text.includes(":");
}

function regexDetector(
  name: string,
  category: "secret" | "pii",
  needle: string,
  re: RegExp,
  group: number,
): Detector {
  const rule = `${category}:${name}`;
  return {
    name,
    category,
    scan(text) {
      if (!text.includes(needle)) return [];
      const out: Finding[] = [];
      for (const m of text.matchAll(re)) pushGroup(out, rule, m, group);
      return out;
    },
  };
}

/** Adds the span of group `g` of a match (the patterns carry the `d` flag: indices). */
function pushGroup(out: Finding[], rule: string, m: RegExpMatchArray, g: number): void {
  const span = m.indices?.[g];
  if (span === undefined || span[1] <= span[0]) return;
  out.push({ rule, start: span[0], end: span[1] });
}

// --- Personal data ---------------------------------------------------------------------

/** Options of {@link piiDetectors}. */
export interface PiiDetectorOptions {
  /**
   * The country whose national formats phone numbers are read in (ISO 3166-1 alpha-2, e.g.
   * `FR`): `06 12 34 56 78` is a French mobile number only if the country is `FR`. Numbers
   * in international form (`+33 6 …`) are found whatever it is.
   */
  defaultCountry: CountryCode;
}

// E-mail addresses are found from each "@" outwards, over at most 64 characters of local
// part and 253 of domain (RFC 5321's limits): a regex run from every position would take
// quadratic time on a long run of address characters. The local part is taken as
// addresses are written in practice (RFC 5322 allows more, such as "/", which would take
// "//bob" out of a URL).
// Letters and digits of any script: internationalised addresses (RFC 6531, IDNA) too.
const LOCAL_CHAR = /[\p{L}\p{N}\p{M}%+_.-]/u;
const DOMAIN_CHAR = /[\p{L}\p{N}\p{M}.-]/u;
const LOCAL_PART = /^[\p{L}\p{N}\p{M}%+_-]+(?:\.[\p{L}\p{N}\p{M}%+_-]+)*$/u;
const DOMAIN =
  /^(?:[\p{L}\p{N}](?:[\p{L}\p{N}\p{M}-]{0,61}[\p{L}\p{N}\p{M}])?\.)+(?:\p{L}[\p{L}\p{M}]{1,62}|xn--[a-z0-9-]{1,59})/u;

/** Every e-mail address in `text`. */
function findEmails(text: string, out: Finding[]): void {
  for (let at = text.indexOf("@"); at >= 0; at = text.indexOf("@", at + 1)) {
    let start = at;
    while (start > 0 && at - start < 64 && LOCAL_CHAR.test(text[start - 1]!)) start--;
    while (text[start] === ".") start++;
    let end = at + 1;
    while (end < text.length && end - at <= 253 && DOMAIN_CHAR.test(text[end]!)) end++;
    const local = text.slice(start, at);
    if (local.length === 0 || !LOCAL_PART.test(local)) continue;
    const domain = DOMAIN.exec(text.slice(at + 1, end))?.[0];
    if (domain === undefined || /[\p{L}\p{N}]/u.test(text[at + 1 + domain.length] ?? "")) continue;
    out.push({ rule: "pii:email", start, end: at + 1 + domain.length });
  }
}

/** Candidate IP addresses: dotted quads, and runs of hex digits and colons with two colons. */
const IP_CANDIDATE =
  /(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?::(?:\d{1,3}\.){3}\d{1,3})?/g;

/** An IBAN as printed: country, check digits, then groups of four, spaced or not. */
const IBAN = /\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}\b/g;

/** 13 to 19 digits, alone or in groups separated by one space or hyphen. */
const CARD = /\d(?:[ -]?\d){12,18}/g;

/**
 * Where phone numbers may be: runs of digits close together, with the separators numbers
 * are written with. libphonenumber reads only runs of 7 digits or more, in windows of
 * {@link PHONE_RUN_MAX} characters (a few numbers in a row) and a few characters around
 * them, so its cost follows the candidates, not the length of the text.
 */
const PHONE_RUN = /(?:\+|\()?\d(?:[\s()./-]{0,3}\d)*\)?/g;
const PHONE_RUN_MAX = 160;
/**
 * Runs of digits that are something else and common in metadata: a dotted quad, a version
 * (`20.19.0`), an ISO date or date-time. libphonenumber would refuse them anyway, at tens
 * of microseconds each.
 */
const NOT_A_PHONE =
  /^(?:\d{1,3}(?:\.\d{1,3}){3}|\d+(?:\.\d+){2,}|\d{4}-\d{2}-\d{2}(?:[ T]?\d{2}(?:[:.]\d{2}){1,3})?)$/;

/** The detectors of {@link PII_DETECTORS}, in the order they take precedence. */
export function piiDetectors(options: PiiDetectorOptions): Detector[] {
  const matcherOptions = { defaultCountry: options.defaultCountry, v2: true } as const;
  return [
    {
      name: "iban",
      category: "pii",
      scan(text) {
        const out: Finding[] = [];
        if (text.length < 15) return out;
        for (const m of text.matchAll(IBAN)) {
          // The pattern is greedy (`… 189 BIC` is taken whole): shorter ends are tried too.
          const length = longestValid(m[0], 15, (c) =>
            isValidIBAN(c.replace(/ /g, "").toUpperCase()),
          );
          if (length > 0) push(out, "pii:iban", m.index!, length);
        }
        return out;
      },
    },
    {
      name: "card",
      category: "pii",
      scan(text) {
        const out: Finding[] = [];
        if (text.length < 13) return out;
        for (const m of text.matchAll(CARD)) {
          const start = m.index!;
          // Greedy too (`4111 1111 1111 1111 12/25`): shorter ends are tried.
          const length = longestValid(m[0], 13, (c) => {
            const end = start + c.length;
            return !insideToken(text, start, end) && isCardNumber(c.replace(/[ -]/g, ""));
          });
          if (length > 0) push(out, "pii:card", start, length);
        }
        return out;
      },
    },
    {
      name: "email",
      category: "pii",
      scan(text) {
        const out: Finding[] = [];
        findEmails(text, out);
        return out;
      },
    },
    {
      name: "ip",
      category: "pii",
      scan(text) {
        const out: Finding[] = [];
        if (!text.includes(".") && !text.includes(":")) return out;
        for (const m of text.matchAll(IP_CANDIDATE)) {
          const start = m.index!;
          const end = start + m[0].length;
          const version = m[0].length < 3 ? 0 : isIP(m[0]);
          if (version === 0 || insideAddressToken(text, start, end, version === 4)) continue;
          if (NOT_PERSONAL_IPS.has(m[0].toLowerCase())) continue;
          push(out, "pii:ip", start, m[0].length);
        }
        return out;
      },
    },
    {
      name: "phone",
      category: "pii",
      scan(text) {
        const out: Finding[] = [];
        const seen = new Set<number>();
        for (const m of text.matchAll(PHONE_RUN)) {
          if (m[0].length < 7 || countDigits(m[0]) < 7 || NOT_A_PHONE.test(m[0])) continue;
          // A long run (numbers listed one after another) is read in overlapping windows;
          // each window alone: a digit of the text around makes libphonenumber refuse a match.
          const runEnd = m.index! + m[0].length;
          for (let at = m.index!; at < runEnd; at += PHONE_RUN_MAX / 2) {
            const slice = text.slice(at, Math.min(runEnd, at + PHONE_RUN_MAX));
            // What findPhoneNumbersInText does, without its argument juggling.
            const matcher = new PhoneNumberMatcher(slice, matcherOptions);
            while (matcher.hasNext()) {
              const f = matcher.next()!;
              const start = at + f.startsAt;
              const end = at + f.endsAt;
              if (seen.has(start) || insideToken(text, start, end)) continue;
              seen.add(start);
              push(out, "pii:phone", start, end - start);
            }
            if (at + PHONE_RUN_MAX >= runEnd) break;
          }
        }
        return out;
      },
    },
  ];
}

/** Addresses that name no one's machine: unspecified and loopback. */
const NOT_PERSONAL_IPS: ReadonlySet<string> = new Set(["0.0.0.0", "127.0.0.1", "::", "::1"]);

/**
 * The length of the longest prefix of `candidate`, ending on a letter or digit and at least
 * `min` characters long, that `valid` accepts; 0 when none does.
 */
function longestValid(candidate: string, min: number, valid: (prefix: string) => boolean): number {
  for (let end = candidate.length; end >= min; end--) {
    if (!/[A-Za-z0-9]/.test(candidate[end - 1]!)) continue;
    if (valid(candidate.slice(0, end))) return end;
  }
  return 0;
}

function countDigits(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) n++;
  return n;
}

function push(out: Finding[], rule: string, start: number, length: number): void {
  out.push({ rule, start, end: start + length });
}

const WORD = /[\p{L}\p{N}_]/u;

/**
 * True when the span is part of a longer token (`ORD-0612345678`, `build_4111…`, a UUID):
 * the character before or after it is a letter, digit or `_`, or a `-` joined to one.
 */
function insideToken(text: string, start: number, end: number): boolean {
  const before = text[start - 1];
  const after = text[end];
  if (
    before !== undefined &&
    (WORD.test(before) || (before === "-" && WORD.test(text[start - 2] ?? "")))
  ) {
    return true;
  }
  return (
    after !== undefined && (WORD.test(after) || (after === "-" && WORD.test(text[end + 1] ?? "")))
  );
}

/**
 * Like {@link insideToken}, and `.` or `:` joined to more digits (a version `1.2.3.4.5`),
 * except an IPv4 address's port (`203.0.113.7:8080`).
 */
function insideAddressToken(text: string, start: number, end: number, v4: boolean): boolean {
  if (insideToken(text, start, end)) return true;
  const before = text[start - 1];
  const after = text[end];
  const port = v4 && after === ":" && /^:\d{1,5}(?![\d.:])/.test(text.slice(end, end + 7));
  return (
    ((before === "." || before === ":") && /[0-9A-Fa-f]/.test(text[start - 2] ?? "")) ||
    (!port && (after === "." || after === ":") && /[0-9A-Fa-f]/.test(text[end + 1] ?? ""))
  );
}

/**
 * A payment card number: 13 to 19 digits, the prefix of a card network (Visa 4, Mastercard
 * 51–55 and 2221–2720, Amex 34/37, Discover 6011/65/644–649, Diners 36/38/300–305, JCB
 * 3528–3589, UnionPay 62, Maestro 50/56–69), and a valid Luhn sum. Order numbers and ids
 * rarely pass all three.
 */
export function isCardNumber(digits: string): boolean {
  if (!/^\d{13,19}$/.test(digits) || !CARD_PREFIX.test(digits)) return false;
  return luhnValid(digits);
}

const CARD_PREFIX =
  /^(?:4|5[1-5]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[47]|6011|65|64[4-9]|3(?:0[0-5]|[68])|35(?:2[89]|[3-8]\d)|62|5[06-9]|6[0-9])/;

/** The Luhn (mod 10) check of ISO/IEC 7812. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}
