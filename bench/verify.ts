/**
 * (e) Full verification speed: `log.verify()` re-reads every record, recomputes every leaf
 * and root and checks every checkpoint signature.
 */
import type { Genlog } from "../src/index.js";
import { now } from "./common.js";

/** The result of {@link measureVerify}. */
export interface VerifyResult {
  entries: number;
  checkpoints: number;
  seconds: number;
  eventsPerSec: number;
  ok: boolean;
}

/** Verifies `log` end to end and reports entries per second. */
export async function measureVerify(log: Genlog): Promise<VerifyResult> {
  const start = now();
  const report = await log.verify();
  const seconds = (now() - start) / 1000;
  if (!report.ok) {
    const first = report.problems[0];
    throw new Error(`verify found ${report.problems.length} problems: ${first?.message ?? "?"}`);
  }
  return {
    entries: report.entries,
    checkpoints: report.checkpoints,
    seconds,
    eventsPerSec: report.entries / seconds,
    ok: report.ok,
  };
}
