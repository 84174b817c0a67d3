/**
 * The published input schema of a generation event (TypeBox → JSON Schema 2020-12) and
 * the validation that runs first in the pipeline. Everything structural is in the schema so
 * that other programs can validate with the same document (`schema/generation-event.schema.json`);
 * what JSON Schema cannot say (total size, depth and key count of `meta`, calendar dates) is
 * checked here.
 *
 * The caller's object is read exactly once, into a snapshot of plain data, and only the
 * snapshot is validated and used: a getter or Proxy that answers differently on a second
 * read can then not slip past a limit.
 */
import { FormatRegistry, Type, type Static, type TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ValueErrorType } from "@sinclair/typebox/errors";
import { GenlogError } from "../errors.js";
import { isRfc3339DateTime } from "./rfc3339.js";

/** Hard limits on one event; they bound the cost of an append and the size of a leaf. */
export const EVENT_LIMITS = {
  /** UTF-8 bytes of `meta` once serialised. */
  metaBytes: 64 * 1024,
  /** Nesting depth of `meta` (the `meta` object itself is depth 1). */
  metaDepth: 16,
  /** Object members plus array items in `meta`, at every depth. */
  metaKeys: 1024,
  artifacts: 1000,
} as const;

/** Slug rule shared by `type`, `sector` and `tenant`. */
export const SLUG_PATTERN = "^[a-z][a-z0-9._-]{0,63}$";
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// RFC 3339 on the calendar: no 30 February, no hour 24, leap seconds only at 23:59:60 UTC.
FormatRegistry.Set("date-time", isRfc3339DateTime);
FormatRegistry.Set("uuid", (v) => UUID_PATTERN.test(v));

const Slug = (description: string) =>
  Type.String({ pattern: SLUG_PATTERN, maxLength: 64, description });

/** One output of a generation: its name and content digest. */
export const ArtifactSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 512, description: "File or artifact name." }),
    digest: Type.String({
      pattern: "^sha256:[0-9a-f]{64}$",
      description: "Content digest, `sha256:` and 64 lowercase hex digits.",
    }),
    size: Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description:
        "Size in bytes: an integer from 0 to 2^53 - 1, so that every reader gets it exactly.",
    }),
  },
  { additionalProperties: false },
);

/** The status of a generation. */
export const STATUSES = ["started", "succeeded", "failed"] as const;
export type EventStatus = (typeof STATUSES)[number];

const Actor = (description: string) =>
  Type.Union([Type.String({ minLength: 1, maxLength: 256 }), Type.Null()], { description });

/** What a caller sends to `append` (all but `type` optional). */
export const GenerationEventSchema = Type.Object(
  {
    type: Slug("Kind of generation, e.g. `backend`, `frontend`, `assets`, `model`."),
    tenant: Type.Optional(Slug("Tenant the event belongs to; defaults to the log's tenant.")),
    user: Type.Optional(Actor("Who asked for the generation (the seed API's name for `actor`).")),
    actor: Type.Optional(Actor("Same as `user`; give one or the other.")),
    sector: Type.Optional(
      Type.Union([Slug("Business sector, e.g. `health`, `education`."), Type.Null()]),
    ),
    status: Type.Optional(
      Type.Union(
        STATUSES.map((s) => Type.Literal(s)),
        { description: "Defaults to `succeeded`." },
      ),
    ),
    meta: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: `Free JSON metadata (at most ${EVENT_LIMITS.metaBytes} bytes, depth ${EVENT_LIMITS.metaDepth}, ${EVENT_LIMITS.metaKeys} keys). Secrets are redacted before storage.`,
      }),
    ),
    artifacts: Type.Optional(Type.Array(ArtifactSchema, { maxItems: EVENT_LIMITS.artifacts })),
    occurredAt: Type.Optional(
      Type.String({
        format: "date-time",
        maxLength: 40,
        description:
          "Client time of the generation (RFC 3339 date-time, a real calendar date; a leap second only at 23:59:60 UTC on a month's last day). Stored as sent.",
      }),
    ),
    id: Type.Optional(
      Type.String({
        format: "uuid",
        description:
          "Idempotency key and record id: a retry with the same id returns the first record.",
      }),
    ),
  },
  {
    $id: "https://genlog.dev/schema/generation-event.schema.json",
    title: "Generation event",
    description: "Input of one genlog append.",
    additionalProperties: false,
  },
);

/** The validated input of one event. */
export type GenerationEvent = Static<typeof GenerationEventSchema>;

/** The JSON Schema document published as `schema/generation-event.schema.json`. */
export function generationEventJsonSchema(): TSchema & Record<string, unknown> {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    ...(JSON.parse(JSON.stringify(GenerationEventSchema)) as TSchema),
  };
}

const compiled = TypeCompiler.Compile(GenerationEventSchema);

/**
 * The same schema with `meta` left to the snapshot, which already copied it member by member
 * as a plain object (or kept a non-object as it was): the check of every event then does not
 * walk `meta` a second time (TypeBox lists its entries to test each name against `.*`). A
 * failure is described by the full schema.
 */
const checked = TypeCompiler.Compile(
  Type.Object(
    { ...GenerationEventSchema.properties, meta: Type.Optional(Type.Unknown()) },
    { additionalProperties: false },
  ),
);

/** What the full schema asks of `meta`, for a snapshot: absent, or a (plain) object. */
function isMetaObject(meta: unknown): boolean {
  return meta === undefined || (typeof meta === "object" && meta !== null && !Array.isArray(meta));
}

/**
 * Validates one event; returns a snapshot of it (fresh plain data, read from `input` exactly
 * once), typed, or throws naming the first bad field. Use only the returned value: reading
 * `input` again could give something else.
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` with `details.pointer` and `details.rule`.
 */
export function validateEvent(input: unknown): GenerationEvent {
  const w: Walk = { keys: 0, chars: 2, path: [], artifactAt: [] };
  const event = snapshotEvent(input, w);
  if (!checked.Check(event) || !isMetaObject((event as { meta?: unknown }).meta)) {
    throw describeFirstError(event);
  }
  const valid = event as GenerationEvent;
  if (valid.user !== undefined && valid.actor !== undefined && valid.user !== valid.actor) {
    throw invalid("/actor", "exclusive", "give either `user` or `actor`, not two different values");
  }
  if (valid.type.startsWith(SYSTEM_TYPE_PREFIX)) {
    throw invalid(
      "/type",
      "reserved",
      `/type: types starting with "${SYSTEM_TYPE_PREFIX}" are genlog's own system events (erasure, purge, legal holds, retention, key rotation, access records) and cannot be appended`,
    );
  }
  if (valid.meta !== undefined) checkMetaBytes(valid.meta, w.chars);
  return valid;
}

/**
 * The types of genlog's system events start with this: `append` refuses them, so that a
 * record of such a type in a log was written by genlog itself (an erasure, a purge, a legal
 * hold) and `verify` can rely on it.
 */
export const SYSTEM_TYPE_PREFIX = "genlog.";

/**
 * Copies an event into plain data, reading each property of the caller's objects once.
 *
 * Only the places where the schema allows an object are copied deeply: the event, `meta`
 * (with the limits on depth and keys checked while copying, so that a cycle or a Proxy that
 * claims a huge length stops at the limit) and `artifacts`. Any other value is kept as it is:
 * there the schema accepts only strings, numbers and null, so an object is refused without
 * being read. Objects must be plain (their prototype `Object.prototype` of any realm, or
 * null); a `__proto__` key is kept as data, the way `JSON.parse` makes it.
 */
function snapshotEvent(input: unknown, w: Walk): unknown {
  // A getter or Proxy trap may throw at any read. The error names where from `key` and the
  // positions the walk keeps in `w`; the pointer is only joined then, never on the way.
  let key: string | undefined;
  try {
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      // Refused by the schema before any of it is read.
      return input;
    }
    if (!isPlainObject(input)) {
      throw invalid("", "type", `expected an event object, got ${describeValue(input)}`);
    }
    const event: Record<string, unknown> = {};
    for (key of Object.keys(input)) {
      const value = (input as Record<string, unknown>)[key];
      let copy: unknown;
      if (key === "meta") copy = copyMeta(value, 1, w);
      else if (key === "artifacts") copy = copyArtifacts(value, w);
      else copy = scalar(value);
      setMember(event, key, copy);
    }
    return event;
  } catch (cause) {
    if (cause instanceof GenlogError) throw cause;
    const at = key === undefined ? "" : pointerOf("", [key, ...(key === "meta" ? w.path : [])]);
    throw readError(cause, key === "artifacts" ? pointerOf("/artifacts", w.artifactAt) : at);
  }
}

function copyArtifacts(value: unknown, w: Walk): unknown {
  if (!Array.isArray(value)) return scalar(value);
  const n = value.length;
  if (n > EVENT_LIMITS.artifacts) {
    throw invalid(
      "/artifacts",
      "maxLength",
      `/artifacts: expected an array of at most ${EVENT_LIMITS.artifacts} items, got ${n} items`,
    );
  }
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) {
    const at = (w.artifactAt = [String(i)]);
    const item: unknown = value[i];
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      out[i] = scalar(item);
    } else if (!isPlainObject(item)) {
      throw invalid(
        `/artifacts/${i}`,
        "type",
        `/artifacts/${i}: expected a plain object, got ${describeValue(item)}`,
      );
    } else {
      const copy: Record<string, unknown> = {};
      for (const key of Object.keys(item)) {
        at[1] = key;
        setMember(copy, key, scalar((item as Record<string, unknown>)[key]));
      }
      out[i] = copy;
    }
  }
  return out;
}

/** A value where the schema allows no object: kept as is (the schema refuses an object). */
function scalar(value: unknown): unknown {
  // JSON has one zero: -0 would be written as 0, so the record returned equals the one read back.
  return value === 0 ? 0 : value;
}

/**
 * True for a plain object: its prototype is null or a realm's `Object.prototype` (whose own
 * prototype is null), so that objects made in another realm (a `vm` context) count too.
 */
function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

/** Sets an own data member, also for the key `__proto__` (assignment would set the prototype). */
function setMember(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

/** A getter or Proxy trap of the caller's object threw while `pointer` was being read. */
function readError(cause: unknown, pointer: string): GenlogError {
  return new GenlogError(
    "GENLOG_E_INVALID_INPUT",
    `${pointer || "event"}: expected plain JSON data, got a value that threw when read (${cause instanceof Error ? cause.message : describeValue(cause)})`,
    { cause, details: { pointer, rule: "read" } },
  );
}

function describeFirstError(event: unknown): GenlogError {
  if (typeof event !== "object" || event === null || Array.isArray(event)) {
    return invalid("", "type", `expected an event object, got ${describeValue(event)}`);
  }
  const first = compiled.Errors(event).First();
  if (first === undefined) return invalid("", "schema", "the event does not match the schema");
  const pointer = first.path;
  const schema = first.schema as Record<string, unknown>;
  if (first.type === ValueErrorType.ObjectAdditionalProperties) {
    // TypeBox names the extra member itself: `/artifacts/0/x`, `/colour`.
    const extra = unescapePointer(pointer.slice(pointer.lastIndexOf("/") + 1));
    const known = Object.keys((schema.properties ?? {}) as Record<string, unknown>);
    return invalid(
      pointer,
      "additionalProperties",
      `${pointer}: unknown field "${extra}"; expected one of ${known.join(", ")}`,
    );
  }
  const rule = ruleName(first.type);
  // Free text may be a person or a secret (an error message ends up in logs): its value is
  // described, never quoted. Type names, statuses, slugs and digests are quoted.
  const got = FREE_TEXT.test(pointer) ? describeShape(first.value) : describeValue(first.value);
  const expected = rule === "required" ? "this field to be present" : expectation(schema);
  return invalid(pointer, rule, `${pointer || "event"}: expected ${expected}, got ${got}`);
}

/** Members whose value may be personal data or a secret: `user`, `actor`, `id`, artifact names. */
const FREE_TEXT = /^\/(?:user|actor|id|occurredAt|artifacts\/\d+\/name)$/;

/** A value described without its content: `a string of 340 characters`, `number`. */
function describeShape(v: unknown): string {
  if (typeof v === "string") return `a string of ${v.length} characters`;
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return typeof v;
  return describeValue(v);
}

/** What a (sub)schema accepts, in words. */
function expectation(schema: Record<string, unknown>): string {
  if (Array.isArray(schema.anyOf)) {
    const branches = schema.anyOf as Record<string, unknown>[];
    if (branches.every((b) => "const" in b)) {
      return `one of ${branches.map((b) => JSON.stringify(b.const)).join(", ")}`;
    }
    return branches.map(expectation).join(" or ");
  }
  if ("const" in schema) return JSON.stringify(schema.const);
  switch (schema.type) {
    case "null":
      return "null";
    case "string": {
      if (typeof schema.pattern === "string") return `a string matching ${schema.pattern}`;
      if (schema.format === "uuid") return "a UUID string";
      if (schema.format === "date-time") {
        return "an RFC 3339 date-time on the calendar, such as 2026-11-25T10:00:00.123+01:00";
      }
      const min = typeof schema.minLength === "number" ? schema.minLength : 0;
      const max = typeof schema.maxLength === "number" ? schema.maxLength : undefined;
      return max === undefined ? "a string" : `a string of ${min} to ${max} characters`;
    }
    case "integer":
      if (typeof schema.minimum === "number" && typeof schema.maximum === "number") {
        return `an integer from ${schema.minimum} to ${schema.maximum}`;
      }
      return typeof schema.minimum === "number" ? `an integer >= ${schema.minimum}` : "an integer";
    case "array":
      return typeof schema.maxItems === "number"
        ? `an array of at most ${schema.maxItems} items`
        : "an array";
    case "object":
      return "an object";
    default:
      return "a valid value";
  }
}

function ruleName(type: ValueErrorType): string {
  switch (type) {
    case ValueErrorType.StringPattern:
      return "pattern";
    case ValueErrorType.StringFormat:
      return "format";
    case ValueErrorType.StringMaxLength:
    case ValueErrorType.ArrayMaxItems:
      return "maxLength";
    case ValueErrorType.StringMinLength:
      return "minLength";
    case ValueErrorType.ObjectRequiredProperty:
      return "required";
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return "minimum";
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return "maximum";
    case ValueErrorType.Union:
      return "oneOf";
    default:
      return "type";
  }
}

/** What the copy of an event counts in `meta`, and where it is (joined only for an error). */
interface Walk {
  /** Members plus items in `meta` so far. */
  keys: number;
  /**
   * Upper bound of the serialised size, in UTF-16 units: a JSON escape is at most 6 units
   * per unit and UTF-8 at most 3 bytes per unit, so `chars * 6` bounds the bytes from above
   * and the exact (costly) measure is only taken for large metadata.
   */
  chars: number;
  /** Reference tokens from `meta` to the value being read. */
  path: string[];
  /** Where in `artifacts` the copy is: index, then member (joined only for an error). */
  artifactAt: string[];
}

/**
 * Copies `meta` (or a value inside it, at `depth`) as plain JSON data, checking as it reads:
 * only JSON values, plain objects and arrays, at most {@link EVENT_LIMITS.metaDepth} deep and
 * {@link EVENT_LIMITS.metaKeys} members and items in all.
 */
function copyMeta(value: unknown, depth: number, w: Walk): unknown {
  if (typeof value === "string") {
    w.chars += value.length + 3;
    return value;
  }
  if (typeof value !== "object" || value === null) {
    // `meta` itself must be an object: the schema says so in its own words.
    if (depth === 1) return scalar(value);
    if (value === null || typeof value === "boolean" || Number.isFinite(value)) {
      w.chars += 25;
      return scalar(value);
    }
    const at = pointerOf("/meta", w.path);
    throw invalid(at, "json", `${at}: expected a JSON value, got ${describeValue(value)}`);
  }
  const isArray = Array.isArray(value);
  if (!isArray && !isPlainObject(value)) {
    const at = pointerOf("/meta", w.path);
    throw invalid(
      at,
      "json",
      `${at}: expected a plain object or array, got ${describeValue(value)}`,
    );
  }
  if (depth > EVENT_LIMITS.metaDepth) {
    const at = pointerOf("/meta", w.path);
    throw invalid(
      at,
      "depth",
      `meta is nested deeper than ${EVENT_LIMITS.metaDepth} levels at ${at}`,
    );
  }
  w.chars += 2;
  if (isArray) {
    const n = value.length;
    w.keys += n;
    if (w.keys > EVENT_LIMITS.metaKeys) throw tooManyKeys(pointerOf("/meta", w.path));
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) {
      w.path.push(String(i));
      out[i] = copyMeta(value[i], depth + 1, w);
      w.path.pop();
    }
    return out;
  }
  const keys = Object.keys(value);
  w.keys += keys.length;
  if (w.keys > EVENT_LIMITS.metaKeys) throw tooManyKeys(pointerOf("/meta", w.path));
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    w.chars += k.length + 4;
    w.path.push(k);
    setMember(out, k, copyMeta((value as Record<string, unknown>)[k], depth + 1, w));
    w.path.pop();
  }
  return out;
}

/** The serialised size of the (already copied and checked) `meta`, against its limit. */
function checkMetaBytes(meta: Record<string, unknown>, chars: number): void {
  if (chars * 6 <= EVENT_LIMITS.metaBytes) return;
  let bytes: number;
  try {
    bytes = Buffer.byteLength(JSON.stringify(meta));
  } catch (cause) {
    throw new GenlogError("GENLOG_E_INVALID_INPUT", "meta is not serialisable as JSON", {
      cause,
      details: { pointer: "/meta", rule: "json" },
    });
  }
  if (bytes > EVENT_LIMITS.metaBytes) {
    throw invalid(
      "/meta",
      "maxBytes",
      `meta is ${bytes} bytes once serialised; expected at most ${EVENT_LIMITS.metaBytes}`,
    );
  }
}

function tooManyKeys(pointer: string): GenlogError {
  return invalid(
    pointer,
    "maxKeys",
    `meta has more than ${EVENT_LIMITS.metaKeys} keys and items; the limit was reached at ${pointer}`,
  );
}

const SLUG = new RegExp(SLUG_PATTERN);

/**
 * Checks a tenant name (also used in file names and origins, so it must be a slug).
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT`.
 */
export function assertTenant(tenant: string): string {
  if (typeof tenant !== "string" || !SLUG.test(tenant)) {
    throw invalid(
      "/tenant",
      "pattern",
      `tenant: expected a string matching ${SLUG_PATTERN}, got ${describeValue(tenant)}`,
    );
  }
  return tenant;
}

/** The JSON Pointer of `tokens` (unescaped reference tokens) under `base`. */
export function pointerOf(base: string, tokens: readonly string[]): string {
  let pointer = base;
  for (const t of tokens) pointer += "/" + escapePointer(t);
  return pointer;
}

/** Escapes one JSON Pointer reference token (RFC 6901 §3). */
export function escapePointer(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** The reference token that {@link escapePointer} escaped (RFC 6901 §4). */
function unescapePointer(token: string): string {
  return token.replace(/~1/g, "/").replace(/~0/g, "~");
}

function invalid(pointer: string, rule: string, message: string): GenlogError {
  return new GenlogError("GENLOG_E_INVALID_INPUT", message, { details: { pointer, rule } });
}

/**
 * A value in words for an error message ("an array", "a Date", `"text"`, "number 3"). Never
 * throws, even on a Proxy whose traps do, and never prints a function's source.
 */
export function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === "function") return "a function";
  if (typeof v !== "object") return `${typeof v} ${String(v)}`;
  try {
    if (Array.isArray(v)) return "an array";
    const proto = Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null;
    const name = proto?.constructor?.name;
    if (typeof name === "string" && name !== "" && name !== "Object") return `a ${name}`;
    // e.g. `{ __proto__: { x: 1 } }`: an object literal that sets its prototype.
    return isPlainObject(v) ? "an object" : "an object with a prototype of its own";
  } catch {
    return "an object that throws when inspected";
  }
}
