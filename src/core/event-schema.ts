/**
 * The published input schema of a generation event (TypeBox → JSON Schema 2020-12) and
 * the validation that runs first in the pipeline. Everything structural is in the schema so
 * that other programs can validate with the same document (`schema/generation-event.schema.json`);
 * what JSON Schema cannot say (total size, depth and key count of `meta`) is checked here.
 */
import { FormatRegistry, Type, type Static, type TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ValueErrorType } from "@sinclair/typebox/errors";
import { GenlogError } from "../errors.js";

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
const RFC3339_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

FormatRegistry.Set("date-time", (v) => RFC3339_PATTERN.test(v) && !Number.isNaN(Date.parse(v)));
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
    size: Type.Integer({ minimum: 0, description: "Size in bytes." }),
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
        description: "Client time of the generation (RFC 3339).",
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
 * Validates one event; returns it typed, or throws naming the first bad field.
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` with `details.pointer` and `details.rule`.
 */
export function validateEvent(input: unknown): GenerationEvent {
  if (!compiled.Check(input)) throw describeFirstError(input);
  const event = input as GenerationEvent;
  if (event.user !== undefined && event.actor !== undefined && event.user !== event.actor) {
    throw invalid("/actor", "exclusive", "give either `user` or `actor`, not two different values");
  }
  if (event.meta !== undefined) checkMetaLimits(event.meta);
  return event;
}

function describeFirstError(input: unknown): GenlogError {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return invalid("", "type", `expected an event object, got ${describe(input)}`);
  }
  const first = compiled.Errors(input).First();
  if (first === undefined) return invalid("", "schema", "the event does not match the schema");
  const pointer = first.path;
  if (first.type === ValueErrorType.ObjectAdditionalProperties) {
    const known = Object.keys(GenerationEventSchema.properties);
    const extra = Object.keys(input).find((k) => !known.includes(k)) ?? "?";
    return invalid(
      `/${escapePointer(extra)}`,
      "additionalProperties",
      `unknown field "${extra}"; expected one of ${known.join(", ")}`,
    );
  }
  const rule = ruleName(first.type);
  const got = describe(first.value);
  const schema = first.schema as Record<string, unknown>;
  const expected = rule === "required" ? "this field to be present" : expectation(schema);
  return invalid(pointer, rule, `${pointer || "event"}: expected ${expected}, got ${got}`);
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
      if (schema.format === "date-time") return "an RFC 3339 date-time string";
      const min = typeof schema.minLength === "number" ? schema.minLength : 0;
      const max = typeof schema.maxLength === "number" ? schema.maxLength : undefined;
      return max === undefined ? "a string" : `a string of ${min} to ${max} characters`;
    }
    case "integer":
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
    case ValueErrorType.Union:
      return "oneOf";
    default:
      return "type";
  }
}

/** What {@link walkMeta} counts, and the path it is at (joined only for an error). */
interface MetaWalk {
  keys: number;
  /**
   * Upper bound of the serialised size, in UTF-16 units: a JSON escape is at most 6 units
   * per unit and UTF-8 at most 3 bytes per unit, so `chars * 6` bounds the bytes from above
   * and the exact (costly) measure is only taken for large metadata.
   */
  chars: number;
  path: string[];
}

function walkMeta(value: unknown, depth: number, w: MetaWalk): void {
  if (typeof value === "string") {
    w.chars += value.length + 3;
    return;
  }
  if (typeof value !== "object" || value === null) {
    if (value === null || typeof value === "boolean" || Number.isFinite(value)) {
      w.chars += 25;
      return;
    }
    const at = pointerOf("/meta", w.path);
    throw invalid(at, "json", `${at}: expected a JSON value, got ${describe(value)}`);
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null && proto !== Array.prototype) {
    const at = pointerOf("/meta", w.path);
    throw invalid(at, "json", `${at}: expected a plain object or array, got ${describe(value)}`);
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
  if (Array.isArray(value)) {
    w.keys += value.length;
    if (w.keys > EVENT_LIMITS.metaKeys) throw tooManyKeys(pointerOf("/meta", w.path));
    for (let i = 0; i < value.length; i++) {
      w.path.push(String(i));
      walkMeta(value[i], depth + 1, w);
      w.path.pop();
    }
    return;
  }
  for (const k in value) {
    if (++w.keys > EVENT_LIMITS.metaKeys) throw tooManyKeys(pointerOf("/meta", w.path));
    w.chars += k.length + 4;
    w.path.push(k);
    walkMeta((value as Record<string, unknown>)[k], depth + 1, w);
    w.path.pop();
  }
}

function checkMetaLimits(meta: Record<string, unknown>): void {
  const w: MetaWalk = { keys: 0, chars: 2, path: [] };
  walkMeta(meta, 1, w);
  if (w.chars * 6 <= EVENT_LIMITS.metaBytes) return;
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
      `tenant: expected a string matching ${SLUG_PATTERN}, got ${describe(tenant)}`,
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

function invalid(pointer: string, rule: string, message: string): GenlogError {
  return new GenlogError("GENLOG_E_INVALID_INPUT", message, { details: { pointer, rule } });
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === "object") {
    const name = (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)
      ?.constructor?.name;
    return name && name !== "Object" ? `a ${name}` : "an object";
  }
  return `${typeof v} ${String(v)}`;
}
