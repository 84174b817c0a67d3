/**
 * (a) Durable ingest: many appends in flight against one log, events/s from the first append
 * to the last ack. Every ack means the record is fsynced and covered by a signed checkpoint.
 *
 * Standalone (e.g. under a profiler):
 *   node --cpu-prof --cpu-prof-dir=bench/results --import tsx bench/ingest.ts [n] [window]
 */
import { pathToFileURL } from "node:url";
import { openLog, type Genlog, type OpenLogOptions } from "../src/index.js";
import { fmtInt, makeEvent, now, windowed, withTempDir } from "./common.js";

/** The result of {@link measureIngest}. */
export interface IngestResult {
  events: number;
  window: number;
  seconds: number;
  eventsPerSec: number;
  /** Committed batches (one transaction, one fsync and one checkpoint each). */
  batches: number;
  meanBatch: number;
  largestBatch: number;
}

/**
 * Appends `n` events to `log` with at most `window` appends pending, `firstIndex` numbering
 * the first event. The clock runs from the first append until every append has resolved.
 */
export async function measureIngest(
  log: Genlog,
  n: number,
  window: number,
  firstIndex = 0,
): Promise<IngestResult> {
  const batchSizes: number[] = [];
  let lastSize = await log.size();
  const onCheckpoint = (cp: { size: number }) => {
    batchSizes.push(cp.size - lastSize);
    lastSize = cp.size;
  };
  log.on("checkpoint", onCheckpoint);
  try {
    const start = now();
    await windowed(n, window, (i) => log.append(makeEvent(firstIndex + i)));
    const seconds = (now() - start) / 1000;
    // Checkpoint hooks run one macrotask after the ack; let the last one report.
    await new Promise((resolve) => setImmediate(resolve));
    return {
      events: n,
      window,
      seconds,
      eventsPerSec: n / seconds,
      batches: batchSizes.length,
      meanBatch: batchSizes.length === 0 ? 0 : n / batchSizes.length,
      largestBatch: batchSizes.reduce((m, s) => Math.max(m, s), 0),
    };
  } finally {
    log.off("checkpoint", onCheckpoint);
  }
}

/** Opens a log in `dir`, with genlog's default batch size unless `maxBatch` is given. */
export function openBenchLog(dir: string, maxBatch: number | undefined): Promise<Genlog> {
  const options: OpenLogOptions = { dataDir: dir };
  if (maxBatch !== undefined) options.maxBatch = maxBatch;
  return openLog(options);
}

/** Warms the append path up on a throwaway log, so that (a) measures optimised code. */
export async function warmUpIngest(
  n: number,
  window: number,
  maxBatch: number | undefined,
): Promise<void> {
  if (n === 0) return;
  await withTempDir("warmup", async (dir) => {
    const log = await openBenchLog(dir, maxBatch);
    try {
      await windowed(n, window, (i) => log.append(makeEvent(i)));
    } finally {
      await log.close();
    }
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const n = Number(process.argv[2] ?? 200_000);
  const window = Number(process.argv[3] ?? 8192);
  await warmUpIngest(10_000, window, undefined);
  await withTempDir("ingest", async (dir) => {
    const log = await openBenchLog(dir, undefined);
    try {
      const r = await measureIngest(log, n, window);
      console.log(
        `genlog ingest: ${fmtInt(r.eventsPerSec)} events/s (${fmtInt(n)} events, window ${window}, ` +
          `${r.batches} batches, mean ${fmtInt(r.meanBatch)})`,
      );
    } finally {
      await log.close();
    }
  });
}
