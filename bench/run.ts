/**
 * The benchmark suite: `npm run bench`. Every figure comes from the same run, on the same
 * machine, with the same events. Prints a table and writes `bench/results/latest.json`.
 * (a) at each window, (b), (c) and (h) run in rounds, back to back and in rotating order, so
 * that the ratios compare figures taken under the same load; medians are reported. Each (a)
 * window is paired with a pino run (b) right before or after it, and its a/b is taken from
 * that pair. (d) interleaves genlog and its peer. Every ingest run is checked afterwards:
 * every append resolved, and the log holds exactly those records under a signed checkpoint;
 * the bench fails otherwise.
 *
 * | Variable                       | Default     | What                                            |
 * | ------------------------------ | ----------- | ----------------------------------------------- |
 * | `GENLOG_BENCH_N`               | 200000      | events of each (a) and (b) run, rows of (c)     |
 * | `GENLOG_BENCH_ROUNDS`          | 3           | rounds of (a), (b), (c), (h); medians reported  |
 * | `GENLOG_BENCH_WINDOWS`         | 64,256,8192 | appends in flight in (a), one run per window    |
 * | `GENLOG_BENCH_SQLITE_TX`       | 1000        | rows per transaction in (c)                     |
 * | `GENLOG_BENCH_LATENCY_N`       | 2000        | sequential appends in (d), and peer operations  |
 * | `GENLOG_BENCH_TENANTS`         | 1000        | tenants of (h), set up before the rounds        |
 * | `GENLOG_BENCH_MIXED_N`         | 5000        | appends of (h), all at once; 0 skips (h)        |
 * | `GENLOG_BENCH_PROOF_N`         | 1000000     | entries of the log of (f); 0 skips (f), (g)     |
 * | `GENLOG_BENCH_PROOF_WINDOW`    | 16384       | appends in flight while building that log       |
 * | `GENLOG_BENCH_PROOFS`          | 1000        | inclusion proofs timed in (f)                   |
 * | `GENLOG_BENCH_QUERIES`         | 200         | queries of each kind timed in (g), on (f)'s log |
 * | `GENLOG_BENCH_JCS_N`           | 200000      | records of the JCS benchmark; 0 skips it        |
 * | `GENLOG_BENCH_DETECTORS_N`     | 100000      | strings of (i), the detectors alone; 0 skips it |
 * | `GENLOG_BENCH_ERASURE_N`       | 1000,100000 | events per subject of (j), one run each; 0 skips |
 * | `GENLOG_BENCH_WARMUP`          | 10000       | untimed events per window and peer, first       |
 * | `GENLOG_BENCH_MAX_BATCH`       | (genlog)    | `maxBatch` of `openLog`                         |
 * | `GENLOG_BENCH_CPU_PROF`        | 0           | 1: profile one more ingest run, print hot spots |
 * | `GENLOG_BENCH_CPU_PROF_WINDOW` | 256         | appends in flight in that profiled run          |
 * | `GENLOG_BENCH_HTTP_SECONDS`    | 10          | seconds of each autocannon run of (k); 0 skips  |
 * | `GENLOG_BENCH_HTTP_CONNECTIONS`| 64,256      | connections of (k)'s single-event runs          |
 * | `GENLOG_BENCH_HTTP_READS`      | 2000        | reads of each kind for the access log's cost    |
 * | `GENLOG_BENCH_PG_EVENTS`       | 50000       | events of each (p1) run and rows of (p2)        |
 * | `GENLOG_BENCH_PG_LARGE`        | 200000      | entries of (p3)'s log (1000000 for the issue's) |
 * | `GENLOG_BENCH_PG_HTTP_SECONDS`  | 10          | each (p4) load, one node and three             |
 * | `GENLOG_BENCH_PG_HTTP_CONNECTIONS` | 48       | (p4) connections, split among the nodes         |
 * | `GENLOG_BENCH_DATABASE_URL`    | (throwaway) | a PostgreSQL server for (p) instead of its own  |
 *
 * `GENLOG_BENCH_WINDOW` (one window) is gone; setting it is an error.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Genlog } from "../src/index.js";
import { benchJcs, formatJcsBench, type JcsBenchResult } from "./jcs.js";
import { benchPostgres, postgresReport, type PostgresResult } from "./postgres.js";
import { postgresBin } from "../scripts/postgres.mjs";
import { benchDetectors, type DetectorsResult } from "./detectors.js";
import { measureErasure, type ErasureResult } from "./erasure.js";
import { breathe, fmtFixed, fmtInt, readConfig, withTempDir, type BenchConfig } from "./common.js";
import { measureIngest, openBenchLog, warmUpIngest, type IngestResult } from "./ingest.js";
import {
  measurePino,
  measureSqlite,
  openSignedRowPeer,
  type PinoResult,
  type SqliteResult,
} from "./peers.js";
import { BLOCK, measureLatency, type LatencyResult } from "./latency.js";
import { measureMixedIngest, setUpTenants, type MixedResult, type TenantSet } from "./tenants.js";
import { measureVerify, type VerifyResult } from "./verify.js";
import { measureProofs, type ProofResult } from "./proof.js";
import { measureQueries, type QueryKindResult } from "./query.js";
import { profile, topFiles, topFunctions, topInclusive, type HotSpot } from "./profile.js";
import { machineInfo, type MachineInfo } from "./machine.js";
import { BATCH, measureHttp, type HttpResult } from "./http.js";

const RESULTS_DIR = fileURLToPath(new URL("./results/", import.meta.url));
/**
 * The requirement on a/b with the full privacy pipeline, at {@link REQUIRED_WINDOW} appends
 * in flight (and at 8,192), and the aim.
 */
const REQUIRED_RATIO = 0.25;
const REQUIRED_AT: ReadonlyMap<number, number> = new Map([
  [256, 0.25],
  [8192, 0.3],
]);
const AIMED_RATIO = 0.5;
const REQUIRED_WINDOW = 256;
/** Windows at which the key-name-only pipeline runs too (a'), for comparison. */
const KEY_NAMES_WINDOWS: ReadonlySet<number> = new Set([256, 8192]);
/** The aim on (d): genlog's p99 at most this many times its peer's. */
const AIMED_P99_RATIO = 1.5;
/** The aim on (h): mixed-tenant ingest at least this share of one tenant at 256 in flight. */
const AIMED_MIXED_RATIO = 0.5;
/** (k): durable single-event appends over HTTP against a bare Fastify endpoint, and the aim. */
const REQUIRED_HTTP_RATIO = 0.4;
const AIMED_HTTP_RATIO = 0.5;
/** (k): batches, in events/s. */
const REQUIRED_BATCH_EVENTS = 100_000;

/** (a) at one window and the pino run (b) paired with it, in one round. */
interface WindowRound {
  window: number;
  ingest: IngestResult;
  /** (a') the same with key names only (no value detectors), at some windows. */
  keyNames: IngestResult | null;
  pino: PinoResult;
}

interface Round {
  /** One per window, ascending. */
  windows: WindowRound[];
  sqlite: SqliteResult;
  mixed: MixedResult | null;
}

/** Medians over the rounds for one window of (a). */
interface WindowSummary {
  window: number;
  /** The round with the median events/s. */
  ingest: IngestResult;
  /** Median of the per-round a/b, each from a pair run back to back. */
  overPino: number;
  /** Median of the per-round a/c. */
  overSqlite: number;
  /** (a') the round with the median events/s, and the median of its per-round a'/b. */
  keyNames: { ingest: IngestResult; overPino: number } | null;
}

interface Results {
  startedAt: string;
  seconds: number;
  machine: MachineInfo;
  config: BenchConfig;
  /** (a): one summary per window, ascending. */
  ingest: WindowSummary[];
  /** (b): the median of every pino run of every round. */
  pino: PinoResult;
  /** (c): the round with the median figure. */
  sqlite: SqliteResult;
  /** (h): the round with the median figure, and the untimed set-up of the tenants. */
  mixed: { result: MixedResult; setup: TenantSet } | null;
  /** Every round of (a), (b), (c) and (h). */
  rounds: Round[];
  /** (d): genlog and its peer, interleaved. */
  latency: LatencyResult;
  verify: VerifyResult;
  proof: { build: IngestResult; proofs: ProofResult; queries: QueryKindResult[] } | null;
  /** (p), or null without a PostgreSQL server. */
  postgres: PostgresResult | null;
  /** Ingest runs checked for lost records (every (a), (f) and (h) run, and (d)). */
  checkedRuns: number;
  ratios: {
    /** a/b at {@link REQUIRED_WINDOW}, or NaN when that window was not measured. */
    ingestOverPino: number;
    requiredWindow: number;
    required: number;
    aim: number;
    latencyP50: number;
    latencyP99: number;
    latencyP99Aim: number;
    /** Median of the per-round (h) / (a at 256); NaN when either was not measured. */
    mixedOverSingle: number;
    mixedAim: number;
  };
  jcs: JcsBenchResult[] | null;
  detectors: DetectorsResult | null;
  /** (j) erasure time per subject size; empty when skipped. */
  erasure: ErasureResult[];
  /** (k) HTTP ingest and the access log's cost on a read; null when skipped. */
  http: HttpResult | null;
  profile: {
    window: number;
    file: string;
    functions: HotSpot[];
    files: HotSpot[];
    genlog: HotSpot[];
  } | null;
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

/** The multi-tenant handle of (h), set up once and measured in every round. */
interface MixedLog {
  log: Genlog;
  set: TenantSet;
}

/** Runs `fn` with the tenants of (h) set up on a fresh log, or with null when (h) is off. */
async function withMixedLog<T>(
  config: BenchConfig,
  fn: (mixed: MixedLog | null) => Promise<T>,
): Promise<T> {
  if (config.mixedN === 0) return fn(null);
  return withTempDir("tenants", async (dir) => {
    const log = await openBenchLog(dir, config.maxBatch);
    try {
      progress(`(h) setting up ${fmtInt(config.tenants)} tenants (untimed)`);
      const set = await setUpTenants(log, config.tenants);
      progress(
        `(h) tenants opened in ${fmtFixed(set.openSeconds, 1)} s, first appends in ` +
          `${fmtFixed(set.warmUpSeconds, 2)} s`,
      );
      await breathe();
      return await fn({ log, set });
    } finally {
      await log.close();
    }
  });
}

async function main(): Promise<void> {
  const config = readConfig();
  const machine = machineInfo();
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const windows = config.windows;
  const largest = windows[windows.length - 1]!;
  let checkedRuns = 0;

  progress(`warm-up (${fmtInt(config.warmup)} events per contender)`);
  for (const w of windows) await warmUpIngest(config.warmup, w, config.maxBatch);
  if (config.warmup > 0) {
    await withTempDir("warmup-peers", async (dir) => {
      await measurePino(join(dir, "warmup.log"), config.warmup);
      measureSqlite(join(dir, "warmup.db"), config.warmup, config.sqliteTx);
    });
  }
  await breathe();

  let verify: VerifyResult | undefined;
  let mixedSetup: TenantSet | undefined;
  const rounds = await withMixedLog(config, async (mixed) => {
    mixedSetup = mixed?.set;
    const done: Round[] = [];
    for (let r = 0; r < config.rounds; r++) {
      const tag = config.rounds > 1 ? `round ${r + 1}/${config.rounds}: ` : "";
      const last = r === config.rounds - 1;
      const pairs = new Map<number, WindowRound>();
      let sqliteResult: SqliteResult | undefined;
      let mixedResult: MixedResult | null = null;

      const runIngest = async (window: number, keyNamesOnly = false): Promise<IngestResult> => {
        progress(
          `${tag}(a${keyNamesOnly ? "', key names only" : ""}) genlog ingest: ${fmtInt(config.n)} events, window ${fmtInt(window)}`,
        );
        const result = await withTempDir("ingest", async (dir) => {
          const log = await openBenchLog(dir, config.maxBatch, keyNamesOnly);
          try {
            const result = await measureIngest(log, config.n, window);
            if (last && window === largest && !keyNamesOnly) {
              await breathe();
              progress(`(e) verify: ${fmtInt(result.events)} entries`);
              verify = await measureVerify(log);
            }
            return result;
          } finally {
            await log.close();
          }
        });
        checkedRuns++;
        return result;
      };
      const runPino = (window: number): Promise<PinoResult> => {
        progress(
          `${tag}(b) pino: ${fmtInt(config.n)} lines (paired with window ${fmtInt(window)})`,
        );
        return withTempDir("pino", (dir) => measurePino(join(dir, "events.log"), config.n));
      };

      const steps: (() => Promise<void>)[] = windows.map((window, i) => async () => {
        // Which of the pair goes first alternates too, so neither always follows a fsync storm.
        let ingest: IngestResult;
        let pinoResult: PinoResult;
        if ((r + i) % 2 === 0) {
          ingest = await runIngest(window);
          await breathe();
          pinoResult = await runPino(window);
        } else {
          pinoResult = await runPino(window);
          await breathe();
          ingest = await runIngest(window);
        }
        let keyNames: IngestResult | null = null;
        if (KEY_NAMES_WINDOWS.has(window)) {
          await breathe();
          keyNames = await runIngest(window, true);
        }
        pairs.set(window, { window, ingest, keyNames, pino: pinoResult });
      });
      steps.push(async () => {
        progress(
          `${tag}(c) better-sqlite3: ${fmtInt(config.n)} rows, ${fmtInt(config.sqliteTx)} per tx`,
        );
        sqliteResult = await withTempDir("sqlite", async (dir) =>
          measureSqlite(join(dir, "raw.db"), config.n, config.sqliteTx),
        );
      });
      if (mixed !== null) {
        steps.push(async () => {
          progress(
            `${tag}(h) mixed-tenant ingest: ${fmtInt(config.mixedN)} events over ` +
              `${fmtInt(config.tenants)} tenants, all at once`,
          );
          mixedResult = await measureMixedIngest(
            mixed.log,
            mixed.set,
            config.mixedN,
            r * config.mixedN,
          );
          checkedRuns++;
        });
      }
      // Rotating the order spreads any drift in the machine's load over all contenders.
      for (let k = 0; k < steps.length; k++) {
        await steps[(k + r) % steps.length]!();
        await breathe();
      }
      if (sqliteResult === undefined || pairs.size !== windows.length) {
        throw new Error("a measure of the round did not run");
      }
      done.push({
        windows: windows.map((w) => pairs.get(w)!),
        sqlite: sqliteResult,
        mixed: mixedResult,
      });
    }
    return done;
  });
  if (verify === undefined) throw new Error("verify did not run");

  const ingest: WindowSummary[] = windows.map((window, i) => {
    const of = (round: Round) => round.windows[i]!;
    return {
      window,
      ingest: medianBy(rounds, (x) => of(x).ingest.eventsPerSec).windows[i]!.ingest,
      overPino: median(rounds.map((x) => of(x).ingest.eventsPerSec / of(x).pino.linesPerSec)),
      overSqlite: median(rounds.map((x) => of(x).ingest.eventsPerSec / x.sqlite.rowsPerSec)),
      keyNames:
        rounds[0]!.windows[i]!.keyNames === null
          ? null
          : {
              ingest: medianBy(rounds, (x) => of(x).keyNames!.eventsPerSec).windows[i]!.keyNames!,
              overPino: median(
                rounds.map((x) => of(x).keyNames!.eventsPerSec / of(x).pino.linesPerSec),
              ),
            },
    };
  });
  const pinoResult = medianBy(
    rounds.flatMap((x) => x.windows.map((w) => w.pino)),
    (p) => p.linesPerSec,
  );
  const sqliteResult = medianBy(rounds, (x) => x.sqlite.rowsPerSec).sqlite;
  const mixedRounds = rounds.filter((x) => x.mixed !== null);
  const mixed =
    mixedRounds.length === 0 || mixedSetup === undefined
      ? null
      : { result: medianBy(mixedRounds, (x) => x.mixed!.eventsPerSec).mixed!, setup: mixedSetup };
  const requiredIndex = windows.indexOf(REQUIRED_WINDOW);
  const atRequired = (x: Round) => x.windows[requiredIndex]!.ingest.eventsPerSec;

  progress(
    `(d) sequential appends: ${fmtInt(config.latencyN)}, interleaved in blocks of ${BLOCK} ` +
      `with as many signed single-row commits`,
  );
  const latency = await withTempDir("latency", async (dir) => {
    const log = await openBenchLog(dir, config.maxBatch);
    const peer = openSignedRowPeer(join(dir, "peer.db"));
    try {
      return await measureLatency(log, peer, config.latencyN);
    } finally {
      peer.close();
      await log.close();
    }
  });
  checkedRuns++;
  await breathe();

  let proof: Results["proof"] = null;
  if (config.proofN > 0) {
    progress(`(f) building a ${fmtInt(config.proofN)}-entry log`);
    proof = await withTempDir("proof", async (dir) => {
      const log = await openBenchLog(dir, config.maxBatch);
      try {
        const build = await measureIngest(log, config.proofN, config.proofWindow);
        checkedRuns++;
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
    const window = config.cpuProfWindow;
    progress(
      `CPU profile of one more ingest run (${fmtInt(config.n)} events, window ${fmtInt(window)})`,
    );
    hotSpots = await withTempDir("profile", async (dir) => {
      const log = await openBenchLog(dir, config.maxBatch);
      try {
        const { profile: p } = await profile(() => measureIngest(log, config.n, window));
        mkdirSync(RESULTS_DIR, { recursive: true });
        const file = join(RESULTS_DIR, "ingest.cpuprofile");
        writeFileSync(file, JSON.stringify(p));
        return {
          window,
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

  let detectors: DetectorsResult | null = null;
  if (config.detectorsN > 0) {
    progress(`(i) value detectors: ${fmtInt(config.detectorsN)} strings (bench/detectors.ts)`);
    detectors = benchDetectors(config.detectorsN);
  }

  const erasure: ErasureResult[] = [];
  for (const n of config.erasureN) {
    progress(`(j) erasure of subjects with ${fmtInt(n)} events each (bench/erasure.ts)`);
    erasure.push(await measureErasure(n));
  }

  let http: HttpResult | null = null;
  if (config.httpSeconds > 0) {
    await breathe();
    http = await measureHttp(
      config.httpSeconds,
      config.httpConnections,
      config.httpReads,
      progress,
    );
    checkedRuns++;
  }

  // (p): PostgreSQL, when its server binaries are here (or GENLOG_BENCH_DATABASE_URL names one).
  let postgres: PostgresResult | null = null;
  if (process.env["GENLOG_BENCH_DATABASE_URL"] !== undefined || postgresBin() !== undefined) {
    await breathe();
    progress(
      "(p) PostgreSQL: ingest against raw pg inserts, proofs and queries (bench/postgres.ts)",
    );
    postgres = await benchPostgres();
    checkedRuns += postgres.ingest.length;
  }

  const results: Results = {
    startedAt,
    seconds: (performance.now() - t0) / 1000,
    machine,
    config,
    ingest,
    pino: pinoResult,
    sqlite: sqliteResult,
    mixed,
    rounds,
    latency,
    verify,
    proof,
    checkedRuns,
    ratios: {
      ingestOverPino: ingest[requiredIndex]?.overPino ?? Number.NaN,
      requiredWindow: REQUIRED_WINDOW,
      required: REQUIRED_RATIO,
      aim: AIMED_RATIO,
      latencyP50: latency.p50Ratio,
      latencyP99: latency.p99Ratio,
      latencyP99Aim: AIMED_P99_RATIO,
      mixedOverSingle:
        requiredIndex < 0 || mixedRounds.length === 0
          ? Number.NaN
          : median(mixedRounds.map((x) => x.mixed!.eventsPerSec / atRequired(x))),
      mixedAim: AIMED_MIXED_RATIO,
    },
    jcs,
    detectors,
    erasure,
    http,
    profile: hotSpots,
    postgres,
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
  r.ingest.forEach(({ window, ingest: a }, i) => {
    row(
      `(a) genlog ingest, ${fmtInt(window)} in flight`,
      fmtInt(a.eventsPerSec),
      "events/s",
      `${fmtInt(a.events)} events, ${fmtFixed(a.seconds, 2)} s, ${fmtInt(a.batches)} batches ` +
        `(mean ${fmtInt(a.meanBatch)}, max ${fmtInt(a.largestBatch)}, ` +
        `${fmtFixed(a.msPerBatch, 2)} ms each)` +
        perRound((x) => x.windows[i]!.ingest.eventsPerSec),
    );
  });
  r.ingest.forEach(({ window, keyNames }, i) => {
    if (keyNames === null) return;
    row(
      `(a') key names only, ${fmtInt(window)}`,
      fmtInt(keyNames.ingest.eventsPerSec),
      "events/s",
      `the pipeline without value detectors, same events` +
        perRound((x) => x.windows[i]!.keyNames?.eventsPerSec ?? Number.NaN),
    );
  });
  const pinoRuns = r.rounds.flatMap((x) => x.windows.map((w) => w.pino.linesPerSec));
  row(
    "(b) pino, async file",
    fmtInt(r.pino.linesPerSec),
    "lines/s",
    `${fmtInt(r.pino.lines)} lines, ${fmtFixed(r.pino.bytes / 2 ** 20, 1)} MiB, until closed, ` +
      `no fsync; median of ${pinoRuns.length} runs, one beside each (a) run` +
      (pinoRuns.length > 1
        ? `, ${fmtInt(Math.min(...pinoRuns))} to ${fmtInt(Math.max(...pinoRuns))}`
        : ""),
  );
  row(
    "(c) better-sqlite3 raw inserts",
    fmtInt(r.sqlite.rowsPerSec),
    "rows/s",
    `${fmtInt(r.sqlite.rows)} rows, ${fmtInt(r.sqlite.rowsPerTx)}/tx, WAL, synchronous=FULL` +
      perRound((x) => x.sqlite.rowsPerSec),
  );
  const { genlog: d, peer } = r.latency;
  row("(d) sequential append p50", fmtFixed(d.p50Ms, 3), "ms", `${fmtInt(d.count)} appends`);
  row(
    "(d) sequential append p99",
    fmtFixed(d.p99Ms, 3),
    "ms",
    `mean ${fmtFixed(d.meanMs, 3)}, max ${fmtFixed(d.maxMs, 3)}`,
  );
  row(
    "(d) peer: signed 1-row commit p50",
    fmtFixed(peer.p50Ms, 3),
    "ms",
    `${fmtInt(peer.count)} ops: Ed25519 sign + 1-row INSERT tx, WAL, synchronous=FULL; ` +
      `interleaved with (d) in blocks of ${BLOCK}`,
  );
  row(
    "(d) peer: signed 1-row commit p99",
    fmtFixed(peer.p99Ms, 3),
    "ms",
    `mean ${fmtFixed(peer.meanMs, 3)}, max ${fmtFixed(peer.maxMs, 3)}`,
  );
  row(
    "(e) verify",
    fmtInt(r.verify.eventsPerSec),
    "events/s",
    `${fmtInt(r.verify.entries)} entries, ${fmtInt(r.verify.checkpoints)} checkpoints, ` +
      `${fmtFixed(r.verify.seconds, 2)} s; the log of (a) at ${fmtInt(r.config.windows.at(-1)!)}`,
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
  if (r.mixed !== null) {
    const { result: h, setup } = r.mixed;
    row(
      `(h) mixed-tenant ingest`,
      fmtInt(h.eventsPerSec),
      "events/s",
      `${fmtInt(h.events)} events over ${fmtInt(h.tenants)} tenants, all at once, ` +
        `${fmtFixed(h.seconds, 2)} s, ${fmtInt(h.checkpoints)} checkpoints` +
        perRound((x) => x.mixed?.eventsPerSec ?? Number.NaN),
    );
    row(
      "(h) tenant set-up, untimed",
      fmtFixed((setup.openSeconds * 1000) / setup.tenants, 2),
      "ms/tenant",
      `openTenant × ${fmtInt(setup.tenants)} in ${fmtFixed(setup.openSeconds, 1)} s (one at a ` +
        `time), then one append each, all at once: ${fmtFixed(setup.warmUpSeconds, 2)} s`,
    );
  }
  lines.push(...table(["measure", "value", "unit", "detail"], rows));

  const ratios = r.ratios;
  const ratioRows: [string, string, string][] = [];
  for (const s of r.ingest) {
    let verdict = "";
    const required = REQUIRED_AT.get(s.window);
    if (required !== undefined) {
      const v =
        s.overPino >= ratios.aim
          ? "meets the aim"
          : s.overPino >= required
            ? "meets the requirement"
            : "FAILS";
      verdict = `requirement >= ${required}, aim ${ratios.aim}: ${v}`;
    }
    ratioRows.push([
      `a/b  genlog / pino, ${fmtInt(s.window)} in flight`,
      fmtFixed(s.overPino, 3),
      verdict,
    ]);
    if (s.keyNames !== null) {
      ratioRows.push([
        `a'/b genlog, key names only / pino, ${fmtInt(s.window)}`,
        fmtFixed(s.keyNames.overPino, 3),
        `the value detectors cost ${fmtFixed((1 - s.overPino / s.keyNames.overPino) * 100, 0)} % of it`,
      ]);
    }
  }
  if (!Number.isFinite(ratios.ingestOverPino)) {
    ratioRows.push([
      `a/b  genlog / pino, ${fmtInt(ratios.requiredWindow)} in flight`,
      "n/a",
      `not measured: add ${ratios.requiredWindow} to GENLOG_BENCH_WINDOWS`,
    ]);
  }
  for (const s of r.ingest) {
    ratioRows.push([
      `a/c  genlog / raw SQLite, ${fmtInt(s.window)} in flight`,
      fmtFixed(s.overSqlite, 3),
      "",
    ]);
  }
  ratioRows.push([`d    genlog / peer, p50`, fmtFixed(ratios.latencyP50, 2), ""]);
  ratioRows.push([
    `d    genlog / peer, p99`,
    fmtFixed(ratios.latencyP99, 2),
    `aim <= ${ratios.latencyP99Aim}: ${ratios.latencyP99 <= ratios.latencyP99Aim ? "meets the aim" : "misses the aim"}`,
  ]);
  if (r.mixed !== null) {
    const v = ratios.mixedOverSingle;
    ratioRows.push([
      `h/a  ${fmtInt(r.mixed.result.tenants)} tenants / 1 tenant at ${fmtInt(ratios.requiredWindow)}`,
      fmtFixed(v, 3),
      Number.isFinite(v)
        ? `aim >= ${ratios.mixedAim}: ${v >= ratios.mixedAim ? "meets the aim" : "misses the aim"}`
        : `not measured: add ${ratios.requiredWindow} to GENLOG_BENCH_WINDOWS`,
    ]);
  }
  lines.push("", ...table(["ratio (median of per-round ratios)", "value", "verdict"], ratioRows));
  lines.push(
    "",
    `nothing lost: ${r.checkedRuns} ingest runs checked, every append resolved and the log ` +
      `holds exactly the acknowledged records under its latest signed checkpoint`,
  );

  if (r.detectors !== null) {
    const d = r.detectors;
    lines.push(
      "",
      `(i) value detectors alone (bench/detectors.ts): ${fmtInt(d.stringsPerSec)} strings/s over ` +
        `${fmtInt(d.strings)} distinct metadata strings, a tenth sensitive (no verdict cache); ` +
        `${fmtInt(d.sensitivePerSec)} strings/s for the sensitive ones alone; ${fmtInt(d.findings)} findings`,
    );
  }
  if (r.erasure.length > 0) {
    const first = r.erasure[0]!;
    lines.push(
      "",
      `(j) erasure (bench/erasure.ts): ${r.erasure
        .map(
          (e) =>
            `${fmtInt(e.events)} events: median ${fmtFixed(e.medianMs, 2)} ms, max ${fmtFixed(e.maxMs, 2)} ms`,
        )
        .join("; ")}` +
        (r.erasure.length > 1
          ? `; ratio largest/smallest ${fmtFixed(r.erasure.at(-1)!.medianMs / first.medianMs, 2)}`
          : ""),
    );
  }
  if (r.http !== null) lines.push("", ...httpReport(r.http));
  lines.push(
    "",
    ...(r.postgres !== null
      ? postgresReport(r.postgres)
      : ["(p) PostgreSQL: skipped (no server binaries, no GENLOG_BENCH_DATABASE_URL)"]),
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
    const at = `ingest at ${fmtInt(r.profile.window)} in flight, main thread`;
    spots(`CPU profile, ${at}: top self time by function`, r.profile.functions);
    spots(`CPU profile, ${at}: self time by file`, r.profile.files);
    spots(`CPU profile, ${at}: total time (self + callees) of genlog functions`, r.profile.genlog);
    lines.push(`profile written to ${r.profile.file}`);
  }
  return lines.join("\n");
}

/** (k): the runs, the ratios with their verdicts, and the access log's cost on a read. */
function httpReport(h: HttpResult): string[] {
  const rows = h.runs.map((x) => [
    `${x.target === "genlog" ? "genlog serve" : "bare Fastify"}, ${x.kind === "batch" ? `batches of ${BATCH}` : "single events"}, ${x.connections} connections`,
    fmtInt(x.kind === "batch" ? x.eventsPerSec : x.requestsPerSec),
    x.kind === "batch" ? "events/s" : "req/s",
    `p50 ${fmtFixed(x.p50Ms, 0)} ms, p99 ${fmtFixed(x.p99Ms, 0)} ms, ${fmtInt(x.ok)} answered 2xx, ${fmtInt(x.failed)} not`,
  ]);
  const verdict = (v: number, required: number, aim?: number) =>
    v >= (aim ?? Infinity) ? "meets the aim" : v >= required ? "meets the requirement" : "FAILS";
  const ratios = h.singleRatios.map((s) => [
    `k    genlog / bare, single events, ${s.connections} connections`,
    fmtFixed(s.ratio, 3),
    `requirement >= ${REQUIRED_HTTP_RATIO}, aim ${AIMED_HTTP_RATIO}: ${verdict(s.ratio, REQUIRED_HTTP_RATIO, AIMED_HTTP_RATIO)}`,
  ]);
  ratios.push([
    `k    genlog batches, events/s / bare`,
    fmtFixed(h.batch.ratio, 3),
    `${fmtInt(h.batch.genlogEventsPerSec)} events/s; requirement >= ${fmtInt(REQUIRED_BATCH_EVENTS)} events/s: ${verdict(h.batch.genlogEventsPerSec, REQUIRED_BATCH_EVENTS)}`,
  ]);
  return [
    `(k) HTTP (bench/http.ts): autocannon, ${h.seconds} s per run, the server in a child process`,
    ...table(["run", "value", "unit", "detail"], rows),
    "",
    ...table(["ratio", "value", "verdict"], ratios),
    "",
    `(k) access log on a read: ${fmtFixed(h.read.recordedUs, 0)} µs per get with its durable access record, ` +
      `${fmtFixed(h.read.unrecordedUs, 0)} µs unrecorded (read-only handle): ${fmtFixed(h.read.overheadUs, 0)} µs ` +
      `each, sequential (${fmtInt(h.read.reads)} reads of each kind); concurrent reads share commits`,
    `(k) nothing lost: ${fmtInt(h.acknowledged)} events in the log, every 2xx answer among them (and no more than were in flight when a run stopped)`,
  ];
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
