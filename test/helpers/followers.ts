/** What the follower tests share: a runner driven until every follower caught up, a varied log, a sink's lines. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { Genlog, PassResult } from "../../src/index.js";
import type { GenerationRecord } from "../../src/core/record.js";

export const LOCAL = { followerNetwork: { allowPrivate: true } };
export const FAST = { baseDelayMs: 1, maxDelayMs: 4, timeoutMs: 2000 };

export async function drain(log: Genlog, rounds = 200): Promise<PassResult> {
  const runner = log.followerRunner(FAST);
  const total: PassResult = { delivered: 0, skipped: 0, failed: 0, deadLettered: 0, more: false };
  for (let i = 0; i < rounds; i++) {
    const r = await runner.pass();
    total.delivered += r.delivered;
    total.skipped += r.skipped;
    total.failed += r.failed;
    const all = await log.followers();
    if (all.every((f) => f.behind === 0)) return total;
    await new Promise((res) => setTimeout(res, 5));
  }
  throw new Error("the followers did not catch up");
}

/** A varied log: every status, with and without actor, sector and artifacts. */
export async function appendVaried(log: Genlog, n: number): Promise<GenerationRecord[]> {
  const out: GenerationRecord[] = [];
  const statuses = ["succeeded", "failed", "started"] as const;
  for (let i = 0; i < n; i++) {
    out.push(
      await log.append({
        type: ["backend", "frontend", "ai-model"][i % 3]!,
        status: statuses[i % 3],
        ...(i % 2 === 0 ? { user: `user-${i}` } : {}),
        ...(i % 4 === 1 ? { sector: "health" } : {}),
        ...(i % 5 === 0 ? { occurredAt: "2026-12-05T08:00:00.000Z" } : {}),
        meta: { i },
        artifacts:
          i % 3 === 0
            ? [{ name: "app.zip", digest: `sha256:${"ab".repeat(32)}`, size: 1000 + i }]
            : [],
      }),
    );
  }
  return out;
}

/** The lines of a sink's directory, oldest first: rotated files gunzipped, then current. */
export function sinkLines(dir: string): string[] {
  const names = readdirSync(dir).sort();
  const lines: string[] = [];
  for (const n of names.filter((x) => x.endsWith(".ndjson.gz"))) {
    lines.push(
      ...gunzipSync(readFileSync(join(dir, n)))
        .toString("utf8")
        .split("\n")
        .filter(Boolean),
    );
  }
  if (names.includes("current.ndjson")) {
    lines.push(...readFileSync(join(dir, "current.ndjson"), "utf8").split("\n").filter(Boolean));
  }
  return lines;
}
