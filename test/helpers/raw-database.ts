/**
 * The attacker's handle on a genlog database: a plain SQLite connection with the
 * append-only triggers dropped, so that raw UPDATE and DELETE go through as they would for
 * anyone with write access to the file. `close()` puts the triggers back, so that what
 * remains is a tampered file that looks like an untouched one.
 *
 * An entry is stored in two tables: its place in the tree (`tree`: leaf hash, nodes) and its
 * body (`bodies`: the record and its query columns). For attacks on whole entries, the
 * handle also has a temporary view `entries` (this connection only, never in the file) that
 * joins them, and whose UPDATE, DELETE and INSERT change both tables at once, as an attacker
 * moving, deleting or inserting an entry would.
 */
import Database from "better-sqlite3";

export function rawDatabase(path: string): Database.Database {
  const db = new Database(path);
  const triggers = db
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    .all() as { name: string; sql: string }[];
  for (const t of triggers) db.exec(`DROP TRIGGER "${t.name}"`);
  installEntriesView(db);
  const close = db.close.bind(db);
  db.close = () => {
    for (const t of triggers) db.exec(t.sql);
    return close();
  };
  return db;
}

/** The temporary `entries` view over `tree` and `bodies` (see the module comment). */
function installEntriesView(db: Database.Database): void {
  db.exec(`
    DROP VIEW IF EXISTS temp.entries;
    CREATE TEMP VIEW entries AS
      SELECT t.log_id AS log_id, t.seq AS seq, b.record AS record, t.leaf_hash AS leaf_hash,
             t.nodes AS nodes, b.id AS id, b.ts AS ts, b.type AS type, b.actor AS actor,
             b.sector AS sector, b.status AS status
      FROM main.tree t LEFT JOIN main.bodies b ON b.log_id = t.log_id AND b.seq = t.seq;
    CREATE TEMP TRIGGER entries_update_row INSTEAD OF UPDATE OF seq, record, leaf_hash, nodes ON entries
    BEGIN
      UPDATE main.bodies SET seq = NEW.seq, record = NEW.record WHERE log_id = OLD.log_id AND seq = OLD.seq;
      UPDATE main.tree SET seq = NEW.seq, leaf_hash = NEW.leaf_hash, nodes = NEW.nodes
        WHERE log_id = OLD.log_id AND seq = OLD.seq;
    END;
    CREATE TEMP TRIGGER entries_update_columns INSTEAD OF UPDATE OF id, ts, type, actor, sector, status ON entries
    BEGIN
      UPDATE main.bodies SET id = NEW.id, ts = NEW.ts, type = NEW.type, actor = NEW.actor,
        sector = NEW.sector, status = NEW.status WHERE log_id = OLD.log_id AND seq = OLD.seq;
    END;
    CREATE TEMP TRIGGER entries_delete INSTEAD OF DELETE ON entries
    BEGIN
      DELETE FROM main.bodies WHERE log_id = OLD.log_id AND seq = OLD.seq;
      DELETE FROM main.tree WHERE log_id = OLD.log_id AND seq = OLD.seq;
    END;
    CREATE TEMP TRIGGER entries_insert INSTEAD OF INSERT ON entries
    BEGIN
      INSERT INTO main.tree (log_id, seq, leaf_hash, nodes) VALUES (NEW.log_id, NEW.seq, NEW.leaf_hash, NEW.nodes);
      INSERT INTO main.bodies (log_id, seq, record) VALUES (NEW.log_id, NEW.seq, NEW.record);
    END;
  `);
}

/**
 * What an attacker does to rewrite a query column: the columns are generated from the record
 * text, so the bodies table is rebuilt with plain ones (same names, same values, same
 * indexes). Only the table's own definition then differs from genlog's.
 */
export function makeQueryColumnsWritable(db: Database.Database): void {
  const indexes = db
    .prepare(
      "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'bodies' AND sql IS NOT NULL",
    )
    .pluck()
    .all() as string[];
  db.exec(`
    DROP VIEW temp.entries;
    CREATE TABLE bodies_plain (
      log_id INTEGER NOT NULL, seq INTEGER NOT NULL, record TEXT NOT NULL,
      id TEXT, ts TEXT, type TEXT, actor TEXT, sector TEXT, status TEXT,
      PRIMARY KEY (log_id, seq)
    ) WITHOUT ROWID;
    INSERT INTO bodies_plain
      SELECT log_id, seq, record, id, ts, type, actor, sector, status FROM bodies;
    DROP TABLE bodies;
    ALTER TABLE bodies_plain RENAME TO bodies;
  `);
  for (const sql of indexes) db.exec(sql);
  installEntriesView(db);
}
