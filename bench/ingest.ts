/**
 * (a) Durable ingest: many appends in flight against one log, events/s from the first append
 * to the last ack. Every ack means the record is fsynced and covered by a signed checkpoint.
 * After the clock stops, every run checks that nothing was lost: every append resolved, the
 * log grew by exactly that many records, and its latest checkpoint (signature checked)
 * covers them all. A failed check throws: the bench fails rather than report the figure.
 *
 * Standalone (e.g. under a profiler):
 *   node --cpu-prof --cpu-prof-dir=bench/results --import tsx bench/ingest.ts [n] [window]
 */
import { pathToFileURL } from "node:url";
import {
  openLog,
  parseCheckpoint,
  verifyNote,
  type Genlog,
  type OpenLogOptions,
} from "../src/index.js";
import { fmtInt, makeEvent, now, windowed, withTempDir } from "./common.js";
import { KEY_NAMES_ONLY } from "../src/log/pipeline.js";

/** The result of {@link measureIngest}. */
export interface IngestResult {
  events: number;
  window: number;
  seconds: number;
  eventsPerSec: number;
  /** Committed batches of this log (one checkpoint each; batches may share a commit). */
  batches: number;
  meanBatch: number;
  largestBatch: number;
  /** Wall time per batch: at small windows, what one round trip of the pipeline costs. */
  msPerBatch: number;
  /** Size of the log once every append resolved, checked against the appends acked. */
  sizeAfter: number;
}

/**
 * Throws unless `tenant`'s log (the handle's default tenant when undefined) holds exactly
 * `expected` records and its latest signed checkpoint verifies and covers all of them.
 */
export async function checkNothingLost(
  log: Genlog,
  expected: number,
  what: string,
  tenant?: string,
): Promise<number> {
  const size = await log.size(tenant);
  if (size !== expected) {
    throw new Error(
      `${what}: LOST RECORDS: the log holds ${fmtInt(size)} records, ${fmtInt(expected)} expected`,
    );
  }
  const note = await log.checkpoint(tenant);
  const covered =
    note === undefined ? 0 : parseCheckpoint(verifyNote(note, await log.verifierKey(tenant))).size;
  if (covered !== size) {
    throw new Error(
      `${what}: the latest signed checkpoint covers ${fmtInt(covered)} of ${fmtInt(size)} records`,
    );
  }
  return size;
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
  const sizeBefore = await log.size();
  let lastSize = sizeBefore;
  const onCheckpoint = (cp: { size: number }) => {
    batchSizes.push(cp.size - lastSize);
    lastSize = cp.size;
  };
  log.on("checkpoint", onCheckpoint);
  try {
    const start = now();
    const acked = await windowed(n, window, (i) => log.append(makeEvent(firstIndex + i)));
    const seconds = (now() - start) / 1000;
    // Checkpoint hooks run one macrotask after the ack; let the last one report.
    await new Promise((resolve) => setImmediate(resolve));
    const what = `ingest of ${fmtInt(n)} events, window ${fmtInt(window)}`;
    if (acked !== n) throw new Error(`${what}: ${fmtInt(acked)} appends resolved`);
    const sizeAfter = await checkNothingLost(log, sizeBefore + acked, what);
    return {
      events: n,
      window,
      seconds,
      eventsPerSec: n / seconds,
      batches: batchSizes.length,
      meanBatch: batchSizes.length === 0 ? 0 : n / batchSizes.length,
      largestBatch: batchSizes.reduce((m, s) => Math.max(m, s), 0),
      msPerBatch: batchSizes.length === 0 ? Number.NaN : (seconds * 1000) / batchSizes.length,
      sizeAfter,
    };
  } finally {
    log.off("checkpoint", onCheckpoint);
  }
}

/**
 * Opens a log in `dir`, with genlog's default batch size unless `maxBatch` is given, and the
 * full privacy pipeline unless `keyNamesOnly` (the pipeline before value detectors, kept to
 * show what they cost).
 */
export function openBenchLog(
  dir: string,
  maxBatch: number | undefined,
  keyNamesOnly = false,
): Promise<Genlog> {
  const options: OpenLogOptions = { dataDir: dir };
  if (maxBatch !== undefined) options.maxBatch = maxBatch;
  if (keyNamesOnly) options[KEY_NAMES_ONLY] = true;
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
