/**
 * The GDPR report of a tenant: what a data-protection officer is asked for (subjects,
 * erasures, exports, retention and the next purge, legal holds, what the redactor removed),
 * computed from the log itself: the system events say what was done, the records what was
 * redacted. One pass over the tenant's records.
 */
import { SYSTEM_TYPE_PREFIX } from "../core/event-schema.js";
import type { LogRef, LogStore } from "../store/log-store.js";
import { SYSTEM_TYPES } from "./system-events.js";

/** What {@link gdprReport} returns. */
export interface GdprReport {
  tenant: string;
  origin: string;
  generatedAt: string;
  records: {
    /** Positions in the log. */
    total: number;
    /** Generation records still kept (not purged; genlog's own events not counted). */
    kept: number;
    /** Bodies deleted by purges. */
    purged: number;
  };
  subjects: {
    /** Subjects whose key is held (their records can be read by a caller allowed to). */
    current: number;
    /** Pseudonyms erased so far. */
    erased: number;
  };
  erasures: { count: number; last: string | null };
  exports: { count: number; last: string | null };
  retention: {
    days: number;
    isDefault: boolean;
    /** Records before this are due for purge now. */
    cutoff: string;
    /** Records still kept that are older than the cutoff. */
    due: number;
    /** When the oldest kept record becomes due (the cutoff moves with time); null if none. */
    nextPurge: string | null;
  };
  purges: { count: number; last: string | null };
  holds: { scope: "tenant" | "subject"; pseudonym: string | null }[];
  /** Redactions in the records kept, by rule (`key:password`, `pii:email`, …) and action. */
  redactions: { rule: string; action: string; count: number }[];
}

/** Builds the report of `ref` (see {@link GdprReport}). */
export async function gdprReport(options: {
  store: LogStore;
  ref: LogRef;
  retention: { days: number; isDefault: boolean; cutoff: string };
}): Promise<GdprReport> {
  const { store, ref, retention } = options;
  const counts = new Map<string, number>();
  const last = new Map<string, string>();
  const redactions = new Map<string, { rule: string; action: string; count: number }>();
  let total = 0;
  let kept = 0;
  let purged = 0;
  let erased = 0;
  let due = 0;
  let oldest: string | undefined;
  for await (const e of store.scanEntries(ref.logId)) {
    total++;
    if (e.canonical === null) {
      purged++;
      continue;
    }
    if (e.type.startsWith(SYSTEM_TYPE_PREFIX)) {
      counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
      last.set(e.type, e.ts);
      if (e.type === SYSTEM_TYPES.erasure) {
        const meta = (JSON.parse(e.canonical) as { meta?: { pseudonyms?: unknown } }).meta;
        erased += Array.isArray(meta?.pseudonyms) ? meta.pseudonyms.length : 0;
      }
      continue;
    }
    kept++;
    oldest ??= e.ts;
    if (e.ts < retention.cutoff) due++;
    const rec = JSON.parse(e.canonical) as { redactions?: { rule?: unknown; action?: unknown }[] };
    for (const r of rec.redactions ?? []) {
      const key = `${String(r.rule)}\u0000${String(r.action)}`;
      const entry = redactions.get(key);
      if (entry !== undefined) entry.count++;
      else redactions.set(key, { rule: String(r.rule), action: String(r.action), count: 1 });
    }
  }
  const nextPurge =
    oldest === undefined
      ? null
      : new Date(
          Math.max(Date.parse(oldest) + retention.days * 86_400_000, Date.now()),
        ).toISOString();
  return {
    tenant: ref.tenant,
    origin: ref.origin,
    generatedAt: new Date().toISOString(),
    records: { total, kept, purged },
    subjects: { current: await store.countSubjects(ref.tenant), erased },
    erasures: {
      count: counts.get(SYSTEM_TYPES.erasure) ?? 0,
      last: last.get(SYSTEM_TYPES.erasure) ?? null,
    },
    exports: {
      count: counts.get(SYSTEM_TYPES.subjectExport) ?? 0,
      last: last.get(SYSTEM_TYPES.subjectExport) ?? null,
    },
    retention: { ...retention, due, nextPurge },
    purges: {
      count: counts.get(SYSTEM_TYPES.purge) ?? 0,
      last: last.get(SYSTEM_TYPES.purge) ?? null,
    },
    holds: (await store.listHolds(ref.tenant)).map((h) => ({
      scope: h.subject === "" ? ("tenant" as const) : ("subject" as const),
      pseudonym: h.subject === "" ? null : h.subject,
    })),
    redactions: [...redactions.values()].sort(
      (a, b) => b.count - a.count || a.rule.localeCompare(b.rule),
    ),
  };
}
