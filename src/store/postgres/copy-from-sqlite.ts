/**
 * `genlog migrate --to postgres://…`: copies a data directory's SQLite database into an empty
 * PostgreSQL database, row for row, in one transaction: the logs with their ids, every tree
 * position (a purged one keeps its leaf and nodes, and no body, as in the file), every
 * checkpoint as it was signed, purges, subjects, holds, tenant keys, settings, tokens,
 * followers and their dead letters. Nothing is re-sealed or re-signed: the copy has the same
 * checkpoints, and verify on it checks the same roots.
 *
 * The file is read through a read-only connection in one read transaction (a snapshot: a
 * writer appending meanwhile is not seen half-way); stop the writers first anyway, since what
 * they commit after the snapshot is not copied.
 */
import Database from "better-sqlite3";
import pg from "pg";
import { GenlogError } from "../../errors.js";
import { PostgresStore } from "./postgres-store.js";

/** Rows per INSERT. */
const CHUNK = 5000;

/** What {@link copySqliteToPostgres} copied. */
export interface CopyReport {
  logs: number;
  entries: number;
  bodies: number;
  checkpoints: number;
  subjects: number;
  tokens: number;
  followers: number;
}

/** A table copied as it is: its columns in the file, and how PostgreSQL types them. */
interface TableCopy {
  table: string;
  columns: readonly string[];
  types: readonly string[];
  /** Converts a SQLite value (0/1 for booleans). */
  convert?: (row: Record<string, unknown>) => unknown[];
}

const TABLES: readonly TableCopy[] = [
  { table: "settings", columns: ["key", "value"], types: ["text", "text"] },
  {
    table: "tree",
    columns: ["log_id", "seq", "leaf_hash", "nodes"],
    types: ["bigint", "bigint", "bytea", "bytea"],
  },
  {
    table: "bodies",
    columns: ["log_id", "seq", "record", "id", "ts", "type", "actor", "sector", "status"],
    types: ["bigint", "bigint", "text", "text", "text", "text", "text", "text", "text"],
  },
  {
    table: "checkpoints",
    columns: ["log_id", "size", "note"],
    types: ["bigint", "bigint", "text"],
  },
  {
    table: "purges",
    columns: ["log_id", "from_seq", "to_seq", "event_id"],
    types: ["bigint", "bigint", "bigint", "text"],
  },
  {
    table: "subjects",
    columns: ["tenant", "pseudonym", "lookup", "wrapped_key"],
    types: ["text", "text", "bytea", "bytea"],
  },
  { table: "holds", columns: ["tenant", "subject", "event_id"], types: ["text", "text", "text"] },
  { table: "tenant_keys", columns: ["tenant", "wrapped"], types: ["text", "bytea"] },
  {
    table: "tokens",
    columns: ["id", "hash", "scope", "role", "label", "created", "expires", "revoked"],
    types: ["text", "bytea", "text", "text", "text", "text", "text", "text"],
  },
  {
    table: "followers",
    columns: [
      "tenant",
      "name",
      "id",
      "kind",
      "config",
      "secret",
      "cursor",
      "attempts",
      "next_at",
      "last_error",
      "disabled",
      "created",
    ],
    types: [
      "text",
      "text",
      "text",
      "text",
      "text",
      "bytea",
      "bigint",
      "integer",
      "bigint",
      "text",
      "text",
      "text",
    ],
  },
  {
    table: "dead_letters",
    columns: ["tenant", "name", "seq", "event_id", "attempts", "error", "at", "due"],
    types: ["text", "text", "bigint", "text", "integer", "text", "text", "boolean"],
    convert: (r) => [r.tenant, r.name, r.seq, r.event_id, r.attempts, r.error, r.at, r.due === 1],
  },
];

/**
 * Copies the SQLite database at `sqlitePath` (at the current schema: run `genlog migrate`
 * first) into the PostgreSQL database at `url`, which must hold no log yet.
 *
 * @throws {GenlogError} `GENLOG_E_USAGE` when the PostgreSQL database already holds logs, or
 * when the file has tenants in regions (each region's database has its own URL: not copied
 * here); `GENLOG_E_STORE` for either database's failures. Nothing is written on failure.
 */
export async function copySqliteToPostgres(sqlitePath: string, url: string): Promise<CopyReport> {
  // Creates or migrates the schema (and checks its guards) first.
  const target = await PostgresStore.connect({ url });
  const location = target.location;
  await target.close();
  const db = new Database(sqlitePath, { readonly: true, fileMustExist: true });
  const client = new pg.Client({ connectionString: url, options: "-c synchronous_commit=on" });
  try {
    const regions = db.prepare("SELECT count(*) FROM tenants").pluck().get() as number;
    if (regions > 0) {
      throw new GenlogError(
        "GENLOG_E_USAGE",
        `${sqlitePath} has ${regions} tenant(s) in residency regions, whose records live in their regions' databases: copying those into one PostgreSQL database is not supported yet`,
        { details: { path: sqlitePath, tenants: regions } },
      );
    }
    await client.connect();
    // One snapshot of the file for the whole copy, one transaction on the server.
    db.exec("BEGIN");
    await client.query("BEGIN");
    // Checked inside the copy's transaction: nothing of genlog's is there but its schema.
    const used = await client.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM logs) + (SELECT count(*) FROM tokens)
            + (SELECT count(*) FROM settings WHERE key <> 'schema_version') AS n`,
    );
    if (Number(used.rows[0]!.n) > 0) {
      throw new GenlogError(
        "GENLOG_E_USAGE",
        `${location} already holds genlog data: migrate into an empty database`,
        { details: { location } },
      );
    }
    const report: CopyReport = {
      logs: 0,
      entries: 0,
      bodies: 0,
      checkpoints: 0,
      subjects: 0,
      tokens: 0,
      followers: 0,
    };
    // The logs keep their ids, so every other row keeps its log.
    const logs = db
      .prepare("SELECT log_id, origin, tenant, stream FROM logs ORDER BY log_id")
      .all() as { log_id: number; origin: string; tenant: string; stream: string }[];
    for (const l of logs) {
      await client.query(
        "INSERT INTO logs (log_id, origin, tenant, stream) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4)",
        [l.log_id, l.origin, l.tenant, l.stream],
      );
    }
    report.logs = logs.length;
    if (logs.length > 0) {
      await client.query(
        "SELECT setval(pg_get_serial_sequence('logs', 'log_id'), (SELECT max(log_id) FROM logs))",
      );
    }
    for (const t of TABLES) {
      // schema_version is the PostgreSQL schema's own, already set.
      const where = t.table === "settings" ? " WHERE key <> 'schema_version'" : "";
      const rows = db
        .prepare(`SELECT ${t.columns.join(", ")} FROM ${t.table}${where}`)
        .iterate() as IterableIterator<Record<string, unknown>>;
      let chunk: unknown[][] = [];
      let n = 0;
      const flush = async () => {
        if (chunk.length === 0) return;
        const columns = t.columns.map((_, i) => chunk.map((r) => r[i] ?? null));
        await client.query(
          `INSERT INTO ${t.table} (${t.columns.join(", ")})
           SELECT * FROM unnest(${t.types.map((ty, i) => `$${i + 1}::${ty}[]`).join(", ")})`,
          columns,
        );
        n += chunk.length;
        chunk = [];
      };
      for (const row of rows) {
        chunk.push(t.convert?.(row) ?? t.columns.map((c) => row[c]));
        if (chunk.length >= CHUNK) await flush();
      }
      await flush();
      if (t.table === "tree") report.entries = n;
      else if (t.table === "bodies") report.bodies = n;
      else if (t.table === "checkpoints") report.checkpoints = n;
      else if (t.table === "subjects") report.subjects = n;
      else if (t.table === "tokens") report.tokens = n;
      else if (t.table === "followers") report.followers = n;
    }
    await client.query("COMMIT");
    return report;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    if (e instanceof GenlogError) throw e;
    throw new GenlogError(
      "GENLOG_E_STORE",
      `copying ${sqlitePath} into ${location} failed: ${e instanceof Error ? e.message : String(e)}; nothing was written`,
      { cause: e, details: { path: sqlitePath, location } },
    );
  } finally {
    if (db.inTransaction) db.exec("ROLLBACK");
    db.close();
    await client.end().catch(() => {});
  }
}
