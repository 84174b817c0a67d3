/**
 * (d) One awaited append at a time: the latency a caller sees when nothing else is in
 * flight (one macrotask of batching delay, one transaction, one fsync, one signature),
 * against its peer (bench/peers.ts): the same row committed alone after one Ed25519
 * signature, on a bare better-sqlite3 connection with WAL and synchronous=FULL.
 *
 * The two are interleaved in blocks of {@link BLOCK} operations, alternating which goes
 * first, so that both see the same load on a shared machine while each runs a block of its
 * own operations back to back (warm caches, no cross-talk within an operation).
 */
import type { Genlog } from "../src/index.js";
import { latencyStats, makeEvent, now, type LatencyStats } from "./common.js";
import { checkNothingLost } from "./ingest.js";
import type { SignedRowPeer } from "./peers.js";

/** Operations of one contender in a row before the other takes its turn. */
export const BLOCK = 50;

/** The result of {@link measureLatency}. */
export interface LatencyResult {
  genlog: LatencyStats;
  peer: LatencyStats;
  /** genlog / peer. */
  p50Ratio: number;
  p99Ratio: number;
}

/**
 * Appends `n` events to `log` one after the other, and runs `n` operations of `peer`, each
 * timed (after `warmup` untimed ones of each); then checks that every append is in the log
 * and every peer row in its database.
 */
export async function measureLatency(
  log: Genlog,
  peer: SignedRowPeer,
  n: number,
  warmup = 100,
): Promise<LatencyResult> {
  const sizeBefore = await log.size();
  for (let i = 0; i < warmup; i++) {
    await log.append(makeEvent(i));
    peer.op();
  }
  const ours: number[] = [];
  const theirs: number[] = [];
  const genlogBlock = async (from: number, count: number) => {
    for (let i = from; i < from + count; i++) {
      const event = makeEvent(warmup + i);
      const start = now();
      await log.append(event);
      ours.push(now() - start);
    }
  };
  const peerBlock = (count: number) => {
    for (let i = 0; i < count; i++) {
      const start = now();
      peer.op();
      theirs.push(now() - start);
    }
  };
  for (let from = 0, k = 0; from < n; from += BLOCK, k++) {
    const count = Math.min(BLOCK, n - from);
    if (k % 2 === 0) {
      await genlogBlock(from, count);
      peerBlock(count);
    } else {
      peerBlock(count);
      await genlogBlock(from, count);
    }
  }
  await checkNothingLost(log, sizeBefore + warmup + n, `(d) ${n} sequential appends`);
  if (peer.count() !== warmup + n) throw new Error(`(d) peer: ${peer.count()} rows`);
  const genlog = latencyStats(ours);
  const bare = latencyStats(theirs);
  return {
    genlog,
    peer: bare,
    p50Ratio: genlog.p50Ms / bare.p50Ms,
    p99Ratio: genlog.p99Ms / bare.p99Ms,
  };
}
