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
