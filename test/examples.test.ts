/**
 * The examples (examples/health, education, ecommerce) run as a user runs them, with one
 * command against the built package, and say what their README promises.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT, childEnv } from "./helpers/run-cli.js";
import { tempDir } from "./helpers/temp-dir.js";
import { storeEnvOf, SQLITE_FILE } from "./helpers/store-under-test.js";

const run = promisify(execFile);

async function example(name: string): Promise<{ summary: Record<string, unknown>; dir: string }> {
  const dir = tempDir();
  const { stdout } = await run(process.execPath, [join("examples", name, "run.mjs"), dir], {
    cwd: REPO_ROOT,
    env: { ...childEnv(), ...(await storeEnvOf(dir)) },
  });
  return { summary: JSON.parse(stdout) as Record<string, unknown>, dir };
}

test(
  "health: patients never appear in clear to the auditor, whose reads are in the access report",
  { skip: SQLITE_FILE },
  async () => {
    const { summary, dir } = await example("health");
    assert.equal(summary.records, 30);
    assert.equal(summary.recordsWithAPatientInClear, 0);
    assert.equal(summary.anonymisedExportLines, 30);
    assert.equal(summary.verified, true);
    const [auditor] = summary.accessesByPrincipal as { principal: string; allowed: number }[];
    assert.equal(auditor!.principal, "local:auditor-has");
    assert.ok(auditor!.allowed >= 3);
    // Nor on disk: the database file holds no patient's address.
    const db = readFileSync(join(dir, "genlog.db"));
    for (const p of [
      "marie.curie@example.fr",
      "louis.pasteur@example.fr",
      "simone.veil@example.fr",
    ]) {
      assert.equal(db.indexOf(p), -1, p);
    }
  },
);

test("education: one tenant per school, an auditor held to its school, a report per school", async () => {
  const { summary } = await example("education");
  assert.equal(summary.auditorReadOwnSchool, 10);
  assert.equal(summary.auditorOnAnotherSchool, "GENLOG_E_FORBIDDEN");
  const schools = summary.schools as { school: string; generations: number; verified: boolean }[];
  assert.deepEqual(
    schools.map((s) => [s.school, s.generations, s.verified]),
    [
      ["lycee-hugo", 10, true],
      ["college-sand", 15, true],
      ["ecole-zola", 20, true],
    ],
  );
});

test("e-commerce: a customer's export, then erasure; the log still verifies and the GDPR report counts both", async () => {
  const { summary } = await example("ecommerce");
  assert.equal(summary.exportedRecords, 8);
  assert.equal((summary.erasedPseudonyms as string[]).length, 1);
  assert.equal(summary.verifiedAfterErasure, true);
  assert.deepEqual(summary.gdpr, { subjects: { current: 2, erased: 1 }, erasures: 1, exports: 1 });
});
