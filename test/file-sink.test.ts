/**
 * The file sink, read back from the real files: gunzipped, in order, rotated and pruned. Its
 * failures are real ones: a crash is a cursor set back and a torn line in the file, a full
 * disk is the kernel's /dev/full under the file's name.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { HTTP, type CloudEvent } from "cloudevents";
import { isGenlogError } from "../src/index.js";
import { openLog } from "./helpers/store-under-test.js";
import type { GenerationRecord } from "../src/core/record.js";
import { FileSink } from "../src/plugins/file-sink.js";
import { appendVaried, drain, FAST, sinkLines } from "./helpers/followers.js";
import { rawDatabase } from "./helpers/raw-database.js";
import { tempDir } from "./helpers/temp-dir.js";

const seqs = (dir: string) => sinkLines(dir).map((l) => (JSON.parse(l) as { seq: number }).seq);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

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
  assert.deepEqual(
    names.filter((n) => n.endsWith(".ndjson")),
    ["current.ndjson"],
    "every rotated file the cursor has passed is gzipped",
  );
  for (const n of rotated) assert.equal(statSync(join(dir, n)).mode & 0o777, 0o600, n);
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
  assert.deepEqual(readdirSync(dir).sort(), ["current.ndjson", "follower-id"]);
  await new Promise((r) => setTimeout(r, 1100));
  await appendVaried(log, 1);
  await drain(log);
  const names = readdirSync(dir).sort();
  assert.equal(names.length, 3);
  assert.match(names[0]!, /^000000000000-\d{8}T\d{9}Z\.ndjson\.gz$/);
  assert.deepEqual(names.slice(1), ["current.ndjson", "follower-id"]);
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

test("a full disk loses no line: the cursor stays until the lines are on disk, and they are written once", async (t) => {
  const data = tempDir();
  const log = await openLog({ dataDir: data });
  t.after(() => log.close());
  // One rotates (its write fails inside a delivery), one writes only when its cursor moves.
  await log.addFollower({ name: "small", kind: "file-sink", config: { maxBytes: 1024 } });
  await log.addFollower({ name: "big", kind: "file-sink", config: {} });
  await appendVaried(log, 20);
  const dirs = ["small", "big"].map((n) => join(data, "followers", "default", n));
  // The disk is full: every write to the files fails with ENOSPC, as it would on a real one.
  for (const dir of dirs) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    symlinkSync("/dev/full", join(dir, "current.ndjson"));
  }
  const runner = log.followerRunner(FAST);
  const first = await runner.pass();
  assert.equal(first.delivered > 0, true, "records were handed over before the writes failed");
  for (const f of await log.followers()) {
    assert.equal(f.cursor, 0, `${f.name}: the cursor did not pass lines that are not on disk`);
    assert.match(f.lastError ?? "", /ENOSPC/, f.name);
  }
  // Space again: the same records are written, once each.
  for (const dir of dirs) rmSync(join(dir, "current.ndjson"));
  await drain(log);
  for (const dir of dirs) assert.deepEqual(seqs(dir), range(0, 20), dir);
});

test("a turn cut short by damage in the log leaves no line twice once the log is repaired", async (t) => {
  const data = tempDir();
  const log = await openLog({ dataDir: data });
  t.after(() => log.close());
  await log.addFollower({ name: "f", kind: "file-sink", config: {} });
  await appendVaried(log, 10);
  // Position 5 of the tree goes missing: the turn hands over 0 to 4, then stops there.
  const db = rawDatabase(join(data, "genlog.db"));
  t.after(() => db.close());
  const row = db.prepare("SELECT * FROM tree WHERE seq = 5").get() as Record<string, unknown>;
  db.prepare("DELETE FROM tree WHERE seq = 5").run();
  const runner = log.followerRunner(FAST);
  const cut = await runner.pass();
  assert.equal(cut.delivered, 5);
  const [f] = await log.followers();
  assert.match(f!.lastError ?? "", /cannot run: entry 5 .* is missing/);
  assert.equal(f!.cursor, 0);
  // Repaired: the same runner and sink, handed 0 to 9 again.
  db.prepare("INSERT INTO tree (log_id, seq, leaf_hash, nodes) VALUES (?, ?, ?, ?)").run(
    row.log_id,
    row.seq,
    row.leaf_hash,
    row.nodes,
  );
  for (let i = 0; i < 200 && (await log.followers())[0]!.behind > 0; i++) {
    await runner.pass();
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.deepEqual(seqs(join(data, "followers", "default", "f")), range(0, 10));
});

test("a follower added again under a removed one's name does not write into its files", async (t) => {
  const data = tempDir();
  const log = await openLog({ dataDir: data });
  t.after(() => log.close());
  await log.addFollower({ name: "arch", kind: "file-sink", config: {} });
  await appendVaried(log, 3);
  await drain(log);
  const dir = join(data, "followers", "default", "arch");
  const before = readFileSync(join(dir, "current.ndjson"));
  await log.removeFollower({ name: "arch" });
  await log.addFollower({
    name: "arch",
    kind: "file-sink",
    config: { keep: 5 },
    fromStart: true,
  });
  await log.followerRunner(FAST).pass();
  const [f] = await log.followers();
  assert.match(f!.lastError ?? "", /holds the files of an earlier follower named arch/);
  assert.deepEqual(readFileSync(join(dir, "current.ndjson")), before, "untouched");
  // The operator moves them away: the new follower starts from its own cursor.
  renameSync(dir, `${dir}.old`);
  await drain(log);
  assert.deepEqual(seqs(dir), range(0, 3));
  assert.notEqual(
    readFileSync(join(dir, "follower-id"), "utf8"),
    readFileSync(join(`${dir}.old`, "follower-id"), "utf8"),
  );
});

test("lines are cut on bytes: a file past the read window, cut inside a character, keeps its lines", async (t) => {
  const data = tempDir();
  let log = await openLog({ dataDir: data });
  await log.addFollower({ name: "arch", kind: "file-sink", config: {} });
  await appendVaried(log, 3);
  await log.close();
  // A crash left lines 0 to 2 and the cursor at 2. Line 0 is long, and made of two-byte
  // characters, so that the last 8 MiB of the file begin inside one of them.
  const dir = join(data, "followers", "default", "arch");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const head = '{"seq":0,"pad":"';
  const line0 = `${head}${"é".repeat(4_500_000)}"}\n`;
  let line1 = '{"seq":1,"pad":""}\n';
  const line2 = '{"seq":2,"leafHash":"written before the crash"}\n';
  const size = () => Buffer.byteLength(line0 + line1 + line2);
  if ((size() - 8 * 2 ** 20 - head.length) % 2 === 0) line1 = '{"seq":1,"pad":" "}\n';
  assert.equal((size() - 8 * 2 ** 20 - head.length) % 2, 1, "the window begins mid-character");
  writeFileSync(join(dir, "current.ndjson"), line0 + line1 + line2, { mode: 0o600 });
  const db = rawDatabase(join(data, "genlog.db"));
  db.prepare("UPDATE followers SET cursor = 2").run();
  // The directory is this follower's (it wrote those lines).
  const { id } = db.prepare("SELECT id FROM followers").get() as { id: string };
  writeFileSync(join(dir, "follower-id"), `${id}\n`);
  db.close();

  log = await openLog({ dataDir: data });
  t.after(() => log.close());
  await drain(log);
  const text = readFileSync(join(dir, "current.ndjson"), "utf8");
  assert.ok(text.startsWith(line0 + line1), "lines below the cursor kept byte for byte");
  const last = JSON.parse(text.slice((line0 + line1).length)) as { seq: number; record: unknown };
  assert.equal(last.seq, 2);
  assert.ok(last.record !== undefined, "line 2 written again from the log");
});

test("a rotation cut short by a crash is finished, its lines past the cursor cut", async (t) => {
  const data = tempDir();
  let log = await openLog({ dataDir: data });
  await log.addFollower({ name: "arch", kind: "file-sink", config: {} });
  const records = await appendVaried(log, 6);
  await drain(log);
  await log.close();
  const dir = join(data, "followers", "default", "arch");
  const lines = readFileSync(join(dir, "current.ndjson"), "utf8").split("\n").filter(Boolean);
  // The process sealed lines 0 to 3 and died before its cursor passed 2, then wrote 4 and 5
  // into a new current file; another sealed file was gzipped, but not yet removed.
  rmSync(join(dir, "current.ndjson"));
  const sealed = "000000000000-20261205T090000000Z.ndjson";
  writeFileSync(join(dir, sealed), `${lines.slice(0, 4).join("\n")}\n`);
  writeFileSync(join(dir, "current.ndjson"), `${lines.slice(4).join("\n")}\n`);
  const old = "000000000000-20261205T080000000Z.ndjson";
  writeFileSync(join(dir, old), "");
  writeFileSync(join(dir, `${old}.gz`), gzipSync(""));
  const db = rawDatabase(join(data, "genlog.db"));
  db.prepare("UPDATE followers SET cursor = 2").run();
  db.close();

  log = await openLog({ dataDir: data });
  t.after(() => log.close());
  await drain(log);
  assert.equal(existsSync(join(dir, old)), false, "the gzipped one's leftover removed");
  assert.equal(existsSync(join(dir, sealed)), false, "the sealed one gzipped");
  assert.ok(existsSync(join(dir, `${sealed}.gz`)));
  const got = sinkLines(dir).map((l) => JSON.parse(l) as { seq: number; record: GenerationRecord });
  assert.deepEqual(
    got.map((l) => l.seq),
    range(0, 6),
  );
  for (const l of got) assert.deepEqual(l.record, records[l.seq]);
});

test("a directory written before follower ids is adopted with every line kept", async (t) => {
  const data = tempDir();
  const log = await openLog({ dataDir: data });
  t.after(() => log.close());
  await appendVaried(log, 4);
  // Lines an earlier version wrote, with no follower-id; the follower now starts from 0.
  const dir = join(data, "followers", "default", "arch");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const old = Array.from({ length: 4 }, (_, seq) => JSON.stringify({ seq, old: true }));
  writeFileSync(join(dir, "current.ndjson"), `${old.join("\n")}\n{"seq":4,"to`);
  await log.addFollower({ name: "arch", kind: "file-sink", config: {}, fromStart: true });
  await drain(log);
  const lines = readFileSync(join(dir, "current.ndjson"), "utf8").split("\n").filter(Boolean);
  assert.deepEqual(lines.slice(0, 4), old, "nothing of the earlier lines lost");
  assert.deepEqual(
    lines.slice(4).map((l) => (JSON.parse(l) as { seq: number }).seq),
    range(0, 4),
    "the torn line gone, the records written after",
  );
  assert.equal(existsSync(join(dir, "follower-id")), true);
});
