/**
 * The PostgreSQL schema as a list of versioned migrations, applied at start-up in one
 * transaction under an advisory lock, so that of several nodes starting at once exactly one
 * migrates and the others find it done. The version is `settings.schema_version`. The tables
 * are those of the SQLite driver, in PostgreSQL's types (`bigint`, `bytea`, `text`), with the
 * same rules enforced by triggers: the tree, checkpoints, purges and logs are append-only; a
 * record body is deleted only inside a committed purge's range.
 *
 * Every primary key and unique index of a log's data leads with `log_id`, and of a tenant's
 * data with `tenant`, and no query joins two tenants: a distributed engine (Citus) can shard
 * the log tables by `log_id` and the tenant tables by `tenant` (docs/guides/scale-out.md).
 *
 * Never edit a migration that has been released: add one.
 */

/** One step of the schema's history. */
export interface PgMigration {
  version: number;
  description: string;
  sql: string;
}

/** A trigger function that refuses the statement with `message`. */
function refuse(name: string, message: string): string {
  return `
CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '${message}' USING ERRCODE = 'GL001'; END $$;`;
}

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    description:
      "genlog on PostgreSQL: settings, logs, tree (leaf hashes and nodes), bodies (records and their query columns), checkpoints, purges, subjects, holds, tenant keys, regions and tenants, tokens, followers and dead letters",
    sql: `
CREATE TABLE settings (
  key   text PRIMARY KEY,
  value text NOT NULL
);
CREATE TABLE logs (
  log_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  origin text NOT NULL UNIQUE,
  tenant text NOT NULL,
  stream text NOT NULL,
  UNIQUE (tenant, stream)
);
CREATE TABLE tree (
  log_id    bigint NOT NULL,
  seq       bigint NOT NULL,
  leaf_hash bytea NOT NULL,
  nodes     bytea NOT NULL,
  PRIMARY KEY (log_id, seq)
);
-- The query columns are the record's own members, stored as the writer gives them (verify
-- checks every one against the record text, which the leaf hash commits to).
CREATE TABLE bodies (
  log_id bigint NOT NULL,
  seq    bigint NOT NULL,
  record text NOT NULL,
  id     text NOT NULL,
  ts     text NOT NULL,
  type   text NOT NULL,
  actor  text,
  sector text,
  status text NOT NULL,
  PRIMARY KEY (log_id, seq)
);
CREATE UNIQUE INDEX bodies_id ON bodies (log_id, id);
CREATE INDEX bodies_type ON bodies (log_id, type, seq);
CREATE INDEX bodies_actor ON bodies (log_id, actor, seq) WHERE actor IS NOT NULL;
CREATE INDEX bodies_sector ON bodies (log_id, sector, seq) WHERE sector IS NOT NULL;
CREATE INDEX bodies_status ON bodies (log_id, status, seq) WHERE status <> 'succeeded';
CREATE TABLE checkpoints (
  log_id bigint NOT NULL,
  size   bigint NOT NULL,
  note   text NOT NULL,
  PRIMARY KEY (log_id, size)
);
CREATE TABLE purges (
  log_id   bigint NOT NULL,
  from_seq bigint NOT NULL,
  to_seq   bigint NOT NULL,
  event_id text NOT NULL,
  PRIMARY KEY (log_id, from_seq)
);
CREATE TABLE subjects (
  tenant      text NOT NULL,
  pseudonym   text NOT NULL,
  lookup      bytea NOT NULL,
  wrapped_key bytea NOT NULL,
  PRIMARY KEY (tenant, pseudonym)
);
CREATE INDEX subjects_lookup ON subjects (tenant, lookup);
CREATE TABLE holds (
  tenant   text NOT NULL,
  subject  text NOT NULL,
  event_id text NOT NULL,
  PRIMARY KEY (tenant, subject)
);
CREATE TABLE tenant_keys (
  tenant  text PRIMARY KEY,
  wrapped bytea NOT NULL
);
CREATE TABLE regions (
  region text PRIMARY KEY,
  dir    text NOT NULL
);
CREATE TABLE tenants (
  tenant  text PRIMARY KEY,
  region  text NOT NULL,
  created text NOT NULL
);
CREATE TABLE tokens (
  id      text PRIMARY KEY,
  hash    bytea NOT NULL UNIQUE,
  scope   text NOT NULL,
  role    text NOT NULL,
  label   text NOT NULL,
  created text NOT NULL,
  expires text,
  revoked text
);
CREATE TABLE followers (
  tenant     text NOT NULL,
  name       text NOT NULL,
  id         text NOT NULL,
  kind       text NOT NULL,
  config     text NOT NULL,
  secret     bytea,
  cursor     bigint NOT NULL,
  attempts   integer NOT NULL,
  next_at    bigint NOT NULL,
  last_error text,
  disabled   text,
  created    text NOT NULL,
  -- The runner that holds the follower, until when (epoch ms, the database's clock).
  lease_owner text,
  lease_until bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant, name)
);
CREATE TABLE dead_letters (
  tenant   text NOT NULL,
  name     text NOT NULL,
  seq      bigint NOT NULL,
  event_id text NOT NULL,
  attempts integer NOT NULL,
  error    text NOT NULL,
  at       text NOT NULL,
  due      boolean NOT NULL,
  PRIMARY KEY (tenant, name, seq)
);
${refuse("genlog_tree_append_only", "genlog: the tree is append-only")}
CREATE TRIGGER tree_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON tree
  FOR EACH STATEMENT EXECUTE FUNCTION genlog_tree_append_only();
${refuse("genlog_checkpoints_append_only", "genlog: checkpoints are append-only")}
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION genlog_checkpoints_append_only();
${refuse("genlog_purges_append_only", "genlog: purges are append-only")}
CREATE TRIGGER purges_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON purges
  FOR EACH STATEMENT EXECUTE FUNCTION genlog_purges_append_only();
${refuse("genlog_logs_append_only", "genlog: logs keep their names and are never deleted")}
CREATE TRIGGER logs_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON logs
  FOR EACH STATEMENT EXECUTE FUNCTION genlog_logs_append_only();
${refuse("genlog_bodies_unchanged", "genlog: records are never changed")}
CREATE TRIGGER bodies_unchanged BEFORE UPDATE OR TRUNCATE ON bodies
  FOR EACH STATEMENT EXECUTE FUNCTION genlog_bodies_unchanged();
CREATE FUNCTION genlog_bodies_purged_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM purges p WHERE p.log_id = OLD.log_id
                 AND OLD.seq >= p.from_seq AND OLD.seq < p.to_seq) THEN
    RAISE EXCEPTION 'genlog: a record is deleted only by a purge' USING ERRCODE = 'GL001';
  END IF;
  RETURN OLD;
END $$;
CREATE TRIGGER bodies_purged_only BEFORE DELETE ON bodies
  FOR EACH ROW EXECUTE FUNCTION genlog_bodies_purged_only();
${refuse("genlog_tenants_stay", "genlog: a tenant stays in its region")}
CREATE TRIGGER tenants_stay BEFORE UPDATE ON tenants
  FOR EACH STATEMENT EXECUTE FUNCTION genlog_tenants_stay();
CREATE FUNCTION genlog_tokens_revoke_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.id IS DISTINCT FROM OLD.id OR NEW.hash IS DISTINCT FROM OLD.hash
     OR NEW.scope IS DISTINCT FROM OLD.scope OR NEW.role IS DISTINCT FROM OLD.role
     OR NEW.created IS DISTINCT FROM OLD.created OR NEW.expires IS DISTINCT FROM OLD.expires
     OR OLD.revoked IS NOT NULL THEN
    RAISE EXCEPTION 'genlog: a token can only be revoked, once' USING ERRCODE = 'GL001';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER tokens_revoke_only BEFORE UPDATE ON tokens
  FOR EACH ROW EXECUTE FUNCTION genlog_tokens_revoke_only();
`,
  },
];

/** The schema version this code reads and writes. */
export const PG_SCHEMA_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]!.version;

/**
 * The triggers and unique indexes the rules rely on: one dropped lets rows be rewritten or an
 * id be logged twice unseen. Checked at every open for writing and by `checkIntegrity`.
 */
export const PG_GUARDS = {
  triggers: [
    "tree_append_only",
    "checkpoints_append_only",
    "purges_append_only",
    "logs_append_only",
    "bodies_unchanged",
    "bodies_purged_only",
    "tenants_stay",
    "tokens_revoke_only",
  ],
  uniqueIndexes: [
    "bodies_id",
    "bodies_pkey",
    "tree_pkey",
    "checkpoints_pkey",
    "purges_pkey",
    "logs_origin_key",
    "logs_tenant_stream_key",
    "tokens_hash_key",
  ],
} as const;

/** A schema (PostgreSQL namespace) whose tables are another program's. */
export class ForeignSchemaError extends Error {
  constructor(readonly tables: string[]) {
    super(
      `it holds tables that are not genlog's (${tables.slice(0, 8).join(", ")}${tables.length > 8 ? ", …" : ""}); genlog will not add its own tables there: give it a database or schema of its own`,
    );
  }
}
