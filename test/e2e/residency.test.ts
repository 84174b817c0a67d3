/**
 * Data residency: a tenant created in a region keeps its records, tree, checkpoints,
 * envelopes, pseudonyms, lookups and wrapped data keys in that region's database only. The
 * test collects every such value from the region's database and looks for each one, byte for
 * byte, in every file outside the region's directory.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import Database from "better-sqlite3";
import { isGenlogError } from "../../src/index.js";
import { openLog } from "../helpers/store-under-test.js";
import { tempDir } from "../helpers/temp-dir.js";
import { files } from "../helpers/disk-scan.js";
import { existsSync, readFileSync, renameSync } from "node:fs";
import { genlog } from "../helpers/run-cli.js";

/** Every value of the tenant's data in a region database, as the bytes a leak would show. */
function regionValues(dbPath: string): [string, Buffer][] {
  const db = new Database(dbPath, { readonly: true });
  try {
    const out: [string, Buffer][] = [];
    for (const r of db.prepare("SELECT seq, record FROM bodies").all() as {
      seq: number;
      record: string;
    }[]) {
      const rec = JSON.parse(r.record) as {
        id: string;
        pii: { ct: string } | null;
        actor: string | null;
      };
      out.push([`record ${r.seq} id`, Buffer.from(rec.id)]);
      if (rec.pii !== null) out.push([`record ${r.seq} envelope`, Buffer.from(rec.pii.ct)]);
      if (rec.actor !== null) out.push([`record ${r.seq} pseudonym`, Buffer.from(rec.actor)]);
    }
    for (const r of db.prepare("SELECT seq, leaf_hash FROM tree").all() as {
      seq: number;
      leaf_hash: Buffer;
    }[]) {
      out.push([`leaf ${r.seq}`, r.leaf_hash]);
    }
    for (const r of db.prepare("SELECT note FROM checkpoints").all() as { note: string }[]) {
      out.push(["checkpoint signature", Buffer.from(r.note.split("\n").at(-2)!)]);
    }
    for (const r of db.prepare("SELECT pseudonym, lookup, wrapped_key FROM subjects").all() as {
      pseudonym: string;
      lookup: Buffer;
      wrapped_key: Buffer;
    }[]) {
      out.push(
        [`lookup of ${r.pseudonym}`, r.lookup],
        [`wrapped key of ${r.pseudonym}`, r.wrapped_key],
      );
    }
    return out;
  } finally {
    db.close();
  }
}

test("a tenant's records, envelopes and keys' wrapped forms stay in its region's database", async () => {
  const dataDir = tempDir();
  const usDir = join(tempDir(), "us-storage");
  const log = await openLog({ dataDir });
  const eu = await log.createTenant("clinic-eu", { region: "eu" });
  const us = await log.createTenant("shop-us", { region: "us", regionDir: usDir });
  assert.equal(eu.database, join(dataDir, "regions", "eu", "genlog.db"));
  assert.equal(us.database, join(usDir, "genlog.db"));
  for (let i = 0; i < 30; i++) {
    await log.append({
      type: "model",
      tenant: "clinic-eu",
      user: `patient-${i % 5}`,
      meta: { note: `EU-ONLY-MARKER-${i}`, contact: `patient${i % 5}@example.eu` },
    });
    await log.append({
      type: "backend",
      tenant: "shop-us",
      user: `buyer-${i % 3}`,
      meta: { note: `US-ONLY-${i}` },
    });
    await log.append({ type: "frontend", user: `home-${i}` });
  }
  await log.eraseSubject({ tenant: "clinic-eu", subject: "patient-1", reason: "Art. 17" });
  await log.setHold({ tenant: "clinic-eu", subject: "patient-2", reason: "case" });
  // Every use reads the region: queries by person, the decrypted view, proofs, verify.
  const page = await log.query({ tenant: "clinic-eu", user: "patient-3" });
  assert.equal(page.records.length, 6);
  const [view] = await log.reveal(page.records, "clinic-eu");
  assert.deepEqual(view!.revealed, {
    actor: "patient-3",
    values: { "/meta/contact": "patient3@example.eu" },
  });
  assert.equal((await log.verify({ tenant: "clinic-eu" })).ok, true);
  assert.equal((await log.verify({ tenant: "shop-us" })).ok, true);
  assert.deepEqual(
    (await log.tenants()).map((t) => [t.tenant, t.region, t.size]),
    [
      ["clinic-eu", "eu", 32],
      ["default", null, 30],
      ["shop-us", "us", 30],
    ],
  );
  await assert.rejects(log.createTenant("clinic-eu", { region: "us" }), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_ALREADY_INITIALIZED"),
  );
  await assert.rejects(log.createTenant("x", { region: "Not A Slug" }), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_INVALID_INPUT"),
  );
  await log.close();

  // Collected from the EU database, looked for everywhere else (the WAL was merged at close).
  const values = regionValues(eu.database);
  assert.ok(values.length > 100, `${values.length} values`);
  const outside = [
    ...files(dataDir).filter((f) => !f.startsWith(join(dataDir, "regions", "eu"))),
    ...files(usDir),
  ];
  assert.ok(outside.some((f) => f.endsWith(join(dataDir, "genlog.db"))));
  const found: string[] = [];
  for (const path of outside) {
    const bytes = readFileSync(path);
    for (const [what, v] of values) if (bytes.includes(v)) found.push(`${what} in ${path}`);
    if (bytes.includes(Buffer.from("EU-ONLY-MARKER"))) found.push(`a marker in ${path}`);
  }
  assert.deepEqual(found, []);
  // The scan sees what it looks for: the same values are in the EU database.
  const euBytes = readFileSync(eu.database);
  assert.ok(values.every(([, v]) => euBytes.includes(v)));

  // A read-only handle (an auditor) reads the region too.
  const reader = await openLog({ dataDir, readOnly: true });
  assert.equal((await reader.verify({ tenant: "clinic-eu" })).ok, true);
  assert.equal((await reader.tenantInfo("shop-us")).region, "us");
  await reader.close();
});

test("CLI: tenant create --region, tenant list and show", async () => {
  const dir = tempDir();
  assert.equal((await genlog(dir, "init")).code, 0);
  const created = await genlog(dir, "tenant", "create", "school-1", "--region", "fr", "--json");
  assert.equal(created.code, 0, created.stderr);
  assert.equal(JSON.parse(created.stdout).region, "fr");
  assert.equal(
    (await genlog(dir, "--tenant", "school-1", "log", "report", "--user", "teacher")).code,
    0,
  );
  const listed = await genlog(dir, "tenant", "list", "--json");
  assert.deepEqual(
    (JSON.parse(listed.stdout) as { tenant: string; region: string | null; size: number }[]).map(
      (t) => [t.tenant, t.region, t.size],
    ),
    [
      ["default", null, 0],
      ["school-1", "fr", 1],
    ],
  );
  const shown = await genlog(dir, "tenant", "show", "school-1");
  assert.match(shown.stdout, /region: +fr/);
  assert.match(shown.stdout, /regions\/fr\/genlog\.db/);
  const again = await genlog(dir, "tenant", "create", "school-1", "--region", "fr");
  assert.equal(again.code, 2);
});

test("a region whose database is missing is refused, never started again as an empty log", async () => {
  const dataDir = tempDir();
  const log = await openLog({ dataDir });
  await log.createTenant("acme", { region: "eu" });
  for (let i = 0; i < 3; i++) await log.append({ type: "backend", tenant: "acme" });
  await log.close();
  // The region's volume is not mounted.
  const regionDir = join(dataDir, "regions", "eu");
  renameSync(regionDir, `${regionDir}.away`);
  const again = await openLog({ dataDir });
  await assert.rejects(again.append({ type: "backend", tenant: "acme" }), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_NOT_FOUND"),
  );
  await assert.rejects(again.createTenant("acme", { region: "eu" }), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_ALREADY_INITIALIZED"),
  );
  assert.equal(existsSync(join(regionDir, "genlog.db")), false, "no empty database was made");
  await again.close();
  renameSync(`${regionDir}.away`, regionDir);
  const back = await openLog({ dataDir });
  assert.equal((await back.append({ type: "backend", tenant: "acme" })).seq, 3);
  assert.equal((await back.verify({ tenant: "acme" })).ok, true);
  await back.close();
});
