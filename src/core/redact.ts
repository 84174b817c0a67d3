/**
 * The redact stage: secrets never reach a record. This first cut matches key names at any
 * depth of `meta`; value detectors (cloud keys, JWTs, PII, …) and per-tenant policies plug in
 * behind the same {@link Redactor} interface later.
 */
import { pointerOf } from "./event-schema.js";

/** Where a value was removed and which rule removed it. The value itself is never kept. */
export interface Redaction {
  /** JSON Pointer into the record, e.g. `/meta/db/password`. */
  path: string;
  /** The rule that matched, e.g. `key:password`. */
  rule: string;
}

/** What a redactor returns: a fresh copy of `meta` without secrets, and what it removed. */
export interface RedactionResult {
  meta: Record<string, unknown>;
  redactions: Redaction[];
}

/**
 * Removes secrets from an event's metadata. Implementations MUST NOT mutate their input and
 * MUST return a deep copy, so that a caller changing its object after `append` cannot change
 * what is committed.
 */
export interface Redactor {
  redact(meta: Record<string, unknown>): RedactionResult;
}

/** The text that replaces a redacted value, so readers see that a key existed. */
export const REDACTED = "[REDACTED]";

/**
 * Key names whose values are secrets, normalised (lower case, separators `-_. ` removed).
 * A key matches when its normalised form equals one of these or ends with one of
 * {@link SECRET_KEY_SUFFIXES}.
 */
export const SECRET_KEY_NAMES: readonly string[] = [
  "password",
  "passwd",
  "pwd",
  "passphrase",
  "secret",
  "token",
  "apikey",
  "authorization",
  "auth",
  "proxyauthorization",
  "cookie",
  "setcookie",
  "privatekey",
  "clientsecret",
  "credentials",
  "credential",
  "sessionid",
  "sessiontoken",
  "secretaccesskey",
  "signingkey",
  "encryptionkey",
  "connectionstring",
  "dsn",
];

/** Suffixes that make a key secret too: `db_password`, `githubToken`, `x-api-key`, … */
export const SECRET_KEY_SUFFIXES: readonly string[] = [
  "password",
  "passwd",
  "passphrase",
  "secret",
  "token",
  "apikey",
  "privatekey",
  "secretkey",
  "accesskey",
  "credentials",
];

const SEPARATORS = /[-_. ]/g;

/**
 * Verdicts of recent key names: metadata repeats the same few keys event after event. Only
 * short keys are kept, and the map is emptied when full, so hostile input with endless or
 * huge new keys cannot make it hold more than about a megabyte.
 */
const verdicts = new Map<string, string | null>();
const VERDICTS_MAX = 4096;
const VERDICT_KEY_MAX = 128;

/** The key-name rule name for `key`, or undefined when the key is not secret. */
export function secretKeyRule(key: string): string | undefined {
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    verdict = ruleFor(key.toLowerCase().replace(SEPARATORS, ""));
    if (key.length <= VERDICT_KEY_MAX) {
      if (verdicts.size >= VERDICTS_MAX) verdicts.clear();
      verdicts.set(key, verdict);
    }
  }
  return verdict ?? undefined;
}

function ruleFor(k: string): string | null {
  if (SECRET_KEY_NAMES.includes(k)) return `key:${k}`;
  for (const suffix of SECRET_KEY_SUFFIXES) if (k.endsWith(suffix)) return `key:*${suffix}`;
  return null;
}

/** The default redactor: key-name rules at any depth, values replaced by {@link REDACTED}. */
export class KeyNameRedactor implements Redactor {
  redact(meta: Record<string, unknown>): RedactionResult {
    const redactions: Redaction[] = [];
    const copy = copyRedacted(meta, [], redactions) as Record<string, unknown>;
    return { meta: copy, redactions };
  }
}

/** Deep-copies `value`, found at `path` under `/meta`, redacting as it goes. */
function copyRedacted(value: unknown, path: string[], out: Redaction[]): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const arr = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      path.push(String(i));
      arr[i] = copyRedacted(value[i], path, out);
      path.pop();
    }
    return arr;
  }
  const obj: Record<string, unknown> = {};
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    const rule = secretKeyRule(key);
    let copied: unknown;
    if (rule !== undefined) {
      out.push({ path: pointerOf("/meta", [...path, key]), rule });
      copied = REDACTED;
    } else if (typeof v === "object" && v !== null) {
      path.push(key);
      copied = copyRedacted(v, path, out);
      path.pop();
    } else {
      copied = v;
    }
    // JSON.parse makes "__proto__" an own key; plain assignment would set the prototype instead.
    if (key === "__proto__") {
      Object.defineProperty(obj, key, {
        value: copied,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      obj[key] = copied;
    }
  }
  return obj;
}
