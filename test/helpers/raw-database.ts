/**
 * The attacker's handle on a genlog database: a plain SQLite connection with the
 * append-only triggers dropped, so that raw UPDATE and DELETE go through as they would for
 * anyone with write access to the file. `close()` puts the triggers back, so that what
 * remains is a tampered file that looks like an untouched one.
 */
import Database from "better-sqlite3";

export function rawDatabase(path: string): Database.Database {
  const db = new Database(path);
  const triggers = db
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    .all() as { name: string; sql: string }[];
  for (const t of triggers) db.exec(`DROP TRIGGER "${t.name}"`);
  const close = db.close.bind(db);
  db.close = () => {
    for (const t of triggers) db.exec(t.sql);
    return close();
  };
  return db;
}

/**
 * What an attacker does to rewrite a query column: the columns are generated from the record
 * text, so the table is rebuilt with plain ones (same names, same values, same indexes).
 * Only the table's own definition then differs from genlog's.
 */
export function makeQueryColumnsWritable(db: Database.Database): void {
  const indexes = db
    .prepare(
      "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries' AND sql IS NOT NULL",
    )
    .pluck()
    .all() as string[];
  db.exec(`
    CREATE TABLE entries_plain (
      log_id INTEGER NOT NULL, seq INTEGER NOT NULL, record TEXT NOT NULL,
      leaf_hash BLOB NOT NULL, nodes BLOB NOT NULL,
      id TEXT, ts TEXT, type TEXT, actor TEXT, sector TEXT, status TEXT,
      PRIMARY KEY (log_id, seq)
    ) WITHOUT ROWID;
    INSERT INTO entries_plain
      SELECT log_id, seq, record, leaf_hash, nodes, id, ts, type, actor, sector, status FROM entries;
    DROP TABLE entries;
    ALTER TABLE entries_plain RENAME TO entries;
  `);
  for (const sql of indexes) db.exec(sql);
}
