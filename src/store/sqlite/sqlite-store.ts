/**
 * The embedded default store: one SQLite file through better-sqlite3, WAL journal and
 * `synchronous=FULL`, so a committed transaction has been fsynced before `appendBatch`
 * resolves. better-sqlite3 is synchronous; the async contract of {@link LogStore} keeps the
 * PostgreSQL driver on the same interface.
 *
 * Commits are grouped: batches handed to `appendBatch` together, by the writers of any
 * number of logs, are committed in one transaction (one fsync), each in a savepoint of its
 * own (see `#scheduleFlush` for what "together" means). Large or pipelined commits run on
 * the append worker's thread, up to two queued there; what is handed over while two are
 * there forms the next transaction.
 */
import Database from "better-sqlite3";
import { closeSync, openSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { GenlogError } from "../../errors.js";
import {
  completingSeq,
  type AppendBatch,
  type LogRef,
  type LogStore,
  type NodeId,
  type QueryFilter,
  type IndexFault,
  type StoreDamage,
  type StoredCheckpoint,
  type StoredEntry,
  type SubjectRow,
  type HoldRow,
  type TokenRow,
  type FollowerKey,
  type FollowerRow,
  type FollowerProgress,
  type DeadLetterRow,
  type PurgedEntry,
  type PurgeRow,
  type TenantRow,
  checkStatusKey,
} from "../log-store.js";
import type { EventStatus } from "../../core/event-schema.js";
import {
  erasureCountSetting,
  fromErrorData,
  packBatch,
  prepareAppend,
  type BatchOutcomes,
  type PackedBatch,
} from "./append-transaction.js";
import type { AppendReply, AppendRequest, CloseRequest } from "./append-worker.js";
import type { IntegrityReply, IntegrityRequest } from "./integrity-worker.js";
import {
  BUSY_TIMEOUT_MS,
  closeWriter,
  configureWriter,
  notADatabase,
  openReadOnly,
} from "./connection.js";
import {
  ACTOR_INDEX_CHUNK,
  MIGRATIONS,
  actorIndexBound,
  SCHEMA_VERSION,
  ForeignDatabaseError,
  NewerSchemaError,
  migrate,
  schemaDeviations,
  schemaVersionOf,
} from "./schema.js";
import { toStoreError } from "./sqlite-errors.js";

/** Options of {@link SqliteStore.open}. */
export interface SqliteStoreOptions {
  /** Path of the database file (created if missing, unless read-only). */
  path: string;
  /**
   * Open read-only (verify, export from a copy): no file is created or changed, a database
   * of an older schema is refused (`genlog migrate` upgrades it).
   */
  readonly?: boolean;
}

/**
 * The full current schema, for the benchmark that compares raw inserts with genlog.
 * (A database gets it by replaying {@link MIGRATIONS}.)
 */
export const SQLITE_SCHEMA = MIGRATIONS.map((m) => m.sql).join("\n");

/**
 * Page size of new databases. Rows are a few hundred bytes and every batch appends to the
 * right edge of the entry and index b-trees: 16 KiB pages mean fewer page splits and WAL
 * frames per batch than SQLite's default 4 KiB (about +25 % rows/s measured on the
 * benchmark machine), while a proof's point reads stay a handful of pages.
 */
export const SQLITE_PAGE_SIZE = 16384;

const SCAN_PAGE = 2048;
const CHECKPOINT_PAGE = 1024;
/** Most messages of `PRAGMA integrity_check` reported by {@link SqliteStore.checkIntegrity}. */
const INTEGRITY_MESSAGES = 10_000;

/**
 * Commits of at least this many rows go to a worker thread with its own connection, so that
 * sealing the next batches on the main thread overlaps the b-tree work and fsync of this
 * one; so do commits whose writer has more work to overlap (`AppendBatch.overlap`). Other
 * commits stay in-thread: for a batch that waits alone, a worker round trip only adds
 * latency.
 */
const WORKER_ROWS = 256;

/**
 * A stored entry is a body (`bodies e`: the record and its query columns) joined to its
 * place in the tree (`tree t`: leaf hash and nodes). Retention deletes bodies, never the tree.
 */
const ENTRY_COLUMNS =
  "e.seq AS seq, e.id AS id, e.ts AS ts, e.type AS type, e.actor AS actor, e.sector AS sector, e.status AS status, e.record AS record, t.leaf_hash AS leaf_hash, t.nodes AS nodes";
/** Joins the tree to `bodies e`. */
const TREE_OF_E = "JOIN tree t ON t.log_id = e.log_id AND t.seq = e.seq";

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

interface QueuedBatch {
  batch: PackedBatch;
  overlap: boolean;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** {@link LogStore} on a SQLite file. */
export class SqliteStore implements LogStore {
  readonly driver = "sqlite";
  /** Path of the database file. */
  readonly path: string;
  /** The same, as {@link LogStore.location}. */
  get location(): string {
    return this.path;
  }
  #findToken: Database.Statement | undefined;
  readonly #db: Database.Database;
  readonly #readonly: boolean;
  readonly #nodeRow: Database.Statement<[number, number], { leaf_hash: Buffer; nodes: Buffer }>;
  readonly #entry: Database.Statement<[number, number], Row>;
  readonly #tsAt: Database.Statement<[number, number], { ts: string }>;
  readonly #state: Database.Statement<[number], { size: number; note: string }>;
  readonly #appendTx: ((batches: readonly PackedBatch[]) => BatchOutcomes) | undefined;
  /** The schema versions before and after this open migrated the file, if it did. */
  readonly migrated: { from: number; to: number } | undefined;
  /** Batches waiting for the next commit. */
  #queue: QueuedBatch[] = [];
  #flushScheduled = false;
  /** Commits started and not yet answered (close waits for them). */
  readonly #committing = new Set<Promise<void>>();
  /** Transactions handed to the append worker and not yet answered: at most two. */
  #onWorker = 0;
  /** Commits large transactions on a second core; created on the first one. */
  #worker: AppendWorker | undefined;
  #closed = false;

  private constructor(
    db: Database.Database,
    path: string,
    readonly: boolean,
    migrated: { from: number; to: number } | undefined,
  ) {
    this.migrated = migrated;
    this.#db = db;
    this.path = path;
    this.#readonly = readonly;
    this.#nodeRow = db.prepare("SELECT leaf_hash, nodes FROM tree WHERE log_id = ? AND seq = ?");
    this.#entry = db.prepare(
      `SELECT ${ENTRY_COLUMNS} FROM bodies e ${TREE_OF_E} WHERE e.log_id = ? AND e.seq = ?`,
    );
    this.#tsAt = db.prepare("SELECT ts FROM bodies WHERE log_id = ? AND seq = ?");
    // A log's size is its latest checkpoint's: one row, one snapshot.
    this.#state = db.prepare(
      "SELECT size, note FROM checkpoints WHERE log_id = ? ORDER BY size DESC LIMIT 1",
    );
    this.#appendTx = readonly ? undefined : prepareAppend(db, path);
  }

  /**
   * Opens (and, unless read-only, creates and migrates) the database file.
   *
   * @throws {GenlogError} `GENLOG_E_STORE` when the file cannot be opened, is not a genlog
   * database (nothing is added to another program's file), or has a schema this genlog
   * cannot read; `GENLOG_E_BUSY` when another connection holds the lock past the timeout.
   */
  static open(options: SqliteStoreOptions): SqliteStore {
    const { path } = options;
    const readonly = options.readonly ?? false;
    let db: Database.Database | undefined;
    try {
      let migrated: { from: number; to: number } | undefined;
      if (readonly) {
        db = openReadOnly(path);
        checkReadableSchema(db, path);
      } else ({ db, migrated } = openWritable(path));
      return new SqliteStore(db, path, readonly, migrated);
    } catch (cause) {
      db?.close();
      if (cause instanceof ForeignDatabaseError || cause instanceof NewerSchemaError) {
        throw new GenlogError("GENLOG_E_STORE", `cannot use ${path}: ${cause.message}`, {
          cause,
          details: { path },
        });
      }
      if ((cause as { code?: unknown }).code === "SQLITE_NOTADB") throw notADatabase(path, cause);
      throw toStoreError(cause, `opening ${path}`, path);
    }
  }

  async getSetting(key: string): Promise<string | undefined> {
    return this.#do("reading a setting", () => {
      const row = this.#db.prepare("SELECT value FROM settings WHERE key = ?").get(key) as
        { value: string } | undefined;
      return row?.value;
    });
  }

  async initSetting(key: string, value: string): Promise<string> {
    return this.#do("writing a setting", () => {
      this.#db.prepare("INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)").run(key, value);
      const row = this.#db.prepare("SELECT value FROM settings WHERE key = ?").get(key) as {
        value: string;
      };
      return row.value;
    });
  }

  async putStatus(key: string, value: string): Promise<void> {
    checkStatusKey(key);
    return this.#do("writing a status", () => {
      this.#db
        .prepare(
          "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .run(key, value);
    });
  }

  async openLogRef(ref: Omit<LogRef, "logId">, create: boolean): Promise<LogRef | undefined> {
    return this.#do(`opening log ${ref.origin}`, () => {
      const find = () =>
        this.#db
          .prepare("SELECT log_id AS logId, origin, tenant, stream FROM logs WHERE origin = ?")
          .get(ref.origin) as LogRef | undefined;
      // A row that names another tenant or stream than its origin says was changed by hand:
      // writing through it would put one tenant's records in another's log.
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
      const found = checked(find());
      if (found !== undefined || !create) return found;
      const added = this.#db
        .prepare("INSERT OR IGNORE INTO logs (origin, tenant, stream) VALUES (?, ?, ?)")
        .run(ref.origin, ref.tenant, ref.stream);
      if (added.changes === 0 && find() === undefined) {
        throw new GenlogError(
          "GENLOG_E_INCONSISTENT",
          `tenant ${JSON.stringify(ref.tenant)} already has a ${ref.stream} log under another origin than ${ref.origin}: the logs table was changed outside genlog; run \`genlog verify\``,
          { details: { origin: ref.origin, tenant: ref.tenant, stream: ref.stream } },
        );
      }
      return checked(find());
    });
  }

  async listLogs(): Promise<LogRef[]> {
    return this.#do("listing logs", () =>
      this.#db
        .prepare("SELECT log_id AS logId, origin, tenant, stream FROM logs ORDER BY log_id")
        .all(),
    ) as LogRef[];
  }

  async logState(logId: number): Promise<{ size: number; latest: StoredCheckpoint | undefined }> {
    return this.#do(`reading the state of log ${logId}`, () => {
      const row = this.#state.get(logId);
      if (row === undefined) return { size: 0, latest: undefined };
      return { size: row.size, latest: { size: row.size, note: row.note } };
    });
  }

  async countEntries(logId: number): Promise<{ size: number; entries: number }> {
    return this.#do(`counting the entries of log ${logId}`, () => {
      // One statement, one snapshot: a commit by another process cannot fall in between.
      const row = this.#db
        .prepare(
          `SELECT (SELECT coalesce(max(size), 0) FROM checkpoints WHERE log_id = ?) AS size,
                  (SELECT count(*) FROM tree WHERE log_id = ?) AS entries`,
        )
        .get(logId, logId) as { size: number; entries: number };
      return row;
    });
  }

  appendBatch(logId: number, batch: AppendBatch): Promise<void> {
    try {
      this.#check();
      if (this.#appendTx === undefined) {
        throw new GenlogError("GENLOG_E_USAGE", `${this.path} was opened read-only`);
      }
      const packed = packBatch(logId, batch);
      return new Promise<void>((resolve, reject) => {
        this.#queue.push({ batch: packed, overlap: batch.overlap ?? false, resolve, reject });
        this.#scheduleFlush();
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Starts a commit of everything queued. When the queue holds lone batches only and nothing
   * is committing, the commit waits for the end of the turn, so that the batches other
   * writers seal in the same turn (one per tenant, say) share its transaction and fsync. A
   * batch whose writer has more to seal (`overlap`) starts at once (a microtask).
   *
   * Transactions on the append worker are pipelined two deep: one handed over while another
   * commits waits in the worker's queue and starts the moment that one is done, without a
   * round trip through this thread (which is busy sealing meanwhile). The worker runs them in
   * order; a batch sealed on top of one that fails is refused by the store's own check of the
   * checkpoint it extends. Batches queued while two are on the worker form the next one.
   */
  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#queue.length === 0 || this.#onWorker >= 2) return;
    this.#flushScheduled = true;
    const flush = () => {
      this.#flushScheduled = false;
      if (this.#onWorker >= 2) return; // rescheduled when one is answered
      const items = this.#queue.splice(0);
      if (items.length === 0) return;
      const commit = this.#commit(items).finally(() => {
        this.#committing.delete(commit);
        this.#scheduleFlush();
      });
      this.#committing.add(commit);
    };
    if (this.#onWorker > 0 || this.#queue.some((i) => i.overlap)) queueMicrotask(flush);
    else setImmediate(flush);
  }

  async #commit(items: QueuedBatch[]): Promise<void> {
    const batches = items.map((i) => i.batch);
    let rows = 0;
    for (const b of batches) rows += b.seqs.length;
    let outcomes: BatchOutcomes;
    try {
      // While the worker holds a transaction, this thread's connection would wait for its
      // lock: everything then goes to the worker, behind it.
      if (this.#onWorker > 0 || rows >= WORKER_ROWS || items.some((i) => i.overlap)) {
        if (this.#worker?.stopped) this.#worker = undefined;
        this.#worker ??= new AppendWorker(this.path);
        this.#onWorker++;
        try {
          outcomes = await this.#worker.append(batches);
        } finally {
          this.#onWorker--;
        }
      } else {
        outcomes = this.#appendTx!(batches);
      }
    } catch (e) {
      for (const i of items) i.reject(e);
      return;
    }
    items.forEach((item, k) => {
      const failure = outcomes[k];
      if (failure === null || failure === undefined) item.resolve();
      else item.reject(fromErrorData(failure));
    });
  }

  async findByIds(logId: number, ids: readonly string[]): Promise<Map<string, StoredEntry>> {
    return this.#do(`looking up ids in log ${logId}`, () => {
      const out = new Map<string, StoredEntry>();
      if (ids.length === 0) return out;
      const stmt = this.#db.prepare(
        `SELECT ${ENTRY_COLUMNS} FROM bodies e ${TREE_OF_E} WHERE e.log_id = ? AND e.id = ?`,
      );
      for (const id of ids) {
        const row = stmt.get(logId, id) as Row | undefined;
        if (row !== undefined) out.set(id, toEntry(row));
      }
      return out;
    });
  }

  async findSubjects(tenant: string, lookup: Uint8Array): Promise<SubjectRow[]> {
    return this.#do(`looking up a subject of tenant ${tenant}`, () =>
      (
        this.#db
          .prepare(
            "SELECT tenant, pseudonym, lookup, wrapped_key AS wrappedKey FROM subjects WHERE tenant = ? AND lookup = ? ORDER BY pseudonym",
          )
          .all(tenant, Buffer.from(lookup)) as SubjectRow[]
      ).map(subjectOf),
    );
  }

  async countSubjects(tenant: string): Promise<number> {
    return this.#do(`counting the subjects of tenant ${tenant}`, () =>
      this.#db.prepare("SELECT count(*) FROM subjects WHERE tenant = ?").pluck().get(tenant),
    ) as number;
  }

  async getSubjects(
    tenant: string,
    pseudonyms: readonly string[],
  ): Promise<Map<string, SubjectRow>> {
    return this.#do(`reading subjects of tenant ${tenant}`, () => {
      const out = new Map<string, SubjectRow>();
      const stmt = this.#db.prepare(
        "SELECT tenant, pseudonym, lookup, wrapped_key AS wrappedKey FROM subjects WHERE tenant = ? AND pseudonym = ?",
      );
      for (const p of new Set(pseudonyms)) {
        const row = stmt.get(tenant, p) as SubjectRow | undefined;
        if (row !== undefined) out.set(p, subjectOf(row));
      }
      return out;
    });
  }

  async erasureCount(tenant: string): Promise<number> {
    const v = await this.getSetting(erasureCountSetting(tenant));
    return v === undefined ? 0 : Number(v);
  }

  async getTenantKey(tenant: string): Promise<Uint8Array | undefined> {
    return this.#do(`reading the key of tenant ${tenant}`, () => {
      const v = this.#db
        .prepare("SELECT wrapped FROM tenant_keys WHERE tenant = ?")
        .pluck()
        .get(tenant) as unknown;
      return v === undefined ? undefined : blobOf(v, `the key of tenant ${tenant}`);
    });
  }

  async initTenantKey(
    tenant: string,
    wrapped: Uint8Array,
    masterKeyId: string,
  ): Promise<Uint8Array> {
    return this.#do(`storing the key of tenant ${tenant}`, () => {
      const db = this.#db;
      return db
        .transaction(() => {
          const id = db
            .prepare("SELECT value FROM settings WHERE key = 'master_key_id'")
            .pluck()
            .get();
          if (id !== masterKeyId) {
            throw new GenlogError(
              "GENLOG_E_CONFLICT",
              `the master key of ${this.path} is now ${String(id)}, not ${masterKeyId} (it was rotated): open the log again with the new key`,
            );
          }
          db.prepare("INSERT OR IGNORE INTO tenant_keys (tenant, wrapped) VALUES (?, ?)").run(
            tenant,
            Buffer.from(wrapped),
          );
          const v = db
            .prepare("SELECT wrapped FROM tenant_keys WHERE tenant = ?")
            .pluck()
            .get(tenant) as unknown;
          return blobOf(v, `the key of tenant ${tenant}`);
        })
        .immediate();
    });
  }

  async listTenantKeys(): Promise<Map<string, Uint8Array>> {
    return this.#do("reading the tenant keys", () => {
      const rows = this.#db.prepare("SELECT tenant, wrapped FROM tenant_keys").all() as {
        tenant: string;
        wrapped: unknown;
      }[];
      return new Map(
        rows.map((r) => [r.tenant, blobOf(r.wrapped, `the key of tenant ${r.tenant}`)]),
      );
    });
  }

  async rewrapTenantKeys(
    from: { keyId: string },
    to: { keyId: string },
    rewrapped: ReadonlyMap<string, Uint8Array>,
  ): Promise<void> {
    return this.#do("re-wrapping the tenant keys", () => {
      const db = this.#db;
      db.transaction(() => {
        const id = db
          .prepare("SELECT value FROM settings WHERE key = 'master_key_id'")
          .pluck()
          .get();
        const n = db.prepare("SELECT count(*) FROM tenant_keys").pluck().get() as number;
        if (id !== from.keyId || n !== rewrapped.size) {
          throw new GenlogError(
            "GENLOG_E_CONFLICT",
            "the tenant keys changed while they were re-wrapped (a tenant was added, or another rotation ran): nothing was changed, run it again",
          );
        }
        const update = db.prepare("UPDATE tenant_keys SET wrapped = ? WHERE tenant = ?");
        for (const [tenant, wrapped] of rewrapped) {
          if (update.run(Buffer.from(wrapped), tenant).changes !== 1) {
            throw new GenlogError("GENLOG_E_CONFLICT", `tenant ${tenant} has no key to re-wrap`);
          }
        }
        db.prepare("UPDATE settings SET value = ? WHERE key = 'master_key_id'").run(to.keyId);
      }).immediate();
    });
  }

  async registerTenant(tenant: string, region: string, dir: string): Promise<TenantRow> {
    return this.#do(`registering tenant ${tenant}`, () => {
      const db = this.#db;
      return db
        .transaction((): TenantRow => {
          const inHome = db.prepare("SELECT 1 FROM logs WHERE tenant = ?").get(tenant);
          const known = db.prepare("SELECT 1 FROM tenants WHERE tenant = ?").get(tenant);
          if (inHome !== undefined || known !== undefined) {
            throw new GenlogError(
              "GENLOG_E_ALREADY_INITIALIZED",
              `tenant ${tenant} exists already; it stays in its region`,
              { details: { tenant } },
            );
          }
          db.prepare("INSERT OR IGNORE INTO regions (region, dir) VALUES (?, ?)").run(region, dir);
          const created = new Date().toISOString();
          db.prepare("INSERT INTO tenants (tenant, region, created) VALUES (?, ?, ?)").run(
            tenant,
            region,
            created,
          );
          return this.#tenantRow(tenant)!;
        })
        .immediate();
    });
  }

  async getTenant(tenant: string): Promise<TenantRow | undefined> {
    return this.#do(`reading tenant ${tenant}`, () => this.#tenantRow(tenant));
  }

  async listTenants(): Promise<TenantRow[]> {
    return this.#do("listing tenants", () =>
      this.#db
        .prepare(
          "SELECT t.tenant AS tenant, t.region AS region, r.dir AS dir, t.created AS created FROM tenants t JOIN regions r ON r.region = t.region ORDER BY t.tenant",
        )
        .all(),
    ) as TenantRow[];
  }

  #tenantRow(tenant: string): TenantRow | undefined {
    return this.#db
      .prepare(
        "SELECT t.tenant AS tenant, t.region AS region, r.dir AS dir, t.created AS created FROM tenants t JOIN regions r ON r.region = t.region WHERE t.tenant = ?",
      )
      .get(tenant) as TenantRow | undefined;
  }

  async insertToken(row: TokenRow): Promise<void> {
    this.#do(`storing token ${row.id}`, () =>
      this.#db
        .prepare(
          "INSERT INTO tokens (id, hash, scope, role, label, created, expires, revoked) VALUES (@id, @hash, @scope, @role, @label, @created, @expires, @revoked)",
        )
        .run({ ...row, hash: Buffer.from(row.hash) }),
    );
  }

  async findToken(hash: Uint8Array): Promise<TokenRow | undefined> {
    return this.#do("looking up a token", () => {
      // Every authenticated request asks: the statement is prepared once.
      this.#findToken ??= this.#db.prepare("SELECT * FROM tokens WHERE hash = ?");
      return tokenRow(this.#findToken.get(Buffer.from(hash)));
    });
  }

  async listTokens(): Promise<TokenRow[]> {
    return this.#do("listing tokens", () =>
      this.#db
        .prepare("SELECT * FROM tokens ORDER BY created, id")
        .all()
        .map((r) => tokenRow(r)!),
    );
  }

  async revokeToken(id: string, at: string): Promise<TokenRow | undefined> {
    return this.#do(`revoking token ${id}`, () => {
      const db = this.#db;
      return db
        .transaction(() => {
          db.prepare("UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL").run(at, id);
          return tokenRow(db.prepare("SELECT * FROM tokens WHERE id = ?").get(id));
        })
        .immediate();
    });
  }

  async listHolds(tenant: string): Promise<HoldRow[]> {
    return this.#do(
      `reading the legal holds of tenant ${tenant}`,
      () =>
        this.#db
          .prepare(
            "SELECT tenant, subject, event_id AS eventId FROM holds WHERE tenant = ? ORDER BY subject",
          )
          .all(tenant) as HoldRow[],
    );
  }

  async insertFollower(row: FollowerRow): Promise<void> {
    this.#do(`adding follower ${row.name} of tenant ${row.tenant}`, () => {
      const r = this.#db
        .prepare(
          `INSERT INTO followers (tenant, name, kind, config, secret, cursor, attempts, next_at, last_error, disabled, created, id)
           VALUES (@tenant, @name, @kind, @config, @secret, @cursor, @attempts, @nextAt, @lastError, @disabled, @created, @id)
           ON CONFLICT DO NOTHING`,
        )
        .run({ ...row, secret: row.secret === null ? null : Buffer.from(row.secret) });
      if (r.changes === 0) {
        throw new GenlogError(
          "GENLOG_E_EXISTS",
          `tenant ${row.tenant} already has a follower named ${row.name}: remove it first, or choose another name`,
          { details: { tenant: row.tenant, name: row.name } },
        );
      }
    });
  }

  async listFollowers(tenant?: string): Promise<FollowerRow[]> {
    return this.#do("listing followers", () =>
      (tenant === undefined
        ? this.#db.prepare(`SELECT ${FOLLOWER_COLUMNS} FROM followers ORDER BY tenant, name`).all()
        : this.#db
            .prepare(`SELECT ${FOLLOWER_COLUMNS} FROM followers WHERE tenant = ? ORDER BY name`)
            .all(tenant)
      ).map(followerRow),
    );
  }

  async removeFollower(tenant: string, name: string): Promise<boolean> {
    return this.#do(`removing follower ${name} of tenant ${tenant}`, () => {
      const db = this.#db;
      return db
        .transaction(() => {
          db.prepare("DELETE FROM dead_letters WHERE tenant = ? AND name = ?").run(tenant, name);
          return (
            db.prepare("DELETE FROM followers WHERE tenant = ? AND name = ?").run(tenant, name)
              .changes > 0
          );
        })
        .immediate();
    });
  }

  async advanceFollower(
    { tenant, name, id }: FollowerKey,
    from: number,
    progress: FollowerProgress,
    letter?: DeadLetterRow,
  ): Promise<boolean> {
    return this.#do(`moving follower ${name} of tenant ${tenant} on`, () => {
      const db = this.#db;
      return db
        .transaction(() => {
          const moved = db
            .prepare(
              `UPDATE followers SET cursor = @cursor, attempts = @attempts, next_at = @nextAt,
                 last_error = @lastError, disabled = CASE WHEN @keep THEN disabled ELSE @disabled END
               WHERE tenant = @tenant AND name = @name AND id = @id AND cursor = @from`,
            )
            .run({
              tenant,
              name,
              id,
              from,
              cursor: progress.cursor,
              attempts: progress.attempts,
              nextAt: progress.nextAt,
              lastError: progress.lastError,
              keep: progress.disabled === undefined ? 1 : 0,
              disabled: progress.disabled ?? null,
            }).changes;
          if (moved === 0) return false;
          if (letter !== undefined) {
            db.prepare(
              `INSERT OR REPLACE INTO dead_letters (tenant, name, seq, event_id, attempts, error, at, due)
               VALUES (@tenant, @name, @seq, @eventId, @attempts, @error, @at, @due)`,
            ).run({ ...letter, due: letter.due ? 1 : 0 });
          }
          return true;
        })
        .immediate();
    });
  }

  async claimFollower(
    { tenant, name, id }: FollowerKey,
    owner: string,
    ms: number,
    takeFrom?: string,
  ): Promise<string | null> {
    return this.#do(`leasing follower ${name} of tenant ${tenant}`, () => {
      // One machine: the process's clock is the database's.
      const now = Date.now();
      const db = this.#db;
      return db
        .transaction(() => {
          db.prepare(
            `UPDATE followers SET lease_owner = @owner, lease_until = @until
             WHERE tenant = @tenant AND name = @name AND id = @id
               AND (lease_owner IS NULL OR lease_owner = @owner OR lease_until <= @now
                    OR lease_owner = @takeFrom)`,
          ).run({ tenant, name, id, owner, until: now + ms, now, takeFrom: takeFrom ?? null });
          const holder = db
            .prepare("SELECT lease_owner FROM followers WHERE tenant = ? AND name = ? AND id = ?")
            .pluck()
            .get(tenant, name, id) as string | null | undefined;
          return holder ?? null;
        })
        .immediate();
    });
  }

  async releaseFollowers(owner: string): Promise<void> {
    this.#do("giving follower leases up", () =>
      this.#db
        .prepare("UPDATE followers SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?")
        .run(owner),
    );
  }

  async listDeadLetters(tenant: string, name: string): Promise<DeadLetterRow[]> {
    return this.#do(`listing the dead letters of follower ${name}`, () =>
      this.#db
        .prepare(
          "SELECT tenant, name, seq, event_id AS eventId, attempts, error, at, due FROM dead_letters WHERE tenant = ? AND name = ? ORDER BY seq",
        )
        .all(tenant, name)
        .map((r) => ({ ...(r as DeadLetterRow), due: (r as { due: number }).due === 1 })),
    );
  }

  async retryDeadLetters(tenant: string, name: string): Promise<number> {
    return this.#do(
      `retrying the dead letters of follower ${name}`,
      () =>
        this.#db
          .prepare("UPDATE dead_letters SET due = 1 WHERE tenant = ? AND name = ? AND due = 0")
          .run(tenant, name).changes,
    );
  }

  async settleDeadLetter(
    { tenant, name, id }: FollowerKey,
    seq: number,
    outcome: { delivered: true } | { delivered: false; error: string },
  ): Promise<void> {
    this.#do(`settling a dead letter of follower ${name}`, () => {
      const same =
        "EXISTS (SELECT 1 FROM followers WHERE tenant = @tenant AND name = @name AND id = @id)";
      const key = { tenant, name, id, seq };
      if (outcome.delivered) {
        this.#db
          .prepare(
            `DELETE FROM dead_letters WHERE tenant = @tenant AND name = @name AND seq = @seq AND ${same}`,
          )
          .run(key);
      } else {
        this.#db
          .prepare(
            `UPDATE dead_letters SET due = 0, attempts = attempts + 1, error = @error
             WHERE tenant = @tenant AND name = @name AND seq = @seq AND ${same}`,
          )
          .run({ ...key, error: outcome.error });
      }
    });
  }

  async scrub(): Promise<boolean> {
    return this.#do("emptying the write-ahead log", () => this.#truncateWal());
  }

  /** Moves the WAL into the database and empties it; false when readers kept part of it. */
  #truncateWal(): boolean {
    // Commits on the worker's connection are done: each was answered before this call.
    const [r] = this.#db.pragma("wal_checkpoint(TRUNCATE)") as {
      busy: number;
      log: number;
      checkpointed: number;
    }[];
    return r === undefined || (r.busy === 0 && r.log === r.checkpointed);
  }

  async readNodes(logId: number, nodes: readonly NodeId[]): Promise<Uint8Array[]> {
    return this.#do(`reading Merkle nodes of log ${logId}`, () =>
      nodes.map(({ level, index }) => {
        const seq = completingSeq({ level, index });
        const row = this.#nodeRow.get(logId, seq);
        if (row === undefined) {
          throw new GenlogError(
            "GENLOG_E_NOT_FOUND",
            `Merkle node (${level}, ${index}) is not stored: entry ${seq} is missing`,
            { details: { level, index } },
          );
        }
        const leaf = asBlob(row.leaf_hash);
        const nodes = asBlob(row.nodes);
        const start = (level - 1) * 32;
        if (level === 0 ? leaf.length !== 32 : nodes.length < start + 32) {
          throw new GenlogError(
            "GENLOG_E_NOT_FOUND",
            `Merkle node (${level}, ${index}) is not stored in entry ${seq}`,
            { details: { level, index } },
          );
        }
        return level === 0 ? leaf : nodes.subarray(start, start + 32);
      }),
    );
  }

  async getEntry(logId: number, seq: number): Promise<StoredEntry | undefined> {
    return this.#do(`reading entry ${seq} of log ${logId}`, () => {
      const row = this.#entry.get(logId, seq);
      return row === undefined ? undefined : toEntry(row);
    });
  }

  async query(logId: number, filter: QueryFilter): Promise<StoredEntry[]> {
    return this.#do(`querying log ${logId}`, () => {
      // Timestamps never decrease along a log (the writer guarantees it), so a time bound is
      // a seq bound found by binary search on the primary key: no ts index on ingest.
      const seqs = {
        since: filter.since === undefined ? 0 : this.#firstSeqAtOrAfter(logId, filter.since),
        until: filter.until === undefined ? 0 : this.#firstSeqAtOrAfter(logId, filter.until),
      };
      // Only the signed log is read: a row past its latest checkpoint was never committed by
      // genlog (verify reports it as inserted).
      const size = this.#state.get(logId)?.size ?? 0;
      const out: StoredEntry[] = [];
      for (const part of pageQueries(logId, filter, seqs, size)) {
        const rows = this.#db.prepare(part.sql).all(...part.args, filter.limit - out.length);
        for (const row of rows as Row[]) out.push(toEntry(row));
        if (out.length >= filter.limit) break;
      }
      return out;
    });
  }

  async *scanEntries(logId: number, fromSeq = 0): AsyncIterable<StoredEntry | PurgedEntry> {
    // Driven by the tree: a position whose body was purged (or deleted) still comes out.
    const page = this.#do("preparing a scan", () =>
      this.#db.prepare(
        `SELECT t.seq AS seq, e.id AS id, e.ts AS ts, e.type AS type, e.actor AS actor, e.sector AS sector, e.status AS status, e.record AS record, t.leaf_hash AS leaf_hash, t.nodes AS nodes
         FROM tree t LEFT JOIN bodies e ON e.log_id = t.log_id AND e.seq = t.seq
         WHERE t.log_id = ? AND t.seq >= ? ORDER BY t.seq LIMIT ?`,
      ),
    );
    let next = fromSeq;
    for (;;) {
      const rows = this.#do(`reading entries ${next}.. of log ${logId}`, () =>
        page.all(logId, next, SCAN_PAGE),
      ) as (Row | (Omit<Row, "record"> & { record: null }))[];
      for (const row of rows) {
        yield row.record === null
          ? {
              seq: row.seq,
              canonical: null,
              leafHash: asBlob(row.leaf_hash),
              nodes: asBlob(row.nodes),
            }
          : toEntry(row as Row);
      }
      if (rows.length < SCAN_PAGE) return;
      next = rows[rows.length - 1]!.seq + 1;
    }
  }

  async listPurges(logId: number): Promise<PurgeRow[]> {
    return this.#do(`reading the purges of log ${logId}`, () =>
      this.#db
        .prepare(
          "SELECT from_seq AS fromSeq, to_seq AS toSeq, event_id AS eventId FROM purges WHERE log_id = ? ORDER BY from_seq",
        )
        .all(logId),
    ) as PurgeRow[];
  }

  async systemEventSeqs(logId: number, fromSeq: number, toSeq: number): Promise<number[]> {
    return this.#do(`finding the system events of log ${logId}`, () =>
      this.#db
        .prepare(
          "SELECT seq FROM bodies INDEXED BY bodies_type WHERE log_id = ? AND type >= 'genlog.' AND type < 'genlog/' AND seq >= ? AND seq < ? ORDER BY seq",
        )
        .pluck()
        .all(logId, fromSeq, toSeq),
    ) as number[];
  }

  async reclaim(): Promise<{ freedBytes: number; scrubbed: boolean }> {
    return this.#do("reclaiming free space", () => {
      const db = this.#db;
      const size = () =>
        (db.pragma("page_count", { simple: true }) as number) *
        (db.pragma("page_size", { simple: true }) as number);
      const before = size();
      // Deleted rows were overwritten (secure_delete); their pages are free. Below a quarter of
      // the file they are left for later appends to reuse; past it the file is rewritten
      // without them (VACUUM: the write lock is held meanwhile, and as much space again is
      // needed while it runs).
      const free = db.pragma("freelist_count", { simple: true }) as number;
      const pages = db.pragma("page_count", { simple: true }) as number;
      if (free > 0 && free * 4 >= pages) db.exec("VACUUM");
      const freedBytes = Math.max(0, before - size());
      return { freedBytes, scrubbed: this.#truncateWal() };
    });
  }

  async listCheckpoints(logId: number): Promise<StoredCheckpoint[]> {
    return this.#do(`reading the checkpoints of log ${logId}`, () =>
      this.#db
        .prepare("SELECT size, note FROM checkpoints WHERE log_id = ? ORDER BY size")
        .all(logId),
    ) as StoredCheckpoint[];
  }

  async *scanCheckpoints(logId: number): AsyncIterable<StoredCheckpoint> {
    const page = this.#do("preparing a scan", () =>
      this.#db.prepare(
        "SELECT size, note FROM checkpoints WHERE log_id = ? AND size > ? ORDER BY size LIMIT ?",
      ),
    );
    let after = -1;
    for (;;) {
      const rows = this.#do(`reading the checkpoints of log ${logId}`, () =>
        page.all(logId, after, CHECKPOINT_PAGE),
      ) as StoredCheckpoint[];
      for (const row of rows) yield row;
      if (rows.length < CHECKPOINT_PAGE) return;
      after = rows[rows.length - 1]!.size;
    }
  }

  async checkpointAt(logId: number, size: number): Promise<StoredCheckpoint | undefined> {
    return this.#do(`reading the checkpoint at size ${size} of log ${logId}`, () =>
      this.#db
        .prepare("SELECT size, note FROM checkpoints WHERE log_id = ? AND size = ?")
        .get(logId, size),
    ) as StoredCheckpoint | undefined;
  }

  async auditQueryIndexes(logId: number, limit: number): Promise<IndexFault[]> {
    return this.#do(`checking the actor index of log ${logId}`, () => {
      // Each statement is one snapshot, with the bound the log's latest checkpoint gives then.
      const bound = `(SELECT (coalesce(max(size), 0) / ${ACTOR_INDEX_CHUNK}) * ${ACTOR_INDEX_CHUNK} FROM checkpoints WHERE log_id = ?)`;
      const wrong = this.#db
        .prepare(
          `SELECT a.seq AS seq, a.actor AS indexed, e.actor AS actor, ${bound} AS bound
           FROM actor_index a LEFT JOIN bodies e ON e.log_id = a.log_id AND e.seq = a.seq
           WHERE a.log_id = ? AND (a.seq >= ${bound} OR e.actor IS NOT a.actor) LIMIT ?`,
        )
        .all(logId, logId, logId, limit) as {
        seq: number;
        indexed: unknown;
        actor: unknown;
        bound: number;
      }[];
      const missing = this.#db
        .prepare(
          `SELECT e.seq AS seq, e.actor AS actor FROM bodies e
           WHERE e.log_id = ? AND e.seq < ${bound} AND e.actor IS NOT NULL AND NOT EXISTS
             (SELECT 1 FROM actor_index a WHERE a.log_id = e.log_id AND a.actor = e.actor AND a.seq = e.seq)
           LIMIT ?`,
        )
        .all(logId, logId, limit) as { seq: number; actor: unknown }[];
      const shown = (v: unknown) => JSON.stringify(v ?? null);
      // A row moved to another actor is also a row missing under the right one: one fault.
      const named = new Set(wrong.map((w) => w.seq));
      return [
        ...wrong.map((w): IndexFault => ({
          seq: w.seq,
          field: "actor",
          message:
            w.seq >= w.bound
              ? `the actor index lists entry ${w.seq} under ${shown(w.indexed)}, past the ${w.bound} entries it covers: the row was added outside genlog`
              : `the actor index lists entry ${w.seq} under ${shown(w.indexed)} but its record's actor is ${shown(w.actor)}: queries by actor would misreport it`,
        })),
        ...missing
          .filter((m) => !named.has(m.seq))
          .map((m): IndexFault => ({
            seq: m.seq,
            field: "actor",
            message: `the actor index has no row for entry ${m.seq} (actor ${shown(m.actor)}): queries by that actor would miss it`,
          })),
      ].slice(0, limit);
    });
  }

  async checkIntegrity(): Promise<StoreDamage[]> {
    this.#check();
    const request: IntegrityRequest = { path: this.path, limit: INTEGRITY_MESSAGES };
    const reply = await new Promise<IntegrityReply>((resolve, reject) => {
      const worker = new Worker(workerUrl("integrity-worker"), { workerData: request });
      worker.once("message", resolve);
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`integrity check thread exited (${code})`)));
    }).catch((e: unknown) => ({ error: String(e) }) satisfies IntegrityReply);
    if ("findings" in reply) return reply.findings;
    // A file too damaged to open or read at all is itself the finding.
    return [
      { message: `SQLite integrity check could not run: ${reply.error}`, entriesAffected: true },
    ];
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Queued batches were handed over with a promise: commit them before closing.
    while (this.#committing.size > 0 || this.#queue.length > 0 || this.#flushScheduled) {
      const [first] = this.#committing;
      await (first ?? new Promise((r) => setImmediate(r)));
    }
    this.#closed = true;
    await this.#worker?.close();
    if (this.#readonly) this.#db.close();
    else closeWriter(this.#db);
  }

  /** The smallest seq whose ts is >= `ts` (the log size when there is none). */
  #firstSeqAtOrAfter(logId: number, ts: string): number {
    let lo = 0;
    let hi = (this.#state.get(logId)?.size ?? 0) as number;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      // A missing row only exists in a damaged log (which verify reports); treat it as "before".
      const row = this.#tsAt.get(logId, mid);
      if (row !== undefined && row.ts >= ts) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Runs a read or write of `what`, with SQLite's failures as typed errors. */
  #do<T>(what: string, fn: () => T): T {
    this.#check();
    try {
      return fn();
    } catch (e) {
      throw toStoreError(e, what, this.path);
    }
  }

  #check(): void {
    if (this.#closed) throw new GenlogError("GENLOG_E_CLOSED", "the store is closed");
  }
}

/**
 * Opens (creating if needed) a writable database and brings its schema up to date; says
 * from which version to which it migrated an existing file, if it did.
 */
function openWritable(path: string): {
  db: Database.Database;
  migrated: { from: number; to: number } | undefined;
} {
  // The database holds every record: create it owner-only (SQLite gives the -wal and -shm
  // files the mode of the database file). An existing file keeps its mode.
  closeSync(openSync(path, "a", 0o600));
  const db = new Database(path);
  try {
    // First, so that opening next to a busy writer waits instead of failing.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Before any pragma that writes: another program's file is left exactly as it was.
    const version = schemaVersionOf(db);
    if (version === undefined) {
      const tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .pluck()
        .all() as string[];
      throw new ForeignDatabaseError(tables);
    }
    if (version > SCHEMA_VERSION) throw new NewerSchemaError(version);
    // Only takes effect on a new file, before WAL is on.
    // No auto_vacuum: its pointer-map pages cost a fifth of ingest at 256 appends in flight.
    // A purge's free pages are reused by later appends, or given back by reclaim().
    if (version === 0) db.pragma(`page_size = ${SQLITE_PAGE_SIZE}`);
    configureWriter(db);
    const steps = version < SCHEMA_VERSION ? migrate(db) : undefined;
    // A new file replays every migration: that is creating it, not migrating it.
    const migrated = steps !== undefined && steps.from > 0 ? steps : undefined;
    // A dropped trigger, unique index or generated column would let rows be rewritten
    // unseen, or a retried id be logged twice: never write into such a file.
    const changed = schemaDeviations(db);
    if (changed.length > 0) {
      throw new GenlogError(
        "GENLOG_E_INCONSISTENT",
        `the schema of ${path} was changed outside genlog (${changed.join("; ")}); nothing will be written to it: run \`genlog verify\``,
        { details: { path, changes: changed } },
      );
    }
    return { db, migrated };
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * Refuses a read-only database whose schema this genlog does not read. Called by the
 * read-only open through {@link SqliteStore.open}.
 */
function checkReadableSchema(db: Database.Database, path: string): void {
  const version = schemaVersionOf(db);
  if (version === SCHEMA_VERSION) return;
  if (version === undefined || version === 0) {
    throw new GenlogError("GENLOG_E_STORE", `${path} is not a genlog database`, {
      details: { path },
    });
  }
  if (version > SCHEMA_VERSION) throw new NewerSchemaError(version);
  throw new GenlogError(
    "GENLOG_E_STORE",
    `${path} has schema version ${version}, older than the ${SCHEMA_VERSION} this genlog reads: run \`genlog migrate --data-dir DIR\` once with write access to it (a copy of the data directory will do; no key is needed)`,
    { details: { path, version, expected: SCHEMA_VERSION } },
  );
}

/** The built worker module `name` (tests and benchmarks run from the TypeScript sources). */
function workerUrl(name: string): URL {
  // Node 20 workers cannot load TypeScript through tsx; `npm test` builds first.
  return import.meta.url.endsWith(".ts")
    ? new URL(`../../../dist/store/sqlite/${name}.js`, import.meta.url)
    : new URL(`./${name}.js`, import.meta.url);
}

/** One SELECT of a page, with its arguments but the last: how many rows it may return. */
export interface QueryPart {
  sql: string;
  args: unknown[];
}

/**
 * The SELECTs of one page of {@link SqliteStore.query}, run in order until the page is full.
 * `seqs` are the first seqs at or after `filter.since` and `filter.until` (unused when those
 * are absent); `size` is the log's (the page never reaches past it). A query by actor reads
 * the actor index below the bound it has reached (see `ACTOR_INDEX_CHUNK`) and the entries
 * from there on. Exported so that a test can check the plan SQLite makes of each.
 */
export function pageQueries(
  logId: number,
  filter: QueryFilter,
  seqs: { since: number; until: number },
  size: number,
): QueryPart[] {
  const indexed = actorIndexBound(size);
  const exceptions = filter.status !== undefined && filter.status !== "succeeded";
  const byActor = filter.actor !== undefined && !exceptions;
  // Conditions on the record's columns. The unary + keeps the planner off the index of a
  // column other than the one it is told to use (see indexFor).
  const useIndexOf = byActor ? undefined : indexedColumn(filter);
  const conds: string[] = [];
  const condArgs: unknown[] = [];
  for (const [col, v] of [
    ["type", filter.type],
    ["actor", filter.actor],
    ["sector", filter.sector],
    ["status", filter.status],
  ] as const) {
    if (v !== undefined) {
      conds.push(`${col === useIndexOf ? "" : "+"}e.${col} = ?`);
      condArgs.push(v);
    }
  }
  // The status index is partial (most records succeed); this term lets the planner use it.
  if (exceptions) conds.push("e.status <> 'succeeded'");
  if (filter.since !== undefined) {
    conds.push("+e.ts >= ?");
    condArgs.push(filter.since);
  }
  if (filter.until !== undefined) {
    conds.push("+e.ts < ?");
    condArgs.push(filter.until);
  }
  // The page is the seqs in [from, to).
  let from = filter.since === undefined ? 0 : seqs.since;
  if (filter.afterSeq !== undefined) from = Math.max(from, filter.afterSeq + 1);
  const to = Math.min(size, filter.until === undefined ? size : seqs.until);
  const where = (seqCol: string, lo: number, hi: number) => ({
    sql: [`${seqCol} >= ?`, `${seqCol} < ?`, ...conds].join(" AND "),
    args: [lo, hi, ...condArgs],
  });

  if (!byActor) {
    const w = where("e.seq", from, to);
    const index = useIndexOf === undefined ? "" : `INDEXED BY bodies_${useIndexOf}`;
    return [
      {
        sql: `SELECT ${ENTRY_COLUMNS} FROM bodies e ${index} ${TREE_OF_E} WHERE e.log_id = ? AND ${w.sql} ORDER BY e.seq LIMIT ?`,
        args: [logId, ...w.args],
      },
    ];
  }
  const parts: QueryPart[] = [];
  if (from < Math.min(to, indexed)) {
    // The index yields the actor's seqs in order; each row is read by its key and held to
    // the index row (a forged index row cannot bring in another person's record).
    const w = where("a.seq", from, Math.min(to, indexed));
    parts.push({
      sql: `SELECT ${ENTRY_COLUMNS} FROM actor_index a CROSS JOIN bodies e ON e.log_id = a.log_id AND e.seq = a.seq AND e.actor = a.actor ${TREE_OF_E} WHERE a.log_id = ? AND a.actor = ? AND ${w.sql} ORDER BY a.seq LIMIT ?`,
      args: [logId, filter.actor, ...w.args],
    });
  }
  if (Math.max(from, indexed) < to) {
    // Past the index: the entries themselves, fewer than a chunk and a batch.
    const w = where("e.seq", Math.max(from, indexed), to);
    parts.push({
      sql: `SELECT ${ENTRY_COLUMNS} FROM bodies e ${TREE_OF_E} WHERE e.log_id = ? AND ${w.sql} ORDER BY e.seq LIMIT ?`,
      args: [logId, ...w.args],
    });
  }
  return parts;
}

/**
 * The column whose index a filtered query must use. Without table statistics (genlog never
 * runs ANALYZE on the ingest path), SQLite prefers walking the primary key in `seq` order
 * and testing every row, which at a million entries costs tens of milliseconds for an
 * absent status. Each of these indexes yields exactly the matching rows already in `seq`
 * order, so it is never worse than that walk; the likely rarest filter is preferred: a
 * non-`succeeded` status (a partial index of the exceptions), then sector, type. (An actor
 * goes through the actor index, in {@link pageQueries}.)
 */
function indexedColumn(filter: QueryFilter): "status" | "sector" | "type" | undefined {
  if (filter.status !== undefined && filter.status !== "succeeded") return "status";
  if (filter.sector !== undefined) return "sector";
  if (filter.type !== undefined) return "type";
  return undefined;
}

/** The main thread's side of the append worker. */
class AppendWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<
    number,
    { resolve: (o: BatchOutcomes) => void; reject: (e: unknown) => void }
  >();
  #next = 0;
  /** Set once the thread has failed or exited: the store then starts a new one. */
  #stopped: GenlogError | undefined;

  constructor(path: string) {
    this.#worker = new Worker(workerUrl("append-worker"), { workerData: { path } });
    this.#worker.unref();
    this.#worker.on("message", (m: AppendReply) => {
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if ("outcomes" in m) p.resolve(m.outcomes);
      else p.reject(fromErrorData(m.error));
    });
    // A thread that dies after COMMIT but before answering leaves its transaction
    // committed: nobody knows which. Pending commits are failed only once the thread has
    // exited (its connection closed, any open transaction rolled back), so that the writer
    // can settle them by reading back.
    let cause: unknown;
    this.#worker.on("error", (err) => {
      cause ??= err;
    });
    this.#worker.on("exit", (code) => {
      const why = cause === undefined ? `exit code ${code}` : String(cause);
      this.#stopped ??= new GenlogError(
        "GENLOG_E_COMMIT_UNKNOWN",
        `the SQLite append thread stopped (${why}); its last commit may or may not have landed`,
        { cause },
      );
      for (const p of this.#pending.values()) p.reject(this.#stopped);
      this.#pending.clear();
    });
  }

  /** True once the thread can take no more batches. */
  get stopped(): boolean {
    return this.#stopped !== undefined;
  }

  append(batches: PackedBatch[]): Promise<BatchOutcomes> {
    if (this.#stopped !== undefined) return Promise.reject(this.#stopped);
    const id = this.#next++;
    return new Promise<BatchOutcomes>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.ref(); // a commit in flight keeps the process alive until it is durable
      // The hashes move to the worker: the batches are not used here any more.
      this.#worker.postMessage({ id, batches } satisfies AppendRequest, [
        ...batches.map((b) => b.hashes.buffer),
      ]);
    }).finally(() => {
      if (this.#pending.size === 0) this.#worker.unref();
    });
  }

  /** Lets the thread close its connection cleanly (a killed one would leave the WAL). */
  async close(): Promise<void> {
    if (this.#stopped !== undefined) return;
    const exited = new Promise((r) => this.#worker.once("exit", r));
    this.#worker.ref();
    this.#worker.postMessage({ close: true } satisfies CloseRequest);
    await exited;
  }
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
    canonical: asText(row.record),
    leafHash: asBlob(row.leaf_hash),
    nodes: asBlob(row.nodes),
  };
}

/** A blob column as read; a hand-edited row may hold text instead. */
function blobOf(v: unknown, what: string): Buffer {
  if (!Buffer.isBuffer(v)) {
    throw new GenlogError(
      "GENLOG_E_KEY",
      `${what} is not stored as bytes: it was changed outside genlog`,
    );
  }
  return v;
}

/** A subjects row as read, its blobs checked (a hand-edited row may hold text). */
function subjectOf(row: SubjectRow): SubjectRow {
  return { ...row, lookup: asBlob(row.lookup), wrappedKey: asBlob(row.wrappedKey) };
}

/**
 * SQLite keeps any value in any column: hand-edited hashes may come back as text or numbers.
 * As bytes, they are simply wrong hashes, which verify and the proofs report, not a crash.
 */
function asBlob(v: unknown): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(String(v ?? ""), "utf8");
}

/** A record's text, whatever the column holds (a hand-written BLOB is read as UTF-8). */
function asText(v: unknown): string {
  return typeof v === "string" ? v : Buffer.isBuffer(v) ? v.toString("utf8") : String(v ?? "");
}

/** A row of `tokens` as the contract describes it. */
const FOLLOWER_COLUMNS =
  "tenant, name, id, kind, config, secret, cursor, attempts, next_at AS nextAt, last_error AS lastError, disabled, created";

function followerRow(r: unknown): FollowerRow {
  const row = r as FollowerRow & { secret: Buffer | null };
  return { ...row, secret: row.secret === null ? null : new Uint8Array(row.secret) };
}

function tokenRow(r: unknown): TokenRow | undefined {
  if (r === undefined) return undefined;
  const row = r as TokenRow & { hash: Buffer };
  return { ...row, hash: new Uint8Array(row.hash) };
}
