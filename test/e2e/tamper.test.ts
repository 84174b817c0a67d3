/**
 * Each tampering that issue 6 found `verify` blind to, done by raw SQL on a 20-entry log as
 * an attacker with write access to genlog.db would: `genlog verify` (and `verify --trusted`
 * with a checkpoint published before) exits 1 and names the entry.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { openLog } from "../helpers/store-under-test.js";
import { makeQueryColumnsWritable, rawDatabase } from "../helpers/raw-database.js";
import { runCli } from "../helpers/run-cli.js";
import { tempDir } from "../helpers/temp-dir.js";

/** A closed 20-entry log and a checkpoint of it saved to a file, in `dir`. */
async function makeLog(dir: string): Promise<{ dir: string; trusted: string }> {
  const log = await openLog({ dataDir: dir });
  for (let i = 0; i < 20; i++) {
    await log.logGenerationEvent(i % 2 === 0 ? "backend" : "frontend", {
      user: `u${i % 3}`,
      sector: "health",
      meta: { i },
    });
  }
  const trusted = join(dir, "published.checkpoint");
  writeFileSync(trusted, (await log.checkpoint())!);
  await log.close();
  return { dir, trusted };
}

const TAMPERS: [string, (db: Database.Database) => void][] = [
  ...(["actor", "type", "status", "ts", "id"] as const).map(
    (column): [string, (db: Database.Database) => void] => [
      `the ${column} column of entry 7`,
      (db) => {
        makeQueryColumnsWritable(db);
        db.prepare(`UPDATE bodies SET ${column} = 'tampered' WHERE seq = 7`).run();
      },
    ],
  ),
  [
    "a byte of a stored Merkle node of entry 7",
    (db) => {
      const { nodes } = db.prepare("SELECT nodes FROM tree WHERE seq = 7").get() as {
        nodes: Buffer;
      };
      nodes[3]! ^= 0x40;
      db.prepare("UPDATE tree SET nodes = ? WHERE seq = 7").run(nodes);
    },
  ],
];

// One log for the whole file, copied by each test (a test's own temp dirs end with it).
const baseDir = tempDir();
const base = makeLog(baseDir);

for (const [what, tamper] of TAMPERS) {
  test(`verify exits 1 and names entry 7 when ${what} is changed`, async () => {
    const dir = tempDir();
    cpSync((await base).dir, dir, { recursive: true });
    const trusted = join(dir, "published.checkpoint");
    const db = rawDatabase(join(dir, "genlog.db"));
    try {
      tamper(db);
    } finally {
      db.close();
    }
    for (const args of [[], ["--trusted", trusted]]) {
      const r = await runCli(["verify", "--data-dir", dir, ...args]);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stdout, /^FAILED: /);
      assert.match(r.stdout, /\n {2}(index|hash)-mismatch: entry 7 \(/);
    }
  });
}
