/**
 * (k) HTTP ingest: autocannon against `genlog serve` (a child process, as deployed) and, in
 * the same run, against a bare Fastify endpoint that only parses the body: single-event
 * requests/s at each connection count, and batches of 100 in events/s. Then the cost of the
 * access log on a read: a recorded `get` (durable access record) against the same read on a
 * read-only handle, which records nothing. Every acknowledged event is checked to be in the
 * log afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { openLog } from "../src/index.js";
import { breathe, fmtInt, makeEvent, withTempDir } from "./common.js";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const BARE = fileURLToPath(new URL("./bare-server.ts", import.meta.url));

export interface HttpRun {
  target: "genlog" | "bare";
  kind: "single" | "batch";
  connections: number;
  requestsPerSec: number;
  eventsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** 2xx answers, and everything else (non-2xx and errors). */
  ok: number;
  failed: number;
}

export interface HttpResult {
  seconds: number;
  runs: HttpRun[];
  /** Single-event genlog/bare at each connection count. */
  singleRatios: { connections: number; ratio: number }[];
  batch: { genlogEventsPerSec: number; bareEventsPerSec: number; ratio: number };
  /** Per read, in microseconds: recorded (view) and unrecorded (read-only handle). */
  read: { recordedUs: number; unrecordedUs: number; overheadUs: number; reads: number };
  /** Events acknowledged 2xx by genlog, all found in the log afterwards. */
  acknowledged: number;
}

export const BATCH = 100;

/**
 * Initialises the data directory `env` names (GENLOG_DATA_DIR, and GENLOG_DATABASE_URL if
 * set) with the built CLI, and returns a writer token for its server.
 */
export function initWithWriterToken(env: NodeJS.ProcessEnv): string {
  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`genlog ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  cli(["init"]);
  return (JSON.parse(cli(["token", "create", "--role", "writer", "--json"])) as { token: string })
    .token;
}

export async function start(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)));
  });
  return { url: (JSON.parse(line) as { url: string }).url, child };
}

export async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

export async function cannon(
  url: string,
  token: string | undefined,
  kind: "single" | "batch",
  connections: number,
  seconds: number,
): Promise<autocannon.Result> {
  const bodies = Array.from({ length: 10 }, (_, i) =>
    JSON.stringify(
      kind === "single"
        ? makeEvent(i)
        : Array.from({ length: BATCH }, (_, j) => makeEvent(i * BATCH + j)),
    ),
  );
  return autocannon({
    url: `${url}/v1/tenants/default/events`,
    method: "POST",
    connections,
    duration: seconds,
    headers: {
      "content-type": "application/json",
      ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
    },
    requests: bodies.map((body) => ({ body })),
  });
}

export function runOf(
  target: HttpRun["target"],
  kind: HttpRun["kind"],
  connections: number,
  r: autocannon.Result,
): HttpRun {
  const ok = r["2xx"];
  const perReq = kind === "batch" ? BATCH : 1;
  return {
    target,
    kind,
    connections,
    requestsPerSec: ok / r.duration,
    eventsPerSec: (ok * perReq) / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    ok,
    failed: r.non2xx + r.errors + r.timeouts,
  };
}

export async function measureHttp(
  seconds: number,
  connections: readonly number[],
  readN: number,
  progress: (message: string) => void,
): Promise<HttpResult> {
  return withTempDir("http", async (dir) => {
    const env = { ...process.env, GENLOG_DATA_DIR: dir };
    const token = initWithWriterToken(env);
    // The rate limiter stays on (its cost is part of the server), with a limit no run reaches.
    const genlog = await start(
      process.execPath,
      [CLI, "serve", "--port", "0", "--json", "--rate-limit", "1000000000"],
      env,
    );
    const bare = await start(process.execPath, ["--import", "tsx", BARE], env);
    const runs: HttpRun[] = [];
    let warm = 0;
    try {
      let turn = 0;
      const pair = async (kind: HttpRun["kind"], c: number) => {
        // Which goes first alternates, so that neither always runs on a warmer machine.
        const order =
          turn++ % 2 === 0 ? (["genlog", "bare"] as const) : (["bare", "genlog"] as const);
        for (const target of order) {
          progress(`(k) HTTP ${kind} → ${target}: ${c} connections, ${seconds} s`);
          const r = await cannon(
            target === "genlog" ? genlog.url : bare.url,
            target === "genlog" ? token : undefined,
            kind,
            c,
            seconds,
          );
          runs.push(runOf(target, kind, c, r));
          await breathe();
        }
      };
      // A short untimed warm-up of both, so that neither's first run pays the JIT.
      warm = (await cannon(genlog.url, token, "single", 16, 2))["2xx"];
      await cannon(bare.url, undefined, "single", 16, 2);
      for (const c of connections) await pair("single", c);
      await pair("batch", connections[0]!);
    } finally {
      await stop(genlog.child);
      await stop(bare.child);
    }
    // Nothing acknowledged is missing: the warm-up's and every timed run's 2xx are all in the log.
    const log = await openLog({ dataDir: dir, create: false });
    let acknowledged = 0;
    let read: HttpResult["read"];
    try {
      const size = await log.size();
      acknowledged = size;
      const timed = runs
        .filter((r) => r.target === "genlog")
        .reduce((n, r) => n + r.ok * (r.kind === "batch" ? BATCH : 1), 0);
      // Every 2xx answer is an event stored; beyond them, the log may hold only what was in
      // flight when a run stopped (stored, its answer not counted).
      const inFlight =
        16 +
        runs
          .filter((r) => r.target === "genlog")
          .reduce((n, r) => n + r.connections * (r.kind === "batch" ? BATCH : 1), 0);
      if (size < warm + timed || size > warm + timed + inFlight) {
        throw new Error(
          `(k) ${fmtInt(warm + timed)} events answered 2xx (and at most ${fmtInt(inFlight)} in flight), but the log holds ${fmtInt(size)}`,
        );
      }
      const view = log.as({
        principal: "tok_bench",
        role: "auditor",
        scope: "default",
        via: "library",
      });
      read = await measureReads(view, dir, readN);
    } finally {
      await log.close();
    }
    const rate = (target: string, kind: string, c: number) =>
      runs.find((r) => r.target === target && r.kind === kind && r.connections === c)!
        .requestsPerSec;
    const batchGenlog = runs.find((r) => r.target === "genlog" && r.kind === "batch")!;
    const batchBare = runs.find((r) => r.target === "bare" && r.kind === "batch")!;
    return {
      seconds,
      runs,
      singleRatios: connections.map((c) => ({
        connections: c,
        ratio: rate("genlog", "single", c) / rate("bare", "single", c),
      })),
      batch: {
        genlogEventsPerSec: batchGenlog.eventsPerSec,
        bareEventsPerSec: batchBare.eventsPerSec,
        ratio: batchGenlog.eventsPerSec / batchBare.eventsPerSec,
      },
      read,
      acknowledged,
    };
  });
}

/** Sequential reads of one record, alternating blocks of recorded and unrecorded reads. */
async function measureReads(
  view: Awaited<ReturnType<typeof openLog>>,
  dir: string,
  n: number,
): Promise<HttpResult["read"]> {
  const readOnly = await openLog({ dataDir: dir, readOnly: true });
  try {
    let recorded = 0;
    let unrecorded = 0;
    const block = Math.max(1, Math.floor(n / 10));
    for (let done = 0; done < n; done += block) {
      let t = performance.now();
      for (let i = 0; i < block; i++) await view.get(i % 100);
      recorded += performance.now() - t;
      t = performance.now();
      for (let i = 0; i < block; i++) await readOnly.get(i % 100);
      unrecorded += performance.now() - t;
    }
    const reads = Math.ceil(n / block) * block;
    const recordedUs = (recorded * 1000) / reads;
    const unrecordedUs = (unrecorded * 1000) / reads;
    return { recordedUs, unrecordedUs, overheadUs: recordedUs - unrecordedUs, reads };
  } finally {
    await readOnly.close();
  }
}
