/**
 * (g) Filtered query latency on the large log of (f): one page of at most 100 records per
 * query, one query at a time, for each kind of filter. The queries are drawn from a fixed
 * seed and prepared before the clock starts (time bounds are read from records at random
 * positions); every page is checked to hold only matching records, in log order.
 */
import type { Genlog, GenerationRecord, QueryOptions } from "../src/index.js";
import { latencyStats, now, seededRandom, type LatencyStats } from "./common.js";

/** The latency of one kind of filter. */
export interface QueryKindResult {
  kind: string;
  latency: LatencyStats;
  /** Mean records per page. */
  meanRecords: number;
}

const WINDOW = 10_000;

interface PreparedQuery {
  options: QueryOptions;
  matches: (r: GenerationRecord) => boolean;
}

/** Times `perKind` queries of each kind on `log`, whose size is `size`. */
export async function measureQueries(
  log: Genlog,
  size: number,
  perKind: number,
  seed = 20261125,
): Promise<QueryKindResult[]> {
  const random = seededRandom(seed);
  const seqBelow = (n: number) => Math.floor(random() * n);
  const tsAt = async (seq: number) => (await log.get(seq)).ts;
  const actorOf = () => `user-${seqBelow(1000)}`; // 1 actor in 1,000 (bench/common.ts)

  const kinds: [string, () => Promise<PreparedQuery>][] = [
    // A sparse filter: the actor index.
    [
      "actor",
      async () => {
        const actor = actorOf();
        return { options: { actor, limit: 100 }, matches: (r) => r.actor === actor };
      },
    ],
    // A window of about 10,000 records (a batch of appends shares one ts, so a narrower
    // window can be empty): two binary searches on seq, then a range scan.
    [
      "since + until",
      async () => {
        const from = seqBelow(size - WINDOW);
        const [since, until] = [await tsAt(from), await tsAt(from + WINDOW)];
        return {
          options: { since, until, limit: 100 },
          matches: (r) => r.ts >= since && r.ts < until,
        };
      },
    ],
    // Both: the actor index, from the seq the time bound gives.
    [
      "actor + since",
      async () => {
        const actor = actorOf();
        const since = await tsAt(seqBelow(size));
        return {
          options: { actor, since, limit: 100 },
          matches: (r) => r.actor === actor && r.ts >= since,
        };
      },
    ],
    // Nothing failed in this log: the partial status index answers at once.
    [
      "status failed (none)",
      async () => ({
        options: { status: "failed", limit: 100 },
        matches: (r) => r.status === "failed",
      }),
    ],
  ];

  const results: QueryKindResult[] = [];
  for (const [kind, prepare] of kinds) {
    const queries: PreparedQuery[] = [];
    for (let i = 0; i < perKind; i++) queries.push(await prepare());
    for (const q of queries.slice(0, 10)) await log.query(q.options); // warm-up
    const durations: number[] = [];
    let records = 0;
    for (const q of queries) {
      const start = now();
      const page = await log.query(q.options);
      durations.push(now() - start);
      let last = -1;
      for (const r of page.records) {
        if (!q.matches(r) || r.seq <= last) throw new Error(`(g) ${kind}: a record does not match`);
        last = r.seq;
      }
      records += page.records.length;
    }
    results.push({ kind, latency: latencyStats(durations), meanRecords: records / perKind });
  }
  return results;
}
