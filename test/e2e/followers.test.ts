/**
 * Followers from the command line, with a process killed in the middle of a delivery: the
 * receiver sends SIGKILL to `genlog followers run` while it holds the 40th request unanswered.
 * Runs of `followers run --once` then finish the job: every record arrives, in log order, those
 * handed over since the cursor was last written twice (delivery is at least once), nothing
 * skipped; every
 * request verifies with the Standard Webhooks reference library.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Webhook } from "standardwebhooks";
import { openLog } from "../helpers/store-under-test.js";
import { CLI_PATH, childEnv, runCli } from "../helpers/run-cli.js";
import { tempDir } from "../helpers/temp-dir.js";
import { storeEnvOf } from "../helpers/store-under-test.js";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const KILL_AT = 40;
/** The receivers here listen on the loopback, which the operator must allow. */
const LOCAL = { GENLOG_FOLLOWERS_ALLOW_PRIVATE: "true" };
const N = 120;

test("a follower killed mid-delivery resumes from its durable cursor: nothing lost, nothing skipped", async (t) => {
  const dir = tempDir();
  const log = await openLog({ dataDir: dir });
  const ids: string[] = [];
  for (let i = 0; i < N; i++) {
    ids.push((await log.logGenerationEvent("backend", { user: `u${i % 7}`, meta: { i } })).id);
  }
  await log.close();

  const received: string[] = [];
  const wh = new Webhook(SECRET);
  let kill: (() => void) | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const payload = wh.verify(body, req.headers as Record<string, string>) as {
        data: { record: { id: string } };
      };
      received.push(payload.data.record.id);
      // Killed while this request waits for its answer: the follower cannot have moved on.
      if (received.length === KILL_AT && kill !== undefined) return kill();
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/in`;
  const env = { env: { GENLOG_DATA_DIR: dir, GENLOG_WEBHOOK_SECRET: SECRET, ...LOCAL } };

  const added = await runCli(["followers", "add", "webhook", "--url", url, "--from-start"], env);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stderr, /added follower webhook of tenant default/);

  const child = spawn(process.execPath, [CLI_PATH, "followers", "run"], {
    env: { ...childEnv(), ...(await storeEnvOf(dir)), GENLOG_DATA_DIR: dir, ...LOCAL },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once("exit", (_code, signal) => resolve(signal)),
  );
  kill = () => child.kill("SIGKILL");
  assert.equal(await exited, "SIGKILL");
  assert.equal(received.length, KILL_AT);
  kill = undefined;

  for (let round = 0; round < 20; round++) {
    const list = await runCli(["followers", "list", "--json"], env);
    const [f] = JSON.parse(list.stdout) as { behind: number; attempts: number }[];
    if (f!.behind === 0) break;
    const once = await runCli(["followers", "run", "--once"], env);
    assert.equal(once.code, 0, once.stderr);
  }
  const list = await runCli(["followers", "list"], env);
  assert.match(
    list.stdout,
    /^webhook {2}webhook {2}POST http:\/\/127\.0\.0\.1:\d+\/in {2}next record 120: caught up$/m,
  );

  // Every record, in log order. After the kill the follower went on from its durable cursor,
  // written at most a second apart: what came twice is a run of records just before the kill,
  // handed over again in order, and nothing after it was skipped.
  const firsts = received.filter((id, i) => received.indexOf(id) === i);
  assert.deepEqual(firsts, ids);
  const resumedAt = ids.indexOf(received[KILL_AT]!);
  assert.ok(resumedAt >= 0 && resumedAt <= KILL_AT - 1, `resumed at ${resumedAt}`);
  assert.deepEqual(received.slice(KILL_AT), ids.slice(resumedAt));
});

test("genlog serve runs the followers: an event appended over HTTP reaches the webhook, and /metrics counts it", async (t) => {
  const dir = tempDir();
  const env = { env: { GENLOG_DATA_DIR: dir, GENLOG_WEBHOOK_SECRET: SECRET, ...LOCAL } };
  assert.equal((await runCli(["init"], env)).code, 0);
  let arrived: (id: string) => void = () => {};
  const got = new Promise<string>((resolve) => (arrived = resolve));
  const wh = new Webhook(SECRET);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const p = wh.verify(body, req.headers as Record<string, string>) as {
        data: { record: { id: string } };
      };
      res.writeHead(204).end();
      arrived(p.data.record.id);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/in`;
  assert.equal((await runCli(["followers", "add", "webhook", "--url", url], env)).code, 0);
  const token = (
    JSON.parse((await runCli(["token", "create", "--role", "writer", "--json"], env)).stdout) as {
      token: string;
    }
  ).token;

  const serve = spawn(process.execPath, [CLI_PATH, "serve", "--port", "0", "--json"], {
    env: { ...childEnv(), ...(await storeEnvOf(dir)), GENLOG_DATA_DIR: dir, ...LOCAL },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise((resolve) => serve.once("exit", resolve));
  t.after(async () => {
    serve.kill("SIGTERM");
    await exited;
  });
  const line = await new Promise<string>((resolve) =>
    serve.stdout.once("data", (d: Buffer) => resolve(d.toString("utf8"))),
  );
  const base = (JSON.parse(line) as { url: string }).url;
  const res = await fetch(`${base}/v1/tenants/default/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "backend", user: "alice", meta: { stack: "Flask" } }),
  });
  assert.equal(res.status, 201);
  const record = (await res.json()) as { id: string };
  assert.equal(await got, record.id);
  // /metrics says so once the pass is over: one record delivered, one follower, caught up.
  let text = "";
  for (let i = 0; i < 200; i++) {
    text = await (await fetch(`${base}/metrics`)).text();
    if (/^genlog_follower_records_total\{outcome="delivered"\} 1$/m.test(text)) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.match(text, /^genlog_follower_records_total\{outcome="delivered"\} 1$/m);
  assert.match(text, /^genlog_followers 1$/m);
  assert.match(text, /^genlog_follower_lag_records 0$/m);
  assert.match(text, /^genlog_follower_dead_letters 0$/m);
});

test("a file sink killed while it writes loses no line: lines after its cursor come again, once", async (t) => {
  const dir = tempDir();
  const N = 3000;
  const log = await openLog({ dataDir: dir });
  await log.appendBatch(Array.from({ length: N }, (_, i) => ({ type: "backend", meta: { i } })));
  await log.close();
  const env = { env: { GENLOG_DATA_DIR: dir } };
  const added = await runCli(
    [
      "followers",
      "add",
      "file-sink",
      "--name",
      "soc",
      "--format",
      "ecs",
      "--max-bytes",
      "65536",
      "--keep",
      "1000",
      "--from-start",
    ],
    env,
  );
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stderr, /added follower soc of tenant default: NDJSON files \(ecs/);
  const sink = join(dir, "followers", "default", "soc");

  const child = spawn(process.execPath, [CLI_PATH, "followers", "run"], {
    env: { ...childEnv(), ...(await storeEnvOf(dir)), GENLOG_DATA_DIR: dir },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  t.after(() => child.kill("SIGKILL"));
  // Killed once it has rotated a file and is still writing.
  for (;;) {
    const names = existsSync(sink) ? readdirSync(sink) : [];
    if (names.some((n) => n.endsWith(".gz"))) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  child.kill("SIGKILL");
  await exited;
  const once = await runCli(["followers", "run", "--once"], env);
  assert.equal(once.code, 0, once.stderr);

  const names = readdirSync(sink).sort();
  const lines: string[] = [];
  for (const n of names.filter((x) => x.endsWith(".ndjson.gz"))) {
    lines.push(
      ...gunzipSync(readFileSync(join(sink, n)))
        .toString("utf8")
        .split("\n"),
    );
  }
  lines.push(...readFileSync(join(sink, "current.ndjson"), "utf8").split("\n"));
  const seqs = lines.filter(Boolean).map((l) => (JSON.parse(l) as { genlogseq: number }).genlogseq);
  // Names sort in the order of the records. Lines written past the durable cursor were cut
  // off before being written again: one run from 0 to the end, unless the kill fell between a
  // rotation and the next cursor write (then one restart, nothing skipped).
  const restart = seqs.findIndex((s, i) => i > 0 && s !== seqs[i - 1]! + 1);
  const before = restart < 0 ? seqs : seqs.slice(0, restart);
  const after = restart < 0 ? [] : seqs.slice(restart);
  assert.deepEqual(
    before,
    Array.from({ length: before.length }, (_, i) => i),
  );
  if (after.length > 0) {
    assert.ok(after[0]! <= before.length, "nothing skipped at the restart");
    assert.deepEqual(
      after,
      Array.from({ length: N - after[0]! }, (_, i) => after[0]! + i),
    );
  } else {
    assert.equal(before.length, N);
  }
});
