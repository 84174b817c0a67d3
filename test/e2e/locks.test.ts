/**
 * Another program holding genlog.db's lock past the busy timeout (5 s): genlog waits that
 * long, then fails with GENLOG_E_BUSY (exit 3) and one line saying to retry; nothing is
 * written, and everything works again once the lock is released.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import Database from "better-sqlite3";
import { isGenlogError } from "../../src/index.js";
import { openLog } from "../helpers/store-under-test.js";
import { runCli } from "../helpers/run-cli.js";
import { tempDir } from "../helpers/temp-dir.js";

test("an append that cannot get the write lock fails with GENLOG_E_BUSY and writes nothing", async () => {
  const dir = tempDir();
  const log = await openLog({ dataDir: dir });
  await log.logGenerationEvent("backend");
  const other = new Database(join(dir, "genlog.db"));
  other.exec("BEGIN IMMEDIATE");
  try {
    await assert.rejects(
      log.logGenerationEvent("frontend"),
      (e: unknown) => isGenlogError(e, "GENLOG_E_BUSY") && /retry/.test(e.message),
    );
  } finally {
    other.exec("ROLLBACK");
    other.close();
  }
  assert.equal(await log.size(), 1);
  assert.equal((await log.logGenerationEvent("frontend")).seq, 1);
  assert.equal((await log.verify()).ok, true);
  await log.close();
});

test("a command that cannot even read a locked database exits 3 with one GENLOG_E_BUSY line", async () => {
  const dir = tempDir();
  const log = await openLog({ dataDir: dir });
  await log.logGenerationEvent("backend");
  await log.close(); // at rest the file is in rollback-journal mode: an exclusive lock bars readers
  const other = new Database(join(dir, "genlog.db"));
  other.exec("BEGIN EXCLUSIVE");
  try {
    const r = await runCli(["query", "--data-dir", dir]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^genlog: [^\n]*locked[^\n]*\[GENLOG_E_BUSY\]\n$/);
    assert.equal(r.stdout, "");
  } finally {
    other.exec("ROLLBACK");
    other.close();
  }
  const r = await runCli(["query", "--data-dir", dir, "--json"]);
  assert.equal(r.code, 0, r.stderr);
});
