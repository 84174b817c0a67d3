/**
 * The record: what a leaf of the log commits to (DESIGN.md §3). A record is built in two
 * steps because its position is only known inside the writer's batch: {@link prepareRecord}
 * runs validate → redact → protect → canonicalise when `append` is called, and
 * {@link sealRecord} splices the position and server time into the canonical text when the
 * batch is sealed, so the writer's single thread does no JSON work per record.
 */
import { GenlogError } from "../errors.js";
import { uuidv7 } from "./uuid.js";
import { canonicalizeMember } from "./jcs.js";
import { validateEvent, type EventStatus, type GenerationEvent } from "./event-schema.js";
import type { Redaction, RedactionResult, Redactor } from "./privacy/redactor.js";
import type { NewSubject, ProtectedFields, Protector } from "./protect.js";
import type { Envelope } from "./privacy/envelope.js";
import { hashLeafText } from "./merkle.js";

/**
 * Version of the record format; bumped on any change to the fields a leaf commits to.
 * 2: each redaction says what was done (`action`); value detectors replace spans of text.
 */
export const RECORD_VERSION = 2;

/** One output of a generation. */
export interface Artifact {
  name: string;
  digest: string;
  size: number;
}

/** A committed generation record, exactly as its leaf commits to it. */
export interface GenerationRecord {
  v: number;
  /** UUIDv7, or the caller's idempotency key. */
  id: string;
  /** Index of the record in its log (its Merkle leaf index). */
  seq: number;
  tenant: string;
  type: string;
  /** Server time of the commit, RFC 3339 UTC with milliseconds; never decreases within a log. */
  ts: string;
  /** Client time of the generation, as sent, or null. */
  occurredAt: string | null;
  /** The actor as protected (pseudonym once protection is on), or null when unknown. */
  actor: string | null;
  sector: string | null;
  status: EventStatus;
  meta: Record<string, unknown>;
  artifacts: Artifact[];
  redactions: Redaction[];
  /** The subject's envelope: the actor and the values the policy encrypted; null for no one. */
  pii: Envelope | null;
}

/**
 * A record ready to seal: the record with placeholders `seq: 0` and `ts: ""`. Sealing fills
 * them in the template itself, which then is the record (no copy waits in every in-flight
 * append), and writes its canonical text ({@link canonicalText}).
 */
export interface PreparedRecord {
  template: GenerationRecord;
  /** True when the id is the caller's idempotency key rather than a new UUIDv7. */
  clientId: boolean;
  /** The record's subject, when it must be stored with the record (see {@link NewSubject}). */
  newSubject?: NewSubject;
  /**
   * `{"actor":…,"sector":…`, the canonical text up to `seq`, when `JSON.stringify` cannot
   * write the record's (see {@link RedactionResult.stringifiable}): the JCS serialiser wrote
   * it when the record was prepared.
   */
  head?: string;
}

/** The stages a record goes through before sealing, as a tenant's pipeline chose them. */
export interface PipelineStages {
  /** The redactor for an event of `sector` (a sector may choose the policy's preset). */
  redactor(sector: string | null): Redactor;
  protector: Protector;
}

/**
 * validate → redact → protect → canonicalise, with one pipeline for every tenant (tests and
 * tools); {@link Genlog} validates first and then calls {@link prepareEvent} with the
 * pipeline of the event's tenant.
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` naming the field.
 */
export function prepareRecord(
  input: unknown,
  defaultTenant: string,
  stages: PipelineStages,
): PreparedRecord {
  const event = validateEvent(input);
  const prepared = prepareEvent(event, event.tenant ?? defaultTenant, stages);
  if (prepared instanceof Promise) {
    throw new Error("prepareRecord needs a protector that answers at once; use prepareEvent");
  }
  return prepared;
}

/**
 * redact → protect → canonicalise, for an event that {@link validateEvent} returned. Runs in
 * the caller's turn so that bad input fails its own `append` and never a shared batch. The
 * validated event is a snapshot: the caller's object cannot change the record (or slip past
 * a limit) by answering differently later. Returns at once unless the protector must reach
 * the store (a subject it has not seen yet).
 */
export function prepareEvent(
  event: GenerationEvent,
  tenant: string,
  stages: PipelineStages,
): PreparedRecord | Promise<PreparedRecord> {
  const sector = event.sector ?? null;
  const id = event.id?.toLowerCase() ?? uuidv7();
  const actor = event.user ?? event.actor ?? null;
  const redacted = stages
    .redactor(sector)
    .redact(event.meta ?? {}, event.artifacts ?? [], { subject: actor !== null });
  const p = stages.protector.protect({ tenant, actor, values: redacted.sealed });
  // No closure on the common path: a known subject answers at once.
  if (p instanceof Promise) return p.then((q) => finishRecord(event, tenant, id, redacted, q));
  return finishRecord(event, tenant, id, redacted, p);
}

/**
 * The template of a redacted and protected event. The record's member names are fixed and
 * written in RFC 8785 order; when the redactor says its copies allow it, `JSON.stringify`
 * writes the canonical text at sealing (natively, in one string, and nothing of it waits
 * with the record). Otherwise the JCS serialiser writes the members before `seq` now, and
 * refuses what RFC 8785 refuses, failing this append alone.
 */
function finishRecord(
  event: GenerationEvent,
  tenant: string,
  id: string,
  redacted: RedactionResult,
  p: ProtectedFields,
): PreparedRecord {
  // Members in RFC 8785 order: JSON.stringify writes them in this order, and a record append
  // returns lists its members as one read back (JSON.parse of the stored text) does.
  const template: GenerationRecord = {
    actor: p.actor,
    artifacts: redacted.artifacts,
    id,
    meta: redacted.meta,
    occurredAt: event.occurredAt ?? null,
    pii: p.pii,
    redactions: redacted.redactions,
    sector: event.sector ?? null,
    seq: 0,
    status: event.status ?? "succeeded",
    tenant,
    ts: "",
    type: event.type,
    v: RECORD_VERSION,
  };
  const prepared: PreparedRecord = { template, clientId: event.id !== undefined };
  if (p.newSubject !== undefined) prepared.newSubject = p.newSubject;
  // The actor is a pseudonym, unless a protector (a test's) leaves it as given.
  if (redacted.stringifiable && (p.actor === null || p.actor.isWellFormed())) return prepared;
  prepared.head = flatten(
    '{"actor":' +
      canonicalizeMember("actor", template.actor) +
      ',"artifacts":' +
      canonicalizeMember("artifacts", template.artifacts) +
      ',"id":' +
      canonicalizeMember("id", template.id) +
      ',"meta":' +
      canonicalizeMember("meta", template.meta) +
      ',"occurredAt":' +
      canonicalizeMember("occurredAt", template.occurredAt) +
      ',"pii":' +
      canonicalizeMember("pii", template.pii) +
      ',"redactions":' +
      canonicalizeMember("redactions", template.redactions) +
      ',"sector":' +
      canonicalizeMember("sector", template.sector),
  );
  return prepared;
}

/**
 * `s`, flattened: text built by concatenation is a tree of its pieces (V8's cons strings),
 * and a prepared record's pieces would otherwise live as long as it waits for its batch (with
 * thousands in flight, copying them from one garbage collection to the next cost more than
 * building them). Reading a character makes V8 copy the text into one flat string, in place,
 * so the pieces die young.
 */
function flatten(s: string): string {
  s.charCodeAt(0);
  return s;
}

/**
 * The canonical text of a prepared record sealed at `seq` and `ts`. After the head the JCS
 * serialiser wrote, the members need no escaping: `status` is one of three words, `tenant`
 * and `type` are slugs (`[a-z][a-z0-9._-]*`, checked at the edge), `ts` is
 * {@link formatTimestamp}'s.
 */
export function canonicalText(prepared: PreparedRecord, seq: number, ts: string): string {
  const r = prepared.template;
  if (prepared.head === undefined) {
    return JSON.stringify(r.seq === seq && r.ts === ts ? r : { ...r, seq, ts });
  }
  return `${prepared.head},"seq":${seq},"status":"${r.status}","tenant":"${r.tenant}","ts":"${ts}","type":"${r.type}","v":${r.v}}`;
}

/** A sealed record with the exact bytes its leaf hashes. */
export interface SealedRecord {
  record: GenerationRecord;
  /** RFC 8785 canonical JSON of `record`. */
  canonical: string;
  /** SHA-256(0x00 || UTF-8 of canonical). */
  leafHash: Buffer;
}

/**
 * Gives a prepared record its position and time (in its template, which becomes the
 * record; sealing again after a refused commit overwrites them) and hashes the leaf. `ts`
 * must be the output of {@link formatTimestamp}, which JSON writes without escapes.
 */
export function sealRecord(prepared: PreparedRecord, seq: number, ts: string): SealedRecord {
  const record = prepared.template;
  record.seq = seq;
  record.ts = ts;
  const canonical = canonicalText(prepared, seq, ts);
  return { record, canonical, leafHash: hashLeafText(canonical) };
}

/** Formats a millisecond epoch as RFC 3339 UTC with milliseconds. */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * A stored record's text, parsed. Text that is not a JSON object only tampering or damage
 * makes: the error names the entry and never quotes the text (it may hold anything).
 *
 * @throws {GenlogError} `GENLOG_E_INCONSISTENT`.
 */
export function parseStoredRecord(
  canonical: string,
  origin: string,
  seq: number,
): GenerationRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(canonical);
  } catch {
    // Below: the message of a SyntaxError quotes the text.
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new GenlogError(
      "GENLOG_E_INCONSISTENT",
      `entry ${seq} of ${origin} is not a readable record: it was changed or damaged outside genlog; run \`genlog verify\``,
      { details: { origin, seq } },
    );
  }
  return parsed as GenerationRecord;
}
