/**
 * SIEM streams and the file sink. Documents are checked against what others define, not
 * against our own mapping: ECS documents against the field definitions Elastic publishes
 * (`@elastic/ecs`: every field exists, has its type, and takes an allowed value), OCSF events
 * against the required attributes and enumerations of OCSF 1.8.0's API Activity class, and
 * envelopes by the CloudEvents SDK's own parser; leaf hashes are recomputed with an
 * independent RFC 8785 implementation (`canonicalize`) and matched with genlog's inclusion
 * proof. The sink is read back from the real files: gunzipped, in order, rotated and pruned.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { appendFileSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { EcsFlat, EcsVersion } from "@elastic/ecs";
import { HTTP, type CloudEvent } from "cloudevents";
import canonicalize from "canonicalize";
import { openLog, isGenlogError, type Genlog, type PassResult } from "../src/index.js";
import type { GenerationRecord } from "../src/core/record.js";
import { ECS_VERSION, ecsDocument, ocsfEvent } from "../src/plugins/siem-formats.js";
import { FileSink } from "../src/plugins/file-sink.js";
import { rawDatabase } from "./helpers/raw-database.js";
import { tempDir } from "./helpers/temp-dir.js";

const LOCAL = { followerNetwork: { allowPrivate: true } };
const FAST = { baseDelayMs: 1, maxDelayMs: 4, timeoutMs: 2000 };

async function drain(log: Genlog, rounds = 200): Promise<PassResult> {
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
async function appendVaried(log: Genlog, n: number): Promise<GenerationRecord[]> {
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

/** The leaves of a document, as ECS names fields (`event.sequence`). */
function flatten(v: unknown, prefix = "", out: Record<string, unknown> = {}) {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix === "" ? k : `${prefix}.${k}`, out);
  } else {
    out[prefix] = v;
  }
  return out;
}

interface EcsField {
  type: string;
  allowed_values?: { name: string; expected_event_types?: string[] }[];
}

test("ECS documents use only fields ECS defines, with their types and allowed values", async (t) => {
  assert.equal(ECS_VERSION, EcsVersion, "the version claimed is the one checked against");
  const log = await openLog({ dataDir: tempDir() });
  t.after(() => log.close());
  const records = await appendVaried(log, 12);
  const flat = EcsFlat as unknown as Record<string, EcsField>;
  for (const record of records) {
    const doc = ecsDocument({ origin: "o", record, leafHash: "00".repeat(32) });
    for (const [name, value] of Object.entries(flatten(doc))) {
      // genlog.* is the custom namespace ECS leaves to producers; labels.* are free keywords.
      if (name.startsWith("genlog.")) continue;
      const field = name.startsWith("labels.") ? flat["labels"] : flat[name];
      assert.ok(field !== undefined, `${name} is not an ECS field`);
      const values = Array.isArray(value) ? value : [value];
      for (const x of values) {
        if (field.type === "keyword" || field.type === "object" || field.type === "wildcard")
          assert.equal(typeof x, "string", name);
        else if (field.type === "long") assert.ok(Number.isSafeInteger(x), name);
        else if (field.type === "date") assert.ok(!Number.isNaN(Date.parse(String(x))), name);
        else assert.fail(`${name}: unchecked ECS type ${field.type}`);
        if (field.allowed_values !== undefined) {
          assert.ok(
            field.allowed_values.some((a) => a.name === x),
            `${name}: ${String(x)} is not an allowed value`,
          );
        }
      }
    }
    // Each event.type must be one ECS expects with the event's category.
    const category = flat["event.category"]!.allowed_values!.find((a) => a.name === "api")!;
    for (const type of (doc.event as { type: string[] }).type) {
      assert.ok(category.expected_event_types!.includes(type), type);
    }
    assert.equal((doc.event as { sequence: number }).sequence, record.seq);
  }
});

test("OCSF events carry what OCSF 1.8.0 requires of an API Activity, and its enumerations", async (t) => {
  const log = await openLog({ dataDir: tempDir() });
  t.after(() => log.close());
  const records = await appendVaried(log, 6);
  for (const record of records) {
    const e = ocsfEvent({
      origin: "genlog.local/default/events",
      record,
      leafHash: "ff".repeat(32),
    });
    // base_event's required attributes, and api_activity's.
    for (const a of [
      "activity_id",
      "category_uid",
      "class_uid",
      "metadata",
      "severity_id",
      "time",
      "type_uid",
      "actor",
      "api",
      "src_endpoint",
    ]) {
      assert.ok(e[a] !== undefined, `${a} is required`);
    }
    assert.equal(e.class_uid, 6003);
    assert.equal(e.category_uid, 6);
    assert.ok([1, 2, 3, 4].includes(e.activity_id as number), "Create, Read, Update or Delete");
    assert.equal(e.type_uid, (e.class_uid as number) * 100 + (e.activity_id as number));
    assert.ok([0, 1, 2, 3, 4, 5, 6, 99].includes(e.severity_id as number));
    assert.ok([0, 1, 2, 99].includes(e.status_id as number));
    assert.equal(e.time, Date.parse(record.ts));
    const metadata = e.metadata as Record<string, unknown>;
    assert.ok(metadata.product !== undefined && metadata.version !== undefined);
    assert.equal(metadata.sequence, record.seq);
    assert.equal((e.api as { operation: string }).operation, record.type);
    // actor: at least one of process, user, iam_role, invoked_by, session, app_name, app_uid.
    const actor = e.actor as Record<string, unknown>;
    assert.ok(["process", "user", "invoked_by", "session", "app_name"].some((k) => k in actor));
    if (record.actor !== null) assert.equal((actor.user as { uid: string }).uid, record.actor);
    // network_endpoint: at least one of ip, uid, name, hostname, svc_name, ….
    assert.ok(Object.keys(e.src_endpoint as object).length > 0);
    const status = { succeeded: 1, failed: 2, started: 0 }[record.status];
    assert.equal(e.status_id, status);
    const genlog = (e.unmapped as { genlog: { seq: number; leaf_hash: string } }).genlog;
    assert.equal(genlog.seq, record.seq);
    assert.equal(genlog.leaf_hash, "ff".repeat(32));
  }
});

/** A collector that answers each request from `plan`, then 200, keeping what it accepted. */
async function collector(plan: number[] = []) {
  const got: { headers: IncomingHttpHeaders; body: string }[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const status = plan[n++] ?? 200;
      if (status === 200)
        got.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/collect`;
  return { url, got, server };
}

test("a siem follower POSTs CloudEvents whose leaf hash is the record's, proved by genlog", async (t) => {
  const c = await collector([503]);
  t.after(() => c.server.close());
  const log = await openLog({ dataDir: tempDir(), ...LOCAL });
  t.after(() => log.close());
  const token = randomBytes(24).toString("base64url");
  await assert.rejects(
    log.addFollower({ name: "s", kind: "siem", config: { url: c.url }, secret: "short" }),
    (e: unknown) => isGenlogError(e, "GENLOG_E_INVALID_INPUT"),
  );
  await assert.rejects(
    log.addFollower({ name: "s", kind: "siem", config: { url: c.url, format: "cef" } }),
    (e: unknown) =>
      isGenlogError(e, "GENLOG_E_INVALID_INPUT") &&
      (e.details as { pointer: string }).pointer === "/config/format",
  );
  await log.addFollower({
    name: "soc-ocsf",
    kind: "siem",
    config: { url: c.url },
    secret: token,
  });
  await log.addFollower({
    name: "soc-ecs",
    kind: "siem",
    config: { url: c.url, format: "ecs", sectors: ["health"] },
  });
  const records = await appendVaried(log, 8);
  const total = await drain(log);
  assert.equal(total.failed, 1, "the 503 was retried");
  const events = c.got.map((g) => ({
    headers: g.headers,
    event: HTTP.toEvent({ headers: g.headers, body: g.body }) as CloudEvent<
      Record<string, unknown>
    >,
  }));
  const ocsf = events.filter((e) => e.event.type === "dev.genlog.generation.ocsf");
  const ecs = events.filter((e) => e.event.type === "dev.genlog.generation.ecs");
  assert.deepEqual(
    ocsf.map((e) => e.event.id),
    records.map((r) => r.id),
    "every record, in order",
  );
  assert.deepEqual(
    ecs.map((e) => e.event.id),
    records.filter((r) => r.sector === "health").map((r) => r.id),
  );
  for (const { headers, event } of ocsf) {
    assert.match(String(headers["content-type"]), /^application\/cloudevents\+json/);
    assert.equal(headers.authorization, `Bearer ${token}`);
    const record = records.find((r) => r.id === event.id)!;
    assert.equal(event.source, "/genlog/genlog.local/default/events");
    assert.equal(event.genlogseq, record.seq);
    assert.equal(event.time, record.ts);
    // The leaf hash, recomputed from the record with another RFC 8785 implementation…
    const leaf = createHash("sha256")
      .update(Buffer.concat([Buffer.from([0]), Buffer.from(canonicalize(record)!, "utf8")]))
      .digest("hex");
    assert.equal(event.genlogleafhash, leaf);
    // …is the leaf genlog proves in its signed tree.
    const proof = await log.inclusionProof(record.seq);
    assert.equal(Buffer.from(proof.leafHash, "base64").toString("hex"), leaf);
    const data = event.data as { unmapped: { genlog: { record: GenerationRecord } } };
    assert.deepEqual(data.unmapped.genlog.record, record);
  }
  for (const { headers } of ecs) assert.equal(headers.authorization, undefined);
});

/** The lines of a sink's directory, oldest first: rotated files gunzipped, then current. */
function sinkLines(dir: string): string[] {
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

test("a file sink writes NDJSON, rotates it gzipped by size, and keeps the newest files", async (t) => {
  const data = tempDir();
  const log = await openLog({ dataDir: data });
  t.after(() => log.close());
  await assert.rejects(
    log.addFollower({ name: "f", kind: "file-sink", config: { maxBytes: 10 } }),
    (e: unknown) =>
      isGenlogError(e, "GENLOG_E_INVALID_INPUT") &&
      (e.details as { pointer: string }).pointer === "/config/maxBytes",
  );
  await assert.rejects(
    log.addFollower({ name: "f", kind: "file-sink", config: {}, secret: "x" }),
    (e: unknown) => isGenlogError(e, "GENLOG_E_INVALID_INPUT"),
  );
  await log.addFollower({
    name: "archive",
    kind: "file-sink",
    config: { maxBytes: 4096, keep: 3 },
  });
  await log.addFollower({ name: "siem-files", kind: "file-sink", config: { format: "ecs" } });
  const records = await appendVaried(log, 60);
  await drain(log);

  const dir = join(data, "followers", "default", "archive");
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const names = readdirSync(dir).sort();
  const rotated = names.filter((n) => n.endsWith(".ndjson.gz"));
  assert.equal(rotated.length, 3, names.join(" "));
  assert.ok(names.includes("current.ndjson"));
  assert.equal(statSync(join(dir, "current.ndjson")).mode & 0o777, 0o600);
  const lines = sinkLines(dir).map(
    (l) => JSON.parse(l) as { seq: number; leafHash: string; record: GenerationRecord },
  );
  // The oldest files were pruned: what is left is a run of consecutive records to the last.
  const first = lines[0]!.seq;
  assert.ok(first > 0, "older files were deleted");
  assert.deepEqual(
    lines.map((l) => l.seq),
    Array.from({ length: 60 - first }, (_, i) => first + i),
  );
  assert.match(
    rotated[0]!,
    new RegExp(`^${String(first).padStart(12, "0")}-\\d{8}T\\d{9}Z\\.ndjson\\.gz$`),
  );
  for (const l of lines) assert.deepEqual(l.record, records[l.seq]);

  // ECS in CloudEvents, one per line, every record.
  const ecsLines = sinkLines(join(data, "followers", "default", "siem-files"));
  assert.equal(ecsLines.length, 60);
  for (const [i, line] of ecsLines.entries()) {
    const e = HTTP.toEvent({
      headers: { "content-type": "application/cloudevents+json" },
      body: line,
    }) as CloudEvent<{ event: { sequence: number; hash: string } }>;
    assert.equal(e.data!.event.sequence, i);
    assert.equal(e.genlogleafhash, e.data!.event.hash);
  }
});

test("a file sink rotates a file that has grown old when the next record comes", async (t) => {
  const data = tempDir();
  const log = await openLog({ dataDir: data });
  t.after(() => log.close());
  await log.addFollower({ name: "daily", kind: "file-sink", config: { maxAgeSeconds: 1 } });
  await appendVaried(log, 2);
  await drain(log);
  const dir = join(data, "followers", "default", "daily");
  assert.deepEqual(readdirSync(dir), ["current.ndjson"]);
  await new Promise((r) => setTimeout(r, 1100));
  await appendVaried(log, 1);
  await drain(log);
  const names = readdirSync(dir).sort();
  assert.equal(names.length, 2);
  assert.match(names[0]!, /^000000000000-\d{8}T\d{9}Z\.ndjson\.gz$/);
  assert.equal(names[1], "current.ndjson");
  assert.deepEqual(
    sinkLines(dir).map((l) => (JSON.parse(l) as { seq: number }).seq),
    [0, 1, 2],
  );
});

test("after a crash, a file sink cuts the lines past its durable cursor and a torn line, then writes them once", async (t) => {
  const data = tempDir();
  let log = await openLog({ dataDir: data });
  await log.addFollower({ name: "arch", kind: "file-sink", config: {} });
  await appendVaried(log, 10);
  await drain(log);
  await log.close();
  // The process wrote lines 0 to 9 and died before its cursor moved past 5, in the middle of
  // another line.
  const db = rawDatabase(join(data, "genlog.db"));
  db.prepare("UPDATE followers SET cursor = 5").run();
  db.close();
  const current = join(data, "followers", "default", "arch", "current.ndjson");
  appendFileSync(current, '{"tenant":"default","seq":10,"leafH');

  // A new process: a sink that has not seen this directory yet.
  log = await openLog({ dataDir: data, followerKinds: [new FileSink()] });
  t.after(() => log.close());
  await appendVaried(log, 2);
  await drain(log);
  const seqs = readFileSync(current, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { seq: number }).seq);
  assert.deepEqual(
    seqs,
    Array.from({ length: 12 }, (_, i) => i),
  );
});

test("filters: statuses and critical pass only what they name, and say so in the list", async (t) => {
  const data = tempDir();
  const log = await openLog({ dataDir: data });
  t.after(() => log.close());
  for (const [config, pointer] of [
    [{ critical: "yes" }, "/config/critical"],
    [{ statuses: ["ok"] }, "/config/statuses"],
    [{ statuses: [] }, "/config/statuses"],
  ] as const) {
    await assert.rejects(
      log.addFollower({ name: "x", kind: "file-sink", config }),
      (e: unknown) =>
        isGenlogError(e, "GENLOG_E_INVALID_INPUT") &&
        (e.details as { pointer: string }).pointer === pointer,
    );
  }
  const failed = await log.addFollower({
    name: "failures",
    kind: "file-sink",
    config: { statuses: ["failed"] },
  });
  assert.match(failed.target, /statuses failed$/);
  const critical = await log.addFollower({
    name: "pager",
    kind: "file-sink",
    config: { critical: true, types: ["ai-model"] },
  });
  assert.match(critical.target, /types ai-model critical only$/);
  const events = [
    { type: "backend", status: "failed" as const, meta: {} },
    { type: "ai-model", status: "succeeded" as const, meta: { critical: true } },
    { type: "ai-model", status: "failed" as const, meta: { critical: "true" } },
    { type: "backend", status: "succeeded" as const, meta: { critical: true } },
  ];
  const ids = [];
  for (const e of events) ids.push((await log.append(e)).id);
  await drain(log);
  const idsIn = (name: string) =>
    sinkLines(join(data, "followers", "default", name)).map(
      (l) => (JSON.parse(l) as { record: { id: string } }).record.id,
    );
  assert.deepEqual(idsIn("failures"), [ids[0], ids[2]]);
  assert.deepEqual(idsIn("pager"), [ids[1]], "critical is the boolean true, and an ai-model");
});
