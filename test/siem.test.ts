/**
 * SIEM streams and the file sink. Documents are checked against what others define, not
 * against our own mapping: ECS documents against the field definitions Elastic publishes
 * (`@elastic/ecs`: every field exists, has its type, and takes an allowed value), OCSF events
 * against the required attributes and enumerations of OCSF 1.8.0's API Activity class, and
 * envelopes by the CloudEvents SDK's own parser; leaf hashes are recomputed with an
 * independent RFC 8785 implementation (`canonicalize`) and matched with genlog's inclusion
 * proof. The file sink has its own tests (file-sink.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { EcsFlat, EcsVersion } from "@elastic/ecs";
import { HTTP, type CloudEvent } from "cloudevents";
import canonicalize from "canonicalize";
import { isGenlogError } from "../src/index.js";
import { openLog } from "./helpers/store-under-test.js";
import type { GenerationRecord } from "../src/core/record.js";
import { ECS_VERSION, ecsDocument, ocsfEvent } from "../src/plugins/siem-formats.js";
import { appendVaried, drain, LOCAL } from "./helpers/followers.js";
import { tempDir } from "./helpers/temp-dir.js";

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
