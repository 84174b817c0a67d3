/**
 * The generation report of a tenant: generations per type, sector, status and day, the top
 * actors (pseudonyms: the report names no person), failure rates and redactions, from one
 * pass over the records kept. genlog's own events are left out.
 */
import { SYSTEM_TYPE_PREFIX } from "../core/event-schema.js";
import type { GenerationRecord } from "../core/record.js";

/** Counts of one group of generations. */
export interface GenerationCounts {
  total: number;
  succeeded: number;
  failed: number;
  started: number;
  /** failed / (succeeded + failed); null when neither. */
  failureRate: number | null;
}

/** What {@link generationReport} returns. */
export interface GenerationReport {
  tenant: string;
  origin: string;
  generatedAt: string;
  since: string | null;
  until: string | null;
  all: GenerationCounts;
  byType: ({ type: string } & GenerationCounts)[];
  bySector: ({ sector: string | null } & GenerationCounts)[];
  /** By UTC day (`2026-12-04`), in order. */
  byDay: ({ day: string } & GenerationCounts)[];
  /** The ten actors with the most generations, by pseudonym. */
  topActors: { actor: string; total: number; failed: number }[];
  /** Records with at least one redaction, and redactions in all. */
  redacted: { records: number; redactions: number };
}

const TOP = 10;

function counts(): GenerationCounts {
  return { total: 0, succeeded: 0, failed: 0, started: 0, failureRate: null };
}

function add(c: GenerationCounts, status: string): void {
  c.total++;
  if (status === "succeeded" || status === "failed" || status === "started") c[status]++;
}

function rate<T extends GenerationCounts>(c: T): T {
  const done = c.succeeded + c.failed;
  c.failureRate = done === 0 ? null : c.failed / done;
  return c;
}

/** Builds the report over `records` (in log order), within the window when one is given. */
export async function generationReport(
  tenant: string,
  origin: string,
  window: { since?: string; until?: string },
  records: AsyncIterable<GenerationRecord> | Iterable<GenerationRecord>,
): Promise<GenerationReport> {
  const all = counts();
  const byType = new Map<string, GenerationCounts>();
  const bySector = new Map<string | null, GenerationCounts>();
  const byDay = new Map<string, GenerationCounts>();
  const actors = new Map<string, { actor: string; total: number; failed: number }>();
  const redacted = { records: 0, redactions: 0 };
  const group = <K>(m: Map<K, GenerationCounts>, k: K) => {
    let c = m.get(k);
    if (c === undefined) m.set(k, (c = counts()));
    return c;
  };
  for await (const r of records) {
    if (r.type.startsWith(SYSTEM_TYPE_PREFIX)) continue;
    if (window.since !== undefined && r.ts < window.since) continue;
    if (window.until !== undefined && r.ts >= window.until) continue;
    add(all, r.status);
    add(group(byType, r.type), r.status);
    add(group(bySector, r.sector), r.status);
    add(group(byDay, r.ts.slice(0, 10)), r.status);
    if (r.actor !== null) {
      const a = actors.get(r.actor) ?? { actor: r.actor, total: 0, failed: 0 };
      a.total++;
      if (r.status === "failed") a.failed++;
      actors.set(r.actor, a);
    }
    if (r.redactions.length > 0) {
      redacted.records++;
      redacted.redactions += r.redactions.length;
    }
  }
  const byTotal = <T extends { total: number }>(a: T, b: T) => b.total - a.total;
  return {
    tenant,
    origin,
    generatedAt: new Date().toISOString(),
    since: window.since ?? null,
    until: window.until ?? null,
    all: rate(all),
    byType: [...byType].map(([type, c]) => rate({ type, ...c })).sort(byTotal),
    bySector: [...bySector].map(([sector, c]) => rate({ sector, ...c })).sort(byTotal),
    byDay: [...byDay].sort(([a], [b]) => (a < b ? -1 : 1)).map(([day, c]) => rate({ day, ...c })),
    topActors: [...actors.values()]
      .sort((a, b) => b.total - a.total || (a.actor < b.actor ? -1 : 1))
      .slice(0, TOP),
    redacted,
  };
}
