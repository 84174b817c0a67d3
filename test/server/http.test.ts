/**
 * The HTTP API as a client sees it, against a real server: appends and batches with
 * idempotency keys, the tenant of the path, proofs that check with the verifier key alone,
 * the export, the OpenAPI document, metrics, the access record of a read, limits, and no
 * token in the server's logs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { GenlogClient } from "../../src/client/index.js";
import { checkInclusionProof, isGenlogError, verifyNote } from "../../src/index.js";
import { openLog } from "../helpers/store-under-test.js";
import { buildServer } from "../../src/server/app.js";
import { startServer } from "../helpers/server.js";
import { ANONYMOUS_PER_MINUTE } from "../../src/server/app.js";

function rejectsWith(p: Promise<unknown>, code: string, status?: number) {
  return assert.rejects(p, (e: unknown) => {
    assert.ok(isGenlogError(e), String(e));
    assert.equal(e.code, code, e.message);
    if (status !== undefined) assert.equal(e.details["status"], status);
    return true;
  });
}

test("appends and batches: idempotency keys, one bad event stores nothing, the path names the tenant", async () => {
  const s = await startServer({ rateLimit: false });
  const writer = new GenlogClient({ url: s.url, token: s.tokens.writer });
  const before = await s.log.size("acme");
  const rec = await writer.logGenerationEvent("acme", "backend", {
    user: "alice",
    meta: { stack: "Flask", api_key: "sk_live_4eC39HqLyjWDarjtT1zdp7dc" },
  });
  assert.equal(rec.tenant, "acme");
  assert.match(rec.actor!, /^sub_/);
  assert.ok(!JSON.stringify(rec).includes("sk_live_"), "the secret is not in the record");
  const batch = [{ type: "frontend" }, { type: "assets", sector: "health" }];
  const first = await writer.appendBatch("acme", batch, { idempotencyKey: "job-42" });
  assert.equal(first.duplicates, 0);
  const again = await writer.appendBatch("acme", batch, { idempotencyKey: "job-42" });
  assert.equal(again.duplicates, 2);
  assert.deepEqual(
    again.records.map((r) => r.seq),
    first.records.map((r) => r.seq),
  );
  assert.equal(await s.log.size("acme"), before + 3);
  // One bad event in a batch: named, and nothing of the batch stored.
  await assert.rejects(
    writer.appendBatch("acme", [{ type: "ok" }, { type: "ok" }, { type: "Not A Slug" }]),
    (e: unknown) => isGenlogError(e, "GENLOG_E_INVALID_INPUT") && e.details.pointer === "/2/type",
  );
  // A body naming another tenant is refused, never obeyed.
  await assert.rejects(
    writer.append("acme", { type: "backend", tenant: "other" }),
    (e: unknown) => isGenlogError(e, "GENLOG_E_INVALID_INPUT") && e.details.pointer === "/tenant",
  );
  await rejectsWith(
    writer.append(
      "acme",
      { type: "backend", id: "01a242f2-34b6-7f61-bd89-d63aaa1e8d6a" },
      { idempotencyKey: "k" },
    ),
    "GENLOG_E_INVALID_INPUT",
    400,
  );
  // An id reused for another event: 409, and the first record is not handed to a writer.
  const id = "01a242f2-34b6-7f61-bd89-d63aaa1e8d6b";
  await writer.append("acme", { type: "backend", id, meta: { a: 1 } });
  await assert.rejects(
    writer.append("acme", { type: "backend", id, meta: { a: 2 } }),
    (e: unknown) => {
      assert.ok(isGenlogError(e, "GENLOG_E_ID_REUSED"), String(e));
      assert.equal(e.details["record"], undefined);
      assert.equal(typeof e.details["seq"], "number");
      return true;
    },
  );
  assert.equal(await s.log.size("acme"), before + 4);
  assert.equal(await s.log.size("other"), 3);
});

test("a record, its proof and the checkpoint check with the verifier key alone; the export is the committed text", async () => {
  const s = await startServer({ rateLimit: false });
  const auditor = new GenlogClient({ url: s.url, token: s.tokens.auditor, purpose: "Q4 audit" });
  const key = await s.log.verifierKey("acme");
  const { record, proof } = await auditor.getWithProof("acme", 1);
  const cp = checkInclusionProof({ ...proof, record }, key);
  assert.equal(cp.origin, "genlog.local/acme/events");
  const note = await auditor.checkpoint("acme");
  assert.match(verifyNote(note, key), /^genlog\.local\/acme\/events\n\d+\n/);
  // A proof of one record presented with another fails.
  const other = await auditor.get("acme", 2);
  assert.throws(() => checkInclusionProof({ ...proof, record: other }, key));
  const lines: string[] = [];
  for await (const line of auditor.exportLines("acme")) lines.push(line);
  const expected: string[] = [];
  for await (const line of s.log.exportCanonical("acme")) expected.push(line);
  assert.deepEqual(lines, expected);
  const consistency = await auditor.consistencyProof("acme", 1);
  assert.equal(consistency.from, 1);
  const report = await auditor.verify("acme");
  assert.equal(report.ok, true);
  // Each of these reads is in acme's access log, with the principal, route, purpose and count.
  const page = await s.log.accessLog({ tenant: "acme", limit: 1000 });
  const reads = page.records.filter(
    (r) => r.meta["principal"] !== undefined && r.meta["via"] === "http",
  );
  const get = reads.find((r) => r.meta["operation"] === "inclusionProof");
  assert.ok(get, "the proof read is recorded");
  assert.equal(get.meta["purpose"], "Q4 audit");
  assert.equal(get.meta["route"], "GET /v1/tenants/:tenant/events/:id");
  assert.equal(get.meta["records"], 1);
  assert.match(String(get.meta["principal"]), /^tok_/);
  const exported = reads.find((r) => r.meta["operation"] === "exportCanonical");
  assert.ok(exported, "the export is recorded");
});

test("the OpenAPI document lists every route with its permission; metrics count requests and appends", async () => {
  const s = await startServer({ rateLimit: false });
  const doc = (await (await fetch(`${s.url}/openapi.json`)).json()) as {
    openapi: string;
    paths: Record<string, Record<string, { description?: string; tags?: string[] }>>;
  };
  assert.equal(doc.openapi, "3.1.0");
  const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ path, method, op })),
  );
  assert.ok(operations.length >= 25, `${operations.length} operations`);
  for (const { path, method, op } of operations) {
    assert.match(
      op.description ?? "",
      /Permission: `[a-z.]+`/,
      `${method} ${path} declares its permission`,
    );
  }
  assert.ok(doc.paths["/v1/tenants/{tenant}/events"]?.["post"], "POST events is documented");
  const ui = await fetch(`${s.url}/docs/`);
  assert.equal(ui.status, 200);
  const writer = new GenlogClient({ url: s.url, token: s.tokens.writer });
  // A hook that throws: counted, and the appends are acknowledged all the same.
  s.log.on("appended", () => {
    throw new Error("webhook down");
  });
  await writer.appendBatch("acme", [{ type: "a" }, { type: "b" }]);
  const metrics = await (await fetch(`${s.url}/metrics`)).text();
  assert.match(metrics, /genlog_events_appended_total 2/);
  assert.match(metrics, /genlog_hook_failures_total 2/);
  assert.match(
    metrics,
    /genlog_http_requests_total\{route="\/v1\/tenants\/:tenant\/events",method="POST",status="201"\} 1/,
  );
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  assert.equal((await fetch(`${s.url}/readyz`)).status, 200);
});

test("limits: a body past the limit is 413, a rate past the limit 429 with Retry-After", async () => {
  const s = await startServer({ rateLimit: 5, bodyLimit: 2048 });
  const writer = new GenlogClient({ url: s.url, token: s.tokens.writer });
  const size = await s.log.size("acme");
  await rejectsWith(
    writer.append("acme", { type: "backend", meta: { blob: "x".repeat(4096) } }),
    "GENLOG_E_INVALID_INPUT",
    413,
  );
  for (let i = 0; i < 4; i++) await writer.append("acme", { type: "backend" });
  await assert.rejects(writer.append("acme", { type: "backend" }), (e: unknown) => {
    assert.ok(isGenlogError(e, "GENLOG_E_RATE_LIMITED"), String(e));
    assert.equal(e.details["status"], 429);
    assert.ok(Number(e.details["retryAfter"]) > 0);
    return true;
  });
  // Another token has its own budget.
  const dpo = new GenlogClient({ url: s.url, token: s.tokens.dpo });
  await dpo.holds("acme");
  assert.equal(await s.log.size("acme"), size + 4);
  // Without a valid token, an address has a budget of its own, past which nothing is recorded.
  const recorded = async () =>
    (await s.log.accessLog({ tenant: "acme", limit: 1000 })).records.length;
  const start = await recorded();
  const statuses: number[] = [];
  for (let i = 0; i < ANONYMOUS_PER_MINUTE + 5; i++) {
    const r = await fetch(`${s.url}/v1/tenants/acme/events`, {
      headers: { authorization: `Bearer glt_${"x".repeat(43)}` },
    });
    statuses.push(r.status);
  }
  assert.ok(statuses.slice(0, 100).every((x) => x === 401));
  assert.equal(statuses.at(-1), 429);
  assert.ok(
    (await recorded()) - start <= ANONYMOUS_PER_MINUTE + 2,
    "the flood is not all recorded",
  );
});

test("no token reaches the server's log, even at trace level and for refused tokens", async () => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const s = await startServer({ rateLimit: false, logger: { level: "trace", stream } });
  const auditor = new GenlogClient({ url: s.url, token: s.tokens.auditor });
  await auditor.query("acme");
  await rejectsWith(
    new GenlogClient({ url: s.url, token: s.revoked }).query("acme"),
    "GENLOG_E_UNAUTHENTICATED",
    401,
  );
  await rejectsWith(
    new GenlogClient({ url: s.url, token: s.expired }).query("acme"),
    "GENLOG_E_UNAUTHENTICATED",
    401,
  );
  const text = lines.join("");
  assert.ok(text.length > 0, "the logger wrote");
  for (const token of [...Object.values(s.tokens), s.revoked, s.expired]) {
    assert.ok(!text.includes(token), "no token in the log");
    assert.ok(!text.includes(token.slice(4, 20)), "no part of a token in the log");
  }
});

test("a tenant that requires a purpose refuses, and records, accesses that declare none", async () => {
  const s = await startServer({ rateLimit: false });
  const admin = new GenlogClient({ url: s.url, token: s.tokens.admin, purpose: "policy" });
  await admin.setPurposeRequired("acme", { required: true, reason: "DPO decision 2026-12" });
  assert.deepEqual(await admin.purposeRequired("acme"), { tenant: "acme", required: true });
  const bare = new GenlogClient({ url: s.url, token: s.tokens.auditor });
  await assert.rejects(bare.query("acme"), (e: unknown) => {
    assert.ok(isGenlogError(e, "GENLOG_E_FORBIDDEN"), String(e));
    assert.match(e.message, /requires a declared purpose/);
    return true;
  });
  // Reading the verifier key needs none; other tenants are not concerned.
  assert.equal((await bare.keyInfo("acme")).tenant, "acme");
  const withPurpose = new GenlogClient({
    url: s.url,
    token: s.tokens.auditor,
    purpose: "ticket 42",
  });
  assert.ok((await withPurpose.query("acme")).records.length > 0);
  // The same token on the same route without a purpose is still refused: a request's context
  // is its own, whatever the server made for earlier requests.
  await assert.rejects(bare.query("acme"), /requires a declared purpose/);
  const literal = new GenlogClient({ url: s.url, token: s.tokens.auditor, purpose: "undefined" });
  assert.ok((await literal.query("acme")).records.length > 0);
  await assert.rejects(bare.query("acme"), /requires a declared purpose/);
  // The local operator is held to it too.
  await assert.rejects(s.log.accessLog({ tenant: "acme" }), /requires a declared purpose/);
  const operator = s.log.as({ ...s.log.context, purpose: "test check" });
  const denied = (await operator.accessLog({ tenant: "acme", status: "failed", limit: 1000 }))
    .records;
  assert.ok(
    denied.some(
      (r) => r.meta["operation"] === "query" && String(r.meta["reason"]).includes("purpose"),
    ),
  );
  await admin.setPurposeRequired("acme", { required: false, reason: "back to optional" });
  assert.ok((await bare.query("acme")).records.length > 0);
  // The policy changes are events of the tenant's log.
  const events = await s.log.query({ tenant: "acme", type: "genlog.purpose-policy" });
  assert.deepEqual(
    events.records.map((r) => r.meta["required"]),
    [true, false],
  );
});

test("a server refuses a read-only handle", async () => {
  const s = await startServer({ rateLimit: false });
  const readOnly = await openLog({ dataDir: s.dataDir, readOnly: true });
  try {
    await assert.rejects(buildServer({ log: readOnly }), (e: unknown) =>
      isGenlogError(e, "GENLOG_E_USAGE"),
    );
  } finally {
    await readOnly.close();
  }
});

test("errors name no path of the server: an unknown tenant is said so, directories are named, not shown", async () => {
  const s = await startServer({ rateLimit: false });
  const r = await fetch(`${s.url}/v1/tenants/nosuch/events`, {
    headers: { authorization: `Bearer ${s.tokens.superadmin}` },
  });
  assert.equal(r.status, 404);
  const text = await r.text();
  assert.ok(!text.includes(s.dataDir), text);
  assert.equal(
    (JSON.parse(text) as { message: string }).message,
    'tenant "nosuch" does not exist on this server',
  );
  // A message written for the shell, as the library throws it, loses its paths over HTTP.
  const { clientBody } = await import("../../src/server/http-errors.js");
  const body = clientBody(
    {
      code: "GENLOG_E_NOT_INITIALIZED",
      message: `no signing key for tenant "t" in ${s.log.keysDir}: expected ${s.log.keysDir}/t.ed25519.pem in ${s.dataDir}`,
      details: { keysDir: s.log.keysDir, tenant: "t" },
    },
    s.log,
  );
  assert.ok(!JSON.stringify(body).includes(s.dataDir), JSON.stringify(body));
  assert.match(
    body.message,
    /the server's keys directory\/t\.ed25519\.pem in the server's data directory/,
  );
});

test("a key rotated by another process: the append that finds it is 503 with Retry-After, the next one is stored", async () => {
  const s = await startServer({ rateLimit: false });
  const post = () =>
    fetch(`${s.url}/v1/tenants/acme/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.tokens.writer}`, "content-type": "application/json" },
      body: JSON.stringify({ type: "backend" }),
    });
  assert.equal((await post()).status, 201);
  const size = await s.log.size("acme");
  const cli = await openLog({ dataDir: s.dataDir, create: false });
  const rotation = await cli.rotateKey({ tenant: "acme", reason: "rotated beside the server" });
  await cli.close();
  const stale = await post();
  assert.equal(stale.status, 503);
  assert.ok(stale.headers.get("retry-after") !== null);
  const body = (await stale.json()) as { code: string; details: { reason: string } };
  assert.deepEqual([body.code, body.details.reason], ["GENLOG_E_KEY", "rotated"]);
  assert.equal((await post()).status, 201);
  // The rotation's record and the second append: the refused one was not stored.
  assert.equal(await s.log.size("acme"), size + 2);
  const key = (await (
    await fetch(`${s.url}/v1/tenants/acme/key`, {
      headers: { authorization: `Bearer ${s.tokens.auditor}` },
    })
  ).json()) as { verifierKey: string };
  assert.equal(key.verifierKey, rotation.next);
  assert.equal((await s.log.verify({ tenant: "acme" })).ok, true);
});

test("followers over HTTP: a superadmin adds, an admin lists, retries, skips and removes; the secret is never answered", async () => {
  const s = await startServer({ rateLimit: false });
  const admin = new GenlogClient({ url: s.url, token: s.tokens.admin });
  const root = new GenlogClient({ url: s.url, token: s.tokens.superadmin });
  const secret = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;
  // An admin reads no record, so it may not send them all somewhere either.
  await rejectsWith(
    admin.addFollower("acme", {
      name: "x",
      kind: "webhook",
      config: { url: "https://x/" },
      secret,
    }),
    "GENLOG_E_FORBIDDEN",
    403,
  );
  const added = await root.addFollower("acme", {
    name: "hook",
    kind: "webhook",
    // Nothing listens on port 9: the runner below fails and retries.
    config: { url: "http://127.0.0.1:9/hook", types: ["backend"] },
    secret,
    fromStart: true,
  });
  assert.equal(added.tenant, "acme");
  assert.equal(added.cursor, 0);
  assert.ok(added.behind > 0);
  const listed = await admin.followers("acme");
  assert.deepEqual(
    listed.map((f) => f.name),
    ["hook"],
  );
  assert.ok(!JSON.stringify(listed).includes(secret.slice(6)), "no secret in the answer");
  await rejectsWith(
    root.addFollower("acme", {
      name: "hook",
      kind: "webhook",
      config: { url: "http://x/" },
      secret,
    }),
    "GENLOG_E_EXISTS",
    409,
  );
  await rejectsWith(
    root.addFollower("acme", {
      name: "bad",
      kind: "webhook",
      config: { url: "ftp://x/" },
      secret,
    }),
    "GENLOG_E_INVALID_INPUT",
    400,
  );
  await s.log.followerRunner({ baseDelayMs: 60_000 }).pass();
  let f = (await admin.followers("acme"))[0]!;
  assert.equal(f.attempts, 1);
  assert.match(f.lastError ?? "", /could not reach/);
  assert.ok(f.nextAttemptAt !== null);
  f = await admin.retryFollower("acme", "hook");
  assert.equal(f.nextAttemptAt, null);
  f = await admin.skipFollower("acme", "hook");
  assert.equal(f.cursor, 1);
  assert.equal(f.deadLetters.length, 1);
  await admin.removeFollower("acme", "hook");
  assert.deepEqual(await admin.followers("acme"), []);
  await rejectsWith(admin.removeFollower("acme", "hook"), "GENLOG_E_NOT_FOUND", 404);
  // Each call is in the tenant's access log, the admin's denied add too; an allowed add names
  // where the records will go.
  const access = (
    await s.log.as({ ...s.log.context, purpose: "check" }).accessLog({
      tenant: "acme",
      limit: 1000,
    })
  ).records;
  const ops = access.map((r) => r.meta["operation"]);
  const adds = access.filter((r) => r.meta["operation"] === "addFollower");
  assert.deepEqual(
    adds.map((r) => [
      r.meta["decision"],
      r.meta["error"] ?? null,
      (r.meta["target"] as { destination?: string } | undefined)?.destination ?? null,
    ]),
    [
      ["deny", null, null],
      ["allow", null, "http://127.0.0.1:9/hook"],
      ["allow", "GENLOG_E_EXISTS", "http://x/"],
      ["allow", "GENLOG_E_INVALID_INPUT", "ftp://x/"],
    ],
  );
  for (const op of [
    "addFollower",
    "followers",
    "retryFollower",
    "skipFollower",
    "removeFollower",
  ]) {
    assert.ok(ops.includes(op), op);
  }
});
