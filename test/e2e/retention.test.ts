/**
 * Retention and purge: bodies go, the tree stays. After a purge, old checkpoints, consistency
 * proofs and the inclusion proofs of remaining entries still verify, `verify` reports the
 * purged ranges (never as tampering), the space is given back, and holds refuse it. Attacks on
 * the bytes: a body deleted without a purge, a kept system event deleted inside a purged
 * range, and a purge event whose range was widened are all named by `verify`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cpSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { gunzipSync, gzipSync } from "node:zlib";
import { join } from "node:path";
import {
  checkArchive,
  checkInclusionProof,
  isGenlogError,
  type ArchiveManifest,
  type Genlog,
  type VerifyReport,
} from "../../src/index.js";
import { openLog, SQLITE_FILE } from "../helpers/store-under-test.js";
import { tempDir } from "../helpers/temp-dir.js";
import { rawDatabase } from "../helpers/raw-database.js";
import { genlog } from "../helpers/run-cli.js";
import { leaks } from "../helpers/disk-scan.js";

async function filled(n: number): Promise<{ dir: string; log: Genlog }> {
  const dir = tempDir();
  const log = await openLog({ dataDir: dir });
  const batch = [];
  for (let i = 0; i < n; i++) {
    batch.push(
      log.append({
        type: i % 2 === 0 ? "backend" : "frontend",
        user: `person-${i % 20}`,
        meta: { note: `mail person-${i % 20}@example.org`, pad: "x".repeat(300) },
      }),
    );
  }
  await Promise.all(batch);
  return { dir, log };
}

/**
 * A cutoff after every record appended so far: the clock is waited for until it has moved
 * past the last record's time (a record of the same millisecond as the cutoff is not before it).
 */
async function cutoffNow(log: Genlog): Promise<string> {
  const size = await log.size();
  const last = Date.parse((await log.get(size - 1)).ts);
  while (Date.now() <= last) await new Promise((r) => setTimeout(r, 1));
  return new Date().toISOString();
}

function kinds(r: VerifyReport): string[] {
  return r.problems.map((p) => `${p.kind}${p.index !== undefined ? `@${p.index}` : ""}`);
}

test(
  "a purge deletes old bodies, keeps the tree and system events, and every proof still verifies",
  { skip: SQLITE_FILE },
  async () => {
    const filledLog = await filled(3000);
    const { dir } = filledLog;
    // Closed, the database is one file: its size is the size of the data.
    await filledLog.log.close();
    const before = statSync(join(dir, "genlog.db")).size;
    const log = await openLog({ dataDir: dir });
    // A purged record's envelope with a value in it (not only the actor): its ciphertext must
    // be gone from every file once purged.
    const gone = (await log.get(7)).pii!.ct;
    assert.deepEqual(leaks(dir, [["envelope", gone]]).length > 0, true, "the scan sees it first");
    await log.setHold({ subject: "person-3", reason: "case 9" });
    await log.releaseHold({ subject: "person-3", reason: "closed" });
    const key = await log.verifierKey();
    const oldCheckpoint = (await log.checkpoint())!;
    const oldSize = Number(oldCheckpoint.split("\n")[1]);

    const cutoff = await cutoffNow(log);
    const dry = await log.purge({ before: cutoff, dryRun: true });
    assert.equal(dry.purged, 3000);
    assert.equal(await log.size(), oldSize, "a dry run appends nothing");

    const r = await log.purge({ before: cutoff });
    assert.equal(r.purged, 3000);
    assert.deepEqual(
      r.ranges.map((x) => [x.fromSeq, x.toSeq, x.kept]),
      [[0, 3002, [3000, 3001]]],
    );
    assert.ok(r.freedBytes > 0);

    // Verify: intact, with the range reported as purged.
    const v = await log.verify();
    assert.deepEqual(v.problems, []);
    assert.equal(v.ok, true);
    assert.deepEqual(v.purged, { entries: 3000, ranges: [[0, 3002]] });

    // The old checkpoint still proves consistent; a remaining entry still proves included.
    const c = await log.consistencyProof(oldSize);
    assert.equal(c.from, oldSize);
    const proof = await log.inclusionProof(3001);
    assert.equal(checkInclusionProof(proof, key).size, await log.size());
    await assert.rejects(
      log.get(5),
      (e: unknown) => isGenlogError(e, "GENLOG_E_NOT_FOUND") && /purged/.test(e.message),
    );
    // A purge keeps the subjects (a person may appear again): their next record is readable.
    assert.equal((await log.gdprReport()).subjects.current, 20);
    const backAgain = await log.append({ type: "backend", user: "person-7" });
    assert.deepEqual((await log.reveal([backAgain]))[0]!.revealed, {
      actor: "person-7",
      values: {},
    });
    assert.equal((await log.exportSubject({ subject: "person-7" })).records.length, 1);
    // Only genlog's own events are left to read.
    assert.deepEqual(
      (await log.query({})).records.map((x) => x.type),
      ["genlog.hold", "genlog.hold-release", "genlog.purge", "backend", "genlog.subject-export"],
    );
    await log.close();
    const after = statSync(join(dir, "genlog.db")).size;
    assert.ok(after < before / 2, `space was given back: ${before} -> ${after} bytes`);
    assert.deepEqual(leaks(dir, [["envelope", gone]]), []);

    // Nothing is left to purge up to the same cutoff.
    const again = await openLog({ dataDir: dir });
    assert.equal((await again.purge({ before: r.cutoff })).ranges.length, 0);
    await again.close();
  },
);

test("legal holds refuse a purge; retention is a recorded setting", async () => {
  const { log } = await filled(40);
  const now = await cutoffNow(log);
  // A person with a record after the cutoff keeps their key through the purges below.
  await log.append({ type: "later", user: "person-5" });
  await log.setHold({ reason: "audit 2026" });
  await assert.rejects(log.purge({ before: now }), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_HELD"),
  );
  await log.releaseHold({ reason: "done" });
  await log.setHold({ subject: "person-4", reason: "case" });
  await assert.rejects(log.purge({ before: now }), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_HELD"),
  );
  // A cutoff before the held person's first record is fine.
  const first = (await log.query({ user: "person-4" })).records[0]!;
  assert.equal((await log.purge({ before: first.ts })).purged <= first.seq, true);
  await log.releaseHold({ subject: "person-4", reason: "closed" });

  assert.deepEqual(
    { days: (await log.retention()).days, isDefault: (await log.retention()).isDefault },
    { days: 365, isDefault: true },
  );
  const set = await log.setRetention({ days: 90, reason: "CNIL: 3 months for this service" });
  assert.equal(set.belowAiActMinimum, true);
  assert.equal(set.record.type, "genlog.retention");
  assert.equal((await log.retention()).days, 90);
  await assert.rejects(
    log.setRetention({ days: 0, reason: "x" }),
    (e: unknown) => isGenlogError(e, "GENLOG_E_INVALID_INPUT") && e.details.pointer === "/days",
  );
  await assert.rejects(
    log.purge({ before: "2999-01-01T00:00:00Z" }),
    (e: unknown) => isGenlogError(e, "GENLOG_E_INVALID_INPUT") && e.details.pointer === "/before",
  );
  // With 90 days, nothing appended today is due.
  assert.equal((await log.purge()).purged, 0);
  await log.purge({ before: now });
  const [kept] = (await log.query({ user: "person-5" })).records;
  assert.equal(kept!.type, "later");
  assert.deepEqual((await log.reveal([kept!]))[0]!.revealed, { actor: "person-5", values: {} });
  assert.equal((await log.verify()).ok, true);
  await log.close();
});

test(
  "a body deleted outside a purge, a kept event deleted in a purged range, a widened purge: verify names each",
  { skip: SQLITE_FILE },
  async () => {
    const attacks: [string, (db: ReturnType<typeof rawDatabase>) => void, string[]][] = [
      [
        "a record body deleted outside any purge",
        (db) => db.prepare("DELETE FROM bodies WHERE seq = 250").run(),
        ["missing@250"],
      ],
      [
        "a kept system event deleted inside the purged range",
        (db) => db.prepare("DELETE FROM bodies WHERE seq = 200").run(),
        ["missing@200"],
      ],
      [
        "the purge event's range widened to cover more",
        (db) =>
          db
            .prepare(
              `UPDATE bodies SET record = replace(record, '"toSeq":202', '"toSeq":260') WHERE type = 'genlog.purge'`,
            )
            .run(),
        ["modified@202"],
      ],
      [
        "a purge range added to the store's table, which would let bodies go and purges skip them",
        (db) =>
          db
            .prepare(
              "INSERT INTO purges (log_id, from_seq, to_seq, event_id) VALUES (1, 202, 900, 'x')",
            )
            .run(),
        ["store-damaged"],
      ],
      [
        "the purge event deleted: its range is no longer explained",
        (db) => db.prepare("DELETE FROM bodies WHERE type = 'genlog.purge'").run(),
        ["missing@0", "missing@202"],
      ],
    ];
    for (const [what, attack, expected] of attacks) {
      const { dir, log } = await filled(200);
      await log.setHold({ reason: "x" }); // seq 200, kept by the purge
      await log.releaseHold({ reason: "y" }); // seq 201
      await log.purge({ before: await cutoffNow(log) }); // seq 202: purges 0..201, keeps 200, 201
      for (let i = 0; i < 60; i++) await log.append({ type: "later" }); // 203..262
      await log.close();
      const db = rawDatabase(join(dir, "genlog.db"));
      attack(db);
      db.close();
      const reader = await openLog({ dataDir: dir, readOnly: true });
      const r = await reader.verify();
      await reader.close();
      assert.equal(r.ok, false, what);
      const got = kinds(r);
      for (const k of expected)
        assert.ok(got.includes(k), `${what}: ${JSON.stringify(r.problems)}`);
    }
  },
);

test(
  "the store refuses to delete a body outside a purge, even by hand",
  { skip: SQLITE_FILE },
  async () => {
    const { dir, log } = await filled(5);
    await log.close();
    const Database = (await import("better-sqlite3")).default;
    const db = new Database(join(dir, "genlog.db"));
    assert.throws(() => db.prepare("DELETE FROM bodies WHERE seq = 1").run(), /only by a purge/);
    assert.throws(() => db.prepare("DELETE FROM tree WHERE seq = 1").run(), /append-only/);
    assert.throws(
      () => db.prepare("UPDATE bodies SET record = 'x' WHERE seq = 1").run(),
      /never changed/,
    );
    db.close();
  },
);

test("CLI: retention show|set and purge --dry-run, then purge and verify", async () => {
  const dir = tempDir();
  assert.equal((await genlog(dir, "init")).code, 0);
  for (let i = 0; i < 3; i++)
    assert.equal((await genlog(dir, "log", "backend", "--user", "ann")).code, 0);
  const shown = await genlog(dir, "retention", "show", "--json");
  assert.equal(JSON.parse(shown.stdout).days, 365);
  const set = await genlog(dir, "retention", "set", "--days", "120", "--reason", "policy v2");
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stderr, /AI Act/);
  const now = new Date().toISOString();
  const dry = await genlog(dir, "purge", "--before", now, "--dry-run");
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /would purge 3 records/);
  const done = await genlog(dir, "purge", "--before", now, "--json");
  assert.equal(done.code, 0, done.stderr);
  assert.equal(JSON.parse(done.stdout).purged, 3);
  const v = await genlog(dir, "verify", "--json");
  assert.equal(v.code, 0, v.stdout);
  assert.deepEqual(JSON.parse(v.stdout).purged.entries, 3);
  const bad = await genlog(dir, "purge", "--before", "tomorrow");
  assert.equal(bad.code, 2);
});

test("archive before purge: the archive proves its records with the key alone, and any change fails it", async () => {
  const { dir, log } = await filled(120);
  const key = await log.verifierKey();
  const cutoff = await cutoffNow(log);
  await log.append({ type: "after-cutoff" });
  const out = join(dir, "archive-1");
  const m = await log.archive({ before: cutoff, out });
  assert.deepEqual([m.fromSeq, m.toSeq, m.records], [0, 120, 120]);
  assert.deepEqual((await checkArchive(out, key)).problems, []);
  await log.purge({ before: cutoff });
  // A second archive starts where the purge stopped, proved with the subtrees before it.
  for (let i = 0; i < 30; i++) await log.append({ type: "later" });
  const second = join(dir, "archive-2");
  const m2 = await log.archive({ before: await cutoffNow(log), out: second });
  assert.deepEqual([m2.fromSeq, m2.toSeq], [120, 152]);
  const ok2 = await checkArchive(second, key);
  assert.deepEqual(ok2.problems, []);
  await assert.rejects(log.archive({ before: cutoff, out: second }), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_USAGE"),
  );
  await log.close();

  // A record changed and the manifest's digest updated to match: the tree no longer fits.
  const forged = join(dir, "forged");
  cpSync(out, forged, { recursive: true });
  const lines = gunzipSync(readFileSync(join(forged, "records.ndjson.gz"))).toString("utf8");
  const changed = gzipSync(Buffer.from(lines.replace('"type":"frontend"', '"type":"frontenD"')));
  writeFileSync(join(forged, "records.ndjson.gz"), changed);
  const manifest = JSON.parse(
    readFileSync(join(forged, "manifest.json"), "utf8"),
  ) as ArchiveManifest;
  manifest.files.find((f) => f.name === "records.ndjson.gz")!.sha256 = createHash("sha256")
    .update(changed)
    .digest("hex");
  writeFileSync(join(forged, "manifest.json"), JSON.stringify(manifest));
  const bad = await checkArchive(forged, key);
  assert.equal(bad.ok, false);
  assert.match(bad.problems.map((p) => p.message).join(), /do not give a tree/);
  // One flipped byte: the file's digest names it.
  const flipped = join(dir, "flipped");
  cpSync(second, flipped, { recursive: true });
  const proof = readFileSync(join(flipped, "proof.json"));
  proof[40] = proof[40]! ^ 1;
  writeFileSync(join(flipped, "proof.json"), proof);
  assert.match(
    (await checkArchive(flipped, key)).problems.map((p) => p.message).join(),
    /proof\.json was changed/,
  );
  // Another log's key does not vouch for it.
  const other = await openLog({ dataDir: tempDir() });
  await other.append({ type: "x" });
  assert.equal((await checkArchive(out, await other.verifierKey())).ok, false);
  await other.close();

  const cli = await genlog(dir, "verify", "--archive", second, "--verifier-key", key);
  assert.equal(cli.code, 0, cli.stdout + cli.stderr);
  const cliBad = await genlog(dir, "verify", "--archive", forged, "--verifier-key", key);
  assert.equal(cliBad.code, 1);
});
