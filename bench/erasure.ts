/**
 * (j) Erasure time by the subject's number of events: a log where each of a few subjects has
 * `n` events is built (closed once, so that its write-ahead log is merged and the erasure does
 * not pay for the ingest), then each subject is erased and timed: the destroyed key and lookup
 * and the `genlog.erasure` event commit in one transaction, then the WAL is emptied. The cost
 * must not grow with `n`: the records themselves are not touched.
 */
import { openLog } from "../src/index.js";
import { now, windowed, withTempDir } from "./common.js";

/** The result of {@link measureErasure} for one size. */
export interface ErasureResult {
  /** Events of each erased subject. */
  events: number;
  subjects: number;
  /** Median and max of the erasure times, in ms. */
  medianMs: number;
  maxMs: number;
}

const SUBJECTS = 3;

/** Builds a log of `SUBJECTS` subjects with `n` events each, and times erasing each. */
export async function measureErasure(n: number): Promise<ErasureResult> {
  return withTempDir("erasure", async (dir) => {
    let log = await openLog({ dataDir: dir });
    await windowed(n * SUBJECTS, 4096, (i) =>
      log.append({ type: "backend", user: `subject-${i % SUBJECTS}`, meta: { i } }),
    );
    await log.close();
    log = await openLog({ dataDir: dir });
    // The first append opens the tenant's writer and pipeline: not part of an erasure.
    await log.append({ type: "warm-up" });
    const times: number[] = [];
    for (let s = 0; s < SUBJECTS; s++) {
      const start = now();
      const r = await log.eraseSubject({ subject: `subject-${s}`, reason: "bench" });
      times.push(now() - start);
      if (!r.scrubbed) throw new Error("(j) the WAL was not emptied");
    }
    const left = await log.query({ user: "subject-0", limit: 1 });
    if (left.records.length !== 0) throw new Error("(j) an erased subject is still found");
    await log.close();
    times.sort((a, b) => a - b);
    return {
      events: n,
      subjects: SUBJECTS,
      medianMs: times[Math.floor(times.length / 2)]!,
      maxMs: times[times.length - 1]!,
    };
  });
}
