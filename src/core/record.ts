/**
 * The record: what a leaf of the log commits to (DESIGN.md §3). A record is built in two
 * steps because its position is only known inside the writer's batch: {@link prepareRecord}
 * runs validate → redact → protect when `append` is called, and {@link sealRecord} adds the
 * position and server time when the batch is committed.
 */
import { v7 as uuidv7 } from "uuid";
import { canonicalize } from "./jcs.js";
import { validateEvent, type EventStatus } from "./event-schema.js";
import type { Redaction, Redactor } from "./redact.js";
import type { Protector } from "./protect.js";
import { hashLeaf } from "./merkle.js";

/** Version of the record format; bumped on any change to the fields a leaf commits to. */
export const RECORD_VERSION = 1;

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
  pii: Record<string, unknown> | null;
}

/** A record before it has a position: everything but `seq` and `ts`. */
export type PreparedRecord = Omit<GenerationRecord, "seq" | "ts">;

/** The stages a record goes through before sealing. */
export interface PipelineStages {
  redactor: Redactor;
  protector: Protector;
}

/**
 * validate → redact → protect. Runs in the caller's turn so that bad input fails its own
 * `append` and never a shared batch.
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` naming the field.
 */
export function prepareRecord(
  input: unknown,
  defaultTenant: string,
  stages: PipelineStages,
): PreparedRecord {
  const event = validateEvent(input);
  const tenant = event.tenant ?? defaultTenant;
  const { meta, redactions } = stages.redactor.redact(event.meta ?? {});
  const { actor, pii } = stages.protector.protect(tenant, event.user ?? event.actor ?? null);
  return {
    v: RECORD_VERSION,
    id: event.id?.toLowerCase() ?? uuidv7(),
    tenant,
    type: event.type,
    occurredAt: event.occurredAt ?? null,
    actor,
    sector: event.sector ?? null,
    status: event.status ?? "succeeded",
    meta,
    artifacts: (event.artifacts ?? []).map((a) => ({
      name: a.name,
      digest: a.digest,
      size: a.size,
    })),
    redactions,
    pii,
  };
}

/** A sealed record with the exact bytes its leaf hashes. */
export interface SealedRecord {
  record: GenerationRecord;
  /** RFC 8785 canonical JSON of `record`. */
  canonical: string;
  /** SHA-256(0x00 || canonical). */
  leafHash: Buffer;
}

/** Gives a prepared record its position and time, canonicalises it and hashes the leaf. */
export function sealRecord(prepared: PreparedRecord, seq: number, ts: string): SealedRecord {
  const record: GenerationRecord = { ...prepared, seq, ts };
  const canonical = canonicalize(record);
  return { record, canonical, leafHash: hashLeaf(Buffer.from(canonical, "utf8")) };
}

/** Formats a millisecond epoch as RFC 3339 UTC with milliseconds. */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}
