/**
 * The access log: every read, export, proof, erasure and administrative call on a tenant,
 * allowed or denied, as a record of the tenant's `access` log (origin
 * `<instance>/<tenant>/access`), sealed, checkpointed and verified like the events log. This
 * module builds those events from a request context and reads them back into the access
 * report; the handle appends them (see `Genlog.as`).
 */
import { SYSTEM_TYPE_PREFIX, type GenerationEvent } from "../core/event-schema.js";
import type { AccessContext, Permission } from "../core/access.js";
import type { GenerationRecord, PipelineStages } from "../core/record.js";
import type { ErrorCode } from "../errors.js";

/** The settings key that says a tenant's accesses must declare a purpose. */
export function purposeSetting(tenant: string): string {
  return `purpose_required:${tenant}`;
}

/** The type of every record of an access log. */
export const ACCESS_TYPE = `${SYSTEM_TYPE_PREFIX}access`;

/** The stream name of access logs. */
export const ACCESS_STREAM = "access";

/** One access, as the handle describes it. */
export interface Access {
  /** The library call (`query`, `get`, `eraseSubject`, …) or the HTTP route. */
  operation: string;
  permission: Permission;
  /** What was asked: filters, an id or seq, sizes; never a subject's id in clear. */
  target?: Record<string, unknown>;
  /** Denied: why. */
  denied?: string;
  /** The error code when the call failed after it was allowed (`unexpected` for a bug). */
  error?: ErrorCode | "unexpected";
  /** How many records it returned or touched, when known. */
  records?: number;
}

/** The context an access is recorded under: a request refused before any principal was known has no role. */
export type AccessRecordContext = Omit<AccessContext, "role"> & {
  role: AccessContext["role"] | null;
};

/**
 * The event an access is recorded as, in two parts. genlog's own facts (principal id, role,
 * scope, surface, operation, decision, count, route, client address) are recorded as they
 * are: who read what, from where, is what an access log is for, and a security log is a
 * legitimate interest (GDPR recital 49); a principal is an id (`tok_…`, `oidc:<sub>`,
 * `local:<user>`), never a secret. What the caller wrote (the purpose, the filters) goes
 * through the tenant's redactor like any meta, so an e-mail address typed into a purpose is
 * not stored in clear. See {@link accessStages}.
 */
export function accessEvent(
  context: AccessRecordContext,
  access: Access,
): { event: GenerationEvent; trusted: Record<string, unknown> } {
  const trusted: Record<string, unknown> = {
    principal: context.principal,
    role: context.role,
    scope: context.scope,
    via: context.via,
    operation: access.operation,
    permission: access.permission,
    decision: access.denied === undefined ? "allow" : "deny",
  };
  if (access.denied !== undefined) trusted["reason"] = access.denied;
  if (access.error !== undefined) trusted["error"] = access.error;
  if (access.records !== undefined) trusted["records"] = access.records;
  if (context.address !== undefined) trusted["address"] = context.address;
  if (context.route !== undefined) trusted["route"] = context.route;
  const meta: Record<string, unknown> = {};
  if (context.purpose !== undefined) meta["purpose"] = context.purpose;
  if (access.target !== undefined && Object.keys(access.target).length > 0)
    meta["target"] = access.target;
  return {
    event: {
      type: ACCESS_TYPE,
      status: access.denied === undefined && access.error === undefined ? "succeeded" : "failed",
      meta,
    },
    trusted,
  };
}

/**
 * The tenant's stages for an access event: its redactor runs on what the caller wrote, and
 * genlog's own facts are added after, every member in RFC 8785 order (the record's text is
 * then still what `JSON.stringify` writes).
 */
export function accessStages(
  stages: PipelineStages,
  trusted: Record<string, unknown>,
): PipelineStages {
  return {
    protector: stages.protector,
    redactor: (sector) => ({
      redact: (meta, artifacts, options) => {
        const result = stages.redactor(sector).redact(meta, artifacts, options);
        const merged: Record<string, unknown> = {};
        for (const key of Object.keys({ ...result.meta, ...trusted }).sort(byCodeUnits))
          merged[key] = Object.hasOwn(trusted, key) ? trusted[key] : result.meta[key];
        const wellFormed = Object.values(trusted).every(
          (v) => typeof v !== "string" || v.isWellFormed(),
        );
        return { ...result, meta: merged, stringifiable: result.stringifiable && wellFormed };
      },
    }),
  };
}

/** RFC 8785 orders member names by UTF-16 code units. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One principal's accesses over the report's window. */
export interface PrincipalAccess {
  principal: string;
  roles: string[];
  /** Accesses allowed, denied. */
  allowed: number;
  denied: number;
  /** Records returned or touched, summed over the accesses that said how many. */
  records: number;
  /** Operations by name, with their counts. */
  operations: Record<string, number>;
  /** Purposes declared, with their counts (`(none)` for accesses that gave none). */
  purposes: Record<string, number>;
  first: string;
  last: string;
}

/** A pattern worth a look, found by {@link accessReport}. */
export interface AccessAnomaly {
  kind: "denied" | "erasure" | "off-hours" | "volume";
  principal: string;
  /** The seqs of the access records concerned (up to 20). */
  seqs: number[];
  message: string;
}

/** The access report of a tenant: who read what, when and why, and what stands out. */
export interface AccessReport {
  tenant: string;
  origin: string;
  since: string | null;
  until: string | null;
  accesses: number;
  denied: number;
  /** Accesses by UTC day (`2026-12-04`), in order: allowed, denied, and records touched. */
  byDay: { day: string; allowed: number; denied: number; records: number }[];
  principals: PrincipalAccess[];
  anomalies: AccessAnomaly[];
}

/** Hours (UTC, inclusive start, exclusive end) outside which a read is flagged. */
export const WORKING_HOURS_UTC = { from: 6, to: 20 } as const;

/** A day whose records exceed this many times the principal's median day is flagged. */
export const VOLUME_FACTOR = 5;

const ERASING = new Set(["eraseSubject"]);

/**
 * Builds the report from a tenant's access records in log order. Anomalies: every denied
 * attempt, every erasure, accesses outside working hours (UTC), and a day on which a
 * principal touched more than {@link VOLUME_FACTOR} times the records of its median day (with
 * at least three days seen and 100 records that day).
 */
export async function accessReport(
  tenant: string,
  origin: string,
  window: { since?: string; until?: string },
  records: AsyncIterable<GenerationRecord> | Iterable<GenerationRecord>,
): Promise<AccessReport> {
  const byPrincipal = new Map<string, PrincipalAccess>();
  const perDay = new Map<string, Map<string, { records: number; seqs: number[] }>>();
  const flagged = new Map<string, AccessAnomaly>();
  const flag = (kind: AccessAnomaly["kind"], principal: string, seq: number, message: string) => {
    const key = `${kind}\u0000${principal}\u0000${kind === "volume" ? message : ""}`;
    const a = flagged.get(key) ?? { kind, principal, seqs: [], message };
    if (a.seqs.length < 20) a.seqs.push(seq);
    flagged.set(key, a);
  };
  const byDay = new Map<string, AccessReport["byDay"][number]>();
  let accesses = 0;
  let denied = 0;
  for await (const r of records) {
    if (r.type !== ACCESS_TYPE) continue;
    if (window.since !== undefined && r.ts < window.since) continue;
    if (window.until !== undefined && r.ts >= window.until) continue;
    const m = r.meta;
    const principal = String(m["principal"] ?? "?");
    const operation = String(m["operation"] ?? "?");
    const count = typeof m["records"] === "number" ? m["records"] : 0;
    const purpose = typeof m["purpose"] === "string" ? m["purpose"] : "(none)";
    const isDenied = m["decision"] === "deny";
    accesses++;
    if (isDenied) denied++;
    let p = byPrincipal.get(principal);
    if (p === undefined) {
      p = {
        principal,
        roles: [],
        allowed: 0,
        denied: 0,
        records: 0,
        operations: {},
        purposes: {},
        first: r.ts,
        last: r.ts,
      };
      byPrincipal.set(principal, p);
    }
    const role = typeof m["role"] === "string" ? m["role"] : "(none)";
    if (!p.roles.includes(role)) p.roles.push(role);
    if (isDenied) p.denied++;
    else p.allowed++;
    p.records += count;
    p.operations[operation] = (p.operations[operation] ?? 0) + 1;
    p.purposes[purpose] = (p.purposes[purpose] ?? 0) + 1;
    p.last = r.ts;
    const date = r.ts.slice(0, 10);
    const totals = byDay.get(date) ?? { day: date, allowed: 0, denied: 0, records: 0 };
    byDay.set(date, totals);
    if (isDenied) totals.denied++;
    else totals.allowed++;
    totals.records += count;
    if (isDenied) flag("denied", principal, r.seq, `${principal} was denied access`);
    else if (ERASING.has(operation) && m["error"] === undefined)
      flag("erasure", principal, r.seq, `${principal} erased subjects`);
    const hour = Number(r.ts.slice(11, 13));
    if (hour < WORKING_HOURS_UTC.from || hour >= WORKING_HOURS_UTC.to) {
      flag(
        "off-hours",
        principal,
        r.seq,
        `${principal} accessed the log outside ${WORKING_HOURS_UTC.from}:00–${WORKING_HOURS_UTC.to}:00 UTC`,
      );
    }
    const days = perDay.get(principal) ?? new Map<string, { records: number; seqs: number[] }>();
    perDay.set(principal, days);
    const day = days.get(r.ts.slice(0, 10)) ?? { records: 0, seqs: [] };
    day.records += count;
    if (day.seqs.length < 20) day.seqs.push(r.seq);
    days.set(r.ts.slice(0, 10), day);
  }
  for (const [principal, days] of perDay) {
    if (days.size < 3) continue;
    const counts = [...days.values()].map((d) => d.records).sort((a, b) => a - b);
    const median = counts[Math.floor(counts.length / 2)]!;
    for (const [date, d] of days) {
      if (d.records >= 100 && d.records > VOLUME_FACTOR * Math.max(median, 1)) {
        for (const seq of d.seqs)
          flag(
            "volume",
            principal,
            seq,
            `${principal} touched ${d.records} records on ${date}, over ${VOLUME_FACTOR}× its median day (${median})`,
          );
      }
    }
  }
  return {
    tenant,
    origin,
    since: window.since ?? null,
    until: window.until ?? null,
    accesses,
    denied,
    // The log is in time order, so its days come in order.
    byDay: [...byDay.values()],
    principals: [...byPrincipal.values()].sort((a, b) => a.principal.localeCompare(b.principal)),
    anomalies: [...flagged.values()],
  };
}
