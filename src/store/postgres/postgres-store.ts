/**
 * The PostgreSQL store, through `pg` (node-postgres) and a pool of connections, for several
 * genlog nodes over one database. Each batch commits in a transaction of its own that first
 * takes the log's advisory lock (`pg_advisory_xact_lock`), then checks that the log is still
 * at the checkpoint the batch was sealed on: of two nodes appending to one log, exactly one
 * extends it and the other is told `GENLOG_E_CONFLICT`, reloads and seals again; no fork.
 * `synchronous_commit` is forced on for every connection, so a resolved append is on disk.
 *
 * A connection lost while COMMIT was in flight leaves the outcome unknown to us (the server
 * may have committed): that is `GENLOG_E_COMMIT_UNKNOWN`, which the writer settles by reading
 * back, never by guessing. Batches of one log are committed in the order they are handed over
 * (a batch sealed on top of one that fails is then refused by the checkpoint check).
 */
import pg from "pg";
import { GenlogError, type ErrorCode } from "../../errors.js";
import type { EventStatus } from "../../core/event-schema.js";
import {
  completingSeq,
  type AppendBatch,
  type DeadLetterRow,
  type FollowerKey,
  type FollowerProgress,
  type FollowerRow,
  type HoldRow,
  type IndexFault,
  type LogRef,
  type LogStore,
  type NodeId,
  type PurgeRow,
  type PurgedEntry,
  type QueryFilter,
  type StoreDamage,
  type StoreEffect,
  type StoredCheckpoint,
  type StoredEntry,
  type SubjectRow,
  type TenantRow,
  type TokenRow,
  checkStatusKey,
} from "../log-store.js";
import { ForeignSchemaError, PG_GUARDS, PG_MIGRATIONS, PG_SCHEMA_VERSION } from "./schema.js";
import {
  alreadyErased,
  alreadyHeld,
  batchConflict,
  entriesOutOfStep,
  heldError,
  notHeld,
  purgeMismatch,
  purgeRace,
} from "../store-errors.js";

/** Options of {@link PostgresStore.connect}. */
export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database`; the tables go in its current schema. */
  url: string;
  /** Most connections this process opens (default 10). */
  poolSize?: number;
  /** Read only: no migration, no write (verify, export). */
  readonly?: boolean;
}

/** The advisory lock classes genlog takes (the first key of the two-key form). */
const LOCK_MIGRATE = 0x67656e6c; // "genl"
const LOCK_LOG = 0x67656e6d;

const SCAN_PAGE = 2048;
const CHECKPOINT_PAGE = 1024;

const ENTRY_COLUMNS =
  "e.seq, e.id, e.ts, e.type, e.actor, e.sector, e.status, e.record, t.leaf_hash, t.nodes";
const TREE_OF_E = "JOIN tree t ON t.log_id = e.log_id AND t.seq = e.seq";
const FOLLOWER_COLUMNS =
  'tenant, name, id, kind, config, secret, cursor, attempts, next_at AS "nextAt", last_error AS "lastError", disabled, created';

interface Row {
  seq: number;
  id: string;
  ts: string;
  type: string;
  actor: string | null;
  sector: string | null;
  status: string;
  record: string;
  leaf_hash: Buffer;
  nodes: Buffer;
}

/** `bigint` columns as numbers: seqs and sizes stay far below 2^53. */
const TYPES = {
  getTypeParser(oid: number, format?: string) {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as "text");
  },
} as pg.CustomTypesConfig;

/** {@link LogStore} on a PostgreSQL database. */
export class PostgresStore implements LogStore {
  readonly driver = "postgres";
  /** The server and database, without credentials (for messages). */
  readonly location: string;
  readonly #pool: pg.Pool;
  readonly #readonly: boolean;
  /** The schema versions before and after this open migrated the database, if it did. */
  readonly migrated: { from: number; to: number } | undefined;
  /** The last commit handed over per log: the next one of that log waits for it. */
  readonly #tails = new Map<number, Promise<unknown>>();
  #closed = false;

  private constructor(
    pool: pg.Pool,
    location: string,
    readonly: boolean,
    migrated: { from: number; to: number } | undefined,
  ) {
    this.#pool = pool;
    this.location = location;
    this.#readonly = readonly;
    this.migrated = migrated;
  }

  /**
   * Connects, and (unless read-only) creates or migrates the schema under an advisory lock,
   * then checks that the triggers and unique indexes genlog relies on are all there.
   *
   * @throws {GenlogError} `GENLOG_E_STORE` when the server cannot be reached, the schema is
   * another program's or newer than this genlog's; `GENLOG_E_INCONSISTENT` when a guard was
   * dropped or changed.
   */
  static async connect(options: PostgresStoreOptions): Promise<PostgresStore> {
    const location = redact(options.url);
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      types: TYPES,
      // An acknowledged append must be durable whatever the server's default says. A node
      // cut off mid-transaction must not hold a log's lock for ever, nor a commit wait for
      // one for ever (it fails as busy, and is retried).
      options:
        "-c synchronous_commit=on -c idle_in_transaction_session_timeout=60000 -c lock_timeout=30000",
      application_name: "genlog",
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
    });
    // An idle connection the server dropped: the pool replaces it; nothing to do here.
    pool.on("error", () => {});
    // A connection cut while checked out but between two statements (a restart, a failover,
    // pg_terminate_backend) is an 'error' event with no listener, which would end the process:
    // the call that holds it learns it from its next statement, which fails.
    pool.on("connect", (client) => client.on("error", () => {}));
    try {
      // A pooler may drop the startup options: durability is checked, not assumed.
      const sync = await pool.query<{ synchronous_commit: string }>("SHOW synchronous_commit");
      if (!["on", "remote_write", "remote_apply"].includes(sync.rows[0]!.synchronous_commit)) {
        throw new GenlogError(
          "GENLOG_E_CONFIG",
          `${location} runs with synchronous_commit=${sync.rows[0]!.synchronous_commit}: an acknowledged append could be lost; connect without a pooler that drops startup options, or set it on for genlog's role (ALTER ROLE … SET synchronous_commit = on)`,
          { details: { location } },
        );
      }
      const readonly = options.readonly ?? false;
      let migrated: { from: number; to: number } | undefined;
      if (readonly) await checkReadable(pool, location);
      else {
        const steps = await migrate(pool);
        migrated = steps.from > 0 && steps.from < steps.to ? steps : undefined;
        const deviations = await guardDeviations(pool);
        if (deviations.length > 0) {
          throw new GenlogError(
            "GENLOG_E_INCONSISTENT",
            `the schema of ${location} was changed outside genlog (${deviations.join("; ")}); nothing will be written to it: run \`genlog verify\``,
            { details: { location, changes: deviations } },
          );
        }
      }
      return new PostgresStore(pool, location, readonly, migrated);
    } catch (cause) {
      await pool.end().catch(() => {});
      if (cause instanceof ForeignSchemaError) {
        throw new GenlogError("GENLOG_E_STORE", `cannot use ${location}: ${cause.message}`, {
          cause,
          details: { location },
        });
      }
      throw toStoreError(cause, `opening ${location}`, location);
    }
  }

  async getSetting(key: string): Promise<string | undefined> {
    const r = await this.#q<{ value: string }>(
      "reading a setting",
      "SELECT value FROM settings WHERE key = $1",
      [key],
    );
    return r[0]?.value;
  }

  async initSetting(key: string, value: string): Promise<string> {
    const r = await this.#q<{ value: string }>(
      "writing a setting",
      `WITH ins AS (INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING value)
       SELECT value FROM ins UNION ALL SELECT value FROM settings WHERE key = $1 LIMIT 1`,
      [key, value],
    );
    return r[0]!.value;
  }

  async putStatus(key: string, value: string): Promise<void> {
    checkStatusKey(key);
    await this.#q(
      "writing a status",
      "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
      [key, value],
    );
  }

  async openLogRef(ref: Omit<LogRef, "logId">, create: boolean): Promise<LogRef | undefined> {
    const what = `opening log ${ref.origin}`;
    const find = async () =>
      (
        await this.#q<LogRef>(
          what,
          'SELECT log_id AS "logId", origin, tenant, stream FROM logs WHERE origin = $1',
          [ref.origin],
        )
      )[0];
    const checked = (found: LogRef | undefined) => {
      if (found === undefined || (found.tenant === ref.tenant && found.stream === ref.stream)) {
        return found;
      }
      throw new GenlogError(
        "GENLOG_E_INCONSISTENT",
        `log ${ref.origin} is recorded for tenant ${JSON.stringify(found.tenant)}, stream ${JSON.stringify(found.stream)}: the logs table was changed outside genlog; run \`genlog verify\``,
        { details: { origin: ref.origin, tenant: found.tenant, stream: found.stream } },
      );
    };
    const found = checked(await find());
    if (found !== undefined || !create) return found;
    await this.#q(
      what,
      "INSERT INTO logs (origin, tenant, stream) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
      [ref.origin, ref.tenant, ref.stream],
    );
    const made = checked(await find());
    if (made === undefined) {
      throw new GenlogError(
        "GENLOG_E_INCONSISTENT",
        `tenant ${JSON.stringify(ref.tenant)} already has a ${ref.stream} log under another origin than ${ref.origin}: the logs table was changed outside genlog; run \`genlog verify\``,
        { details: { origin: ref.origin, tenant: ref.tenant, stream: ref.stream } },
      );
    }
    return made;
  }

  async listLogs(): Promise<LogRef[]> {
    return this.#q<LogRef>(
      "listing logs",
      'SELECT log_id AS "logId", origin, tenant, stream FROM logs ORDER BY log_id',
    );
  }

  async logState(logId: number): Promise<{ size: number; latest: StoredCheckpoint | undefined }> {
    const [row] = await this.#q<StoredCheckpoint>(
      `reading the state of log ${logId}`,
      "SELECT size, note FROM checkpoints WHERE log_id = $1 ORDER BY size DESC LIMIT 1",
      [logId],
    );
    return row === undefined ? { size: 0, latest: undefined } : { size: row.size, latest: row };
  }

  async countEntries(logId: number): Promise<{ size: number; entries: number }> {
    const [row] = await this.#q<{ size: number; entries: number }>(
      `counting the entries of log ${logId}`,
      `SELECT (SELECT coalesce(max(size), 0) FROM checkpoints WHERE log_id = $1) AS size,
              (SELECT count(*) FROM tree WHERE log_id = $1) AS entries`,
      [logId],
    );
    return row!;
  }

  appendBatch(logId: number, batch: AppendBatch): Promise<void> {
    try {
      this.#check();
      if (this.#readonly) {
        throw new GenlogError("GENLOG_E_USAGE", `${this.location} was opened read-only`);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    // In order per log: a batch sealed on another waits for it (and is refused if it failed).
    const before = this.#tails.get(logId) ?? Promise.resolve();
    const commit = before.catch(() => {}).then(() => this.#commit(logId, batch));
    const tail = commit.catch(() => {});
    this.#tails.set(logId, tail);
    void tail.then(() => {
      if (this.#tails.get(logId) === tail) this.#tails.delete(logId);
    });
    return commit;
  }

  async #commit(logId: number, batch: AppendBatch): Promise<void> {
    const what = `append of ${batch.entries.length} records to log ${logId}`;
    const client = await this.#connect(what);
    let committing = false;
    let broken = false;
    try {
      if (!Number.isSafeInteger(logId)) throw new GenlogError("GENLOG_E_USAGE", "bad log id");
      // Four round trips in all: BEGIN with the log's lock, the state, the rows, COMMIT.
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${LOCK_LOG}, ${logId})`);
      const state = await client.query<{
        log: boolean;
        size: number | null;
        note: string | null;
        last: number | null;
      }>(
        `SELECT EXISTS (SELECT 1 FROM logs WHERE log_id = $1) AS log, c.size, c.note,
                (SELECT max(seq) FROM tree WHERE log_id = $1) AS last
         FROM (SELECT 1) one LEFT JOIN LATERAL
           (SELECT size, note FROM checkpoints WHERE log_id = $1 ORDER BY size DESC LIMIT 1) c ON true`,
        [logId],
      );
      const { log, size: latestSize, note: latestNote, last } = state.rows[0]!;
      if (!log) {
        throw new GenlogError("GENLOG_E_STORE", `log ${logId} does not exist in ${this.location}`);
      }
      const size = latestSize ?? 0;
      const first = batch.entries[0]?.seq ?? batch.checkpoint.size;
      if (first !== size || (latestNote ?? null) !== (batch.previous?.note ?? null)) {
        throw batchConflict(first, size);
      }
      if ((last === null ? 0 : last + 1) !== size) {
        throw entriesOutOfStep(logId, size, last);
      }
      const subjects = batch.subjects ?? [];
      if (subjects.length > 0) {
        await client.query(
          `INSERT INTO subjects (tenant, pseudonym, lookup, wrapped_key)
           SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[]) ON CONFLICT DO NOTHING`,
          [
            subjects.map((s) => s.tenant),
            subjects.map((s) => s.pseudonym),
            subjects.map((s) => bytes(s.lookup)),
            subjects.map((s) => bytes(s.wrappedKey)),
          ],
        );
      }
      for (const effect of batch.effects ?? []) await applyEffect(client, effect);
      // The entries (tree and body) and the checkpoint in one statement.
      const e = batch.entries;
      await client.query(
        `WITH tree_rows AS (
           INSERT INTO tree (log_id, seq, leaf_hash, nodes)
           SELECT $1, * FROM unnest($2::bigint[], $3::bytea[], $4::bytea[])
         ), body_rows AS (
           INSERT INTO bodies (log_id, seq, record, id, ts, type, actor, sector, status)
           SELECT $1, * FROM unnest($2::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
         )
         INSERT INTO checkpoints (log_id, size, note) VALUES ($1, $12, $13)`,
        [
          logId,
          e.map((x) => x.seq),
          e.map((x) => bytes(x.leafHash)),
          e.map((x) => bytes(x.nodes)),
          e.map((x) => x.canonical),
          e.map((x) => x.id),
          e.map((x) => x.ts),
          e.map((x) => x.type),
          e.map((x) => x.actor),
          e.map((x) => x.sector),
          e.map((x) => x.status),
          batch.checkpoint.size,
          batch.checkpoint.note,
        ],
      );
      committing = true;
      await client.query("COMMIT");
    } catch (cause) {
      broken = isConnectionLoss(cause);
      if (committing && broken) {
        throw new GenlogError(
          "GENLOG_E_COMMIT_UNKNOWN",
          `the connection to ${this.location} was lost during the commit of ${batch.entries.length} records to log ${logId}: it may or may not have landed (read back to know)`,
          { cause },
        );
      }
      if (!broken) await client.query("ROLLBACK").catch(() => {});
      throw toStoreError(cause, what, this.location);
    } finally {
      client.release(broken);
    }
  }

  async findByIds(logId: number, ids: readonly string[]): Promise<Map<string, StoredEntry>> {
    const out = new Map<string, StoredEntry>();
    if (ids.length === 0) return out;
    const rows = await this.#q<Row>(
      `looking up ids in log ${logId}`,
      `SELECT ${ENTRY_COLUMNS} FROM bodies e ${TREE_OF_E} WHERE e.log_id = $1 AND e.id = ANY($2::text[])`,
      [logId, [...new Set(ids)]],
    );
    for (const r of rows) out.set(r.id, toEntry(r));
    return out;
  }

  async readNodes(logId: number, nodes: readonly NodeId[]): Promise<Uint8Array[]> {
    if (nodes.length === 0) return [];
    const seqs = nodes.map(completingSeq);
    const rows = await this.#q<{ seq: number; leaf_hash: Buffer; nodes: Buffer }>(
      `reading Merkle nodes of log ${logId}`,
      "SELECT seq, leaf_hash, nodes FROM tree WHERE log_id = $1 AND seq = ANY($2::bigint[])",
      [logId, [...new Set(seqs)]],
    );
    const bySeq = new Map(rows.map((r) => [r.seq, r]));
    return nodes.map(({ level, index }, i) => {
      const seq = seqs[i]!;
      const row = bySeq.get(seq);
      if (row === undefined) {
        throw new GenlogError(
          "GENLOG_E_NOT_FOUND",
          `Merkle node (${level}, ${index}) is not stored: entry ${seq} is missing`,
          { details: { level, index } },
        );
      }
      const start = (level - 1) * 32;
      if (level === 0 ? row.leaf_hash.length !== 32 : row.nodes.length < start + 32) {
        throw new GenlogError(
          "GENLOG_E_NOT_FOUND",
          `Merkle node (${level}, ${index}) is not stored in entry ${seq}`,
          { details: { level, index } },
        );
      }
      return level === 0 ? row.leaf_hash : row.nodes.subarray(start, start + 32);
    });
  }

  async getEntry(logId: number, seq: number): Promise<StoredEntry | undefined> {
    const [row] = await this.#q<Row>(
      `reading entry ${seq} of log ${logId}`,
      `SELECT ${ENTRY_COLUMNS} FROM bodies e ${TREE_OF_E} WHERE e.log_id = $1 AND e.seq = $2`,
      [logId, seq],
    );
    return row === undefined ? undefined : toEntry(row);
  }

  async query(logId: number, filter: QueryFilter): Promise<StoredEntry[]> {
    const what = `querying log ${logId}`;
    // Only the signed log is read: a row past its latest checkpoint was never committed.
    const { size } = await this.logState(logId);
    // Timestamps never decrease along a log, so a time bound is a seq bound, found by binary
    // search on the primary key: no ts index to maintain on ingest.
    let from =
      filter.since === undefined ? 0 : await this.#firstSeqAtOrAfter(logId, filter.since, size);
    if (filter.afterSeq !== undefined) from = Math.max(from, filter.afterSeq + 1);
    const to =
      filter.until === undefined ? size : await this.#firstSeqAtOrAfter(logId, filter.until, size);
    if (from >= to || filter.limit <= 0) return [];
    const args: unknown[] = [logId, from, to];
    const conds: string[] = [];
    for (const [col, v] of [
      ["type", filter.type],
      ["actor", filter.actor],
      ["sector", filter.sector],
      ["status", filter.status],
    ] as const) {
      if (v !== undefined) {
        args.push(v);
        conds.push(`e.${col} = $${args.length}`);
      }
    }
    // Lets the planner use the partial index of the exceptions.
    if (filter.status !== undefined && filter.status !== "succeeded") {
      conds.push("e.status <> 'succeeded'");
    }
    if (filter.since !== undefined) {
      args.push(filter.since);
      conds.push(`e.ts >= $${args.length}`);
    }
    if (filter.until !== undefined) {
      args.push(filter.until);
      conds.push(`e.ts < $${args.length}`);
    }
    args.push(filter.limit);
    const rows = await this.#q<Row>(
      what,
      `SELECT ${ENTRY_COLUMNS} FROM bodies e ${TREE_OF_E}
       WHERE e.log_id = $1 AND e.seq >= $2 AND e.seq < $3 ${conds.map((c) => `AND ${c}`).join(" ")}
       ORDER BY e.seq LIMIT $${args.length}`,
      args,
    );
    return rows.map(toEntry);
  }

  async *scanEntries(logId: number, fromSeq = 0): AsyncIterable<StoredEntry | PurgedEntry> {
    // Driven by the tree: a position whose body was purged (or deleted) still comes out.
    let next = fromSeq;
    for (;;) {
      const rows = await this.#q<Row | (Omit<Row, "record"> & { record: null })>(
        `reading entries ${next}.. of log ${logId}`,
        `SELECT t.seq, e.id, e.ts, e.type, e.actor, e.sector, e.status, e.record, t.leaf_hash, t.nodes
         FROM tree t LEFT JOIN bodies e ON e.log_id = t.log_id AND e.seq = t.seq
         WHERE t.log_id = $1 AND t.seq >= $2 ORDER BY t.seq LIMIT $3`,
        [logId, next, SCAN_PAGE],
      );
      for (const row of rows) {
        yield row.record === null
          ? { seq: row.seq, canonical: null, leafHash: row.leaf_hash, nodes: row.nodes }
          : toEntry(row as Row);
      }
      if (rows.length < SCAN_PAGE) return;
      next = rows[rows.length - 1]!.seq + 1;
    }
  }

  async listPurges(logId: number): Promise<PurgeRow[]> {
    return this.#q<PurgeRow>(
      `reading the purges of log ${logId}`,
      'SELECT from_seq AS "fromSeq", to_seq AS "toSeq", event_id AS "eventId" FROM purges WHERE log_id = $1 ORDER BY from_seq',
      [logId],
    );
  }

  async systemEventSeqs(logId: number, fromSeq: number, toSeq: number): Promise<number[]> {
    const rows = await this.#q<{ seq: number }>(
      `finding the system events of log ${logId}`,
      "SELECT seq FROM bodies WHERE log_id = $1 AND type >= 'genlog.' AND type < 'genlog/' AND seq >= $2 AND seq < $3 ORDER BY seq",
      [logId, fromSeq, toSeq],
    );
    return rows.map((r) => r.seq);
  }

  /**
   * VACUUM of the tables erasure and purge delete from: their dead rows are then gone from
   * the tables (the server's WAL and its backups keep them until they rotate: see the
   * deployment guide). The server does not give the space back to the file system.
   */
  async reclaim(): Promise<{ freedBytes: number; scrubbed: boolean }> {
    return { freedBytes: 0, scrubbed: await this.scrub() };
  }

  async scrub(): Promise<boolean> {
    await this.#q("vacuuming", "VACUUM bodies, subjects, tenant_keys");
    return true;
  }

  async listCheckpoints(logId: number): Promise<StoredCheckpoint[]> {
    return this.#q<StoredCheckpoint>(
      `reading the checkpoints of log ${logId}`,
      "SELECT size, note FROM checkpoints WHERE log_id = $1 ORDER BY size",
      [logId],
    );
  }

  async *scanCheckpoints(logId: number): AsyncIterable<StoredCheckpoint> {
    let after = -1;
    for (;;) {
      const rows = await this.#q<StoredCheckpoint>(
        `reading the checkpoints of log ${logId}`,
        "SELECT size, note FROM checkpoints WHERE log_id = $1 AND size > $2 ORDER BY size LIMIT $3",
        [logId, after, CHECKPOINT_PAGE],
      );
      yield* rows;
      if (rows.length < CHECKPOINT_PAGE) return;
      after = rows[rows.length - 1]!.size;
    }
  }

  async checkpointAt(logId: number, size: number): Promise<StoredCheckpoint | undefined> {
    const [row] = await this.#q<StoredCheckpoint>(
      `reading the checkpoint at size ${size} of log ${logId}`,
      "SELECT size, note FROM checkpoints WHERE log_id = $1 AND size = $2",
      [logId, size],
    );
    return row;
  }

  /**
   * The guards genlog's rules rely on (triggers, unique indexes), and PostgreSQL's own check
   * of every index of genlog's tables (`amcheck`, where the extension is installed).
   */
  async checkIntegrity(): Promise<StoreDamage[]> {
    this.#check();
    try {
      const out: StoreDamage[] = (await guardDeviations(this.#pool)).map((message) => ({
        message,
        entriesAffected: false,
      }));
      const amcheck = await this.#pool.query(
        "SELECT 1 FROM pg_extension WHERE extname = 'amcheck'",
      );
      if (amcheck.rowCount !== 0) {
        const indexes = await this.#pool.query<{ name: string }>(
          `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           JOIN pg_am a ON a.oid = c.relam
           WHERE a.amname = 'btree' AND c.relnamespace = current_schema()::regnamespace`,
        );
        for (const { name } of indexes.rows) {
          try {
            await this.#pool.query("SELECT bt_index_check($1::regclass, true)", [name]);
          } catch (e) {
            out.push({
              message: `index ${name} is damaged: ${(e as Error).message}`,
              entriesAffected: true,
            });
          }
        }
      }
      return out;
    } catch (e) {
      return [
        {
          message: `PostgreSQL integrity check could not run: ${(e as Error).message}`,
          entriesAffected: true,
        },
      ];
    }
  }

  /** The database maintains every index itself: nothing of genlog's own to audit. */
  async auditQueryIndexes(): Promise<IndexFault[]> {
    this.#check();
    return [];
  }

  async findSubjects(tenant: string, lookup: Uint8Array): Promise<SubjectRow[]> {
    return this.#q<SubjectRow>(
      `looking up a subject of tenant ${tenant}`,
      'SELECT tenant, pseudonym, lookup, wrapped_key AS "wrappedKey" FROM subjects WHERE tenant = $1 AND lookup = $2 ORDER BY pseudonym',
      [tenant, bytes(lookup)],
    );
  }

  async countSubjects(tenant: string): Promise<number> {
    const [row] = await this.#q<{ n: number }>(
      `counting the subjects of tenant ${tenant}`,
      "SELECT count(*) AS n FROM subjects WHERE tenant = $1",
      [tenant],
    );
    return row!.n;
  }

  async getSubjects(
    tenant: string,
    pseudonyms: readonly string[],
  ): Promise<Map<string, SubjectRow>> {
    if (pseudonyms.length === 0) return new Map();
    const rows = await this.#q<SubjectRow>(
      `reading subjects of tenant ${tenant}`,
      'SELECT tenant, pseudonym, lookup, wrapped_key AS "wrappedKey" FROM subjects WHERE tenant = $1 AND pseudonym = ANY($2::text[])',
      [tenant, [...new Set(pseudonyms)]],
    );
    return new Map(rows.map((r) => [r.pseudonym, r]));
  }

  async erasureCount(tenant: string): Promise<number> {
    const v = await this.getSetting(erasureCountSetting(tenant));
    return v === undefined ? 0 : Number(v);
  }

  async getTenantKey(tenant: string): Promise<Uint8Array | undefined> {
    const [row] = await this.#q<{ wrapped: Buffer }>(
      `reading the key of tenant ${tenant}`,
      "SELECT wrapped FROM tenant_keys WHERE tenant = $1",
      [tenant],
    );
    return row?.wrapped;
  }

  async initTenantKey(
    tenant: string,
    wrapped: Uint8Array,
    masterKeyId: string,
  ): Promise<Uint8Array> {
    return this.#tx(`storing the key of tenant ${tenant}`, async (c) => {
      // The settings row is locked: a rotation re-wrapping meanwhile waits, or came first.
      const id = await c.query<{ value: string }>(
        "SELECT value FROM settings WHERE key = 'master_key_id' FOR SHARE",
      );
      if (id.rows[0]?.value !== masterKeyId) {
        throw new GenlogError(
          "GENLOG_E_CONFLICT",
          `the master key of ${this.location} is now ${String(id.rows[0]?.value)}, not ${masterKeyId} (it was rotated): open the log again with the new key`,
        );
      }
      await c.query(
        "INSERT INTO tenant_keys (tenant, wrapped) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [tenant, bytes(wrapped)],
      );
      const r = await c.query<{ wrapped: Buffer }>(
        "SELECT wrapped FROM tenant_keys WHERE tenant = $1",
        [tenant],
      );
      return r.rows[0]!.wrapped;
    });
  }

  async listTenantKeys(): Promise<Map<string, Uint8Array>> {
    const rows = await this.#q<{ tenant: string; wrapped: Buffer }>(
      "reading the tenant keys",
      "SELECT tenant, wrapped FROM tenant_keys",
    );
    return new Map(rows.map((r) => [r.tenant, r.wrapped]));
  }

  async rewrapTenantKeys(
    from: { keyId: string },
    to: { keyId: string },
    rewrapped: ReadonlyMap<string, Uint8Array>,
  ): Promise<void> {
    await this.#tx("re-wrapping the tenant keys", async (c) => {
      const id = await c.query<{ value: string }>(
        "SELECT value FROM settings WHERE key = 'master_key_id' FOR UPDATE",
      );
      await c.query("LOCK TABLE tenant_keys IN SHARE ROW EXCLUSIVE MODE");
      const n = await c.query<{ n: number }>("SELECT count(*) AS n FROM tenant_keys");
      if (id.rows[0]?.value !== from.keyId || n.rows[0]!.n !== rewrapped.size) {
        throw new GenlogError(
          "GENLOG_E_CONFLICT",
          "the tenant keys changed while they were re-wrapped (a tenant was added, or another rotation ran): nothing was changed, run it again",
        );
      }
      for (const [tenant, wrapped] of rewrapped) {
        const r = await c.query("UPDATE tenant_keys SET wrapped = $1 WHERE tenant = $2", [
          bytes(wrapped),
          tenant,
        ]);
        if (r.rowCount !== 1) {
          throw new GenlogError("GENLOG_E_CONFLICT", `tenant ${tenant} has no key to re-wrap`);
        }
      }
      await c.query("UPDATE settings SET value = $1 WHERE key = 'master_key_id'", [to.keyId]);
    });
  }

  async registerTenant(tenant: string, region: string, dir: string): Promise<TenantRow> {
    return this.#tx(`registering tenant ${tenant}`, async (c) => {
      // Serialises registrations: two nodes creating one tenant at once, one wins.
      await c.query("LOCK TABLE tenants IN SHARE ROW EXCLUSIVE MODE");
      const inHome = await c.query("SELECT 1 FROM logs WHERE tenant = $1", [tenant]);
      const known = await c.query("SELECT 1 FROM tenants WHERE tenant = $1", [tenant]);
      if (inHome.rowCount !== 0 || known.rowCount !== 0) {
        throw new GenlogError(
          "GENLOG_E_ALREADY_INITIALIZED",
          `tenant ${tenant} exists already; it stays in its region`,
          { details: { tenant } },
        );
      }
      await c.query("INSERT INTO regions (region, dir) VALUES ($1, $2) ON CONFLICT DO NOTHING", [
        region,
        dir,
      ]);
      await c.query("INSERT INTO tenants (tenant, region, created) VALUES ($1, $2, $3)", [
        tenant,
        region,
        new Date().toISOString(),
      ]);
      const r = await c.query<TenantRow>(`${TENANT_SELECT} WHERE t.tenant = $1`, [tenant]);
      return r.rows[0]!;
    });
  }

  async getTenant(tenant: string): Promise<TenantRow | undefined> {
    const [row] = await this.#q<TenantRow>(
      `reading tenant ${tenant}`,
      `${TENANT_SELECT} WHERE t.tenant = $1`,
      [tenant],
    );
    return row;
  }

  async listTenants(): Promise<TenantRow[]> {
    return this.#q<TenantRow>("listing tenants", `${TENANT_SELECT} ORDER BY t.tenant`);
  }

  async listHolds(tenant: string): Promise<HoldRow[]> {
    return this.#q<HoldRow>(
      `reading the legal holds of tenant ${tenant}`,
      'SELECT tenant, subject, event_id AS "eventId" FROM holds WHERE tenant = $1 ORDER BY subject',
      [tenant],
    );
  }

  async insertToken(row: TokenRow): Promise<void> {
    await this.#q(
      `storing token ${row.id}`,
      "INSERT INTO tokens (id, hash, scope, role, label, created, expires, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      [
        row.id,
        bytes(row.hash),
        row.scope,
        row.role,
        row.label,
        row.created,
        row.expires,
        row.revoked,
      ],
    );
  }

  async findToken(hash: Uint8Array): Promise<TokenRow | undefined> {
    const [row] = await this.#q<TokenRow>(
      "looking up a token",
      "SELECT * FROM tokens WHERE hash = $1",
      [bytes(hash)],
    );
    return row === undefined ? undefined : tokenRow(row);
  }

  async listTokens(): Promise<TokenRow[]> {
    const rows = await this.#q<TokenRow>(
      "listing tokens",
      "SELECT * FROM tokens ORDER BY created, id",
    );
    return rows.map(tokenRow);
  }

  async revokeToken(id: string, at: string): Promise<TokenRow | undefined> {
    return this.#tx(`revoking token ${id}`, async (c) => {
      await c.query("UPDATE tokens SET revoked = $1 WHERE id = $2 AND revoked IS NULL", [at, id]);
      const r = await c.query<TokenRow>("SELECT * FROM tokens WHERE id = $1", [id]);
      return r.rows[0] === undefined ? undefined : tokenRow(r.rows[0]);
    });
  }

  async insertFollower(row: FollowerRow): Promise<void> {
    const r = await this.#pool
      .query(
        `INSERT INTO followers (tenant, name, id, kind, config, secret, cursor, attempts, next_at, last_error, disabled, created)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
        [
          row.tenant,
          row.name,
          row.id,
          row.kind,
          row.config,
          row.secret === null ? null : bytes(row.secret),
          row.cursor,
          row.attempts,
          row.nextAt,
          row.lastError,
          row.disabled,
          row.created,
        ],
      )
      .catch((e: unknown) => {
        throw toStoreError(e, `adding follower ${row.name} of tenant ${row.tenant}`, this.location);
      });
    if (r.rowCount === 0) {
      throw new GenlogError(
        "GENLOG_E_EXISTS",
        `tenant ${row.tenant} already has a follower named ${row.name}: remove it first, or choose another name`,
        { details: { tenant: row.tenant, name: row.name } },
      );
    }
  }

  async listFollowers(tenant?: string): Promise<FollowerRow[]> {
    const rows =
      tenant === undefined
        ? await this.#q<FollowerRow>(
            "listing followers",
            `SELECT ${FOLLOWER_COLUMNS} FROM followers ORDER BY tenant, name`,
          )
        : await this.#q<FollowerRow>(
            "listing followers",
            `SELECT ${FOLLOWER_COLUMNS} FROM followers WHERE tenant = $1 ORDER BY name`,
            [tenant],
          );
    return rows.map((r) => ({ ...r, secret: r.secret === null ? null : new Uint8Array(r.secret) }));
  }

  async removeFollower(tenant: string, name: string): Promise<boolean> {
    return this.#tx(`removing follower ${name} of tenant ${tenant}`, async (c) => {
      await c.query("DELETE FROM dead_letters WHERE tenant = $1 AND name = $2", [tenant, name]);
      const r = await c.query("DELETE FROM followers WHERE tenant = $1 AND name = $2", [
        tenant,
        name,
      ]);
      return (r.rowCount ?? 0) > 0;
    });
  }

  async advanceFollower(
    { tenant, name, id }: FollowerKey,
    from: number,
    progress: FollowerProgress,
    letter?: DeadLetterRow,
  ): Promise<boolean> {
    return this.#tx(`moving follower ${name} of tenant ${tenant} on`, async (c) => {
      const moved = await c.query(
        `UPDATE followers SET cursor = $5, attempts = $6, next_at = $7, last_error = $8,
           disabled = CASE WHEN $9 THEN disabled ELSE $10 END
         WHERE tenant = $1 AND name = $2 AND id = $3 AND cursor = $4`,
        [
          tenant,
          name,
          id,
          from,
          progress.cursor,
          progress.attempts,
          progress.nextAt,
          progress.lastError,
          progress.disabled === undefined,
          progress.disabled ?? null,
        ],
      );
      if (moved.rowCount === 0) return false;
      if (letter !== undefined) {
        await c.query(
          `INSERT INTO dead_letters (tenant, name, seq, event_id, attempts, error, at, due)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (tenant, name, seq) DO UPDATE SET event_id = excluded.event_id,
             attempts = excluded.attempts, error = excluded.error, at = excluded.at, due = excluded.due`,
          [
            letter.tenant,
            letter.name,
            letter.seq,
            letter.eventId,
            letter.attempts,
            letter.error,
            letter.at,
            letter.due,
          ],
        );
      }
      return true;
    });
  }

  async claimFollower(
    { tenant, name, id }: FollowerKey,
    owner: string,
    ms: number,
    takeFrom?: string,
  ): Promise<string | null> {
    return this.#tx(`leasing follower ${name} of tenant ${tenant}`, async (c) => {
      // The database's clock: the nodes' own may disagree.
      await c.query(
        `WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms)
         UPDATE followers SET lease_owner = $4, lease_until = (SELECT ms FROM now) + $5
         WHERE tenant = $1 AND name = $2 AND id = $3
           AND (lease_owner IS NULL OR lease_owner = $4 OR lease_until <= (SELECT ms FROM now)
                OR lease_owner = $6)`,
        [tenant, name, id, owner, ms, takeFrom ?? null],
      );
      const r = await c.query<{ owner: string | null }>(
        "SELECT lease_owner AS owner FROM followers WHERE tenant = $1 AND name = $2 AND id = $3",
        [tenant, name, id],
      );
      return r.rows[0]?.owner ?? null;
    });
  }

  async releaseFollowers(owner: string): Promise<void> {
    await this.#q(
      "giving follower leases up",
      "UPDATE followers SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = $1",
      [owner],
    );
  }

  async listDeadLetters(tenant: string, name: string): Promise<DeadLetterRow[]> {
    return this.#q<DeadLetterRow>(
      `listing the dead letters of follower ${name}`,
      'SELECT tenant, name, seq, event_id AS "eventId", attempts, error, at, due FROM dead_letters WHERE tenant = $1 AND name = $2 ORDER BY seq',
      [tenant, name],
    );
  }

  async retryDeadLetters(tenant: string, name: string): Promise<number> {
    const r = await this.#pool
      .query("UPDATE dead_letters SET due = true WHERE tenant = $1 AND name = $2 AND NOT due", [
        tenant,
        name,
      ])
      .catch((e: unknown) => {
        throw toStoreError(e, `retrying the dead letters of follower ${name}`, this.location);
      });
    return r.rowCount ?? 0;
  }

  async settleDeadLetter(
    { tenant, name, id }: FollowerKey,
    seq: number,
    outcome: { delivered: true } | { delivered: false; error: string },
  ): Promise<void> {
    const same =
      "EXISTS (SELECT 1 FROM followers f WHERE f.tenant = $1 AND f.name = $2 AND f.id = $3)";
    if (outcome.delivered) {
      await this.#q(
        `settling a dead letter of follower ${name}`,
        `DELETE FROM dead_letters WHERE tenant = $1 AND name = $2 AND seq = $4 AND ${same}`,
        [tenant, name, id, seq],
      );
    } else {
      await this.#q(
        `settling a dead letter of follower ${name}`,
        `UPDATE dead_letters SET due = false, attempts = attempts + 1, error = $5
         WHERE tenant = $1 AND name = $2 AND seq = $4 AND ${same}`,
        [tenant, name, id, seq, outcome.error],
      );
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Commits handed over were promised an answer: let them finish first.
    await Promise.all([...this.#tails.values()]);
    this.#closed = true;
    await this.#pool.end();
  }

  /** The smallest seq below `size` whose ts is >= `ts` (`size` when there is none). */
  async #firstSeqAtOrAfter(logId: number, ts: string, size: number): Promise<number> {
    let lo = 0;
    let hi = size;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      // A missing row (purged, or a damaged log that verify reports) counts as "before".
      const [row] = await this.#q<{ ts: string }>(
        "finding a time in the log",
        "SELECT ts FROM bodies WHERE log_id = $1 AND seq = $2",
        [logId, mid],
      );
      if (row !== undefined && row.ts >= ts) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  async #q<T extends pg.QueryResultRow = pg.QueryResultRow>(
    what: string,
    sql: string,
    args: unknown[] = [],
  ): Promise<T[]> {
    this.#check();
    try {
      return (await this.#pool.query<T>(sql, args)).rows;
    } catch (e) {
      throw toStoreError(e, what, this.location);
    }
  }

  /** Runs `fn` in a transaction; a failure rolls it back and is thrown as a GenlogError. */
  async #tx<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#connect(what);
    let broken = false;
    try {
      await client.query("BEGIN");
      const out = await fn(client);
      await client.query("COMMIT");
      return out;
    } catch (e) {
      broken = isConnectionLoss(e);
      if (!broken) await client.query("ROLLBACK").catch(() => {});
      throw toStoreError(e, what, this.location);
    } finally {
      client.release(broken);
    }
  }

  async #connect(what: string): Promise<pg.PoolClient> {
    this.#check();
    try {
      return await this.#pool.connect();
    } catch (e) {
      throw toStoreError(e, what, this.location);
    }
  }

  #check(): void {
    if (this.#closed) throw new GenlogError("GENLOG_E_CLOSED", "the store is closed");
  }
}

const TENANT_SELECT =
  "SELECT t.tenant, t.region, r.dir, t.created FROM tenants t JOIN regions r ON r.region = t.region";

/** Settings key of a tenant's erasure count (`LogStore.erasureCount`), as in SQLite. */
function erasureCountSetting(tenant: string): string {
  return `erasure_count:${tenant}`;
}

/**
 * Applies a system event's {@link StoreEffect} inside its append transaction. Holds, erasures
 * and purges of a tenant are all events of its log, so the log's lock orders them.
 */
async function applyEffect(c: pg.PoolClient, e: StoreEffect): Promise<void> {
  if (e.kind === "erase") {
    let deleted = 0;
    for (const p of e.pseudonyms) {
      const held = await c.query<{ subject: string }>(
        "SELECT subject FROM holds WHERE tenant = $1 AND subject IN ('', $2) ORDER BY subject LIMIT 1",
        [e.tenant, p],
      );
      if (held.rows[0] !== undefined) {
        throw heldError(e.tenant, held.rows[0].subject, "erase");
      }
      const r = await c.query("DELETE FROM subjects WHERE tenant = $1 AND pseudonym = $2", [
        e.tenant,
        p,
      ]);
      deleted += r.rowCount ?? 0;
    }
    if (deleted === 0) {
      throw alreadyErased(e.tenant, e.pseudonyms);
    }
    await c.query(
      `INSERT INTO settings (key, value) VALUES ($1, '1')
       ON CONFLICT (key) DO UPDATE SET value = (settings.value::bigint + 1)::text`,
      [erasureCountSetting(e.tenant)],
    );
  } else if (e.kind === "purge") {
    const held = await c.query<{ subject: string }>(
      `SELECT subject FROM holds WHERE tenant = $1 AND subject = ''
       UNION ALL
       (SELECT b.actor FROM bodies b WHERE b.log_id = $2 AND b.seq >= $3 AND b.seq < $4
          AND b.actor IN (SELECT subject FROM holds WHERE tenant = $1) LIMIT 1)
       LIMIT 1`,
      [e.tenant, e.logId, e.fromSeq, e.toSeq],
    );
    if (held.rows[0] !== undefined) {
      const subject = held.rows[0].subject;
      throw heldError(e.tenant, subject, "purge");
    }
    const to = await c.query<{ to: number }>(
      'SELECT coalesce(max(to_seq), 0) AS "to" FROM purges WHERE log_id = $1',
      [e.logId],
    );
    if (to.rows[0]!.to !== e.fromSeq) {
      throw purgeRace(e.logId);
    }
    await c.query(
      "INSERT INTO purges (log_id, from_seq, to_seq, event_id) VALUES ($1, $2, $3, $4)",
      [e.logId, e.fromSeq, e.toSeq, e.eventId],
    );
    const r = await c.query(
      "DELETE FROM bodies WHERE log_id = $1 AND seq >= $2 AND seq < $3 AND type NOT LIKE 'genlog.%'",
      [e.logId, e.fromSeq, e.toSeq],
    );
    if (r.rowCount !== e.expected) {
      throw purgeMismatch(e.fromSeq, e.toSeq, r.rowCount ?? 0, e.expected);
    }
  } else if (e.kind === "setting") {
    await c.query(
      "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      [e.key, e.value],
    );
  } else if (e.kind === "hold") {
    const r = await c.query(
      "INSERT INTO holds (tenant, subject, event_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
      [e.tenant, e.subject, e.eventId],
    );
    if (r.rowCount === 0) {
      throw alreadyHeld(e.tenant, e.subject);
    }
  } else {
    const r = await c.query("DELETE FROM holds WHERE tenant = $1 AND subject = $2", [
      e.tenant,
      e.subject,
    ]);
    if (r.rowCount === 0) {
      throw notHeld(e.tenant, e.subject);
    }
  }
}

/** Creates or migrates the schema, once across every node starting at the same time. */
async function migrate(pool: pg.Pool): Promise<{ from: number; to: number }> {
  const c = await pool.connect();
  try {
    await c.query("BEGIN");
    await c.query("SELECT pg_advisory_xact_lock($1, 0)", [LOCK_MIGRATE]);
    const from = await schemaVersion(c);
    if (from > PG_SCHEMA_VERSION) {
      throw new GenlogError(
        "GENLOG_E_STORE",
        `its schema version is ${from}, newer than the ${PG_SCHEMA_VERSION} this genlog knows: use a newer genlog`,
      );
    }
    for (const m of PG_MIGRATIONS) {
      if (m.version <= from) continue;
      await c.query(m.sql);
      await c.query(
        "INSERT INTO settings (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [String(m.version)],
      );
    }
    await c.query("COMMIT");
    return { from, to: PG_SCHEMA_VERSION };
  } catch (e) {
    await c.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    c.release();
  }
}

/** The schema version of the current schema: 0 when it holds no table at all. */
async function schemaVersion(c: pg.PoolClient | pg.Pool): Promise<number> {
  const tables = await c.query<{ name: string }>(
    "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename",
  );
  if (tables.rowCount === 0) return 0;
  if (!tables.rows.some((t) => t.name === "settings")) {
    throw new ForeignSchemaError(tables.rows.map((t) => t.name));
  }
  const v = await c.query<{ value: string }>(
    "SELECT value FROM settings WHERE key = 'schema_version'",
  );
  const value = v.rows[0]?.value;
  if (value === undefined || !/^[1-9][0-9]*$/.test(value)) {
    throw new ForeignSchemaError(tables.rows.map((t) => t.name));
  }
  return Number(value);
}

async function checkReadable(pool: pg.Pool, location: string): Promise<void> {
  const v = await schemaVersion(pool);
  if (v === PG_SCHEMA_VERSION) return;
  if (v === 0) {
    throw new GenlogError("GENLOG_E_NOT_INITIALIZED", `${location} holds no genlog log yet`, {
      details: { location },
    });
  }
  throw new GenlogError(
    "GENLOG_E_STORE",
    `${location} has schema version ${v}; this genlog reads ${PG_SCHEMA_VERSION}: ${v < PG_SCHEMA_VERSION ? "start a genlog with write access once to migrate it" : "use a newer genlog"}`,
    { details: { location, version: v, expected: PG_SCHEMA_VERSION } },
  );
}

/** Triggers and unique indexes genlog relies on that are missing or disabled. */
async function guardDeviations(pool: pg.Pool): Promise<string[]> {
  const triggers = await pool.query<{ name: string; enabled: string }>(
    `SELECT t.tgname AS name, t.tgenabled AS enabled FROM pg_trigger t
     JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = current_schema()::regnamespace
     AND NOT t.tgisinternal`,
  );
  const indexes = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relnamespace = current_schema()::regnamespace AND i.indisunique AND i.indisvalid`,
  );
  const out: string[] = [];
  const have = new Map(triggers.rows.map((t) => [t.name, t.enabled]));
  for (const name of PG_GUARDS.triggers) {
    const state = have.get(name);
    if (state === undefined) out.push(`trigger ${name} is missing`);
    // O fires always but in replica sessions, A always; D never, R only in replica sessions.
    else if (state !== "O" && state !== "A") out.push(`trigger ${name} is disabled`);
  }
  for (const name of have.keys()) {
    if (!(PG_GUARDS.triggers as readonly string[]).includes(name))
      out.push(`trigger ${name} was added`);
  }
  const unique = new Set(indexes.rows.map((i) => i.name));
  for (const name of PG_GUARDS.uniqueIndexes) {
    if (!unique.has(name)) out.push(`unique index ${name} is missing`);
  }
  return out;
}

/** True when the connection itself failed (not an error the server answered with). */
function isConnectionLoss(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string") {
    if (/^(08|57P0[1-3])/.test(code)) return true;
    if (/^E[A-Z]+$/.test(code)) return true; // ECONNRESET, EPIPE, ECONNREFUSED…
  }
  return (
    e instanceof Error &&
    /Connection terminated|connection ended|not queryable|connection error/i.test(e.message)
  );
}

/** A driver failure as a typed GenlogError; a GenlogError passes through unchanged. */
function toStoreError(cause: unknown, what: string, location: string): GenlogError {
  if (cause instanceof GenlogError) return cause;
  const sqlstate = (cause as { code?: unknown } | null)?.code;
  const state = typeof sqlstate === "string" ? sqlstate : undefined;
  const reason = cause instanceof Error ? cause.message : String(cause);
  let code: ErrorCode = "GENLOG_E_STORE";
  let message = `${what} failed: ${reason}`;
  if (state !== undefined && /^(40001|40P01|55P03|57014|53300)$/.test(state)) {
    code = "GENLOG_E_BUSY";
    message = `${what} failed: ${location} is busy (${reason}); nothing was changed, retry`;
  } else if (state !== undefined && /^XX00[12]$/.test(state)) {
    code = "GENLOG_E_CORRUPT";
    message = `${what} failed: ${location} is damaged (${reason}); run \`genlog verify\` to see what is affected`;
  } else if (isConnectionLoss(cause)) {
    message = `${what} failed: cannot reach PostgreSQL at ${location} (${reason})`;
  }
  return new GenlogError(code, message, {
    cause,
    details: state === undefined ? { location } : { location, sqlstate: state },
  });
}

function toEntry(row: Row): StoredEntry {
  return {
    seq: row.seq,
    id: row.id,
    ts: row.ts,
    type: row.type,
    actor: row.actor,
    sector: row.sector,
    status: row.status as EventStatus,
    canonical: row.record,
    leafHash: row.leaf_hash,
    nodes: row.nodes,
  };
}

function tokenRow(r: TokenRow): TokenRow {
  return { ...r, hash: new Uint8Array(r.hash) };
}

/** Bytes as `pg` binds them (a Buffer; a Uint8Array view is not copied). */
function bytes(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** A connection URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    // libpq also takes a password (or a TLS key's) as a parameter.
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|key|secret/i.test(key)) u.searchParams.set(key, "***");
    }
    return u.toString();
  } catch {
    return "the PostgreSQL database";
  }
}
