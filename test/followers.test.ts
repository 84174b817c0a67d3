/**
 * Followers: a webhook follower hands every committed record to a real local receiver, in
 * order, signed as Standard Webhooks says (checked with the `standardwebhooks` reference
 * library); a receiver that fails, hangs and recovers loses nothing; the cursor is durable
 * across handles; dead letters, retry, skip and 410 behave as documented.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { isGenlogError, type Genlog, type PassResult } from "../src/index.js";
import { openLog, SQLITE_FILE } from "./helpers/store-under-test.js";
import type { FollowerRunner } from "../src/log/followers.js";
import { isPrivateAddress, post, Unreachable } from "../src/plugins/outbound.js";
import { pino } from "pino";
import { rawDatabase } from "./helpers/raw-database.js";
import { tempDir } from "./helpers/temp-dir.js";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const FAST = { baseDelayMs: 1, maxDelayMs: 4, timeoutMs: 300 };
/** The receivers here listen on the loopback, which the operator must allow. */
const LOCAL = { followerNetwork: { allowPrivate: true } };

interface Received {
  id: string;
  body: string;
  headers: Record<string, string>;
}

/** A receiver that answers each request as `answer` says (a status, or "hang"). */
async function receiver(answer: (n: number, id: string) => number | "hang"): Promise<{
  url: string;
  got: Received[];
  server: Server;
}> {
  const got: Received[] = [];
  let n = 0;
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const id = String(req.headers["webhook-id"]);
      const a = answer(n++, id);
      if (a === "hang") return; // never answers: the follower's timeout must fire
      const body = Buffer.concat(chunks).toString("utf8");
      if (a >= 200 && a < 300) {
        got.push({ id, body, headers: req.headers as Record<string, string> });
      }
      res.writeHead(a).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/hook`, got, server };
}

/** Passes until the follower has nothing left (or `rounds` passes). */
async function drain(runner: FollowerRunner, log: Genlog, name: string, rounds = 500) {
  const total = { delivered: 0, skipped: 0, failed: 0, deadLettered: 0 };
  for (let i = 0; i < rounds; i++) {
    const r: PassResult = await runner.pass();
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += r[k];
    const info = (await log.followers()).find((f) => f.name === name)!;
    if (info.behind === 0 && !info.deadLetters.some((l) => l.due)) return total;
    await new Promise((res) => setTimeout(res, 5));
  }
  throw new Error(`follower ${name} did not catch up in ${rounds} passes`);
}

async function appendN(log: Genlog, n: number, type = "backend") {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push((await log.logGenerationEvent(type, { user: `u${i}`, meta: { i } })).id);
  }
  return ids;
}

test("a webhook follower hands every record over, in order, signed; a receiver that fails and hangs loses nothing", async (t) => {
  // Fails the first five requests (500, 503, 429, a hang past the timeout, 500), then accepts.
  const plan: (number | "hang")[] = [500, 503, 429, "hang", 500];
  const r = await receiver((n) => plan[n] ?? 204);
  t.after(() => r.server.closeAllConnections());
  t.after(() => r.server.close());
  const log = await openLog({ dataDir: tempDir(), ...LOCAL });
  t.after(() => log.close());
  const before = await appendN(log, 3);
  const info = await log.addFollower({
    name: "audit-hook",
    kind: "webhook",
    config: { url: r.url },
    secret: SECRET,
    fromStart: true,
  });
  assert.equal(info.behind, 3);
  assert.equal(info.target, `POST ${r.url}`);
  const after = await appendN(log, 12);
  const runner = log.followerRunner(FAST);
  const total = await drain(runner, log, "audit-hook");
  assert.equal(total.failed, 5, "each failure counted once");
  assert.equal(total.deadLettered, 0);

  const ids = r.got.map((g) => g.id);
  assert.deepEqual(ids, [...before, ...after], "every record once, in log order");
  const wh = new Webhook(SECRET);
  for (const [i, g] of r.got.entries()) {
    const payload = wh.verify(g.body, g.headers) as {
      type: string;
      data: { seq: number; tenant: string; leafHash: string; record: { id: string } };
    };
    assert.equal(payload.type, "genlog.appended");
    assert.equal(payload.data.seq, i);
    assert.equal(payload.data.tenant, "default");
    assert.equal(payload.data.record.id, g.id);
    assert.match(payload.data.leafHash, /^[0-9a-f]{64}$/);
    // The record travels pseudonymised: no actor in clear.
    assert.ok(!g.body.includes(`"u${i}"`), "no user name in a webhook body");
  }
  // A body changed in transit fails the reference check.
  const forged = r.got[0]!.body.replace('"seq":0', '"seq":1');
  assert.throws(() => wh.verify(forged, r.got[0]!.headers));
});

test("the cursor is durable: another handle goes on where the last one stopped", async (t) => {
  const r = await receiver(() => 200);
  t.after(() => r.server.close());
  const dir = tempDir();
  let log = await openLog({ dataDir: dir, ...LOCAL });
  await log.addFollower({ name: "w", kind: "webhook", config: { url: r.url }, secret: SECRET });
  const first = await appendN(log, 4);
  await drain(log.followerRunner(FAST), log, "w");
  await log.close();

  log = await openLog({ dataDir: dir, ...LOCAL });
  t.after(() => log.close());
  const second = await appendN(log, 3);
  assert.equal((await log.followers())[0]!.behind, 3);
  await drain(log.followerRunner(FAST), log, "w");
  assert.deepEqual(
    r.got.map((g) => g.id),
    [...first, ...second],
    "added without fromStart: from the next record on, each once",
  );
});

test("filters pass records over; a record that keeps failing becomes a dead letter, and retry hands it over", async (t) => {
  let refuse = "";
  const r = await receiver((_n, id) => (id === refuse ? 500 : 200));
  t.after(() => r.server.close());
  const log = await openLog({ dataDir: tempDir(), ...LOCAL });
  t.after(() => log.close());
  await log.addFollower({
    name: "models",
    kind: "webhook",
    config: { url: r.url, types: ["ai-model"] },
    secret: SECRET,
  });
  await appendN(log, 2, "backend");
  const models = await appendN(log, 3, "ai-model");
  refuse = models[1]!;
  const runner = log.followerRunner({ ...FAST, maxAttempts: 3 });
  const total = await drain(runner, log, "models");
  assert.equal(total.skipped, 2, "the backend records are passed over");
  assert.equal(total.deadLettered, 1);
  assert.deepEqual(
    r.got.map((g) => g.id),
    [models[0], models[2]],
  );
  let info = (await log.followers())[0]!;
  assert.equal(info.deadLetters.length, 1);
  assert.equal(info.deadLetters[0]!.id, models[1]);
  assert.equal(info.deadLetters[0]!.attempts, 3);
  assert.match(info.deadLetters[0]!.error, /HTTP 500/);
  assert.equal(info.lastError, null, "the follower itself went on");

  refuse = "";
  info = await log.retryFollower({ name: "models" });
  assert.equal(info.deadLetters[0]!.due, true);
  await drain(runner, log, "models");
  assert.deepEqual(
    r.got.map((g) => g.id),
    [models[0], models[2], models[1]],
  );
  assert.deepEqual((await log.followers())[0]!.deadLetters, []);
});

test("410 Gone stops a follower at its record; retry restarts it there; skip gives a record up", async (t) => {
  let gone = true;
  const r = await receiver(() => (gone ? 410 : 200));
  t.after(() => r.server.close());
  const log = await openLog({ dataDir: tempDir(), ...LOCAL });
  t.after(() => log.close());
  await log.addFollower({ name: "g", kind: "webhook", config: { url: r.url }, secret: SECRET });
  const ids = await appendN(log, 3);
  const runner = log.followerRunner(FAST);
  await runner.pass();
  let info = (await log.followers())[0]!;
  assert.match(info.disabled ?? "", /410/);
  assert.equal(info.cursor, 0);
  // Disabled: further passes send nothing.
  await runner.pass();
  assert.equal(r.got.length, 0);

  gone = false;
  info = await log.skipFollower({ name: "g" });
  assert.equal(info.cursor, 1);
  assert.equal(info.deadLetters.length, 1);
  assert.match(info.deadLetters[0]!.error, /skipped by .* after: the endpoint answered 410/);
  await log.retryFollower({ name: "g" });
  await drain(runner, log, "g");
  // The skipped record comes once retry made its dead letter due, before the rest.
  assert.deepEqual(
    r.got.map((g) => g.id),
    [ids[0], ids[1], ids[2]],
  );
  await assert.rejects(log.skipFollower({ name: "g" }), /caught up/);
});

test(
  "bad follower options are refused naming the field, and the secret is stored sealed",
  { skip: SQLITE_FILE },
  async (t) => {
    const dir = tempDir();
    // The default network policy: public https receivers only.
    const log = await openLog({ dataDir: dir });
    t.after(() => log.close());
    const hook = (config: Record<string, unknown>, secret: unknown = SECRET) =>
      ({ name: "a", kind: "webhook", config, secret }) as never;
    const canonical = randomBytes(32).toString("base64");
    const bad: [unknown, string][] = [
      [
        { name: "Bad Name", kind: "webhook", config: { url: "https://x" }, secret: SECRET },
        "/name",
      ],
      [{ name: "a", kind: "pigeon", config: {}, secret: SECRET }, "/kind"],
      [hook({ url: "ftp://x" }), "/config/url"],
      [hook({ url: "https://u:p@x" }), "/config/url"],
      [hook({ url: "https://x", typ: ["a"] }), "/config/typ"],
      [hook({ url: "https://x", types: [] }), "/config/types"],
      // Where a tenant admin could reach what only the server can: refused by default.
      [hook({ url: "http://hooks.example.com/in" }), "/config/url"],
      [hook({ url: "https://127.0.0.1:8443/" }), "/config/url"],
      [hook({ url: "https://localhost/" }), "/config/url"],
      [hook({ url: "https://[::1]/" }), "/config/url"],
      [hook({ url: "https://[::ffff:127.0.0.1]/" }), "/config/url"],
      // IPv6 spellings of IPv4 or private addresses: compatible, 6to4, Teredo, site-local.
      [hook({ url: "https://[::7f00:1]/" }), "/config/url"],
      [hook({ url: "https://[2002:a00:1::1]/" }), "/config/url"],
      [hook({ url: "https://[2001:0:4136:e378::1]/" }), "/config/url"],
      [hook({ url: "https://[fec0::1]/" }), "/config/url"],
      [hook({ url: "https://[64:ff9b:1::a00:1]/" }), "/config/url"],
      [hook({ url: "https://169.254.169.254/latest/meta-data/" }), "/config/url"],
      [hook({ url: "https://10.1.2.3/" }), "/config/url"],
      [{ name: "a", kind: "webhook", config: { url: "https://x" } }, "/secret"],
      [hook({ url: "https://x" }, "whsec_short"), "/secret"],
      // One secret, one spelling: base64 that decodes only by skipping characters is refused.
      [hook({ url: "https://x" }, `whsec_${canonical.slice(0, -1)}`), "/secret"],
    ];
    for (const [options, pointer] of bad) {
      await assert.rejects(
        log.addFollower(options as never),
        (e: unknown) =>
          isGenlogError(e, "GENLOG_E_INVALID_INPUT") &&
          (e.details as { pointer: string }).pointer === pointer,
        JSON.stringify(options),
      );
    }
    assert.deepEqual(await log.followers(), [], "nothing half-added");
    await log.addFollower(hook({ url: "https://hooks.example.com/in" }));
    await assert.rejects(
      log.addFollower(hook({ url: "https://hooks.example.com/other" })),
      (e: unknown) => isGenlogError(e, "GENLOG_E_EXISTS"),
    );
    // A follower is added to a tenant that exists, never creates one.
    await assert.rejects(
      log.addFollower({ ...(hook({ url: "https://x" }) as object), tenant: "nobody" } as never),
      (e: unknown) => isGenlogError(e, "GENLOG_E_NOT_FOUND"),
    );
    assert.ok(!(await log.tenants()).some((t) => t.tenant === "nobody"));
    const db = rawDatabase(join(dir, "genlog.db"));
    try {
      const row = db.prepare("SELECT config, secret FROM followers").get() as {
        config: string;
        secret: Buffer;
      };
      const key = SECRET.slice("whsec_".length);
      assert.ok(!row.config.includes(key));
      assert.ok(!row.secret.toString("latin1").includes(key), "the secret is not in the database");
      assert.ok(!row.secret.toString("base64").includes(key.slice(0, 16)));
    } finally {
      db.close();
    }
    // A writer, an auditor and an admin may not add followers: a follower reads every record.
    for (const role of ["writer", "auditor", "admin"] as const) {
      const who = log.as({ principal: `tok_${role}`, role, scope: "default", via: "library" });
      await assert.rejects(
        who.addFollower({
          name: "b",
          kind: "webhook",
          config: { url: "https://x" },
          secret: SECRET,
        }),
        (e: unknown) => isGenlogError(e, "GENLOG_E_FORBIDDEN"),
        role,
      );
    }
  },
);

test("the loopback is out of reach unless the operator allows it, whatever a name resolves to", async (t) => {
  const r = await receiver(() => 200);
  t.after(() => r.server.close());
  const port = new URL(r.url).port;
  const signal = AbortSignal.timeout(5000);
  // `localhost` resolves to the loopback: the address connected to is what is checked.
  await assert.rejects(
    post(new URL(`http://localhost:${port}/hook`), {}, "{}", signal, { allowPrivate: false }),
    (e: unknown) => e instanceof Unreachable && /private/.test(e.message),
  );
  await assert.rejects(
    post(new URL(r.url), {}, "{}", signal, { allowPrivate: false }),
    (e: unknown) => e instanceof Unreachable && /private/.test(e.message),
  );
  assert.equal(r.got.length, 0, "nothing reached the receiver");
  assert.deepEqual(
    await post(new URL(`http://localhost:${port}/hook`), {}, "{}", signal, { allowPrivate: true }),
    { status: 200 },
  );

  // A follower added where private networks were allowed does not run where they are not.
  const dir = tempDir();
  const allowed = await openLog({ dataDir: dir, ...LOCAL });
  await allowed.addFollower({ name: "w", kind: "webhook", config: { url: r.url }, secret: SECRET });
  await appendN(allowed, 2);
  await allowed.close();
  const warnings: string[] = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => warnings.push(line) });
  const strict = await openLog({ dataDir: dir, logger });
  t.after(() => strict.close());
  const result = await strict.followerRunner(FAST).pass();
  assert.equal(result.delivered, 0);
  assert.equal(r.got.length, 1, "only the direct allowed post above");
  assert.match(warnings.join(""), /private networks are allowed.*a follower could not run/);
  // And `followers list` says why, where the operator looks.
  const [info] = await strict.followers();
  assert.match(info!.lastError ?? "", /^cannot run: \/config\/url: expected an https URL/);
  assert.equal(info!.attempts, 1);
});

test("special-purpose addresses are refused in every spelling; public ones are not", () => {
  for (const a of [
    "127.0.0.1",
    "::1",
    "::",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::7f00:1",
    "2002:7f00:1::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "fec0::1",
    "fd00::1",
    "fe80::1",
    "64:ff9b:1::1",
    "::ffff:0:7f00:1",
    "3fff::1",
    "5f00::1",
    "169.254.169.254",
    "not an address",
  ]) {
    assert.equal(isPrivateAddress(a), true, a);
  }
  for (const a of ["8.8.8.8", "::ffff:8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4007::1"]) {
    assert.equal(isPrivateAddress(a), false, a);
  }
});

test("an unreachable receiver pauses its follower: the record is retried, never dead-lettered", async (t) => {
  // A port that was listening and is now closed: connections are refused.
  const closed = await receiver(() => 200);
  await new Promise<void>((res) => closed.server.close(() => res()));
  const log = await openLog({ dataDir: tempDir(), ...LOCAL });
  t.after(() => log.close());
  await log.addFollower({
    name: "p",
    kind: "webhook",
    config: { url: closed.url },
    secret: SECRET,
  });
  await appendN(log, 2);
  const runner = log.followerRunner({ ...FAST, maxAttempts: 2 });
  for (let i = 0; i < 5; i++) {
    await runner.pass();
    await new Promise((res) => setTimeout(res, 10));
  }
  const info = (await log.followers())[0]!;
  assert.equal(info.cursor, 0);
  assert.equal(info.attempts, 5, "five tries, past maxAttempts");
  assert.deepEqual(info.deadLetters, []);
  assert.match(info.lastError ?? "", /could not reach the endpoint \(ECONNREFUSED\)/);
});

test("a filter that passes over thousands of records still hands over the one it wants, and the cursor ends past all", async (t) => {
  const r = await receiver(() => 200);
  t.after(() => r.server.close());
  const log = await openLog({ dataDir: tempDir(), ...LOCAL });
  t.after(() => log.close());
  await log.addFollower({
    name: "rare",
    kind: "webhook",
    config: { url: r.url, types: ["ai-model"] },
    secret: SECRET,
  });
  // Passed over in runs: 2,500 records cross two cursor writes and end between them.
  const batch = Array.from({ length: 2500 }, (_, i) => ({ type: "backend", meta: { i } }));
  await log.appendBatch(batch);
  const [wanted] = await appendN(log, 1, "ai-model");
  await log.appendBatch(batch.slice(0, 10));
  const total = await drain(log.followerRunner(FAST), log, "rare");
  assert.equal(total.skipped, 2510);
  assert.equal(total.delivered, 1);
  assert.deepEqual(
    r.got.map((g) => g.id),
    [wanted],
  );
  assert.equal((await log.followers())[0]!.cursor, 2511);
});

test("records purged before their follower got to them are passed over; the rest arrive in order", async (t) => {
  const r = await receiver(() => 204);
  t.after(() => r.server.close());
  const log = await openLog({ dataDir: tempDir(), ...LOCAL });
  t.after(() => log.close());
  const old = await appendN(log, 5);
  await new Promise((res) => setTimeout(res, 20));
  const cutoff = new Date().toISOString();
  await new Promise((res) => setTimeout(res, 20));
  const recent = await appendN(log, 3);
  await log.addFollower({
    name: "late",
    kind: "webhook",
    config: { url: r.url },
    secret: SECRET,
    fromStart: true,
  });
  await log.setRetention({ days: 1, reason: "test" });
  const purged = await log.purge({ before: cutoff });
  assert.equal(purged.purged, old.length);
  const total = await drain(log.followerRunner(FAST), log, "late");
  assert.equal(total.skipped, old.length);
  // What is left: the recent records, then genlog's own events (retention, purge) after them.
  const ids = r.got.map((g) => g.id);
  assert.deepEqual(ids.slice(0, recent.length), recent);
  assert.ok(!ids.some((id) => old.includes(id)));
});

test("under `run`, a receiver that takes its time holds back only its own follower", async (t) => {
  // The slow receiver holds every request until the test lets it go.
  const held: (() => void)[] = [];
  const slow = createServer((req, res) => {
    req.resume();
    req.on("end", () => held.push(() => res.writeHead(200).end()));
  });
  await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
  t.after(() => slow.close());
  const fast = await receiver(() => 200);
  t.after(() => fast.server.close());
  const log = await openLog({ dataDir: tempDir(), ...LOCAL });
  t.after(() => log.close());
  const slowUrl = `http://127.0.0.1:${(slow.address() as { port: number }).port}/hook`;
  await log.addFollower({
    name: "slow",
    kind: "webhook",
    config: { url: slowUrl },
    secret: SECRET,
  });
  await log.addFollower({
    name: "fast",
    kind: "webhook",
    config: { url: fast.url },
    secret: SECRET,
  });
  await appendN(log, 2);
  const stop = new AbortController();
  const running = log.followerRunner({ ...FAST, timeoutMs: 60_000 }).run(stop.signal, 20);
  const until = async (what: string, done: () => boolean | Promise<boolean>) => {
    for (let i = 0; i < 1000 && !(await done()); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(await done(), what);
  };
  await until("the slow receiver got its first request", () => held.length === 1);
  // Records committed while the slow follower waits on its receiver reach the fast one.
  const later = await appendN(log, 3);
  await until("the fast follower has every record", () => fast.got.length === 5);
  assert.deepEqual(
    fast.got.slice(2).map((g) => g.id),
    later,
  );
  assert.equal(held.length, 1, "the slow follower is still on its first record");
  // Let go: the slow one catches up too, in order.
  const release = setInterval(() => held.splice(0).forEach((go) => go()), 5);
  t.after(() => clearInterval(release));
  await until("the slow follower caught up", async () =>
    (await log.followers()).every((f) => f.behind === 0),
  );
  stop.abort();
  await running;
});

test(
  "under `run`, more followers than slots each get their turns, and the runner stops when asked",
  { timeout: 60_000 },
  async (t) => {
    const data = tempDir();
    const log = await openLog({ dataDir: data, ...LOCAL });
    t.after(() => log.close());
    const names = ["a", "b", "c", "d", "e"];
    for (const name of names) {
      await log.addFollower({ name, kind: "file-sink", config: {} });
    }
    const stop = new AbortController();
    const running = log.followerRunner({ ...FAST, concurrency: 2 }).run(stop.signal, 20);
    await appendN(log, 3);
    for (let i = 0; i < 1000 && (await log.followers()).some((f) => f.behind > 0); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(
      (await log.followers()).map((f) => [f.name, f.behind]),
      names.map((n) => [n, 0]),
    );
    stop.abort();
    await running;
  },
);
