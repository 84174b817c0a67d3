import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openLog } from "../src/index.js";
import { SqliteStore, pageQuery } from "../src/store/sqlite/sqlite-store.js";
import type { QueryFilter } from "../src/store/log-store.js";
import { tempDir } from "./helpers/temp-dir.js";

/** SQLite's plan for one page of `filter`, its details joined. */
function planOf(db: Database.Database, filter: QueryFilter): string {
  const { sql, args } = pageQuery(1, filter, { since: 10, until: 20 });
  const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[];
  return rows.map((r) => r.detail).join("; ");
}

test("every filtered page is read through an index, already in seq order", async () => {
  const path = join(tempDir(), "genlog.db");
  // A new database has no statistics: exactly when SQLite would rather walk the whole log.
  await SqliteStore.open({ path }).close();
  const db = new Database(path, { readonly: true });
  try {
    const ts = "2026-11-25T00:00:00.000Z";
    const cases: [QueryFilter, RegExp][] = [
      [{ limit: 100, actor: "alice" }, /USING INDEX entries_actor \(log_id=\? AND actor=\?\)/],
      [{ limit: 100, type: "backend" }, /USING INDEX entries_type/],
      [{ limit: 100, sector: "health" }, /USING INDEX entries_sector/],
      [{ limit: 100, status: "failed" }, /USING INDEX entries_status/],
      [{ limit: 100, status: "failed", actor: "alice" }, /USING INDEX entries_status/],
      [{ limit: 100, actor: "alice", type: "backend" }, /USING INDEX entries_actor/],
      [{ limit: 100, actor: "alice", since: ts, afterSeq: 5 }, /entries_actor .*seq>\?/],
      [
        { limit: 100, since: ts, until: ts },
        /USING PRIMARY KEY \(log_id=\? AND seq>\? AND seq<\?\)/,
      ],
      [{ limit: 100 }, /USING PRIMARY KEY \(log_id=\?\)/],
    ];
    for (const [filter, expected] of cases) {
      const plan = planOf(db, filter);
      assert.match(plan, expected, JSON.stringify(filter));
      assert.doesNotMatch(plan, /TEMP B-TREE/, `${JSON.stringify(filter)} sorts: ${plan}`);
    }
  } finally {
    db.close();
  }
});

/**
 * The transactions committed in a WAL file so far, read from its bytes: frames whose salts
 * match the header's (the WAL's current generation) and whose commit field is set.
 */
function walCommits(path: string): number {
  const wal = readFileSync(`${path}-wal`);
  if (wal.length < 32) return 0;
  const pageSize = wal.readUInt32BE(8);
  const [salt1, salt2] = [wal.readUInt32BE(16), wal.readUInt32BE(20)];
  let commits = 0;
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) break;
    if (wal.readUInt32BE(at + 4) !== 0) commits++;
  }
  return commits;
}

test("lone appends of several tenants issued in one turn share one transaction", async () => {
  const dataDir = tempDir();
  const log = await openLog({ dataDir });
  const tenants = Array.from({ length: 20 }, (_, i) => `t${i}`);
  try {
    // Their logs and writers exist first: opening a tenant commits on its own.
    for (const tenant of tenants) await log.logGenerationEvent("backend", { tenant });
    const path = join(dataDir, "genlog.db");
    const before = walCommits(path);
    const results = await Promise.all(
      tenants.map((tenant) => log.logGenerationEvent("frontend", { tenant })),
    );
    assert.deepEqual(
      results.map((r) => r.seq),
      tenants.map(() => 1),
    );
    assert.ok(before > 0, "the earlier appends are in the WAL");
    assert.equal(walCommits(path) - before, 1);
  } finally {
    await log.close();
  }
});
