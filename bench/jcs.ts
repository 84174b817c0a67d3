/**
 * Benchmark of the RFC 8785 canonicaliser against the `canonicalize` package (the
 * reference implementation) and against `JSON.stringify` (the speed ceiling: no sorting,
 * no validation). Run with `node --import tsx bench/jcs.ts [n]`, or call {@link benchJcs}.
 */

import { pathToFileURL } from "node:url";
import canonicalizeReference from "canonicalize";
import { canonicalize, canonicalizeToBuffer } from "../src/core/jcs.js";

/** One measured serialiser. */
export interface JcsBenchResult {
  name:
    | "genlog jcs"
    | "canonicalize (npm)"
    | "JSON.stringify"
    | "genlog jcs -> UTF-8"
    | "JSON.stringify -> UTF-8";
  opsPerSec: number;
}

/**
 * A record shaped like a generation event: ~15 members, a nested `meta` of a few keys,
 * strings (some non-ASCII), integers, a float, booleans, nulls and a small array. Values
 * vary with `i` so no serialiser can lean on a string cache.
 */
export function makeRecord(i: number): Record<string, unknown> {
  return {
    v: 1,
    id: `0190c3e2-7b1a-7c3d-8e4f-${(100000000000 + i).toString(16)}`,
    type: "code.generated",
    time: 1_720_000_000_000 + i * 37,
    actor: `user-${i % 977}`,
    tool: "genlog-bench",
    model: i % 3 === 0 ? "model-large-2025-06" : "model-small-2025-01",
    repo: "github.com/example/project",
    path: `src/module${i % 50}/file${i % 13}.ts`,
    language: "typescript",
    lines: 10 + (i % 400),
    accepted: i % 2 === 0,
    score: (i % 1000) / 7,
    parent: i % 5 === 0 ? null : `sha256:${(i * 2654435761).toString(16).padStart(16, "0")}`,
    tags: ["bench", `t${i % 7}`, "ünïcode"],
    meta: {
      tokensIn: 100 + (i % 2000),
      tokensOut: 20 + (i % 500),
      temperature: 0.2,
      latencyMs: 120.5 + (i % 90),
      session: { host: "ci-runner-3", retry: false },
    },
  };
}

type Serialiser = (value: unknown) => { length: number } | undefined;

function measure(fn: Serialiser, records: readonly unknown[]): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (const r of records) sink += (fn(r) as { length: number }).length;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (sink === 0) throw new Error("nothing was serialised");
  return records.length / seconds;
}

/**
 * Canonicalises `n` record-like objects with each serialiser and returns ops/s, best of
 * `rounds` rounds (after a warm-up so every contender runs optimised code).
 */
export async function benchJcs(n = 200_000, rounds = 3): Promise<JcsBenchResult[]> {
  const records = Array.from({ length: n }, (_, i) => makeRecord(i));
  // Outputs must agree before speed is worth comparing.
  for (let i = 0; i < Math.min(n, 1000); i++) {
    if (canonicalize(records[i]) !== canonicalizeReference(records[i])) {
      throw new Error(`genlog jcs and canonicalize (npm) disagree on record ${i}`);
    }
  }
  const contenders: [JcsBenchResult["name"], Serialiser][] = [
    ["genlog jcs", canonicalize],
    ["canonicalize (npm)", canonicalizeReference],
    ["JSON.stringify", (v) => JSON.stringify(v)],
    // What hashing actually consumes: the UTF-8 bytes. Our output is built by
    // concatenation, so encoding it also pays for flattening the string.
    ["genlog jcs -> UTF-8", canonicalizeToBuffer],
    ["JSON.stringify -> UTF-8", (v) => Buffer.from(JSON.stringify(v), "utf8")],
  ];
  const warm = records.slice(0, Math.min(n, 20_000));
  for (const [, fn] of contenders) measure(fn, warm);
  const best = new Map<JcsBenchResult["name"], number>();
  for (let round = 0; round < rounds; round++) {
    for (const [name, fn] of contenders) {
      best.set(name, Math.max(best.get(name) ?? 0, measure(fn, records)));
      // Let the event loop (and a pending GC) breathe between runs.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return contenders.map(([name]) => ({ name, opsPerSec: best.get(name) ?? 0 }));
}

/** Prints a {@link benchJcs} result table with the ratios that matter. */
export function formatJcsBench(results: readonly JcsBenchResult[]): string {
  const ops = (name: JcsBenchResult["name"]): number =>
    results.find((r) => r.name === name)?.opsPerSec ?? Number.NaN;
  const ours = ops("genlog jcs");
  const lines = results.map(
    (r) =>
      `${r.name.padEnd(24)} ${Math.round(r.opsPerSec).toLocaleString("en-US").padStart(12)} ops/s`,
  );
  lines.push(`ours / canonicalize   ${(ours / ops("canonicalize (npm)")).toFixed(2)}x`);
  lines.push(`ours / JSON.stringify ${(ours / ops("JSON.stringify")).toFixed(2)}x`);
  const bytesRatio = ops("genlog jcs -> UTF-8") / ops("JSON.stringify -> UTF-8");
  lines.push(`same, to UTF-8 bytes  ${bytesRatio.toFixed(2)}x`);
  return lines.join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const n = Number(process.argv[2] ?? 200_000);
  console.log(`JCS canonicalisation of ${n.toLocaleString("en-US")} record-like objects`);
  console.log(formatJcsBench(await benchJcs(n)));
}
