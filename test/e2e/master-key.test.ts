/**
 * Rotating the master key: every tenant key is re-wrapped under the new one, nothing
 * committed changes (records verify, envelopes open, keyed hashes still join, people are
 * still found by id), the old key no longer opens the data, and a rotation cut short between
 * its commit and the renaming of the key file is finished by the next open.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { isGenlogError, type Genlog } from "../../src/index.js";
import { openLog, SQLITE_FILE } from "../helpers/store-under-test.js";
import { tempDir } from "../helpers/temp-dir.js";
import { genlog, genlogWith } from "../helpers/run-cli.js";
import { MasterKey } from "../../src/keys/master-key.js";

const policies = { default: { detectors: { email: "hash" as const } } };

function wrappedKeys(dataDir: string): Map<string, Buffer> {
  const db = new Database(join(dataDir, "genlog.db"), { readonly: true });
  try {
    const rows = db.prepare("SELECT tenant, wrapped FROM tenant_keys").all() as {
      tenant: string;
      wrapped: Buffer;
    }[];
    return new Map(rows.map((r) => [r.tenant, r.wrapped]));
  } finally {
    db.close();
  }
}

async function appendBoth(log: Genlog): Promise<string[]> {
  const out: string[] = [];
  for (const tenant of ["default", "acme"]) {
    const r = await log.append({
      type: "backend",
      tenant,
      user: "alice",
      meta: { note: "mail alice@example.org" },
    });
    out.push(String(r.meta["note"]));
  }
  return out;
}

test(
  "a rotation re-wraps each tenant key and changes nothing committed",
  { skip: SQLITE_FILE },
  async () => {
    const dataDir = tempDir();
    const keyFile = join(dataDir, "keys", "master.key");
    let log = await openLog({ dataDir, policies });
    const hashedBefore = await appendBoth(log);
    assert.match(hashedBefore[0]!, /\[hmac:/);
    const before = wrappedKeys(dataDir);
    const oldKey = readFileSync(keyFile);
    const idBefore = (await log.status()).masterKeyId;

    const r = await log.rotateMasterKey();
    assert.equal(r.from, idBefore);
    assert.notEqual(r.to, r.from);
    assert.equal(r.tenants, 2);
    assert.equal((await log.status()).masterKeyId, r.to);
    await log.close();

    // Every wrapped row changed; the key file is the new key; nothing else is left beside it.
    const after = wrappedKeys(dataDir);
    for (const [tenant, w] of before) assert.ok(!after.get(tenant)!.equals(w), tenant);
    assert.ok(!readFileSync(keyFile).equals(oldKey));
    assert.equal(existsSync(`${keyFile}.next`), false);

    log = await openLog({ dataDir, policies });
    // Same keyed hashes, same person, envelopes open, proofs hold.
    assert.deepEqual(await appendBoth(log), hashedBefore);
    for (const tenant of ["default", "acme"]) {
      const page = await log.query({ user: "alice", tenant });
      assert.equal(page.records.length, 2);
      assert.equal(new Set(page.records.map((x) => x.actor)).size, 1);
      const views = await log.reveal(page.records, tenant);
      assert.deepEqual(
        views.map((v) => (v.revealed !== null && "actor" in v.revealed ? v.revealed.actor : null)),
        ["alice", "alice"],
      );
      assert.equal((await log.verify({ tenant })).ok, true);
    }
    await log.close();

    // The old key opens no tenant key any more, and a handle given it is refused by its id.
    const old = new MasterKey(
      Buffer.from(oldKey.toString("utf8").trim(), "base64"),
      "genlog.local",
    );
    for (const [tenant, w] of after) {
      assert.throws(
        () => old.unwrap(tenant, w),
        (e: unknown) => isGenlogError(e, "GENLOG_E_KEY"),
      );
    }
    process.env["GENLOG_MASTER_KEY"] = oldKey.toString("utf8").trim();
    try {
      const withOld = await openLog({ dataDir, readOnly: true });
      await assert.rejects(withOld.query({ user: "alice" }), (e: unknown) =>
        isGenlogError(e, "GENLOG_E_KEY"),
      );
      await withOld.close();
    } finally {
      delete process.env["GENLOG_MASTER_KEY"];
    }
  },
);

test("a rotation stopped before the key file was renamed is finished by the next open", async () => {
  const dataDir = tempDir();
  const keyFile = join(dataDir, "keys", "master.key");
  const log = await openLog({ dataDir });
  await log.append({ type: "backend", user: "bob" });
  const oldKey = readFileSync(keyFile);
  await log.rotateMasterKey();
  await log.close();
  const newKey = readFileSync(keyFile);
  // The state a crash between the commit and the rename leaves: the database uses the key in
  // master.key.next, master.key is still the old one.
  copyFileSync(keyFile, `${keyFile}.next`);
  writeFileSync(keyFile, oldKey, { mode: 0o600 });

  // A read-only handle renames nothing, but reads with the key the database uses.
  const reader = await openLog({ dataDir, readOnly: true });
  const [seen] = await reader.reveal((await reader.query({ user: "bob" })).records);
  assert.deepEqual(seen!.revealed, { actor: "bob", values: {} });
  await reader.close();
  assert.equal(existsSync(`${keyFile}.next`), true);

  const reopened = await openLog({ dataDir });
  const [r] = await reopened.reveal((await reopened.query({ user: "bob" })).records);
  assert.deepEqual(r!.revealed, { actor: "bob", values: {} });
  await reopened.close();
  assert.ok(readFileSync(keyFile).equals(newKey));
  assert.equal(existsSync(`${keyFile}.next`), false);
});

test("CLI: keys rotate-master, and with GENLOG_MASTER_KEY the new key from GENLOG_NEW_MASTER_KEY", async () => {
  const dataDir = tempDir();
  assert.equal((await genlog(dataDir, "init")).code, 0);
  assert.equal((await genlog(dataDir, "log", "backend", "--user", "carol")).code, 0);
  const rotated = await genlog(dataDir, "keys", "rotate-master", "--json");
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.equal(JSON.parse(rotated.stdout).tenants, 1);

  const fromFile = readFileSync(join(dataDir, "keys", "master.key"), "utf8").trim();
  const next = Buffer.alloc(32, 7).toString("base64");
  const noNew = await genlogWith(
    { env: { GENLOG_MASTER_KEY: fromFile } },
    dataDir,
    "keys",
    "rotate-master",
  );
  assert.equal(noNew.code, 2);
  assert.match(noNew.stderr, /GENLOG_NEW_MASTER_KEY/);
  const withNew = await genlogWith(
    { env: { GENLOG_MASTER_KEY: fromFile, GENLOG_NEW_MASTER_KEY: next } },
    dataDir,
    "keys",
    "rotate-master",
  );
  assert.equal(withNew.code, 0, withNew.stderr);
  const read = await genlogWith(
    { env: { GENLOG_MASTER_KEY: next } },
    dataDir,
    "query",
    "--user",
    "carol",
    "--reveal",
  );
  assert.equal(read.code, 0, read.stderr);
  assert.match(read.stdout, /"actor":"carol"/);
});
