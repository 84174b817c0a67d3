/**
 * A committed record as a SIEM reads it: an OCSF API Activity event (class 6003) or an Elastic
 * Common Schema document, wrapped in a CloudEvents 1.0 envelope (structured mode). Each
 * document carries the record's seq and leaf hash, so that a SIEM can later ask genlog for the
 * record's inclusion proof and hold it to the signed checkpoint; the record itself travels as
 * committed (pseudonymised, secrets removed), under `unmapped.genlog` / `genlog`.
 *
 * Pure: no I/O. The mappings are written from the specifications (OCSF 1.8.0
 * `events/application/api_activity.json`, ECS 9.4), and the tests check them against the
 * ECS field definitions and OCSF's required attributes.
 */
import { CloudEvent } from "cloudevents";
import type { GenerationRecord } from "../core/record.js";
import { packageVersion } from "../version.js";

/** The schemas a SIEM stream speaks. */
export const SIEM_FORMATS = ["ocsf", "ecs"] as const;
export type SiemFormat = (typeof SIEM_FORMATS)[number];

/** The OCSF schema version the documents follow. */
export const OCSF_VERSION = "1.8.0";
/** The ECS version the documents follow. */
export const ECS_VERSION = "9.4.0";

/** What a document is made from: the record and where it sits in its log. */
export interface SiemSource {
  /** The log's origin (`<instance>/<tenant>/events`). */
  origin: string;
  record: GenerationRecord;
  /** hex SHA-256(0x00 || the record's canonical text): its Merkle leaf. */
  leafHash: string;
}

/** genlog's own fields, the same in both formats: enough to ask for the record's proof. */
function genlogFields(s: SiemSource) {
  return { origin: s.origin, seq: s.record.seq, leaf_hash: s.leafHash, record: s.record };
}

const OCSF_STATUS = {
  succeeded: { status_id: 1, status: "Success" },
  failed: { status_id: 2, status: "Failure" },
  started: { status_id: 0, status: "Unknown" },
} as const;

/**
 * An OCSF API Activity event: a generation is the `Create` activity (1) of the platform's
 * generation API, `api.operation` its type. The actor is the record's (a pseudonym), or the
 * tenant's platform when none is known; `src_endpoint` names the tenant (the platform that
 * called), since genlog's records carry no network address.
 */
export function ocsfEvent(s: SiemSource): Record<string, unknown> {
  const r = s.record;
  const classUid = 6003;
  const activityId = 1;
  return {
    activity_id: activityId,
    activity_name: "Create",
    category_uid: 6,
    category_name: "Application Activity",
    class_uid: classUid,
    class_name: "API Activity",
    type_uid: classUid * 100 + activityId,
    type_name: "API Activity: Create",
    severity_id: 1,
    severity: "Informational",
    time: Date.parse(r.ts),
    ...OCSF_STATUS[r.status],
    ...(r.status === "started" ? { status_detail: "started" } : {}),
    message: `${r.type} generation ${r.status}`,
    metadata: {
      version: OCSF_VERSION,
      product: { name: "genlog", vendor_name: "genlog", version: packageVersion() },
      uid: r.id,
      log_name: s.origin,
      sequence: r.seq,
      tenant_uid: r.tenant,
      event_code: r.type,
      ...(r.occurredAt !== null ? { original_time: r.occurredAt } : {}),
    },
    actor: r.actor !== null ? { user: { uid: r.actor } } : { app_name: r.tenant },
    api: { operation: r.type, service: { name: "code-generation" } },
    src_endpoint: { name: r.tenant },
    ...(r.artifacts.length > 0
      ? {
          resources: r.artifacts.map((a) => ({
            type: "artifact",
            name: a.name,
            uid: a.digest,
            data: { size: a.size },
          })),
        }
      : {}),
    unmapped: { genlog: genlogFields(s) },
  };
}

const ECS_OUTCOME = { succeeded: "success", failed: "failure", started: "unknown" } as const;

/**
 * An ECS document: an `api` event of type `creation`, with the record's seq as
 * `event.sequence` and its leaf hash as `event.hash` (the field ECS defines "to be able to
 * demonstrate log integrity").
 */
export function ecsDocument(s: SiemSource): Record<string, unknown> {
  const r = s.record;
  return {
    "@timestamp": r.ts,
    ecs: { version: ECS_VERSION },
    event: {
      kind: "event",
      category: ["api"],
      type: ["creation"],
      action: r.type,
      outcome: ECS_OUTCOME[r.status],
      id: r.id,
      sequence: r.seq,
      hash: s.leafHash,
      dataset: "genlog.events",
      provider: "genlog",
      module: "genlog",
      ...(r.occurredAt !== null ? { start: r.occurredAt } : {}),
    },
    ...(r.actor !== null ? { user: { id: r.actor } } : {}),
    organization: { id: r.tenant },
    ...(r.sector !== null ? { labels: { sector: r.sector } } : {}),
    observer: { product: "genlog", vendor: "genlog", version: packageVersion() },
    genlog: genlogFields(s),
  };
}

/**
 * The CloudEvents envelope of a document: `id` the record's id (a receiver's deduplication
 * key), `source` its log, `subject` its seq, and the extensions `genlogseq` and
 * `genloglefhash` (CloudEvents extension names are at most 20 lower-case letters and digits).
 * The SDK checks the envelope against the specification before it leaves.
 */
export function cloudEvent(format: SiemFormat, s: SiemSource): CloudEvent<Record<string, unknown>> {
  return new CloudEvent(
    {
      specversion: "1.0",
      id: s.record.id,
      source: `/genlog/${s.origin}`,
      type: `dev.genlog.generation.${format}`,
      subject: String(s.record.seq),
      time: s.record.ts,
      datacontenttype: "application/json",
      dataschema:
        format === "ocsf"
          ? `https://schema.ocsf.io/${OCSF_VERSION}/classes/api_activity`
          : `https://www.elastic.co/docs/reference/ecs`,
      data: format === "ocsf" ? ocsfEvent(s) : ecsDocument(s),
      genlogseq: s.record.seq,
      genlogleafhash: s.leafHash,
    },
    true,
  );
}
