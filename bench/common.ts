/**
 * Shared pieces of the benchmark suite: configuration from the environment, the event every
 * contender writes, temporary directories, a bounded window of in-flight promises, and
 * small statistics and formatting helpers.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GenerationEventInput } from "../src/index.js";

/** Reads a positive integer (or 0 when `allowZero`) from the environment. */
export function envInt(name: string, fallback: number, allowZero = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw.replace(/_/g, ""));
  if (!Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new Error(`${name}: expected ${allowZero ? "an integer >= 0" : "a positive integer"}`);
  }
  return value;
}

/** Reads a comma-separated list of positive integers (e.g. `64,256,8192`), sorted, deduplicated. */
export function envIntList(name: string, fallback: readonly number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return [...fallback];
  const values = raw.split(",").map((part) => Number(part.trim().replace(/_/g, "")));
  if (values.some((v) => !Number.isSafeInteger(v) || v < 1)) {
    throw new Error(`${name}: expected a comma-separated list of positive integers, got "${raw}"`);
  }
  return [...new Set(values)].sort((a, b) => a - b);
}

/** True when the environment variable is set to 1, true or yes. */
export function envFlag(name: string): boolean {
  return /^(1|true|yes)$/i.test(process.env[name] ?? "");
}

/** Every size of the suite; see the README table in bench/run.ts. */
export interface BenchConfig {
  /** Events of (a) and (b), rows of (c). */
  n: number;
  /** Rounds of (a), (b), (c) and (h), run back to back; the medians are reported. */
  rounds: number;
  /** Appends in flight during (a): one measure per window in every round, ascending. */
  windows: number[];
  /** Rows per transaction of (c). */
  sqliteTx: number;
  /** Sequential appends of (d), and operations of its peer. */
  latencyN: number;
  /** Tenants of the mixed-tenant ingest (h). */
  tenants: number;
  /** Appends of (h), all issued at once, round-robin over the tenants; 0 skips (h). */
  mixedN: number;
  /** Entries of the log of (f). */
  proofN: number;
  /** Appends in flight while building the log of (f). */
  proofWindow: number;
  /** Inclusion proofs measured in (f). */
  proofs: number;
  /** Queries of each kind measured in (g), on the log of (f). */
  queries: number;
  /** Records of the JCS benchmark; 0 skips it. */
  jcsN: number;
  detectorsN: number;
  /** Events per subject of each (j) run; empty skips (j). */
  erasureN: number[];
  /** Events of the untimed warm-up before (a), (b) and (c). */
  warmup: number;
  /** `maxBatch` of `openLog`, or undefined for genlog's default. */
  maxBatch: number | undefined;
  /** Profile an extra ingest run and print the top self-time functions. */
  cpuProf: boolean;
  /** Appends in flight during that profiled run. */
  cpuProfWindow: number;
  /** Seconds of each autocannon run of (k); 0 skips (k). */
  httpSeconds: number;
  /** Connections of the single-event runs of (k); the batch run uses the first. */
  httpConnections: number[];
  /** Sequential reads of each kind timed in (k) for the access log's cost. */
  httpReads: number;
}

/** The configuration of this run. */
export function readConfig(): BenchConfig {
  if (process.env.GENLOG_BENCH_WINDOW !== undefined) {
    // Silently ignoring the old single window would measure something else than asked.
    throw new Error("GENLOG_BENCH_WINDOW is gone: use GENLOG_BENCH_WINDOWS (e.g. 64,256,8192)");
  }
  const maxBatch = envInt("GENLOG_BENCH_MAX_BATCH", 0, true);
  return {
    n: envInt("GENLOG_BENCH_N", 200_000),
    rounds: envInt("GENLOG_BENCH_ROUNDS", 3),
    windows: envIntList("GENLOG_BENCH_WINDOWS", [64, 256, 8192]),
    sqliteTx: envInt("GENLOG_BENCH_SQLITE_TX", 1000),
    latencyN: envInt("GENLOG_BENCH_LATENCY_N", 2000),
    tenants: envInt("GENLOG_BENCH_TENANTS", 1000),
    mixedN: envInt("GENLOG_BENCH_MIXED_N", 5000, true),
    proofN: envInt("GENLOG_BENCH_PROOF_N", 1_000_000, true),
    proofWindow: envInt("GENLOG_BENCH_PROOF_WINDOW", 16_384),
    proofs: envInt("GENLOG_BENCH_PROOFS", 1000),
    queries: envInt("GENLOG_BENCH_QUERIES", 200),
    jcsN: envInt("GENLOG_BENCH_JCS_N", 200_000, true),
    detectorsN: envInt("GENLOG_BENCH_DETECTORS_N", 100_000, true),
    erasureN:
      process.env.GENLOG_BENCH_ERASURE_N === "0"
        ? []
        : envIntList("GENLOG_BENCH_ERASURE_N", [1000, 100_000]),
    warmup: envInt("GENLOG_BENCH_WARMUP", 10_000, true),
    maxBatch: maxBatch === 0 ? undefined : maxBatch,
    cpuProf: envFlag("GENLOG_BENCH_CPU_PROF"),
    cpuProfWindow: envInt("GENLOG_BENCH_CPU_PROF_WINDOW", 256),
    httpSeconds: envInt("GENLOG_BENCH_HTTP_SECONDS", 10, true),
    httpConnections: envIntList("GENLOG_BENCH_HTTP_CONNECTIONS", [64, 256]),
    httpReads: envInt("GENLOG_BENCH_HTTP_READS", 2000),
  };
}

/** A pool of artifact digests, so that building an event costs no hashing. */
const DIGESTS = Array.from(
  { length: 1024 },
  (_, i) => `sha256:${createHash("sha256").update(`artifact-${i}`).digest("hex")}`,
);

/**
 * What a tenth of the events carry in a free-text note: a secret or a personal value, each
 * different (so that no cache answers for them), under a key that gives nothing away.
 */
const SENSITIVE: ((n: number) => string)[] = [
  (n) => `reach me at dev${n % 50_000}@example.com`,
  (n) => `call 06 ${String(10 + (n % 90))} ${String(10 + ((n >> 3) % 90))} 34 56`,
  (n) => `from 10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
  (n) => `key AKIA${base32(n).padStart(16, "A")} used`,
  (n) => `postgres://app:pw${n}x@db.internal:5432/shop`,
];

function base32(n: number): string {
  return n.toString(32).toUpperCase().replace(/[01]/g, "Q").replace(/[89]/g, "Z");
}

/**
 * The event of the benchmark: a realistic backend generation, fresh for every call; a
 * tenth carry a secret or a personal value in a note; with `tenant`, routed to that
 * tenant's log.
 */
export function makeEvent(n: number, tenant?: string): GenerationEventInput {
  const meta: Record<string, unknown> = {
    stack: "Flask",
    files: 12,
    prompt_tokens: 1234,
    model: "gpt-x",
  };
  if (n % 10 === 0) meta.note = SENSITIVE[(n / 10) % SENSITIVE.length]!(n);
  const event: GenerationEventInput = {
    type: "backend",
    user: `user-${n % 1000}`,
    sector: "health",
    meta,
    artifacts: [{ name: "app.py", digest: DIGESTS[n % DIGESTS.length]!, size: 1234 }],
  };
  if (tenant !== undefined) event.tenant = tenant;
  return event;
}

/** Runs `fn` with a fresh directory under the OS temporary directory, then removes it. */
export async function withTempDir<T>(label: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `genlog-bench-${label}-`));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Calls `task(0..n-1)` keeping at most `window` of the returned promises pending; resolves
 * once every one has settled, with the number that resolved (n), rejects on the first failure.
 */
export function windowed(
  n: number,
  window: number,
  task: (i: number) => Promise<unknown>,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let next = 0;
    let inFlight = 0;
    let resolved = 0;
    let failed = false;
    const fail = (e: unknown) => {
      failed = true;
      reject(e);
    };
    const pump = () => {
      while (!failed && inFlight < window && next < n) {
        const i = next++;
        inFlight++;
        let p: Promise<unknown>;
        try {
          p = task(i);
        } catch (e) {
          fail(e);
          return;
        }
        p.then(() => {
          inFlight--;
          resolved++;
          pump();
        }, fail);
      }
      if (!failed && next >= n && inFlight === 0) resolve(resolved);
    };
    pump();
  });
}

/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export function now(): number {
  return performance.now();
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Latency statistics of a list of durations in milliseconds. */
export interface LatencyStats {
  count: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

/** Summarises durations in milliseconds. */
export function latencyStats(durations: readonly number[]): LatencyStats {
  const sorted = [...durations].sort((a, b) => a - b);
  const sum = sorted.reduce((s, d) => s + d, 0);
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    meanMs: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** A deterministic PRNG (mulberry32), so that every run samples the same seqs. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `1234567.8` → `1,234,568`. */
export function fmtInt(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "n/a";
}

/** A number with `digits` decimals, or n/a. */
export function fmtFixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

/** Gives pending I/O callbacks and timers a turn between measures. */
export function breathe(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 50));
}
