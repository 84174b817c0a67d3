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
import { Webhook } from "standardwebhooks";
import { openLog } from "../../src/index.js";
import { CLI_PATH, childEnv, runCli } from "../helpers/run-cli.js";
import { tempDir } from "../helpers/temp-dir.js";

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
    env: { ...childEnv(), GENLOG_DATA_DIR: dir, ...LOCAL },
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

test("genlog serve runs the followers: an event appended over HTTP reaches the webhook", async (t) => {
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
    env: { ...childEnv(), GENLOG_DATA_DIR: dir, ...LOCAL },
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
});
