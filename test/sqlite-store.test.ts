import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import Database from "better-sqlite3";
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
