/**
 * Signing-key rotation: the change is a record of each log, in a checkpoint both keys sign;
 * the new key signs from then on, the old private key is gone, proofs on old checkpoints
 * still verify, and `verify` follows the chain from either key. Attacks are made on the real
 * database file and key files.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { canonicalize, isGenlogError, type Genlog } from "../src/index.js";
import { openLog } from "./helpers/store-under-test.js";
import { MerkleFrontier, hashLeafText } from "../src/core/merkle.js";
import { formatSignedNote, parseSignedNote, signNote } from "../src/core/signed-note.js";
import { parseCheckpoint, formatCheckpoint } from "../src/core/checkpoint.js";
import { KeySchedule } from "../src/core/key-schedule.js";
import {
  createKeyFile,
  ed25519Signer,
  readKeyFile,
  type FileSigner,
} from "../src/keys/file-keys.js";
import { checkInclusionProof } from "../src/core/proofs.js";
import { rawDatabase } from "./helpers/raw-database.js";
import { tempDir } from "./helpers/temp-dir.js";

const REASON = "routine yearly rotation";

/** A log of `n` records whose key was rotated after them, then `m` more records. */
async function rotated(
  n: number,
  m: number,
): Promise<{ dir: string; oldKey: string; newKey: string; oldPem: string; seq: number }> {
  const dir = tempDir();
  const log = await openLog({ dataDir: dir });
  for (let i = 0; i < n; i++) await log.logGenerationEvent("backend", { meta: { i } });
  const oldPem = join(dir, "old.pem");
  cpSync(join(dir, "keys", "default.ed25519.pem"), oldPem);
  const r = await log.rotateKey({ reason: REASON });
  for (let i = 0; i < m; i++) await log.logGenerationEvent("frontend", { meta: { i } });
  await log.close();
  const seq = r.logs.find((l) => l.origin.endsWith("/events"))!.seq;
  return { dir, oldKey: r.previous, newKey: r.next, oldPem, seq };
}

function checkpoints(dir: string): { size: number; note: string }[] {
  const db = new Database(join(dir, "genlog.db"), { readonly: true });
  try {
    return db
      .prepare(
        "SELECT c.size, c.note FROM checkpoints c JOIN logs l ON l.log_id = c.log_id WHERE l.stream = 'events' ORDER BY c.size",
      )
      .all() as { size: number; note: string }[];
  } finally {
    db.close();
  }
}

function signers(note: string): string[] {
  return parseSignedNote(note).signatures.map((s) => s.keyId.toString(16).padStart(8, "0"));
}

const idOf = (verifierKey: string) => verifierKey.split("+")[1]!;

async function withLog<T>(dir: string, fn: (log: Genlog) => Promise<T>): Promise<T> {
  const log = await openLog({ dataDir: dir, create: false });
  try {
    return await fn(log);
  } finally {
    await log.close();
  }
}

test("the old key signs up to the rotation, both sign its checkpoint, the new key after it", async () => {
  const { dir, oldKey, newKey, seq } = await rotated(3, 2);
  assert.notEqual(oldKey, newKey);
  assert.equal(seq, 3);
  for (const { size, note } of checkpoints(dir)) {
    const expected: string[] =
      size < seq + 1
        ? [idOf(oldKey)]
        : size === seq + 1
          ? [idOf(oldKey), idOf(newKey)]
          : [idOf(newKey)];
    assert.deepEqual(signers(note), expected, `checkpoint ${size}`);
  }
  await withLog(dir, async (log) => {
    const record = await log.get(seq);
    assert.equal(record!.type, "genlog.key-rotation");
    assert.deepEqual(record!.meta, { next: newKey, previous: oldKey, reason: REASON });
    assert.equal(await log.verifierKey(), newKey);
    const info = await log.keyInfo();
    assert.deepEqual(info.keys, [
      { verifierKey: oldKey, from: 0, to: seq + 1 },
      { verifierKey: newKey, from: seq + 1, to: null },
    ]);
  });
});

test("verify passes from the new key and from the old one, and says which key signed what", async () => {
  const { dir, oldKey, newKey, seq } = await rotated(4, 3);
  await withLog(dir, async (log) => {
    for (const verifierKey of [newKey, oldKey]) {
      const report = await log.verify({ verifierKey });
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      assert.equal(report.verifiedSize, 8);
      assert.deepEqual(
        report.keys?.map((k) => [k.verifierKey, k.from, k.to]),
        [
          [oldKey, 0, seq + 1],
          [newKey, seq + 1, null],
        ],
      );
    }
    // A checkpoint published before the rotation is still a trusted starting point.
    const before = checkpoints(dir).find((c) => c.size === 2)!.note;
    assert.equal((await log.verify({ trusted: before })).ok, true);
    const access = await log.verify({ stream: "access" });
    assert.equal(access.ok, true, JSON.stringify(access.problems));
  });
});

test("proofs on checkpoints of the old key still verify with the old key; consistency crosses the rotation", async () => {
  const { dir, oldKey, newKey } = await rotated(4, 2);
  await withLog(dir, async (log) => {
    const old = await log.inclusionProof(1, { treeSize: 3 });
    assert.equal(checkInclusionProof(old, oldKey).size, 3);
    assert.throws(
      () => checkInclusionProof(old, newKey),
      (e) => isGenlogError(e, "GENLOG_E_BAD_SIGNATURE"),
    );
    const now = await log.inclusionProof(1);
    assert.equal(checkInclusionProof(now, newKey).size, 7);
    const c = await log.consistencyProof(2, { to: 7 });
    assert.equal(c.from, 2);
    assert.equal(c.to, 7);
  });
});

test("the old private key is gone from the keys directory; reopening signs with the new key", async () => {
  const { dir, oldPem, newKey } = await rotated(2, 0);
  const oldText = readFileSync(oldPem, "utf8");
  const keysDir = join(dir, "keys");
  const files = readdirSync(keysDir, { recursive: true, withFileTypes: true }).filter((f) =>
    f.isFile(),
  );
  for (const f of files) {
    assert.notEqual(readFileSync(join(f.parentPath, f.name), "utf8"), oldText, f.name);
  }
  assert.equal(
    ed25519Signer("genlog.local/default", readKeyFile(join(keysDir, "default.ed25519.pem")))
      .verifierKey,
    newKey,
  );
  await withLog(dir, async (log) => {
    await log.logGenerationEvent("model");
    const note = (await log.checkpoint())!;
    assert.deepEqual(signers(note), [idOf(newKey)]);
    assert.equal((await log.verify()).ok, true);
  });
});

test("a thief of the old key cannot extend the log after the rotation: verify names the checkpoint", async () => {
  const { dir, oldPem, seq } = await rotated(3, 2);
  const stolen = readKeyFile(oldPem);
  const db = rawDatabase(join(dir, "genlog.db"));
  try {
    const row = db
      .prepare(
        "SELECT c.log_id AS logId, c.size, c.note FROM checkpoints c JOIN logs l ON l.log_id = c.log_id WHERE l.stream = 'events' ORDER BY c.size DESC LIMIT 1",
      )
      .get() as { logId: number; size: number; note: string };
    // The same checkpoint, re-signed by the old key only.
    const body = parseSignedNote(row.note).body;
    db.prepare("UPDATE checkpoints SET note = ? WHERE log_id = ? AND size = ?").run(
      signNote(body, "genlog.local/default", stolen),
      row.logId,
      row.size,
    );
    assert.ok(row.size > seq + 1);
  } finally {
    db.close();
  }
  // A writer refuses the log at once: its latest checkpoint is not the current key's.
  await assert.rejects(openLog({ dataDir: dir, create: false }), (e) =>
    isGenlogError(e, "GENLOG_E_KEY"),
  );
  const log = await openLog({ dataDir: dir, readOnly: true });
  try {
    const report = await log.verify();
    assert.equal(report.ok, false);
    assert.ok(
      report.problems.some((p) => p.kind === "forged-checkpoint" && p.size === seq + 3),
      JSON.stringify(report.problems),
    );
  } finally {
    await log.close();
  }
});

test("a rotation record edited to name another key, or deleted, fails verify at that entry", async () => {
  for (const attack of ["edit", "delete"] as const) {
    const { dir, seq } = await rotated(3, 2);
    const intruderPath = join(dir, "intruder.pem");
    createKeyFile(intruderPath);
    const intruder = ed25519Signer("genlog.local/default", readKeyFile(intruderPath));
    const db = rawDatabase(join(dir, "genlog.db"));
    try {
      const { record } = db
        .prepare(
          "SELECT record FROM entries e JOIN logs l ON l.log_id = e.log_id WHERE l.stream = 'events' AND e.seq = ?",
        )
        .get(seq) as { record: string };
      if (attack === "edit") {
        const r = JSON.parse(record) as { meta: { next: string } };
        r.meta.next = intruder.verifierKey;
        db.prepare(
          "UPDATE entries SET record = ? WHERE seq = ? AND log_id = (SELECT log_id FROM logs WHERE stream = 'events')",
        ).run(JSON.stringify(r), seq);
      } else {
        db.prepare(
          "DELETE FROM entries WHERE seq = ? AND log_id = (SELECT log_id FROM logs WHERE stream = 'events')",
        ).run(seq);
      }
    } finally {
      db.close();
    }
    await withLog(dir, async (log) => {
      const report = await log.verify();
      assert.equal(report.ok, false, attack);
      const kind = attack === "edit" ? "modified" : "missing";
      assert.ok(
        report.problems.some((p) => p.kind === kind && p.index === seq),
        `${attack}: ${JSON.stringify(report.problems)}`,
      );
    });
  }
});

test("a rotation record no checkpoint of both keys vouches for changes no key: a forged history fails", async () => {
  for (const at of [0, 2]) {
    const dir = tempDir();
    const victim = await openLog({ dataDir: dir });
    for (let i = 0; i < 6; i++) await victim.logGenerationEvent("backend", { meta: { amount: i } });
    const k0 = await victim.verifierKey();
    await victim.close();
    // The attacker writes the database, holds a key of their own, not the tenant's.
    const attackerPath = join(tempDir(), "attacker.pem");
    createKeyFile(attackerPath);
    const attacker = ed25519Signer("genlog.local/default", readKeyFile(attackerPath));
    const db = rawDatabase(join(dir, "genlog.db"));
    try {
      const { logId, origin } = db
        .prepare("SELECT log_id AS logId, origin FROM logs WHERE stream = 'events'")
        .get() as { logId: number; origin: string };
      const rows = db
        .prepare("SELECT seq, record FROM entries WHERE log_id = ? ORDER BY seq")
        .all(logId) as { seq: number; record: string }[];
      const frontier = new MerkleFrontier();
      for (const row of rows) {
        const r = JSON.parse(row.record) as Record<string, unknown>;
        if (row.seq === at) {
          r["type"] = "genlog.key-rotation";
          r["meta"] = { next: attacker.verifierKey, previous: k0, reason: "x" };
        } else if (row.seq > at) r["meta"] = { amount: 1_000_000 };
        const text = row.seq >= at ? canonicalize(r) : row.record;
        const leaf = hashLeafText(text);
        const nodes = frontier.appendOwned(leaf);
        if (row.seq < at) continue;
        db.prepare(
          "UPDATE entries SET record = ?, leaf_hash = ?, nodes = ? WHERE log_id = ? AND seq = ?",
        ).run(text, leaf, nodes, logId, row.seq);
        db.prepare("DELETE FROM checkpoints WHERE log_id = ? AND size = ?").run(logId, row.seq + 1);
        // No checkpoint at the rotation (it would need the tenant's key); the attacker's after.
        if (row.seq !== at) {
          const note = attacker.sign(
            formatCheckpoint({ origin, size: row.seq + 1, rootHash: frontier.root() }),
          );
          db.prepare("INSERT INTO checkpoints (log_id, size, note) VALUES (?, ?, ?)").run(
            logId,
            row.seq + 1,
            note,
          );
        }
      }
    } finally {
      db.close();
    }
    const log = await openLog({ dataDir: dir, readOnly: true });
    try {
      const report = await log.verify({ verifierKey: k0 });
      assert.equal(report.ok, false, `rotation at ${at}: ${JSON.stringify(report.keys)}`);
      assert.equal(report.keys, undefined, "the forged rotation adds no key");
      assert.ok(
        report.problems.some((p) => p.kind === "missing-checkpoint" && p.index === at),
        JSON.stringify(report.problems),
      );
    } finally {
      await log.close();
    }
  }
});

test("a handle that loaded the old key fails the append that finds another handle rotated it, then loads the new key", async () => {
  const dir = tempDir();
  const a = await openLog({ dataDir: dir });
  await a.logGenerationEvent("backend");
  const b = await openLog({ dataDir: dir });
  await b.rotateKey({ reason: REASON });
  await assert.rejects(
    a.logGenerationEvent("frontend"),
    (e) => isGenlogError(e, "GENLOG_E_KEY") && e.details["reason"] === "rotated",
  );
  // Having seen it, the handle loads the new key file: the next append goes through (a
  // server keeps serving after a rotation made with the CLI).
  const after = await a.logGenerationEvent("frontend");
  assert.equal(after.seq, 2);
  await b.logGenerationEvent("frontend");
  await a.close();
  await b.close();
  await withLog(dir, async (log) => assert.equal((await log.verify()).ok, true));
});

test("a rotation stopped before its key file was moved blocks appends with a clear error; running it again finishes it", async () => {
  const dir = tempDir();
  const log = await openLog({ dataDir: dir });
  await log.logGenerationEvent("backend");
  await log.query({ limit: 1 }); // the access log exists too
  const current = join(dir, "keys", "default.ed25519.pem");
  const pem = readFileSync(current);
  // The move fails: a directory where the key file was (even root cannot rename over it).
  rmSync(current);
  mkdirSync(join(current, "x"), { recursive: true });
  // Appends made once the events log's rotation committed (from the hook that sees it), while
  // the access log is rotated: they wait for the key file to move, and when it cannot, they
  // fail. No checkpoint that only the new key signs may exist while the old key file is in
  // place: the log could not be extended or finished after a crash.
  const racing: Promise<unknown>[] = [];
  log.on("appended", (record) => {
    if (record.type !== "genlog.key-rotation") return;
    for (let i = 0; i < 5; i++) racing.push(log.logGenerationEvent("model", { meta: { i } }));
  });
  await assert.rejects(log.rotateKey({ reason: REASON }), (e) => isGenlogError(e, "GENLOG_E_KEY"));
  assert.equal(racing.length, 5);
  for (const r of await Promise.allSettled(racing)) {
    assert.equal(r.status, "rejected");
    assert.ok(isGenlogError(r.reason, "GENLOG_E_KEY"), String(r.reason));
  }
  await log.close();
  const latest = checkpoints(dir).at(-1)!;
  assert.equal(signers(latest.note).length, 2, "the last checkpoint is the rotation's, both keys");
  rmSync(current, { recursive: true });
  writeFileSync(current, pem, { mode: 0o600 });

  const again = await openLog({ dataDir: dir, create: false });
  await assert.rejects(
    again.logGenerationEvent("frontend"),
    (e) =>
      isGenlogError(e, "GENLOG_E_KEY") &&
      e.details["reason"] === "rotated" &&
      e.message.includes("genlog keys rotate"),
  );
  const r = await again.rotateKey({ reason: REASON });
  assert.deepEqual(r.logs, [], "both logs were rotated by the first run");
  await again.logGenerationEvent("frontend");
  assert.equal((await again.verify()).ok, true);
  assert.equal((await again.verify({ stream: "access" })).ok, true);
  assert.equal(await again.verifierKey(), r.next);
  await again.close();
  assert.deepEqual(readdirSync(join(dir, "keys", "rotating")), []);
});

test("a second rotation chains on the first; verify from the first key follows both", async () => {
  const { dir, oldKey } = await rotated(2, 1);
  await withLog(dir, async (log) => {
    const second = await log.rotateKey({ reason: "second" });
    await log.logGenerationEvent("model");
    const report = await log.verify({ verifierKey: oldKey });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.keys?.length, 3);
    assert.equal(report.keys?.at(-1)?.verifierKey, second.next);
  });
});

test("rotation needs tenant.admin, a reason, and is recorded in the access log", async () => {
  const dir = tempDir();
  const log = await openLog({ dataDir: dir });
  await log.logGenerationEvent("backend");
  const auditor = log.as({ principal: "tok_a", role: "auditor", scope: "default", via: "library" });
  await assert.rejects(auditor.rotateKey({ reason: REASON }), (e) =>
    isGenlogError(e, "GENLOG_E_FORBIDDEN"),
  );
  await assert.rejects(log.rotateKey({ reason: "" }), (e) =>
    isGenlogError(e, "GENLOG_E_INVALID_INPUT"),
  );
  const admin = log.as({ principal: "tok_b", role: "admin", scope: "default", via: "library" });
  await admin.rotateKey({ reason: REASON });
  const page = await log.accessLog({ limit: 100 });
  const ops = page.records.map((r) => [r.meta["operation"], r.meta["decision"]]);
  assert.deepEqual(
    ops.filter(([op]) => op === "rotateKey"),
    [
      ["rotateKey", "deny"],
      ["rotateKey", "allow"],
    ],
  );
  await log.close();
});

test("KeySchedule: a checkpoint verifies only with the keys of its size", () => {
  const [a, b, c] = ["a", "b", "c"].map((n) => {
    const path = join(keyDir, `${n}.pem`);
    createKeyFile(path);
    return ed25519Signer("i/t", readKeyFile(path));
  }) as [FileSigner, FileSigner, FileSigner];
  const rotations = [{ seq: 4, previous: a.verifierKey, next: b.verifierKey }];
  const schedule = KeySchedule.follow(a.verifierKey, rotations);
  const body = (size: number) =>
    formatCheckpoint({ origin: "i/t/events", size, rootHash: new Uint8Array(32) });
  const cosigned = (size: number) =>
    formatSignedNote(body(size), [
      ...parseSignedNote(a.sign(body(size))).signatures,
      ...parseSignedNote(b.sign(body(size))).signatures,
    ]);
  assert.equal(parseCheckpoint(schedule.verify(a.sign(body(3)))).size, 3);
  assert.throws(() => schedule.verify(b.sign(body(3))), "the new key did not sign before");
  assert.throws(() => schedule.verify(a.sign(body(5))), "the boundary needs both keys");
  assert.equal(parseCheckpoint(schedule.verify(cosigned(5))).size, 5);
  assert.throws(() => schedule.verify(a.sign(body(6))), "the old key is over after the boundary");
  assert.equal(parseCheckpoint(schedule.verify(b.sign(body(6)))).size, 6);
  // Pinning the new key follows the chain back; a key outside it verifies only its own.
  const fromNew = KeySchedule.follow(b.verifierKey, rotations);
  assert.equal(parseCheckpoint(fromNew.verify(a.sign(body(2)))).size, 2);
  const outsider = KeySchedule.follow(c.verifierKey, rotations);
  assert.throws(() => outsider.verify(a.sign(body(2))));
  assert.equal(outsider.epochs.length, 1);
});

const keyDir = tempDir();
