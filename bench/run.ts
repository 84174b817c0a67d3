/**
 * The benchmark suite: `npm run bench`. Every figure comes from the same run, on the same
 * machine, with the same events. Prints a table and writes `bench/results/latest.json`.
 * (a), (b) and (c) run in rounds, back to back and in rotating order, so that the ratios
 * compare figures taken under the same load; medians are reported.
 *
 * | Variable                    | Default   | What                                              |
 * | --------------------------- | --------- | ------------------------------------------------- |
 * | `GENLOG_BENCH_N`            | 200000    | events of (a) and (b), rows of (c)                |
 * | `GENLOG_BENCH_ROUNDS`       | 3         | rounds of (a), (b), (c); medians are reported     |
 * | `GENLOG_BENCH_WINDOW`       | 8192      | appends in flight in (a)                          |
 * | `GENLOG_BENCH_SQLITE_TX`    | 1000      | rows per transaction in (c)                       |
 * | `GENLOG_BENCH_LATENCY_N`    | 2000      | sequential appends in (d)                         |
 * | `GENLOG_BENCH_PROOF_N`      | 1000000   | entries of the log of (f); 0 skips (f)            |
 * | `GENLOG_BENCH_PROOF_WINDOW` | 16384     | appends in flight while building that log         |
 * | `GENLOG_BENCH_PROOFS`       | 1000      | inclusion proofs timed in (f)                     |
 * | `GENLOG_BENCH_QUERIES`      | 200       | queries of each kind timed in (g), on (f)'s log   |
 * | `GENLOG_BENCH_JCS_N`        | 200000    | records of the JCS benchmark; 0 skips it          |
 * | `GENLOG_BENCH_WARMUP`       | 10000     | untimed events before (a), (b) and (c)            |
 * | `GENLOG_BENCH_MAX_BATCH`    | (genlog)  | `maxBatch` of `openLog`                           |
 * | `GENLOG_BENCH_CPU_PROF`     | 0         | 1: profile one more ingest run, print hot spots   |
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchJcs, formatJcsBench, type JcsBenchResult } from "./jcs.js";
import {
  breathe,
  fmtFixed,
  fmtInt,
  readConfig,
  withTempDir,
  type BenchConfig,
  type LatencyStats,
} from "./common.js";
import { measureIngest, openBenchLog, warmUpIngest, type IngestResult } from "./ingest.js";
import { measurePino, measureSqlite, type PinoResult, type SqliteResult } from "./peers.js";
import { measureLatency } from "./latency.js";
import { measureVerify, type VerifyResult } from "./verify.js";
import { measureProofs, type ProofResult } from "./proof.js";
import { measureQueries, type QueryKindResult } from "./query.js";
import { profile, topFiles, topFunctions, topInclusive, type HotSpot } from "./profile.js";
import { machineInfo, type MachineInfo } from "./machine.js";

const RESULTS_DIR = fileURLToPath(new URL("./results/", import.meta.url));
/** The requirement on (a) / (b), and the aim. */
const REQUIRED_RATIO = 0.3;
const AIMED_RATIO = 0.5;

interface Round {
  ingest: IngestResult;
  pino: PinoResult;
  sqlite: SqliteResult;
}

interface Results {
  startedAt: string;
  seconds: number;
  machine: MachineInfo;
  config: BenchConfig;
  /** The round with the median figure, for each of (a), (b) and (c). */
  ingest: IngestResult;
  pino: PinoResult;
  sqlite: SqliteResult;
  /** Every round of (a), (b) and (c), each run back to back. */
  rounds: Round[];
  latency: LatencyStats;
  verify: VerifyResult;
  proof: { build: IngestResult; proofs: ProofResult; queries: QueryKindResult[] } | null;
  /** Medians of the per-round ratios. */
  ratios: { ingestOverPino: number; ingestOverSqlite: number; required: number; aim: number };
  jcs: JcsBenchResult[] | null;
  profile: { file: string; functions: HotSpot[]; files: HotSpot[]; genlog: HotSpot[] } | null;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
}

/** The item whose key is the median (the lower middle for an even count). */
function medianBy<T>(items: readonly T[], key: (item: T) => number): T {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  const item = sorted[Math.floor((sorted.length - 1) / 2)];
  if (item === undefined) throw new Error("no rounds");
  return item;
}

function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function main(): Promise<void> {
  const config = readConfig();
  const machine = machineInfo();
  const startedAt = new Date().toISOString();
  const t0 = performance.now();

  progress(`warm-up (${fmtInt(config.warmup)} events per contender)`);
  await warmUpIngest(config.warmup, config.window, config.maxBatch);
  if (config.warmup > 0) {
    await withTempDir("warmup-peers", async (dir) => {
      await measurePino(join(dir, "warmup.log"), config.warmup);
      measureSqlite(join(dir, "warmup.db"), config.warmup, config.sqliteTx);
    });
  }
  await breathe();

  const rounds: Round[] = [];
  let verify: VerifyResult | undefined;
  for (let r = 0; r < config.rounds; r++) {
    const tag = config.rounds > 1 ? `round ${r + 1}/${config.rounds}: ` : "";
    const last = r === config.rounds - 1;
    let ingest: IngestResult | undefined;
    let pinoResult: PinoResult | undefined;
    let sqliteResult: SqliteResult | undefined;
    const steps: (() => Promise<void>)[] = [
      async () => {
        progress(
          `${tag}(a) genlog ingest: ${fmtInt(config.n)} events, window ${fmtInt(config.window)}`,
        );
        ingest = await withTempDir("ingest", async (dir) => {
          const log = await openBenchLog(dir, config.maxBatch);
          try {
            const result = await measureIngest(log, config.n, config.window);
            if (last) {
              await breathe();
              progress(`(e) verify: ${fmtInt(result.events)} entries`);
              verify = await measureVerify(log);
            }
            return result;
          } finally {
            await log.close();
          }
        });
      },
      async () => {
        progress(`${tag}(b) pino: ${fmtInt(config.n)} lines`);
        pinoResult = await withTempDir("pino", (dir) =>
          measurePino(join(dir, "events.log"), config.n),
        );
      },
      async () => {
        progress(
          `${tag}(c) better-sqlite3: ${fmtInt(config.n)} rows, ${fmtInt(config.sqliteTx)} per tx`,
        );
        sqliteResult = await withTempDir("sqlite", async (dir) =>
          measureSqlite(join(dir, "raw.db"), config.n, config.sqliteTx),
        );
      },
    ];
    // Rotating the order spreads any drift in the machine's load over all three contenders.
    for (let k = 0; k < steps.length; k++) {
      await steps[(k + r) % steps.length]!();
      await breathe();
    }
    if (ingest === undefined || pinoResult === undefined || sqliteResult === undefined) {
      throw new Error("a measure of the round did not run");
    }
    rounds.push({ ingest, pino: pinoResult, sqlite: sqliteResult });
  }
  if (verify === undefined) throw new Error("verify did not run");
  const ingest = medianBy(rounds, (r) => r.ingest.eventsPerSec).ingest;
  const pinoResult = medianBy(rounds, (r) => r.pino.linesPerSec).pino;
  const sqliteResult = medianBy(rounds, (r) => r.sqlite.rowsPerSec).sqlite;

  progress(`(d) sequential appends: ${fmtInt(config.latencyN)}`);
  const latency = await withTempDir("latency", async (dir) => {
    const log = await openBenchLog(dir, config.maxBatch);
    try {
      return await measureLatency(log, config.latencyN);
    } finally {
      await log.close();
    }
  });
  await breathe();

  let proof: Results["proof"] = null;
  if (config.proofN > 0) {
    progress(`(f) building a ${fmtInt(config.proofN)}-entry log`);
    proof = await withTempDir("proof", async (dir) => {
      const log = await openBenchLog(dir, config.maxBatch);
      try {
        const build = await measureIngest(log, config.proofN, config.proofWindow);
        progress(
          `(f) built in ${fmtFixed(build.seconds, 1)} s; ${fmtInt(config.proofs)} inclusion proofs`,
        );
        await breathe();
        const proofs = await measureProofs(log, config.proofN, config.proofs);
        progress(`(g) ${fmtInt(config.queries)} queries of each kind`);
        await breathe();
        const queries = await measureQueries(log, config.proofN, config.queries);
        return { build, proofs, queries };
      } finally {
        await log.close();
      }
    });
    await breathe();
  }

  let hotSpots: Results["profile"] = null;
  if (config.cpuProf) {
    progress(`CPU profile of one more ingest run (${fmtInt(config.n)} events)`);
    hotSpots = await withTempDir("profile", async (dir) => {
      const log = await openBenchLog(dir, config.maxBatch);
      try {
        const { profile: p } = await profile(() => measureIngest(log, config.n, config.window));
        mkdirSync(RESULTS_DIR, { recursive: true });
        const file = join(RESULTS_DIR, "ingest.cpuprofile");
        writeFileSync(file, JSON.stringify(p));
        return {
          file,
          functions: topFunctions(p, 10),
          files: topFiles(p, 8),
          genlog: topInclusive(p, "src/", 12),
        };
      } finally {
        await log.close();
      }
    });
  }

  let jcs: JcsBenchResult[] | null = null;
  if (config.jcsN > 0) {
    progress(`JCS: ${fmtInt(config.jcsN)} records (bench/jcs.ts)`);
    jcs = await benchJcs(config.jcsN);
  }

  const results: Results = {
    startedAt,
    seconds: (performance.now() - t0) / 1000,
    machine,
    config,
    ingest,
    pino: pinoResult,
    sqlite: sqliteResult,
    latency,
    verify,
    proof,
    rounds,
    ratios: {
      ingestOverPino: median(rounds.map((r) => r.ingest.eventsPerSec / r.pino.linesPerSec)),
      ingestOverSqlite: median(rounds.map((r) => r.ingest.eventsPerSec / r.sqlite.rowsPerSec)),
      required: REQUIRED_RATIO,
      aim: AIMED_RATIO,
    },
    jcs,
    profile: hotSpots,
  };
  console.log(report(results));
  mkdirSync(RESULTS_DIR, { recursive: true });
  const out = join(RESULTS_DIR, "latest.json");
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nresults written to ${out}`);
}

/** The printed report. */
function report(r: Results): string {
  const m = r.machine;
  const lines: string[] = [
    "",
    `genlog bench — ${r.startedAt}, ${fmtFixed(r.seconds, 0)} s in all`,
    `node ${m.node} (V8 ${m.v8}), ${m.os} ${m.arch}, ${m.cpuCount} × ${m.cpuModel}, ${m.memoryGiB} GiB`,
    `SQLite ${m.sqlite} (better-sqlite3 ${m.betterSqlite3}), pino ${m.pino}, tmpdir ${m.tmpdir}`,
    `load average (1 min) ${fmtFixed(m.loadAvg, 2)} at start, ${fmtFixed(loadavg()[0]!, 2)} at end` +
      (Math.max(m.loadAvg, loadavg()[0]!) > m.cpuCount
        ? ": the machine was busy, figures are noisy"
        : ""),
    "",
  ];
  const rows: [string, string, string, string][] = [];
  const row = (measure: string, value: string, unit: string, detail = "") =>
    rows.push([measure, value, unit, detail]);
  const perRound = (f: (round: Round) => number) =>
    r.rounds.length > 1 ? `; rounds ${r.rounds.map((x) => fmtInt(f(x))).join(" / ")}` : "";
  const a = r.ingest;
  row(
    "(a) genlog durable ingest",
    fmtInt(a.eventsPerSec),
    "events/s",
    `${fmtInt(a.events)} events, window ${fmtInt(a.window)}, ${fmtFixed(a.seconds, 2)} s, ` +
      `${fmtInt(a.batches)} batches (mean ${fmtInt(a.meanBatch)}, max ${fmtInt(a.largestBatch)})` +
      perRound((x) => x.ingest.eventsPerSec),
  );
  row(
    "(b) pino, async file",
    fmtInt(r.pino.linesPerSec),
    "lines/s",
    `${fmtInt(r.pino.lines)} lines, ${fmtFixed(r.pino.bytes / 2 ** 20, 1)} MiB, until closed, no fsync` +
      perRound((x) => x.pino.linesPerSec),
  );
  row(
    "(c) better-sqlite3 raw inserts",
    fmtInt(r.sqlite.rowsPerSec),
    "rows/s",
    `${fmtInt(r.sqlite.rows)} rows, ${fmtInt(r.sqlite.rowsPerTx)}/tx, WAL, synchronous=FULL` +
      perRound((x) => x.sqlite.rowsPerSec),
  );
  const d = r.latency;
  row("(d) sequential append p50", fmtFixed(d.p50Ms, 3), "ms", `${fmtInt(d.count)} appends`);
  row(
    "(d) sequential append p99",
    fmtFixed(d.p99Ms, 3),
    "ms",
    `mean ${fmtFixed(d.meanMs, 3)}, max ${fmtFixed(d.maxMs, 3)}`,
  );
  row(
    "(e) verify",
    fmtInt(r.verify.eventsPerSec),
    "events/s",
    `${fmtInt(r.verify.entries)} entries, ${fmtInt(r.verify.checkpoints)} checkpoints, ` +
      `${fmtFixed(r.verify.seconds, 2)} s`,
  );
  if (r.proof !== null) {
    const { build, proofs } = r.proof;
    row(
      "(f) build log for proofs",
      fmtInt(build.eventsPerSec),
      "events/s",
      `${fmtInt(build.events)} entries in ${fmtFixed(build.seconds, 1)} s, window ` +
        `${fmtInt(build.window)}, mean batch ${fmtInt(build.meanBatch)}`,
    );
    row(
      "(f) inclusion proof p50",
      fmtFixed(proofs.latency.p50Ms, 3),
      "ms",
      `${fmtInt(proofs.latency.count)} random seqs, tree size ${fmtInt(proofs.treeSize)}`,
    );
    row(
      "(f) inclusion proof p99",
      fmtFixed(proofs.latency.p99Ms, 3),
      "ms",
      `mean ${fmtFixed(proofs.latency.meanMs, 3)}, max ${fmtFixed(proofs.latency.maxMs, 3)}`,
    );
    row(
      "(f) store reads per proof",
      fmtFixed(proofs.sqlReadsPerProof, 1),
      "SQL reads",
      `${fmtFixed(proofs.preparesPerProof, 1)} statements prepared, ` +
        `${fmtFixed(proofs.meanHashes, 1)} hashes per proof`,
    );
    for (const q of r.proof.queries) {
      row(
        `(g) query ${q.kind} p50`,
        fmtFixed(q.latency.p50Ms, 3),
        "ms",
        `p99 ${fmtFixed(q.latency.p99Ms, 3)} ms, ${fmtFixed(q.meanRecords, 0)} records per page, ` +
          `${fmtInt(q.latency.count)} queries, tree size ${fmtInt(proofs.treeSize)}`,
      );
    }
  }
  lines.push(...table(["measure", "value", "unit", "detail"], rows));

  const { ingestOverPino, ingestOverSqlite, required, aim } = r.ratios;
  const verdict =
    ingestOverPino >= aim ? "meets the aim" : ingestOverPino >= required ? "meets" : "FAILS";
  lines.push(
    "",
    `a/b  genlog / pino           ${fmtFixed(ingestOverPino, 3)}  (requirement >= ${required}, aim ${aim}: ${verdict})`,
    `a/c  genlog / raw SQLite     ${fmtFixed(ingestOverSqlite, 3)}`,
  );

  if (r.jcs !== null) {
    lines.push("", `JCS canonicalisation (bench/jcs.ts, ${fmtInt(r.config.jcsN)} records)`);
    lines.push(formatJcsBench(r.jcs));
  }

  if (r.profile !== null) {
    const spots = (title: string, list: HotSpot[]) => {
      lines.push("", title);
      for (const s of list) {
        lines.push(
          `${fmtFixed(s.selfMs, 0).padStart(8)} ms ${fmtFixed(s.percent, 1).padStart(5)}%  ${s.name}`,
        );
      }
    };
    spots("ingest CPU profile: top self time by function", r.profile.functions);
    spots("ingest CPU profile: self time by file", r.profile.files);
    spots("ingest CPU profile: total time (self + callees) of genlog functions", r.profile.genlog);
    lines.push(`profile written to ${r.profile.file}`);
  }
  return lines.join("\n");
}

/** Left-aligned text columns, right-aligned value column. */
function table(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => (c === 1 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
}

await main();
