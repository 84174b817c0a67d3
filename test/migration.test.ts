/**
 * A data directory written by genlog 0.1.0 (schema version 1, test/fixtures/v0.1.0) opens
 * with this genlog: migrated in place, once, under SQLite's write lock, and it verifies to
 * the same sizes and roots as 0.1.0's own verify said before.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, cpSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { isGenlogError, openLog, type VerifyReport } from "../src/index.js";
import { SCHEMA_VERSION, schemaDeviations } from "../src/store/sqlite/schema.js";
import { tempDir } from "./helpers/temp-dir.js";
import { runCli } from "./helpers/run-cli.js";

const fixture = fileURLToPath(new URL("./fixtures/v0.1.0", import.meta.url));
const before = JSON.parse(readFileSync(join(fixture, "v0.1.0-verify.json"), "utf8")) as {
  keys: Record<string, string>;
  reports: Record<string, VerifyReport>;
};

/** A writable copy of the fixture, keys with the mode genlog requires. */
function copyFixture(): string {
  const dir = tempDir();
  cpSync(fixture, dir, { recursive: true });
  for (const t of ["default", "acme"]) chmodSync(join(dir, "keys", `${t}.ed25519.pem`), 0o600);
  return dir;
}

function schemaVersion(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    return (
      (
        db.prepare("SELECT value FROM settings WHERE key = 'schema_version'").get() as
          { value: string } | undefined
      )?.value ?? "none"
    );
  } finally {
    db.close();
  }
}

test("the 0.1.0 fixture is at schema version 1", () => {
  // Read from a copy: even a read-only connection may create files beside a WAL database.
  assert.equal(schemaVersion(join(copyFixture(), "genlog.db")), "1");
});

test("a 0.1.0 database is migrated on open and verifies as before, with the published keys", async () => {
  const dir = copyFixture();
  const log = await openLog({ dataDir: dir });
  for (const tenant of ["default", "acme"]) {
    const report = await log.verify({ tenant, verifierKey: before.keys[tenant]! });
    const old = before.reports[tenant]!;
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.deepEqual(
      [report.verifiedSize, report.root, report.checkpoints],
      [old.verifiedSize, old.root, old.checkpoints],
    );
  }
  // Still a log that grows and verifies.
  const rec = await log.logGenerationEvent("backend", { user: "erin" });
  assert.equal(rec.seq, 44);
  assert.equal((await log.query({ user: "erin" })).records.length, 1);
  assert.equal((await log.query({ actor: "u3" })).records.length, 8);
  assert.equal((await log.verify()).ok, true);
  await log.close();
  const path = join(dir, "genlog.db");
  assert.equal(schemaVersion(path), String(SCHEMA_VERSION));
  const db = new Database(path, { readonly: true });
  try {
    assert.deepEqual(schemaDeviations(db), [], "a migrated file holds exactly a new file's schema");
  } finally {
    db.close();
  }
});

test("two processes opening a 0.1.0 database at once both get it migrated", async () => {
  const dir = copyFixture();
  const path = join(dir, "genlog.db");
  const opener = fileURLToPath(new URL("./helpers/open-store.ts", import.meta.url));
  const outputs = await Promise.all(
    [0, 1].map(
      (): Promise<string> =>
        new Promise((resolve, reject) => {
          const child = spawn(process.execPath, ["--import", "tsx", opener, path], {
            stdio: ["ignore", "pipe", "inherit"],
          });
          let out = "";
          child.stdout.on("data", (b: Buffer) => (out += b.toString()));
          child.once("error", reject);
          child.once("exit", (code) =>
            code === 0 ? resolve(out.trim()) : reject(new Error(`exit ${code}`)),
          );
        }),
    ),
  );
  assert.deepEqual(outputs, [String(SCHEMA_VERSION), String(SCHEMA_VERSION)]);
  const log = await openLog({ dataDir: dir, readOnly: true });
  const report = await log.verify({ verifierKey: before.keys.default! });
  assert.equal(report.ok, true, JSON.stringify(report.problems));
  assert.equal(report.verifiedSize, 44);
  await log.close();
});

test("a read-only open of a 0.1.0 database changes nothing and says how to migrate it", async () => {
  const dir = copyFixture();
  const path = join(dir, "genlog.db");
  const bytes = readFileSync(path);
  await assert.rejects(
    openLog({ dataDir: dir, readOnly: true }),
    (e: unknown) => isGenlogError(e, "GENLOG_E_STORE") && /schema version 1/.test(e.message),
  );
  assert.ok(readFileSync(path).equals(bytes));
});

test("genlog migrate upgrades a 0.1.0 copy without a key, once, and read-only commands then work", async () => {
  const dir = copyFixture();
  rmSync(join(dir, "keys"), { recursive: true });
  const first = await runCli(["migrate", "--data-dir", dir]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, new RegExp(`migrated from schema 1 to ${SCHEMA_VERSION}\\.`));
  const again = await runCli(["migrate", "--data-dir", dir, "--json"]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout), {
    dataDir: dir,
    database: join(dir, "genlog.db"),
    from: SCHEMA_VERSION,
    to: SCHEMA_VERSION,
  });
  const verify = await runCli([
    "verify",
    "--data-dir",
    dir,
    "--verifier-key",
    before.keys.default!,
  ]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, /^OK: genlog.local\/default\/events: 44 entries/);
});
