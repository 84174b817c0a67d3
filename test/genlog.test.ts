import { test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { rawDatabase } from "./helpers/raw-database.js";
import Database from "better-sqlite3";
import { pino } from "pino";
import {
  GenlogError,
  isGenlogError,
  parseCheckpoint,
  verifyNote,
  verifyInclusion,
  verifyConsistency,
  hashLeaf,
  checkInclusionProof,
  type GenerationRecord,
} from "../src/index.js";
import { openLog, SQLITE_FILE } from "./helpers/store-under-test.js";
import { tempDir } from "./helpers/temp-dir.js";
import { RECORD_VERSION } from "../src/core/record.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("the seed call logs a backend event by testuser with meta.stack Flask", async () => {
  const log = await openLog({ dataDir: tempDir() });
  const rec = await log.logGenerationEvent("backend", {
    user: "testuser",
    meta: { stack: "Flask" },
  });
  assert.equal(rec.v, RECORD_VERSION);
  assert.match(rec.id, UUID_V7);
  assert.equal(rec.seq, 0);
  assert.equal(rec.tenant, "default");
  assert.equal(rec.type, "backend");
  // The actor is stored as a pseudonym; the person is in the envelope, readable with the key.
  assert.match(rec.actor!, /^sub_[a-z2-7]{26}$/);
  assert.equal(rec.pii?.kid, rec.actor);
  assert.equal(rec.status, "succeeded");
  assert.deepEqual(rec.meta, { stack: "Flask" });
  assert.ok(Math.abs(Date.parse(rec.ts) - Date.now()) < 60_000);
  assert.match(rec.ts, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.deepEqual(await log.get(rec.id), rec);
  const [revealed] = await log.reveal([rec]);
  assert.deepEqual(revealed!.revealed, { actor: "testuser", values: {} });
  assert.deepEqual((await log.query({ user: "testuser" })).records, [rec]);
  await log.close();
});

test("a frontend event with no user has actor null and meta {}", async () => {
  const log = await openLog({ dataDir: tempDir() });
  const rec = await log.logGenerationEvent("frontend");
  assert.equal(rec.actor, null);
  assert.deepEqual(rec.meta, {});
  assert.deepEqual(rec.artifacts, []);
  assert.deepEqual(rec.redactions, []);
  assert.equal(rec.sector, null);
  assert.equal(rec.occurredAt, null);
  await log.close();
});

test("meta keys password, api_key and token are never stored in clear", async () => {
  const dir = tempDir();
  const log = await openLog({ dataDir: dir });
  const secrets = [
    "hunter2-pw-value",
    "sk-live-apikey-value",
    "ghp-token-value",
    "nested-secret-v",
  ];
  const rec = await log.logGenerationEvent("backend", {
    user: "alice",
    meta: {
      password: secrets[0],
      api_key: secrets[1],
      Token: secrets[2],
      db: { "Client-Secret": secrets[3], host: "db.local" },
    },
  });
  await log.close();
  assert.deepEqual(rec.redactions.map((r) => r.path).sort(), [
    "/meta/Token",
    "/meta/api_key",
    "/meta/db/Client-Secret",
    "/meta/password",
  ]);
  assert.equal((rec.meta.db as Record<string, unknown>).host, "db.local");
  const files = ["genlog.db", "genlog.db-wal"].map((f) => join(dir, f)).filter(existsSync);
  const bytes = Buffer.concat(files.map((f) => readFileSync(f))).toString("latin1");
  for (const s of secrets) assert.ok(!bytes.includes(s), `${s} reached the database`);
  assert.ok(!JSON.stringify(rec).includes("hunter2"));
});

test("the caller's meta object is neither mutated nor able to change a committed record", async () => {
  const log = await openLog({ dataDir: tempDir() });
  const meta = { password: "p", stack: "Flask" };
  const pending = log.logGenerationEvent("backend", { meta });
  meta.stack = "Changed";
  const rec = await pending;
  assert.equal(meta.password, "p");
  assert.equal(rec.meta.stack, "Flask");
  assert.equal((await log.get(rec.seq)).meta.stack, "Flask");
  await log.close();
});

test("bad input is rejected with the field named and nothing is stored", async () => {
  const log = await openLog({ dataDir: tempDir() });
  await log.logGenerationEvent("backend");
  await assert.rejects(
    log.append({ type: "backend", status: "nope" as "failed" }),
    (e: unknown) => e instanceof GenlogError && e.details.pointer === "/status",
  );
  await assert.rejects(
    log.logGenerationEvent("Bad Type"),
    (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_INVALID_INPUT",
  );
  assert.equal(await log.size(), 1);
  await log.close();
});

test("a bad event in a burst fails alone and the others are committed", async () => {
  const log = await openLog({ dataDir: tempDir() });
  const results = await Promise.allSettled([
    log.logGenerationEvent("a"),
    log.logGenerationEvent("B"),
    log.logGenerationEvent("c"),
  ]);
  assert.deepEqual(
    results.map((r) => r.status),
    ["fulfilled", "rejected", "fulfilled"],
  );
  assert.equal(await log.size(), 2);
  await log.close();
});

test("concurrent appends share transactions and get contiguous, unique seqs", async () => {
  const log = await openLog({ dataDir: tempDir() });
  const checkpoints: number[] = [];
  log.on("checkpoint", (cp) => void checkpoints.push(cp.size));
  const recs = await Promise.all(
    Array.from({ length: 500 }, (_, i) => log.logGenerationEvent("backend", { meta: { i } })),
  );
  assert.deepEqual(
    recs.map((r) => r.seq).sort((a, b) => a - b),
    Array.from({ length: 500 }, (_, i) => i),
  );
  // Each append resolves with its own record.
  recs.forEach((r, i) => assert.equal(r.meta.i, i));
  await new Promise((r) => setImmediate(r));
  assert.ok(checkpoints.length >= 1 && checkpoints.length < 500, `${checkpoints.length} batches`);
  assert.equal(checkpoints[checkpoints.length - 1], 500);
  assert.equal((await log.verify()).ok, true);
  await log.close();
});

test("timestamps never decrease along the log", async () => {
  const log = await openLog({ dataDir: tempDir() });
  const recs: GenerationRecord[] = [];
  for (let i = 0; i < 20; i++) recs.push(await log.logGenerationEvent("t"));
  for (let i = 1; i < recs.length; i++) assert.ok(recs[i]!.ts >= recs[i - 1]!.ts);
  await log.close();
});

test("the same idempotency key returns the first record, never a second one", async () => {
  const log = await openLog({ dataDir: tempDir() });
  const id = "01937f7e-1234-7abc-8def-0123456789ab";
  const first = await log.appendWithStatus({ type: "backend", id, meta: { try: 1 } });
  const again = await log.appendWithStatus({ type: "backend", id, meta: { try: 1 } });
  // The same id for another event: the first record is kept, and the caller is told.
  await assert.rejects(
    log.appendWithStatus({ type: "backend", id, meta: { try: 2 } }),
    (e: unknown) =>
      isGenlogError(e, "GENLOG_E_ID_REUSED") &&
      (e.details.record as { meta: { try: number } }).meta.try === 1,
  );
  const [c1, c2] = await Promise.all([
    log.appendWithStatus({ type: "x", id: "01937f7e-1234-7abc-8def-0000000000aa" }),
    log.appendWithStatus({ type: "x", id: "01937f7e-1234-7abc-8def-0000000000aa" }),
  ]);
  assert.equal(first.duplicate, false);
  assert.equal(again.duplicate, true);
  assert.deepEqual(again.record, first.record);
  assert.equal(again.record.meta.try, 1);
  assert.equal(c1!.record.seq, c2!.record.seq);
  assert.deepEqual([c1!.duplicate, c2!.duplicate].sort(), [false, true]);
  assert.equal(await log.size(), 2);
  await log.close();
});

test("a reopened log continues its sequence and still verifies", async () => {
  const dir = tempDir();
  let log = await openLog({ dataDir: dir });
  await log.logGenerationEvent("a");
  await log.logGenerationEvent("b");
  await log.close();
  log = await openLog({ dataDir: dir });
  const rec = await log.logGenerationEvent("c");
  assert.equal(rec.seq, 2);
  assert.equal((await log.verify()).ok, true);
  await log.close();
});

test("a read-only handle reads and verifies without the signing key, and refuses appends", async () => {
  const dir = tempDir();
  const writer = await openLog({ dataDir: dir });
  await writer.logGenerationEvent("backend", { user: "alice" });
  const key = await writer.verifierKey();
  await writer.close();
  rmSync(join(dir, "keys"), { recursive: true });

  const reader = await openLog({ dataDir: dir, readOnly: true });
  assert.equal((await reader.query()).records.length, 1);
  assert.equal((await reader.verify({ verifierKey: key })).ok, true);
  await assert.rejects(reader.verify(), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_NOT_INITIALIZED"),
  );
  await assert.rejects(reader.logGenerationEvent("x"), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_USAGE"),
  );
  await assert.rejects(reader.query({ tenant: "other" }), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_NOT_FOUND"),
  );
  await reader.close();
  assert.ok(!existsSync(join(dir, "keys")));
  await assert.rejects(openLog({ dataDir: tempDir(), readOnly: true }), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_NOT_INITIALIZED"),
  );
  if (SQLITE_FILE) return; // another program's PostgreSQL schema: test/postgres.test.ts
  const stranger = tempDir();
  new Database(join(stranger, "genlog.db")).exec("CREATE TABLE t (x)").close();
  await assert.rejects(openLog({ dataDir: stranger, readOnly: true }), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_STORE"),
  );
});

test("keysDir keeps the signing keys outside the data directory", async () => {
  const dataDir = tempDir();
  const keysDir = join(tempDir(), "genlog-keys");
  const log = await openLog({ dataDir, keysDir });
  assert.equal(log.keysDir, keysDir);
  await log.logGenerationEvent("backend", { user: "alice" });
  const key = await log.verifierKey();
  await log.close();
  assert.ok(!existsSync(join(dataDir, "keys")));
  assert.equal(statSync(keysDir).mode & 0o777, 0o700);
  assert.equal(statSync(join(keysDir, "default.ed25519.pem")).mode & 0o777, 0o600);

  // Reopening needs the same keys directory; without it there is no key to sign with, and
  // the error says where the key was looked for and where it was made.
  const again = await openLog({ dataDir, keysDir, create: false });
  assert.equal(await again.verifierKey(), key);
  assert.equal((await again.logGenerationEvent("frontend")).seq, 1);
  await again.close();
  await assert.rejects(
    openLog({ dataDir, create: false }),
    (e: unknown) =>
      isGenlogError(e, "GENLOG_E_NOT_INITIALIZED") &&
      e.message.includes(join(dataDir, "keys")) &&
      e.message.includes(`created in ${keysDir}`),
  );
});

test(
  "when the SQLite append thread dies, its batches fail as not landed and later ones get a new thread",
  { skip: SQLITE_FILE },
  async () => {
    const dir = tempDir();
    const log = await openLog({ dataDir: dir });
    const burst = (n: number, tag: string) =>
      Promise.allSettled(
        Array.from({ length: n }, (_, i) => log.append({ type: tag, meta: { i } })),
      );
    // Concurrent appends are committed by the thread, which cannot open a file moved away
    // (the main thread's connection, already open, still can: a lone batch may commit there).
    const db = join(dir, "genlog.db");
    renameSync(db, `${db}.moved`);
    const first = await burst(300, "lost");
    renameSync(`${db}.moved`, db);
    // Each failure was read back and is known not to have landed; nothing acked is missing.
    const rejected = first.filter((r) => r.status === "rejected");
    assert.ok(rejected.length > 0, "the thread never ran");
    for (const r of rejected) {
      assert.ok(
        isGenlogError(r.reason, "GENLOG_E_STORE") && r.reason.details.landed === false,
        String(r.reason),
      );
    }
    const acked = first.length - rejected.length;
    assert.equal(await log.size(), acked);
    const later = await burst(300, "kept");
    assert.ok(later.every((r) => r.status === "fulfilled"));
    assert.equal(await log.size(), acked + 300);
    assert.equal((await log.verify()).ok, true);
    await log.close();
  },
);

test(
  "the database and its WAL are readable by their owner only",
  { skip: SQLITE_FILE },
  async () => {
    const dir = tempDir();
    const log = await openLog({ dataDir: dir });
    await log.logGenerationEvent("a");
    for (const file of ["genlog.db", "genlog.db-wal", "genlog.db-shm"]) {
      assert.equal(statSync(join(dir, file)).mode & 0o777, 0o600, file);
    }
    await log.close();
  },
);

test("the signing key file is PKCS#8 PEM with mode 0600", async () => {
  const dir = tempDir();
  const log = await openLog({ dataDir: dir });
  await log.logGenerationEvent("a");
  await log.close();
  const key = join(dir, "keys", "default.ed25519.pem");
  assert.match(readFileSync(key, "utf8"), /^-----BEGIN PRIVATE KEY-----/);
  assert.equal(statSync(key).mode & 0o777, 0o600);
});

test("checkpoints are C2SP signed notes that verify with the published verifier key", async () => {
  const log = await openLog({ dataDir: tempDir() });
  await log.logGenerationEvent("a");
  const note = (await log.checkpoint())!;
  const cp = parseCheckpoint(verifyNote(note, await log.verifierKey()));
  assert.equal(cp.origin, "genlog.local/default/events");
  assert.equal(cp.size, 1);
  await log.close();
});

test("every checkpoint stays available by size", async () => {
  const log = await openLog({ dataDir: tempDir() });
  const key = await log.verifierKey();
  const notes: string[] = [];
  for (let i = 0; i < 3; i++) {
    await log.logGenerationEvent("a");
    notes.push((await log.checkpoint())!);
  }
  for (let size = 1; size <= 3; size++) {
    const note = await log.checkpointAt(size);
    assert.equal(note, notes[size - 1]);
    assert.equal(parseCheckpoint(verifyNote(note, key)).size, size);
  }
  await assert.rejects(log.checkpointAt(4), (e: unknown) => isGenlogError(e, "GENLOG_E_NOT_FOUND"));
  await assert.rejects(log.checkpointAt(-1), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_INVALID_INPUT"),
  );
  // The proofs take sizes too, and name the one that is wrong.
  const bad: [() => Promise<unknown>, string][] = [
    [() => log.inclusionProof(0, { treeSize: {} as number }), "/treeSize"],
    [() => log.inclusionProof(0, { treeSize: 1.5 }), "/treeSize"],
    [() => log.consistencyProof("1" as unknown as number), "/from"],
    [() => log.consistencyProof(1, { to: -2 }), "/to"],
  ];
  for (const [call, pointer] of bad) {
    await assert.rejects(call(), (e: unknown) => {
      assert.ok(isGenlogError(e, "GENLOG_E_INVALID_INPUT"), String(e));
      assert.equal(e.details?.pointer, pointer);
      return true;
    });
  }
  await log.close();
});

test("inclusion and consistency proofs verify against the signed checkpoints", async () => {
  const log = await openLog({ dataDir: tempDir() });
  const key = await log.verifierKey();
  const sizes: number[] = [];
  for (let i = 0; i < 37; i++) {
    await log.logGenerationEvent("t", { meta: { i } });
    sizes.push(i + 1);
  }
  for (const seq of [0, 1, 17, 31, 32, 36]) {
    for (const treeSize of [seq + 1, 33, 37]) {
      if (treeSize <= seq) continue;
      const p = await log.inclusionProof(seq, { treeSize });
      const cp = parseCheckpoint(verifyNote(p.checkpoint, key));
      assert.equal(cp.size, treeSize);
      const canonical = JSON.stringify(p.record); // records are parsed from canonical JSON, key order kept
      assert.equal(
        Buffer.from(p.leafHash, "base64").toString("hex"),
        hashLeaf(Buffer.from(canonical)).toString("hex"),
      );
      verifyInclusion(
        Buffer.from(p.leafHash, "base64"),
        p.leafIndex,
        p.treeSize,
        p.hashes.map((h) => Buffer.from(h, "base64")),
        cp.rootHash,
      );
    }
  }
  for (const from of [1, 2, 5, 16, 32, 36]) {
    const p = await log.consistencyProof(from);
    const a = parseCheckpoint(
      verifyNote((await log.inclusionProof(0, { treeSize: from })).checkpoint, key),
    );
    const b = parseCheckpoint(verifyNote((await log.checkpoint())!, key));
    verifyConsistency(
      p.from,
      p.to,
      p.hashes.map((h) => Buffer.from(h, "base64")),
      a.rootHash,
      b.rootHash,
    );
  }
  await assert.rejects(log.inclusionProof(5, { treeSize: 3 }), /not in the tree/);
  await assert.rejects(
    log.inclusionProof("nope"),
    (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_NOT_FOUND",
  );
  await log.close();
});

test("query filters by type, actor, sector, status and time, with cursor paging", async () => {
  const log = await openLog({ dataDir: tempDir() });
  for (let i = 0; i < 30; i++) {
    await log.append({
      type: i % 2 === 0 ? "backend" : "frontend",
      user: `u${i % 3}`,
      sector: i % 5 === 0 ? "health" : "education",
      status: i % 10 === 9 ? "failed" : "succeeded",
    });
  }
  const all = (await log.query({ limit: 1000 })).records;
  assert.equal(all.length, 30);
  assert.equal((await log.query({ type: "backend", limit: 1000 })).records.length, 15);
  assert.ok((await log.query({ actor: "u1", limit: 1000 })).records.every((r) => r.actor === "u1"));
  assert.equal((await log.query({ sector: "health", limit: 1000 })).records.length, 6);
  assert.deepEqual(
    (await log.query({ status: "failed", limit: 1000 })).records.map((r) => r.seq),
    [9, 19, 29],
  );
  const mid = all[10]!.ts;
  const since = (await log.query({ since: mid, limit: 1000 })).records;
  assert.ok(since.every((r) => r.ts >= mid) && since.length >= 20);
  const until = (await log.query({ until: mid, limit: 1000 })).records;
  assert.equal(since.length + until.length, 30);
  const seen: number[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await log.query({ type: "backend", limit: 4, ...(cursor ? { cursor } : {}) });
    seen.push(...page.records.map((r) => r.seq));
    if (page.nextCursor === null) break;
    cursor = page.nextCursor;
  }
  assert.deepEqual(
    seen,
    all.filter((r) => r.type === "backend").map((r) => r.seq),
  );
  await assert.rejects(log.query({ limit: 0 }), /limit/);
  await assert.rejects(log.query({ cursor: "garbage" }), /cursor/);
  await assert.rejects(log.query({ since: "not a date" }), /since/);
  await log.close();
});

test("tenants have their own logs, origins and keys", async () => {
  const log = await openLog({ dataDir: tempDir() });
  const a = await log.logGenerationEvent("backend", { tenant: "acme" });
  const b = await log.logGenerationEvent("backend", { tenant: "globex" });
  const d = await log.logGenerationEvent("backend");
  assert.deepEqual([a.seq, b.seq, d.seq], [0, 0, 0]);
  assert.equal(a.tenant, "acme");
  assert.notEqual(await log.verifierKey("acme"), await log.verifierKey("globex"));
  assert.equal(log.origin("acme"), "genlog.local/acme/events");
  assert.equal((await log.query({ tenant: "acme" })).records.length, 1);
  assert.equal((await log.verify({ tenant: "globex" })).ok, true);
  await log.close();
});

test("a throwing or slow hook never fails, delays or loses an append, and its error is logged", async () => {
  const lines: string[] = [];
  const logger = pino(
    { level: "warn" },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    }),
  );
  const log = await openLog({ dataDir: tempDir(), logger });
  const seen: number[] = [];
  let release!: () => void;
  const slow = new Promise<void>((r) => (release = r));
  log.on("appended", () => {
    throw new Error("hook exploded");
  });
  log.on("appended", () => slow); // never settles until the end of the test
  log.on("appended", async () => {
    throw new Error("async hook exploded");
  });
  log.on("appended", (r) => void seen.push(r.seq));
  const recs = await Promise.all([log.logGenerationEvent("a"), log.logGenerationEvent("b")]);
  assert.deepEqual(recs.map((r) => r.seq).sort(), [0, 1]);
  for (let i = 0; i < 5 && seen.length < 2; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen.sort(), [0, 1]);
  assert.ok(lines.some((l) => l.includes("hook exploded")));
  assert.ok(lines.some((l) => l.includes("async hook exploded")));
  assert.equal(await log.size(), 2);
  release();
  await log.close();
  assert.throws(() => log.on("nope" as "appended", () => 1), /unknown hook/);
});

test("a closed handle refuses appends with GENLOG_E_CLOSED", async () => {
  const log = await openLog({ dataDir: tempDir() });
  await log.close();
  await assert.rejects(
    log.logGenerationEvent("a"),
    (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_CLOSED",
  );
});

test("opening without create on an empty directory says to run genlog init", async () => {
  await assert.rejects(
    openLog({ dataDir: join(tempDir(), "none"), create: false }),
    (e: unknown) =>
      e instanceof GenlogError &&
      e.code === "GENLOG_E_NOT_INITIALIZED" &&
      /genlog init/.test(e.message),
  );
});

test(
  "a writer refuses to extend a log whose stored nodes no longer match its checkpoint",
  { skip: SQLITE_FILE },
  async () => {
    const dir = tempDir();
    let log = await openLog({ dataDir: dir });
    for (let i = 0; i < 4; i++) await log.logGenerationEvent("a");
    await log.close();
    const db = rawDatabase(join(dir, "genlog.db"));
    // Entry 3 keeps nodes (1, 1) and (2, 0); (2, 0) is the whole tree of size 4.
    db.prepare("UPDATE tree SET nodes = randomblob(64) WHERE seq = 3").run();
    db.close();
    log = await openLog({ dataDir: dir });
    await assert.rejects(
      log.logGenerationEvent("b"),
      (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_INCONSISTENT",
    );
    assert.equal(await log.size(), 4);
    await log.close();
  },
);

test(
  "a writer refuses to commit a batch when an older node was altered under it",
  { skip: SQLITE_FILE },
  async () => {
    const dir = tempDir();
    const log = await openLog({ dataDir: dir });
    for (let i = 0; i < 5; i++) await log.logGenerationEvent("a");
    // Entry 3 keeps node (2, 0), which the proof from size 5 to 6 uses; alter it under the writer.
    const db = rawDatabase(join(dir, "genlog.db"));
    db.prepare("UPDATE tree SET nodes = randomblob(64) WHERE seq = 3").run();
    db.close();
    await assert.rejects(
      log.logGenerationEvent("b"),
      (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_INCONSISTENT",
    );
    assert.equal(await log.size(), 5);
    await log.close();
  },
);

test(
  "appends issued as earlier appends resolve are never stranded in the queue",
  { timeout: 60_000 },
  async () => {
    const log = await openLog({ dataDir: tempDir() });
    const chain = async (n: number): Promise<number> => {
      let done = 0;
      for (let i = 0; i < n; i++) {
        await log.logGenerationEvent("chain");
        done++;
      }
      return done;
    };
    const counts = await Promise.all(Array.from({ length: 8 }, () => chain(25)));
    assert.deepEqual(
      counts,
      Array.from({ length: 8 }, () => 25),
    );
    assert.equal(await log.size(), 200);
    await log.close();
  },
);

test("two handles on one data dir append in turn and the log stays consistent", async () => {
  const dir = tempDir();
  const a = await openLog({ dataDir: dir });
  const b = await openLog({ dataDir: dir });
  const seqs: number[] = [];
  for (let i = 0; i < 5; i++) {
    seqs.push((await a.logGenerationEvent("a")).seq);
    seqs.push((await b.logGenerationEvent("b")).seq);
  }
  const burst = await Promise.all([
    ...Array.from({ length: 50 }, () => a.logGenerationEvent("a")),
    ...Array.from({ length: 50 }, () => b.logGenerationEvent("b")),
  ]);
  seqs.push(...burst.map((r) => r.seq));
  assert.deepEqual(
    seqs.sort((x, y) => x - y),
    Array.from({ length: 110 }, (_, i) => i),
  );
  assert.equal((await a.verify()).ok, true);
  await a.close();
  await b.close();
});

test("two handles racing with bursts lose no append: a batch sealed on top of a refused one is sealed again", async () => {
  const dir = tempDir();
  const a = await openLog({ dataDir: dir });
  const b = await openLog({ dataDir: dir });
  try {
    // Each handle splits a burst into two batches, the second handed over while the first
    // commits; when the other handle wins the race, both of its batches are sealed again.
    const results = [];
    for (let round = 0; round < 3; round++) {
      results.push(
        ...(await Promise.all([
          ...Array.from({ length: 150 }, () => a.logGenerationEvent("a")),
          ...Array.from({ length: 150 }, () => b.logGenerationEvent("b")),
        ])),
      );
    }
    assert.deepEqual(
      results.map((r) => r.seq).sort((x, y) => x - y),
      Array.from({ length: 900 }, (_, i) => i),
    );
    assert.equal(await a.size(), 900);
    const report = await b.verify();
    assert.equal(report.ok, true);
    assert.equal(report.entries, 900);
  } finally {
    await a.close();
    await b.close();
  }
});

test("reading an unknown tenant fails and creates nothing", async () => {
  const dir = tempDir();
  const log = await openLog({ dataDir: dir });
  await assert.rejects(
    log.size("typo"),
    (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_NOT_FOUND",
  );
  await assert.rejects(log.query({ tenant: "typo" }), /typo/);
  assert.equal(existsSync(join(dir, "keys", "typo.ed25519.pem")), false);
  await assert.rejects(log.query({ status: "weird" as "failed" }), /status/);
  await log.close();
});

test("a tenant name that is not a slug is refused before any file is written", async () => {
  const dir = tempDir();
  await assert.rejects(
    openLog({ dataDir: dir, tenant: "../escape" }),
    (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_INVALID_INPUT",
  );
  assert.equal(existsSync(join(dir, "..", "escape.ed25519.pem")), false);
  assert.equal(existsSync(join(dir, "escape.ed25519.pem")), false);
});

test("checkInclusionProof accepts a served proof and refuses an altered record or foreign key", async () => {
  const log = await openLog({ dataDir: tempDir() });
  for (let i = 0; i < 9; i++) await log.logGenerationEvent("t", { meta: { i } });
  const key = await log.verifierKey();
  const proof = await log.inclusionProof(4);
  assert.equal(checkInclusionProof(proof, key).size, 9);
  const altered = { ...proof, record: { ...proof.record, actor: "mallory" } };
  assert.throws(() => checkInclusionProof(altered, key), /leafHash/);
  const moved = { ...proof, leafIndex: 5 };
  assert.throws(
    () => checkInclusionProof(moved, key),
    (e: unknown) => e instanceof GenlogError,
  );
  const other = await openLog({ dataDir: tempDir() });
  const otherKey = await other.verifierKey();
  assert.throws(
    () => checkInclusionProof(proof, "x+00000000+AAAA"),
    (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_KEY",
  );
  assert.throws(
    () => checkInclusionProof(proof, otherKey),
    (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_BAD_SIGNATURE",
  );
  await other.close();
  await log.close();
});

test(
  "a writer never extends a log with a hole: appends fail and the size stays",
  { skip: SQLITE_FILE },
  async () => {
    const dir = tempDir();
    let log = await openLog({ dataDir: dir });
    for (let i = 0; i < 8; i++) await log.logGenerationEvent("a");
    await log.close();
    const db = rawDatabase(join(dir, "genlog.db"));
    db.prepare("DELETE FROM entries WHERE seq = 2").run();
    db.close();
    log = await openLog({ dataDir: dir });
    await assert.rejects(
      log.logGenerationEvent("b"),
      (e: unknown) => isGenlogError(e, "GENLOG_E_INCONSISTENT") && /removed/.test(e.message),
    );
    assert.equal(await log.size(), 8);
    const report = await log.verify();
    assert.deepEqual(
      report.problems.map((p) => `${p.kind}@${p.index}`),
      ["missing@2"],
    );
    await log.close();
  },
);

test(
  "a writer never extends a log whose last entries were deleted",
  { skip: SQLITE_FILE },
  async () => {
    const dir = tempDir();
    const log = await openLog({ dataDir: dir });
    for (let i = 0; i < 8; i++) await log.logGenerationEvent("a");
    // Behind the open writer's back: its next commit must notice, not fill the gap.
    const db = rawDatabase(join(dir, "genlog.db"));
    db.prepare("DELETE FROM entries WHERE seq >= 6").run();
    db.close();
    await assert.rejects(log.logGenerationEvent("b"), (e: unknown) =>
      isGenlogError(e, "GENLOG_E_INCONSISTENT"),
    );
    assert.equal(await log.size(), 8);
    await log.close();
  },
);

test("an event is read once: a getter that grows after its first read stores what was validated", async () => {
  const log = await openLog({ dataDir: tempDir() });
  let reads = 0;
  const rec = await log.append({
    type: "backend",
    get meta() {
      reads++;
      return { blob: "x".repeat(reads === 1 ? 16 : 5 * 1024 * 1024) };
    },
  });
  assert.equal(reads, 1);
  assert.equal((rec.meta.blob as string).length, 16);
  assert.equal(((await log.get(rec.seq)).meta.blob as string).length, 16);
  await log.close();
});

test("an id getter is read once: the idempotency key and the record id are the same value", async () => {
  const log = await openLog({ dataDir: tempDir() });
  const id = "0190a7a2-3c1e-7c3a-9f5e-4b8a1c2d3e4f";
  let reads = 0;
  const event = {
    type: "model",
    get id() {
      return reads++ === 0 ? id : undefined;
    },
  };
  const first = await log.appendWithStatus(event);
  reads = 0;
  const again = await log.appendWithStatus(event);
  assert.equal(first.record.id, id);
  assert.equal(again.duplicate, true);
  assert.equal(again.record.seq, first.record.seq);
  assert.equal(await log.size(), 1);
  await log.close();
});

test("__proto__, constructor and prototype meta keys are stored as data and read back the same", async () => {
  const log = await openLog({ dataDir: tempDir() });
  const meta = JSON.parse(
    '{"__proto__":{"password":"hunter2","x":1},"constructor":{"prototype":{"y":2}},"prototype":3}',
  ) as Record<string, unknown>;
  const rec = await log.logGenerationEvent("backend", { meta });
  assert.deepEqual(Object.keys(rec.meta), ["__proto__", "constructor", "prototype"]);
  assert.deepEqual(rec.meta.__proto__, { password: "[REDACTED]", x: 1 });
  assert.deepEqual(rec.redactions, [
    { path: "/meta/__proto__/password", rule: "key:password", action: "mask" },
  ]);
  const back = await log.get(rec.seq);
  assert.deepEqual(back, rec);
  assert.equal(Object.getPrototypeOf(back.meta), Object.prototype);
  assert.equal(({} as Record<string, unknown>).x, undefined);
  assert.equal((await log.verify()).ok, true);
  await log.close();
});

test("on and off take only the hook names, never members of Object.prototype", async () => {
  const log = await openLog({ dataDir: tempDir() });
  for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty", "nope"]) {
    assert.throws(
      () => log.on(name as "appended", () => 1),
      (e: unknown) => isGenlogError(e, "GENLOG_E_USAGE") && e.message.includes(name),
    );
    assert.throws(
      () => log.off(name as "appended", () => 1),
      (e: unknown) => isGenlogError(e, "GENLOG_E_USAGE"),
    );
  }
  assert.throws(
    () => log.on("appended", "not a function" as unknown as () => unknown),
    (e: unknown) => isGenlogError(e, "GENLOG_E_USAGE") && /expected a function/.test(e.message),
  );
  // The real names still work, and nothing was registered by the refused calls.
  const seen: number[] = [];
  const hook = (r: GenerationRecord) => void seen.push(r.seq);
  log.on("appended", hook);
  await log.logGenerationEvent("a");
  for (let i = 0; i < 5 && seen.length < 1; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen, [0]);
  log.off("appended", hook);
  await log.close();
});

test("query options of the wrong type or form are input errors naming the option", async () => {
  const log = await openLog({ dataDir: tempDir() });
  await log.logGenerationEvent("backend", { user: "alice" });
  const bad: [Record<string, unknown>, string][] = [
    [{ actor: { a: 1 } }, "/actor"],
    [{ actor: null }, "/actor"],
    [{ type: 3 }, "/type"],
    [{ sector: ["health"] }, "/sector"],
    [{ status: 1 }, "/status"],
    [{ since: 5 }, "/since"],
    [{ since: "1" }, "/since"],
    [{ since: "2024-02-30" }, "/since"],
    [{ until: {} }, "/until"],
    [{ until: "2026-11-25T10:00" }, "/until"],
    [{ cursor: 42 }, "/cursor"],
    [{ cursor: { seq: 1 } }, "/cursor"],
    [{ limit: "10" }, "/limit"],
    [{ tenant: 7 }, "/tenant"],
    [{ user: 7 }, "/user"],
    [{ user: "alice", actor: "sub_aaaaaaaaaaaaaaaaaaaaaaaaaa" }, "/user"],
    [{ users: "alice" }, "/users"],
  ];
  for (const [options, pointer] of bad) {
    await assert.rejects(
      log.query(options as never),
      (e: unknown) =>
        isGenlogError(e, "GENLOG_E_INVALID_INPUT") &&
        e.details.pointer === pointer &&
        e.message.startsWith(pointer.slice(1)),
      JSON.stringify(options),
    );
  }
  // RFC 3339 date-times with an offset and plain dates are taken, compared in UTC.
  const rec = (await log.query()).records[0]!;
  const day = rec.ts.slice(0, 10);
  assert.equal((await log.query({ since: day })).records.length, 1);
  assert.equal((await log.query({ until: day })).records.length, 0);
  const later = new Date(Date.parse(rec.ts) + 1).toISOString().replace("Z", "+00:00");
  assert.equal((await log.query({ until: later, user: "alice" })).records.length, 1);
  assert.equal((await log.query({ until: later, actor: rec.actor! })).records.length, 1);
  assert.equal((await log.query({ actor: "alice" })).records.length, 0, "actors are pseudonyms");
  await log.close();
});

test("a bad maxBatch or instance fails at open, before any file is written", async () => {
  for (const maxBatch of [0, -1, Number.NaN, 1.5, Infinity, "8"]) {
    const dir = join(tempDir(), "data");
    await assert.rejects(
      openLog({ dataDir: dir, maxBatch: maxBatch as number }),
      (e: unknown) =>
        isGenlogError(e, "GENLOG_E_USAGE") &&
        e.details.pointer === "/maxBatch" &&
        e.message.includes(String(maxBatch)),
    );
    assert.equal(existsSync(dir), false);
  }
  const dir = join(tempDir(), "data");
  await assert.rejects(openLog({ dataDir: dir, instance: "Bad Name" }), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_INVALID_INPUT"),
  );
  assert.equal(existsSync(dir), false);
  const log = await openLog({ dataDir: dir, maxBatch: 1 });
  await Promise.all([log.logGenerationEvent("a"), log.logGenerationEvent("b")]);
  assert.equal(await log.size(), 2);
  await log.close();
});

/** The `<name>+<hex id>` of a verifier key line. */
function keyIdOf(verifierKey: string): string {
  return verifierKey.split("+").slice(0, 2).join("+");
}

test("a log whose key file is gone is refused at open, naming the key and where it was looked for", async () => {
  const dataDir = tempDir();
  let log = await openLog({ dataDir });
  for (let i = 0; i < 3; i++) await log.logGenerationEvent("backend");
  const key = await log.verifierKey();
  await log.close();
  const keysDir = join(dataDir, "keys");
  const keyFile = join(keysDir, "default.ed25519.pem");
  const saved = readFileSync(keyFile);
  const masterFile = join(keysDir, "master.key");
  const savedMaster = readFileSync(masterFile);
  rmSync(keysDir, { recursive: true });

  for (const options of [{ dataDir }, { dataDir, create: false }]) {
    await assert.rejects(
      openLog(options),
      (e: unknown) =>
        isGenlogError(e, "GENLOG_E_NOT_INITIALIZED") &&
        e.message.includes(keyIdOf(key)) &&
        e.message.includes(keysDir) &&
        e.message.includes("--keys-dir") &&
        e.message.includes("GENLOG_KEYS_DIR") &&
        e.details.expectedKey === keyIdOf(key) &&
        e.details.keysDir === keysDir,
    );
    // No new key was made in its place.
    assert.equal(existsSync(keyFile), false);
  }

  // With the signing key alone put back, the missing master key is named, and none is made.
  mkdirSync(keysDir, { mode: 0o700 });
  writeFileSync(keyFile, saved, { mode: 0o600 });
  await assert.rejects(
    openLog({ dataDir, create: false }),
    (e: unknown) =>
      isGenlogError(e, "GENLOG_E_NOT_INITIALIZED") &&
      e.message.includes(masterFile) &&
      e.message.includes("GENLOG_KEYS_DIR") &&
      e.details.keysDir === keysDir,
  );
  assert.equal(existsSync(masterFile), false);

  // Put back, the keys sign on where the log left off.
  writeFileSync(masterFile, savedMaster, { mode: 0o600 });
  log = await openLog({ dataDir, create: false });
  assert.equal((await log.logGenerationEvent("frontend")).seq, 3);
  assert.equal((await log.verify({ verifierKey: key })).ok, true);
  await log.close();
});

test("a key file that did not sign the log is refused at open, naming both keys", async () => {
  const dataDir = tempDir();
  const other = tempDir();
  let log = await openLog({ dataDir });
  await log.logGenerationEvent("backend");
  const key = await log.verifierKey();
  await log.close();
  // Another data directory's key for the same tenant name, copied over this one's.
  const stranger = await openLog({ dataDir: other });
  const strangerKey = await stranger.verifierKey();
  await stranger.close();
  const keyFile = join(dataDir, "keys", "default.ed25519.pem");
  const saved = readFileSync(keyFile);
  writeFileSync(keyFile, readFileSync(join(other, "keys", "default.ed25519.pem")));

  await assert.rejects(
    openLog({ dataDir }),
    (e: unknown) =>
      isGenlogError(e, "GENLOG_E_KEY") &&
      e.message.includes(`expected key ${keyIdOf(key)}`) &&
      e.message.includes(`got key ${keyIdOf(strangerKey)}`) &&
      e.message.includes("--keys-dir") &&
      e.details.foundKey === keyIdOf(strangerKey),
  );
  writeFileSync(keyFile, saved);
  log = await openLog({ dataDir });
  assert.equal((await log.logGenerationEvent("frontend")).seq, 1);
  await log.close();
});

test("the verifier key is recorded when the key is made, so an empty log refuses another key too", async () => {
  const dataDir = tempDir();
  const keysDir = join(tempDir(), "keys-elsewhere");
  let log = await openLog({ dataDir, keysDir });
  const key = await log.verifierKey();
  assert.equal(await log.size(), 0);
  await log.close();

  // Opened without the keys dir it was made in: no checkpoint yet, but the record names it.
  await assert.rejects(
    openLog({ dataDir }),
    (e: unknown) =>
      isGenlogError(e, "GENLOG_E_NOT_INITIALIZED") &&
      e.message.includes(keyIdOf(key)) &&
      e.message.includes(`created in ${keysDir}`) &&
      e.details.expectedVerifierKey === key,
  );
  assert.equal(existsSync(join(dataDir, "keys", "default.ed25519.pem")), false);

  // Another key in the default place is not taken either.
  const stranger = tempDir();
  await (await openLog({ dataDir: stranger })).close();
  mkdirSync(join(dataDir, "keys"), { mode: 0o700 });
  writeFileSync(
    join(dataDir, "keys", "default.ed25519.pem"),
    readFileSync(join(stranger, "keys", "default.ed25519.pem")),
    { mode: 0o600 },
  );
  await assert.rejects(openLog({ dataDir }), (e: unknown) => isGenlogError(e, "GENLOG_E_KEY"));

  log = await openLog({ dataDir, keysDir });
  assert.equal((await log.logGenerationEvent("backend")).seq, 0);
  await log.close();
});

test(
  "a log from before the key was recorded is checked against its checkpoint, then recorded",
  { skip: SQLITE_FILE },
  async () => {
    const dataDir = tempDir();
    let log = await openLog({ dataDir });
    await log.logGenerationEvent("backend");
    const key = await log.verifierKey();
    await log.close();
    const db = rawDatabase(join(dataDir, "genlog.db"));
    const deleted = db
      .prepare("DELETE FROM settings WHERE key IN ('verifier_key:default', 'keys_dir:default')")
      .run().changes;
    db.close();
    assert.equal(deleted, 2);

    log = await openLog({ dataDir });
    assert.equal((await log.logGenerationEvent("frontend")).seq, 1);
    await log.close();
    const check = new Database(join(dataDir, "genlog.db"), { readonly: true });
    const recorded = check
      .prepare("SELECT value FROM settings WHERE key = 'verifier_key:default'")
      .pluck()
      .get();
    check.close();
    assert.equal(recorded, key);
  },
);

test("a read-only handle is not refused for a stray key file: verify judges the checkpoints", async () => {
  const dataDir = tempDir();
  const other = tempDir();
  const log = await openLog({ dataDir });
  await log.logGenerationEvent("backend");
  const key = await log.verifierKey();
  await log.close();
  await (await openLog({ dataDir: other })).close();
  const keyFile = join(dataDir, "keys", "default.ed25519.pem");
  writeFileSync(keyFile, readFileSync(join(other, "keys", "default.ed25519.pem")));
  const reader = await openLog({ dataDir, readOnly: true });
  assert.equal((await reader.verify()).ok, false);
  assert.equal((await reader.verify({ verifierKey: key })).ok, true);
  await reader.close();
});

test("an empty dataDir or keysDir is a usage error, never the working directory", async () => {
  for (const options of [{ dataDir: "" }, { dataDir: tempDir(), keysDir: "" }]) {
    await assert.rejects(
      openLog(options),
      (e: unknown) =>
        isGenlogError(e, "GENLOG_E_USAGE") && /expected a directory path/.test(e.message),
    );
  }
});

test("close waits for appends still meeting their person or opening their tenant", async () => {
  const dataDir = tempDir();
  const log = await openLog({ dataDir });
  const pending = [
    log.append({ type: "backend", user: "first-time" }),
    log.append({ type: "backend", tenant: "other", user: "someone" }),
    log.append({ type: "backend", user: "first-time" }),
  ];
  await log.close();
  const records = await Promise.all(pending);
  assert.deepEqual(
    records.map((r) => [r.tenant, r.seq]),
    [
      ["default", 0],
      ["other", 0],
      ["default", 1],
    ],
  );
  assert.equal(records[0]!.actor, records[2]!.actor);
  const again = await openLog({ dataDir });
  assert.equal(await again.size(), 2);
  assert.equal((await again.query({ user: "first-time" })).records.length, 2);
  await again.close();
});

test("appends keep their callers' order while a person is looked up", async () => {
  const log = await openLog({ dataDir: tempDir() });
  const users = ["a", "b", null, "a", "c", null, "b"];
  const records = await Promise.all(
    users.map((user, i) => log.append({ type: "backend", user, meta: { i } })),
  );
  assert.deepEqual(
    records.map((r) => [r.seq, r.meta.i]),
    users.map((_, i) => [i, i]),
  );
  await log.close();
});

test("a validation error describes personal free text instead of quoting it", async () => {
  const log = await openLog({ dataDir: tempDir() });
  for (const [event, pointer] of [
    [{ type: "x", user: "alice@example.org".repeat(20) }, "/user"],
    [{ type: "x", id: "alice@example.org" }, "/id"],
  ] as const) {
    await assert.rejects(
      log.append(event as never),
      (e: unknown) =>
        isGenlogError(e, "GENLOG_E_INVALID_INPUT") &&
        e.details.pointer === pointer &&
        !e.message.includes("alice") &&
        /got a string of \d+ characters/.test(e.message),
    );
  }
  await log.close();
});

test("a verification's outcome is kept beside the log and shown with the tenant; a read-only handle keeps none", async () => {
  const dir = tempDir();
  const log = await openLog({ dataDir: dir });
  await log.append({ type: "backend" });
  await log.append({ type: "frontend" });
  const info = await log.tenantInfo();
  assert.equal(info.lastVerify, null);
  // Retention from a row or two: the first generation's time plus the default 365 days.
  const first = (await log.query({ limit: 1 })).records[0]!;
  assert.deepEqual(info.retention, {
    days: 365,
    isDefault: true,
    nextPurge: new Date(Date.parse(first.ts) + 365 * 86_400_000).toISOString(),
  });
  const reader = await openLog({ dataDir: dir, readOnly: true });
  assert.equal((await reader.verify()).ok, true);
  await reader.close();
  assert.equal((await log.tenantInfo()).lastVerify, null, "the read-only verify left nothing");
  const before = Date.now();
  const report = await log.verify();
  const last = (await log.tenantInfo()).lastVerify;
  assert.ok(last !== null);
  assert.equal(last.ok, report.ok);
  assert.equal(last.entries, 2);
  assert.equal(last.verifiedSize, 2);
  assert.equal(last.problems, 0);
  assert.equal(last.by, log.context.principal);
  assert.ok(Date.parse(last.at) >= before - 1000);
  // The access log's verification is its own, not the events'.
  await log.verify({ stream: "access" });
  assert.equal((await log.tenantInfo()).lastVerify?.entries, 2);
  await log.close();
});
