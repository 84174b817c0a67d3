/**
 * (d) One awaited append at a time: the latency a caller sees when nothing else is in
 * flight (one macrotask of batching delay, one transaction, one fsync, one signature).
 */
import type { Genlog } from "../src/index.js";
import { latencyStats, makeEvent, now, type LatencyStats } from "./common.js";

/** Appends `n` events one after the other (after `warmup` untimed ones) and times each. */
export async function measureLatency(log: Genlog, n: number, warmup = 100): Promise<LatencyStats> {
  for (let i = 0; i < warmup; i++) await log.append(makeEvent(i));
  const durations: number[] = [];
  for (let i = 0; i < n; i++) {
    const event = makeEvent(warmup + i);
    const start = now();
    await log.append(event);
    durations.push(now() - start);
  }
  return latencyStats(durations);
}
