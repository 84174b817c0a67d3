/**
 * The SQLite schema as a list of versioned migrations. A database records the version it is
 * at (`settings.schema_version`); opening it for writing applies the missing migrations in
 * order, in one transaction under SQLite's write lock, so two processes opening an old
 * database at once migrate it exactly once. A new database replays the whole list, so a
 * fresh file and a migrated one hold the same schema, byte for byte in `sqlite_master`,
 * which is what {@link schemaDeviations} checks.
 *
 * Never edit a migration that has been released: add one.
 */
import Database from "better-sqlite3";

/** One step of the schema's history. */
export interface Migration {
  version: number;
  /** What the step changes, for the docs and `genlog status`. */
  description: string;
  sql: string;
}

/** The released migrations, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "genlog 0.1.0: settings, logs, entries (records, leaves, nodes), checkpoints",
    sql: `
CREATE TABLE IF NOT EXISTS settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS logs (
  log_id INTEGER PRIMARY KEY,
  origin TEXT NOT NULL UNIQUE,
  tenant TEXT NOT NULL,
  stream TEXT NOT NULL,
  UNIQUE (tenant, stream)
);
CREATE TABLE IF NOT EXISTS entries (
  log_id    INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  id        TEXT NOT NULL,
  ts        TEXT NOT NULL,
  type      TEXT NOT NULL,
  actor     TEXT,
  sector    TEXT,
  status    TEXT NOT NULL,
  record    TEXT NOT NULL,
  leaf_hash BLOB NOT NULL,
  nodes     BLOB NOT NULL,
  PRIMARY KEY (log_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS entries_id ON entries (log_id, id);
CREATE INDEX IF NOT EXISTS entries_type ON entries (log_id, type, seq);
CREATE INDEX IF NOT EXISTS entries_actor ON entries (log_id, actor, seq) WHERE actor IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_sector ON entries (log_id, sector, seq) WHERE sector IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_status ON entries (log_id, status, seq) WHERE status <> 'succeeded';
CREATE TABLE IF NOT EXISTS checkpoints (
  log_id INTEGER NOT NULL,
  size   INTEGER NOT NULL,
  note   TEXT NOT NULL,
  PRIMARY KEY (log_id, size)
);
`,
  },
  {
    version: 2,
    description:
      "entries: the query columns generated from the record text; the actor index filled in chunks of 4096 entries; checkpoints kept by size (the latest one gives the log's size); entries, checkpoints, the actor index and logs append-only (triggers)",
    // The query columns are copies of record members. Generated from the record text, they
    // cannot disagree with it: a lookup by id or a filtered query reads what the leaf
    // commits to. (A text that is not JSON, which only tampering makes, gives NULLs; verify
    // reports the entry.) A log's size is the size of its latest checkpoint, which deleting
    // entries cannot change (in version 1 it was max(seq) + 1, which a deleted last entry
    // lowered); checkpoints are keyed by size, one b-tree instead of a table and its index.
    // The actor index has as many keys as there are people: written row by row, each commit
    // would dirty pages all over it. It is filled in chunks instead (see ACTOR_INDEX_CHUNK).
    sql: `
ALTER TABLE entries RENAME TO entries_v1;
CREATE TABLE entries (
  log_id    INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  record    TEXT NOT NULL,
  leaf_hash BLOB NOT NULL,
  nodes     BLOB NOT NULL,
  id     TEXT GENERATED ALWAYS AS (iif(json_valid(record), json_extract(record, '$.id'), NULL)) STORED,
  ts     TEXT GENERATED ALWAYS AS (iif(json_valid(record), json_extract(record, '$.ts'), NULL)) STORED,
  type   TEXT GENERATED ALWAYS AS (iif(json_valid(record), json_extract(record, '$.type'), NULL)) STORED,
  actor  TEXT GENERATED ALWAYS AS (iif(json_valid(record), json_extract(record, '$.actor'), NULL)) STORED,
  sector TEXT GENERATED ALWAYS AS (iif(json_valid(record), json_extract(record, '$.sector'), NULL)) STORED,
  status TEXT GENERATED ALWAYS AS (iif(json_valid(record), json_extract(record, '$.status'), NULL)) STORED,
  PRIMARY KEY (log_id, seq)
) WITHOUT ROWID;
INSERT INTO entries (log_id, seq, record, leaf_hash, nodes)
  SELECT log_id, seq, record, leaf_hash, nodes FROM entries_v1 ORDER BY log_id, seq;
DROP TABLE entries_v1;
CREATE UNIQUE INDEX entries_id ON entries (log_id, id);
CREATE INDEX entries_type ON entries (log_id, type, seq);
CREATE INDEX entries_sector ON entries (log_id, sector, seq) WHERE sector IS NOT NULL;
CREATE INDEX entries_status ON entries (log_id, status, seq) WHERE status <> 'succeeded';
CREATE TABLE actor_index (
  log_id INTEGER NOT NULL,
  actor  TEXT NOT NULL,
  seq    INTEGER NOT NULL,
  PRIMARY KEY (log_id, actor, seq)
) WITHOUT ROWID;
ALTER TABLE checkpoints RENAME TO checkpoints_v1;
CREATE TABLE checkpoints (
  log_id INTEGER NOT NULL,
  size   INTEGER NOT NULL,
  note   TEXT NOT NULL,
  PRIMARY KEY (log_id, size)
) WITHOUT ROWID;
INSERT INTO checkpoints (log_id, size, note) SELECT log_id, size, note FROM checkpoints_v1;
DROP TABLE checkpoints_v1;
INSERT INTO actor_index (log_id, actor, seq)
  SELECT e.log_id, e.actor, e.seq FROM entries e
  WHERE e.actor IS NOT NULL
    AND e.seq < (SELECT (max(c.size) / 4096) * 4096 FROM checkpoints c WHERE c.log_id = e.log_id);
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
  BEGIN SELECT RAISE(ABORT, 'genlog: entries are append-only'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
  BEGIN SELECT RAISE(ABORT, 'genlog: entries are append-only'); END;
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'genlog: checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'genlog: checkpoints are append-only'); END;
CREATE TRIGGER actor_index_no_update BEFORE UPDATE ON actor_index
  BEGIN SELECT RAISE(ABORT, 'genlog: the actor index is append-only'); END;
CREATE TRIGGER actor_index_no_delete BEFORE DELETE ON actor_index
  BEGIN SELECT RAISE(ABORT, 'genlog: the actor index is append-only'); END;
CREATE TRIGGER logs_no_update BEFORE UPDATE ON logs
  BEGIN SELECT RAISE(ABORT, 'genlog: a log keeps its name'); END;
CREATE TRIGGER logs_no_delete BEFORE DELETE ON logs
  BEGIN SELECT RAISE(ABORT, 'genlog: logs are never deleted'); END;
`,
  },
  {
    version: 3,
    description:
      "subjects: each tenant's pseudonyms with their lookup values and wrapped data keys (erasure deletes a subject's rows)",
    // Not append-only: erasing a subject deletes its row, which is what makes its envelopes
    // noise and its pseudonym unlinkable. A person may have two pseudonyms when two
    // processes met them first at once; the lookup index finds both.
    sql: `
CREATE TABLE subjects (
  tenant      TEXT NOT NULL,
  pseudonym   TEXT NOT NULL,
  lookup      BLOB NOT NULL,
  wrapped_key BLOB NOT NULL,
  PRIMARY KEY (tenant, pseudonym)
) WITHOUT ROWID;
CREATE INDEX subjects_lookup ON subjects (tenant, lookup);
`,
  },
  {
    version: 4,
    description:
      "holds: the legal holds in force, each set and released by a system event of the tenant's log; deleted pages are overwritten (secure_delete)",
    // Written only in the transaction of the system event that sets or releases the hold,
    // so that the log says when and why; the row lets an erasure or a purge check for holds
    // under the same write lock that commits it. `subject` is a pseudonym, or '' for the
    // whole tenant.
    sql: `
CREATE TABLE holds (
  tenant   TEXT NOT NULL,
  subject  TEXT NOT NULL,
  event_id TEXT NOT NULL,
  PRIMARY KEY (tenant, subject)
) WITHOUT ROWID;
`,
  },
  {
    version: 5,
    description:
      "tenant_keys: each tenant's key, random, wrapped under the master key (rotating the master key re-wraps these rows and nothing else)",
    sql: `
CREATE TABLE tenant_keys (
  tenant  TEXT PRIMARY KEY,
  wrapped BLOB NOT NULL
) WITHOUT ROWID;
`,
  },
  {
    version: 6,
    description:
      "entries split into tree (leaf hashes and nodes, append-only for ever) and bodies (records and their query columns), so that retention deletes bodies and keeps every proof; purges: the ranges a purge event covers, outside which no body or actor index row can be deleted",
    // A purge deletes bodies (and their actor index rows) in the transaction of the purge
    // event that records the range; the triggers refuse any other deletion, so a slip of an
    // operator's hand cannot drop a record. Someone who drops the triggers can still delete
    // a body: verify then finds a missing body that no committed purge event covers.
    sql: `
CREATE TABLE tree (
  log_id    INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  leaf_hash BLOB NOT NULL,
  nodes     BLOB NOT NULL,
  PRIMARY KEY (log_id, seq)
) WITHOUT ROWID;
CREATE TABLE bodies (
  log_id INTEGER NOT NULL,
  seq    INTEGER NOT NULL,
  record TEXT NOT NULL,
  id     TEXT GENERATED ALWAYS AS (iif(json_valid(record), json_extract(record, '$.id'), NULL)) STORED,
  ts     TEXT GENERATED ALWAYS AS (iif(json_valid(record), json_extract(record, '$.ts'), NULL)) STORED,
  type   TEXT GENERATED ALWAYS AS (iif(json_valid(record), json_extract(record, '$.type'), NULL)) STORED,
  actor  TEXT GENERATED ALWAYS AS (iif(json_valid(record), json_extract(record, '$.actor'), NULL)) STORED,
  sector TEXT GENERATED ALWAYS AS (iif(json_valid(record), json_extract(record, '$.sector'), NULL)) STORED,
  status TEXT GENERATED ALWAYS AS (iif(json_valid(record), json_extract(record, '$.status'), NULL)) STORED,
  PRIMARY KEY (log_id, seq)
) WITHOUT ROWID;
INSERT INTO tree (log_id, seq, leaf_hash, nodes)
  SELECT log_id, seq, leaf_hash, nodes FROM entries ORDER BY log_id, seq;
INSERT INTO bodies (log_id, seq, record)
  SELECT log_id, seq, record FROM entries ORDER BY log_id, seq;
DROP TABLE entries;
CREATE UNIQUE INDEX bodies_id ON bodies (log_id, id);
CREATE INDEX bodies_type ON bodies (log_id, type, seq);
CREATE INDEX bodies_sector ON bodies (log_id, sector, seq) WHERE sector IS NOT NULL;
CREATE INDEX bodies_status ON bodies (log_id, status, seq) WHERE status <> 'succeeded';
CREATE TABLE purges (
  log_id   INTEGER NOT NULL,
  from_seq INTEGER NOT NULL,
  to_seq   INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  PRIMARY KEY (log_id, from_seq)
) WITHOUT ROWID;
CREATE TRIGGER tree_no_update BEFORE UPDATE ON tree
  BEGIN SELECT RAISE(ABORT, 'genlog: the tree is append-only'); END;
CREATE TRIGGER tree_no_delete BEFORE DELETE ON tree
  BEGIN SELECT RAISE(ABORT, 'genlog: the tree is append-only'); END;
CREATE TRIGGER bodies_no_update BEFORE UPDATE ON bodies
  BEGIN SELECT RAISE(ABORT, 'genlog: records are never changed'); END;
CREATE TRIGGER bodies_no_delete BEFORE DELETE ON bodies
  WHEN NOT EXISTS (SELECT 1 FROM purges p WHERE p.log_id = OLD.log_id AND OLD.seq >= p.from_seq AND OLD.seq < p.to_seq)
  BEGIN SELECT RAISE(ABORT, 'genlog: a record is deleted only by a purge'); END;
DROP TRIGGER actor_index_no_delete;
CREATE TRIGGER actor_index_no_delete BEFORE DELETE ON actor_index
  WHEN NOT EXISTS (SELECT 1 FROM purges p WHERE p.log_id = OLD.log_id AND OLD.seq >= p.from_seq AND OLD.seq < p.to_seq)
  BEGIN SELECT RAISE(ABORT, 'genlog: the actor index is append-only'); END;
CREATE TRIGGER purges_no_update BEFORE UPDATE ON purges
  BEGIN SELECT RAISE(ABORT, 'genlog: purges are append-only'); END;
CREATE TRIGGER purges_no_delete BEFORE DELETE ON purges
  BEGIN SELECT RAISE(ABORT, 'genlog: purges are append-only'); END;
`,
  },
  {
    version: 7,
    description:
      "regions and tenants: the data directory's home database says in which region each tenant created with one lives, and where each region's database is",
    // Only the home database fills them; a region's database has them empty (one schema).
    sql: `
CREATE TABLE regions (
  region TEXT PRIMARY KEY,
  dir    TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE tenants (
  tenant  TEXT PRIMARY KEY,
  region  TEXT NOT NULL,
  created TEXT NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER tenants_no_update BEFORE UPDATE ON tenants
  BEGIN SELECT RAISE(ABORT, 'genlog: a tenant stays in its region'); END;
`,
  },
  {
    version: 8,
    description:
      "API tokens: the SHA-256 of each token (never the token), its tenant scope, role, expiry and revocation; home database only",
    sql: `
CREATE TABLE tokens (
  id      TEXT PRIMARY KEY,
  hash    BLOB NOT NULL UNIQUE,
  scope   TEXT NOT NULL,
  role    TEXT NOT NULL,
  label   TEXT NOT NULL,
  created TEXT NOT NULL,
  expires TEXT,
  revoked TEXT
) WITHOUT ROWID;
CREATE TRIGGER tokens_revoke_only BEFORE UPDATE ON tokens
  WHEN NEW.id IS NOT OLD.id OR NEW.hash IS NOT OLD.hash OR NEW.scope IS NOT OLD.scope
    OR NEW.role IS NOT OLD.role OR NEW.created IS NOT OLD.created OR NEW.expires IS NOT OLD.expires
    OR OLD.revoked IS NOT NULL
  BEGIN SELECT RAISE(ABORT, 'genlog: a token can only be revoked, once'); END;
`,
  },
  {
    version: 9,
    description:
      "followers: what reads each tenant's committed log from a durable cursor (webhooks, streams), and the events they gave up on; beside the tenant's log",
    sql: `
CREATE TABLE followers (
  tenant     TEXT NOT NULL,
  name       TEXT NOT NULL,
  kind       TEXT NOT NULL,
  config     TEXT NOT NULL,
  secret     BLOB,
  cursor     INTEGER NOT NULL,
  attempts   INTEGER NOT NULL,
  next_at    INTEGER NOT NULL,
  last_error TEXT,
  disabled   TEXT,
  created    TEXT NOT NULL,
  PRIMARY KEY (tenant, name)
) WITHOUT ROWID;
CREATE TABLE dead_letters (
  tenant   TEXT NOT NULL,
  name     TEXT NOT NULL,
  seq      INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  error    TEXT NOT NULL,
  at       TEXT NOT NULL,
  due      INTEGER NOT NULL,
  PRIMARY KEY (tenant, name, seq)
) WITHOUT ROWID;
`,
  },
  {
    version: 10,
    description:
      "followers: an id drawn when a follower is added, so that one removed and added again under its name is another follower to a runner still busy with the first",
    sql: `
ALTER TABLE followers ADD COLUMN id TEXT NOT NULL DEFAULT '';
UPDATE followers SET id = lower(hex(randomblob(16)));
`,
  },
  {
    version: 11,
    description:
      "followers: a lease (its holder and until when, epoch ms), so that of several processes running followers over one database, one at a time hands a follower's records over",
    sql: `
ALTER TABLE followers ADD COLUMN lease_owner TEXT;
ALTER TABLE followers ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
`,
  },
];

/**
 * The actor index covers the entries below the largest multiple of this many that a log's
 * size has reached: the commit that takes a log past a multiple adds the rows of the chunk
 * below it, in one sorted insert that touches each index page once (a commit of 128 rows
 * written one by one would touch a page per distinct actor). Queries read the index below
 * that bound and scan the entries above it (fewer than one chunk and a batch). Fixed by the
 * schema (migration 2 fills the index with it): changing it takes a migration.
 */
export const ACTOR_INDEX_CHUNK = 4096;

/** Where a log of `size` entries has its actor index filled up to (exclusive). */
export function actorIndexBound(size: number): number {
  return Math.floor(size / ACTOR_INDEX_CHUNK) * ACTOR_INDEX_CHUNK;
}

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The schema version a database is at: 0 for an empty file, undefined for a foreign one. */
export function schemaVersionOf(db: Database.Database): number | undefined {
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    .pluck()
    .all() as string[];
  if (tables.length === 0) return 0;
  if (!tables.includes("settings")) return undefined;
  const v = db.prepare("SELECT value FROM settings WHERE key = 'schema_version'").pluck().get() as
    string | undefined;
  return v === undefined || !/^[1-9][0-9]*$/.test(v) ? undefined : Number(v);
}

/**
 * Brings a writable database to {@link SCHEMA_VERSION}. Runs under `BEGIN IMMEDIATE`, so
 * the version is read again once the write lock is held: of two processes that open an old
 * file at once, the second finds it migrated. Returns the versions before and after.
 *
 * @throws Error with a message saying why, for a foreign database or a newer schema; the
 * caller wraps it in a GenlogError.
 */
export function migrate(db: Database.Database): { from: number; to: number } {
  return db
    .transaction(() => {
      const from = schemaVersionOf(db);
      if (from === undefined) throw new ForeignDatabaseError(foreignTables(db));
      if (from > SCHEMA_VERSION) throw new NewerSchemaError(from);
      for (const m of MIGRATIONS) {
        if (m.version <= from) continue;
        db.exec(m.sql);
        db.prepare(
          "INSERT INTO settings (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        ).run(String(m.version));
      }
      return { from, to: SCHEMA_VERSION };
    })
    .immediate();
}

/** A SQLite file with tables of its own that genlog must not add to. */
export class ForeignDatabaseError extends Error {
  constructor(readonly tables: string[]) {
    super(
      `it is a SQLite database but not genlog's (its tables: ${tables.slice(0, 8).join(", ")}${tables.length > 8 ? ", …" : ""}); genlog will not add its own tables to it`,
    );
  }
}

/** A database written by a newer genlog. */
export class NewerSchemaError extends Error {
  constructor(readonly version: number) {
    super(
      `its schema version is ${version}, newer than the ${SCHEMA_VERSION} this genlog knows: use a newer genlog`,
    );
  }
}

function foreignTables(db: Database.Database): string[] {
  return db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    .pluck()
    .all() as string[];
}

interface SchemaObject {
  type: string;
  name: string;
  sql: string | null;
}

let expected: Map<string, SchemaObject> | undefined;

/** The schema objects a database at {@link SCHEMA_VERSION} holds, from a fresh replay. */
function expectedObjects(): Map<string, SchemaObject> {
  if (expected === undefined) {
    const db = new Database(":memory:");
    try {
      for (const m of MIGRATIONS) db.exec(m.sql);
      expected = new Map(readObjects(db).map((o) => [o.name, o]));
    } finally {
      db.close();
    }
  }
  return expected;
}

function readObjects(db: Database.Database): SchemaObject[] {
  // sqlite_stat* appear when someone runs ANALYZE: statistics, not part of genlog's schema.
  return db
    .prepare(
      "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%' ORDER BY name",
    )
    .all() as SchemaObject[];
}

/**
 * How the schema of `db` differs from the one genlog made: a dropped trigger lets rows be
 * deleted, a dropped or rebuilt unique index lets ids repeat, an added trigger can rewrite
 * what is inserted. One sentence per difference; empty when the schema is genlog's.
 */
export function schemaDeviations(db: Database.Database): string[] {
  const want = expectedObjects();
  const have = new Map(readObjects(db).map((o) => [o.name, o]));
  const out: string[] = [];
  for (const [name, o] of want) {
    const got = have.get(name);
    if (got === undefined) out.push(`${o.type} ${name} is missing`);
    else if (got.type !== o.type || normalise(got.sql) !== normalise(o.sql)) {
      out.push(`${o.type} ${name} was altered`);
    }
  }
  for (const [name, o] of have) {
    if (!want.has(name)) out.push(`${o.type} ${name} was added`);
  }
  return out;
}

/** SQL as SQLite keeps it, with runs of white space made one (the text is the one we gave). */
function normalise(sql: string | null): string | null {
  return sql === null ? null : sql.replace(/\s+/g, " ").trim();
}
