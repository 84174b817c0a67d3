/**
 * Erasure, legal holds and the subject export, from the library and the CLI, checked on the
 * bytes on disk and with the proofs: an erased subject's key and lookup value are nowhere
 * under the data directory, their records stay and verify, a hold refuses erasure, and an
 * export proves each record while any changed byte fails it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { checkSubjectExport, isGenlogError, type SubjectExport } from "../../src/index.js";
import { openLog, SQLITE_FILE } from "../helpers/store-under-test.js";
import { tempDir } from "../helpers/temp-dir.js";
import { leakedBytes, leaks } from "../helpers/disk-scan.js";
import { genlog } from "../helpers/run-cli.js";

function subjectRows(dataDir: string): { pseudonym: string; lookup: Buffer; wrapped: Buffer }[] {
  const db = new Database(join(dataDir, "genlog.db"), { readonly: true });
  try {
    return db
      .prepare("SELECT pseudonym, lookup, wrapped_key AS wrapped FROM subjects ORDER BY pseudonym")
      .all() as { pseudonym: string; lookup: Buffer; wrapped: Buffer }[];
  } finally {
    db.close();
  }
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => isGenlogError(e) && e.code === code);
}

test(
  "erasure destroys the subject's key and lookup on disk, keeps their records and every proof",
  { skip: SQLITE_FILE },
  async () => {
    const dataDir = tempDir();
    const log = await openLog({ dataDir });
    for (let i = 0; i < 20; i++) {
      await log.append({ type: "backend", user: "alice", meta: { contact: "alice@example.org" } });
    }
    await log.append({ type: "backend", user: "bob", meta: { contact: "bob@example.com" } });
    const before = await log.checkpoint();
    const [alice] = await log.exportSubject({ subject: "alice" }).then((x) => x.subject.keys);
    const rows = subjectRows(dataDir);
    const aliceRow = rows.find((r) => r.pseudonym === alice!.pseudonym)!;
    assert.ok(aliceRow, "alice has a subject row");

    const erased = await log.eraseSubject({
      subject: "alice",
      reason: "GDPR Art. 17 request from alice@example.org",
    });
    assert.deepEqual(erased.pseudonyms, [alice!.pseudonym]);
    assert.equal(erased.scrubbed, true);
    // The erasure event names the pseudonym and the reason, redacted like any meta value.
    assert.equal(erased.record.type, "genlog.erasure");
    assert.equal(erased.record.actor, null);
    assert.deepEqual(erased.record.meta["pseudonyms"], [alice!.pseudonym]);
    assert.doesNotMatch(String(erased.record.meta["reason"]), /alice@example\.org/);

    // Nothing of alice's key material is left in any file, while the log is open (WAL
    // emptied) and after close; bob's is still there (the scan sees what it looks for).
    const keyMaterial = (row: typeof aliceRow, who: string): [string, Buffer][] => [
      [`${who}'s wrapped key`, row.wrapped],
      [`${who}'s lookup`, row.lookup],
    ];
    const aliceBytes: [string, Buffer][] = [
      ...keyMaterial(aliceRow, "alice"),
      ["alice's data key", Buffer.from(alice!.dataKey, "base64")],
    ];
    assert.deepEqual(leakedBytes(dataDir, aliceBytes), []);
    const bobRow = rows.find((r) => r.pseudonym !== alice!.pseudonym)!;
    assert.equal(leakedBytes(dataDir, keyMaterial(bobRow, "bob")).length > 0, true);

    // Records stay (ciphertext), proofs hold, the person cannot be found or read.
    assert.equal(await log.size(), 23, "21 records, the export and the erasure events");
    assert.equal((await log.verify()).ok, true);
    assert.deepEqual((await log.query({ user: "alice" })).records, []);
    const all = (await log.query({ type: "backend" })).records;
    const views = (await log.reveal(all)).map((r) => r.revealed);
    assert.equal(views.filter((v) => v !== null && "erased" in v).length, 20);
    assert.deepEqual(views[20], { actor: "bob", values: { "/meta/contact": "bob@example.com" } });
    // The checkpoint from before still proves consistent with the log after.
    const cp = await log.consistencyProof(Number(before!.split("\n")[1]));
    assert.equal(cp.to, 23);

    // Erased twice: not found; by id: unknown. A new record of alice: a new pseudonym.
    await rejectsWith(
      log.eraseSubject({ pseudonym: alice!.pseudonym, reason: "again" }),
      "GENLOG_E_NOT_FOUND",
    );
    await rejectsWith(
      log.eraseSubject({ subject: "alice", reason: "again" }),
      "GENLOG_E_NOT_FOUND",
    );
    const again = await log.append({ type: "backend", user: "alice" });
    assert.notEqual(again.actor, alice!.pseudonym);
    assert.deepEqual(
      (await log.query({ user: "alice" })).records.map((r) => r.seq),
      [again.seq],
    );
    await log.close();
    // Her new subject has the same lookup value (a keyed hash of her id): only her old key
    // material is looked for now.
    assert.deepEqual(
      leakedBytes(
        dataDir,
        aliceBytes.filter(([what]) => !what.includes("lookup")),
      ),
      [],
    );
    assert.deepEqual(leaks(dataDir, [["e-mail", "alice@example.org"]]), []);
  },
);

test("a legal hold refuses erasure until released; holds are system events", async () => {
  const dataDir = tempDir();
  const log = await openLog({ dataDir });
  await log.append({ type: "backend", user: "alice" });
  await log.append({ type: "backend", user: "bob" });

  const tenantHold = await log.setHold({ reason: "litigation #7" });
  assert.equal(tenantHold.type, "genlog.hold");
  await rejectsWith(log.setHold({ reason: "twice" }), "GENLOG_E_HELD");
  await rejectsWith(log.eraseSubject({ subject: "bob", reason: "Art. 17" }), "GENLOG_E_HELD");
  const aliceHold = await log.setHold({ subject: "alice", reason: "case 12" });
  const holds = await log.holds();
  const alicePseudonym = (aliceHold.meta["pseudonyms"] as string[])[0];
  assert.deepEqual(
    holds.map((h) => [h.scope, h.pseudonym, h.seq, h.reason]),
    [
      ["tenant", null, tenantHold.seq, "litigation #7"],
      ["subject", alicePseudonym, aliceHold.seq, "case 12"],
    ],
  );

  await log.releaseHold({ reason: "settled" });
  await rejectsWith(log.releaseHold({ reason: "settled" }), "GENLOG_E_NOT_FOUND");
  // The tenant hold is gone, alice's stays.
  await rejectsWith(log.eraseSubject({ subject: "alice", reason: "Art. 17" }), "GENLOG_E_HELD");
  assert.equal(
    (await log.eraseSubject({ subject: "bob", reason: "Art. 17" })).pseudonyms.length,
    1,
  );
  await log.releaseHold({ subject: "alice", reason: "closed" });
  await log.eraseSubject({ subject: "alice", reason: "Art. 17" });
  assert.deepEqual(await log.holds(), []);

  const types = (await log.query({})).records.map((r) => r.type);
  assert.deepEqual(types, [
    "backend",
    "backend",
    "genlog.hold",
    "genlog.hold",
    "genlog.hold-release",
    "genlog.erasure",
    "genlog.hold-release",
    "genlog.erasure",
  ]);
  assert.equal((await log.verify()).ok, true);
  await log.close();
});

test("types of genlog's system events cannot be appended", async () => {
  const log = await openLog({ dataDir: tempDir() });
  await assert.rejects(
    log.append({ type: "genlog.erasure", meta: { pseudonyms: ["sub_x"] } }),
    (e: unknown) => isGenlogError(e, "GENLOG_E_INVALID_INPUT") && e.details.pointer === "/type",
  );
  await log.close();
});

test("a subject export proves every record, opens every envelope, and fails on any changed byte", async () => {
  const dataDir = tempDir();
  const log = await openLog({ dataDir });
  for (let i = 0; i < 5; i++) {
    await log.append({ type: "model", user: "alice", meta: { note: `call +33 6 12 34 56 7${i}` } });
    await log.append({ type: "model", user: "bob" });
  }
  const key = await log.verifierKey();
  const doc = await log.exportSubject({ subject: "alice" });
  assert.equal(doc.records.length, 5);
  assert.deepEqual(
    doc.records.map((r) => r.revealed.values["/meta/note"]),
    [0, 1, 2, 3, 4].map((i) => `call +33 6 12 34 56 7${i}`),
  );
  const good = checkSubjectExport(JSON.parse(JSON.stringify(doc)), key);
  assert.deepEqual(good.problems, []);
  assert.equal(good.ok, true);
  // The export is on record.
  const last = (await log.query({ type: "genlog.subject-export" })).records;
  assert.deepEqual(last[0]!.meta, { pseudonyms: [doc.records[0]!.record.actor], records: 5 });

  const tamper = (change: (d: SubjectExport) => void): string[] => {
    const copy = JSON.parse(JSON.stringify(doc)) as SubjectExport;
    change(copy);
    return checkSubjectExport(copy, key).problems.map((p) => p.message);
  };
  assert.match(tamper((d) => (d.records[2]!.record.type = "frontend")).join(), /record 4/);
  assert.match(
    tamper((d) => (d.records[1]!.revealed.values = {})).join(),
    /decrypted view of record 2/,
  );
  assert.match(
    tamper((d) => (d.records[3]!.proof[0] = Buffer.alloc(32).toString("base64"))).join(),
    /record 6/,
  );
  assert.match(
    tamper((d) => (d.checkpoint = d.checkpoint.replace(/\n\d+\n/, "\n9\n"))).join(),
    /checkpoint/,
  );
  // Flip one character of a ciphertext: the record's leaf no longer matches.
  assert.equal(
    tamper((d) => {
      const pii = d.records[0]!.record.pii!;
      pii.ct = (pii.ct[0] === "A" ? "B" : "A") + pii.ct.slice(1);
    }).length,
    1,
  );
  // Another tenant's key (or the file's own key, when it was swapped) does not vouch.
  const other = await openLog({ dataDir: tempDir() });
  await other.append({ type: "x" });
  assert.equal(checkSubjectExport(doc, await other.verifierKey()).ok, false);
  await other.close();
  await log.close();
});

test("CLI: subject export, verify --export, hold set|list|release, subject erase", async () => {
  const dataDir = tempDir();
  assert.equal((await genlog(dataDir, "init")).code, 0);
  for (const user of ["alice", "alice", "bob"]) {
    assert.equal(
      (await genlog(dataDir, "log", "backend", "--user", user, "--meta", "ip=203.0.113.9")).code,
      0,
    );
  }
  const out = join(dataDir, "alice.json");
  const exported = await genlog(dataDir, "subject", "export", "--subject", "alice", "--out", out);
  assert.equal(exported.code, 0, exported.stderr);
  const key = (await genlog(dataDir, "key")).stdout.trim();
  const ok = await genlog(dataDir, "verify", "--export", out, "--verifier-key", key, "--json");
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.equal(JSON.parse(ok.stdout).records, 2);
  // One byte changed in the file: exit 1, the record named.
  const text = readFileSync(out, "utf8");
  writeFileSync(out, text.replace('"type":"backend"', '"type":"backenc"'));
  const bad = await genlog(dataDir, "verify", "--export", out, "--verifier-key", key);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /FAILED.*\n\s+record 0/);

  assert.equal(
    (await genlog(dataDir, "hold", "set", "--subject", "alice", "--reason", "case 3")).code,
    0,
  );
  const listed = await genlog(dataDir, "hold", "list", "--json");
  assert.equal(JSON.parse(listed.stdout).length, 1);
  const held = await genlog(
    dataDir,
    "subject",
    "erase",
    "--subject",
    "alice",
    "--reason",
    "Art. 17",
  );
  assert.equal(held.code, 2);
  assert.match(held.stderr, /GENLOG_E_HELD/);
  assert.equal(
    (await genlog(dataDir, "hold", "release", "--subject", "alice", "--reason", "done")).code,
    0,
  );
  const erased = await genlog(
    dataDir,
    "subject",
    "erase",
    "--subject",
    "alice",
    "--reason",
    "Art. 17",
    "--json",
  );
  assert.equal(erased.code, 0, erased.stderr);
  assert.equal(JSON.parse(erased.stdout).scrubbed, true);
  const missing = await genlog(dataDir, "subject", "erase", "--subject", "alice", "--reason", "x");
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /GENLOG_E_NOT_FOUND/);
  assert.equal((await genlog(dataDir, "verify")).code, 0);
  const none = await genlog(dataDir, "subject", "erase", "--reason", "x");
  assert.equal(none.code, 2);
});

test("the GDPR report counts subjects, erasures, exports, holds, purges and redactions from the log", async () => {
  const dataDir = tempDir();
  const log = await openLog({ dataDir });
  for (let i = 0; i < 6; i++) {
    await log.append({
      type: "backend",
      user: `p${i % 3}`,
      meta: { note: `mail p${i}@example.org`, password: "hunter2" },
    });
  }
  await log.exportSubject({ subject: "p0" });
  await log.eraseSubject({ subject: "p1", reason: "Art. 17" });
  await log.setHold({ subject: "p2", reason: "case" });
  const r = await log.gdprReport();
  assert.deepEqual(r.records, { total: 9, kept: 6, purged: 0 });
  assert.deepEqual(r.subjects, { current: 2, erased: 1 });
  assert.equal(r.erasures.count, 1);
  assert.equal(r.exports.count, 1);
  assert.equal(r.retention.days, 365);
  assert.equal(r.retention.due, 0);
  assert.deepEqual(r.holds, [
    { scope: "subject", pseudonym: (await log.query({ user: "p2" })).records[0]!.actor },
  ]);
  assert.deepEqual(
    r.redactions.map((x) => [x.rule, x.action, x.count]),
    [
      ["key:password", "mask", 6],
      ["pii:email", "encrypt", 6],
    ],
  );
  await log.close();
  const cli = await genlog(dataDir, "report", "gdpr");
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /subjects: +2 with a key, 1 erased/);
  assert.match(cli.stdout, /6 +encrypt +pii:email/);
});

test("an anonymised export replaces pseudonyms and keyed hashes with ids of that export only", async () => {
  const dataDir = tempDir();
  const log = await openLog({
    dataDir,
    policies: { default: { detectors: { email: "hash" } } },
  });
  for (let i = 0; i < 4; i++) {
    await log.append({ type: "backend", user: `u${i % 2}`, meta: { to: `u${i % 2}@example.org` } });
  }
  await log.eraseSubject({ subject: "u0", reason: "Art. 17" });
  const committed = [];
  for await (const line of log.exportCanonical()) committed.push(line);
  const read = async () => {
    const out = [];
    for await (const line of log.exportAnonymised())
      out.push(JSON.parse(line) as Record<string, unknown>);
    return out;
  };
  const [a, b] = [await read(), await read()];
  const text = JSON.stringify(a);
  // Nothing of the log's pseudonyms or tokens is left; envelopes are gone.
  for (const pseudo of committed.join("").match(/sub_[a-z2-7]{26}/g)!)
    assert.ok(!text.includes(pseudo));
  for (const token of committed.join("").match(/\[hmac:[^\]]+\]/g)!)
    assert.ok(!text.includes(token));
  assert.ok(a.every((r) => r["pii"] === null));
  // Within one export the same person and the same value keep one id; across exports, not.
  assert.equal(a[0]!["actor"], a[2]!["actor"]);
  assert.notEqual(a[0]!["actor"], a[1]!["actor"]);
  assert.equal((a[0]!["meta"] as { to: string }).to, (a[2]!["meta"] as { to: string }).to);
  assert.notEqual(a[0]!["actor"], b[0]!["actor"]);
  // The erasure event names the same id as the erased person's records.
  assert.deepEqual((a[4]!["meta"] as { pseudonyms: string[] }).pseudonyms, [a[0]!["actor"]]);
  await log.close();
  const cli = await genlog(dataDir, "export", "--anonymise");
  assert.equal(cli.code, 0, cli.stderr);
  assert.doesNotMatch(cli.stdout, /sub_[a-z2-7]{26}/);
});

test("another process that knew an erased person meets them as someone new once it asks the store again", async () => {
  const dataDir = tempDir();
  const a = await openLog({ dataDir });
  const before = await a.append({ type: "backend", user: "dora" });
  const eve = await a.append({ type: "backend", user: "eve" });
  const b = await openLog({ dataDir });
  await b.eraseSubject({ subject: "dora", reason: "Art. 17" });
  await b.close();
  // Process A asks the store for erasures after at most a second (not a timing check: the
  // wait only lets that second pass).
  await new Promise((r) => setTimeout(r, 1100));
  const after = await a.append({ type: "backend", user: "dora" });
  assert.notEqual(after.actor, before.actor);
  // Only the erased person is new: the others keep their pseudonym.
  assert.equal((await a.append({ type: "backend", user: "eve" })).actor, eve.actor);
  const [view] = await a.reveal([after]);
  assert.deepEqual(view!.revealed, { actor: "dora", values: {} });
  assert.deepEqual((await a.reveal([before]))[0]!.revealed, { erased: true });
  await a.close();
});
