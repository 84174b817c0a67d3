/**
 * The embedded default store: one SQLite file through better-sqlite3, WAL journal and
 * `synchronous=FULL`, so a committed transaction has been fsynced before `appendBatch`
 * resolves. better-sqlite3 is synchronous; the async contract of {@link LogStore} costs one
 * microtask per call and keeps the PostgreSQL driver on the same interface.
 */
import Database from "better-sqlite3";
import { closeSync, openSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { GenlogError, type ErrorCode, type GenlogErrorDetails } from "../../errors.js";
import {
  completingSeq,
  type EntryRow,
  type LogRef,
  type LogStore,
  type NodeId,
  type QueryFilter,
  type StoredCheckpoint,
  type StoredEntry,
} from "../log-store.js";

/** Options of {@link SqliteStore.open}. */
export interface SqliteStoreOptions {
  /** Path of the database file (created if missing). */
  path: string;
  /** Open read-only (verify, export from a copy). */
  readonly?: boolean;
}

const SCHEMA_VERSION = "1";

const SCHEMA = `
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
`;

/** The SQL schema, exported for the benchmark that compares raw inserts with genlog. */
export const SQLITE_SCHEMA = SCHEMA;

/**
 * Page size of new databases. Rows are a few hundred bytes and every batch appends to the
 * right edge of the entry and index b-trees: 16 KiB pages mean fewer page splits and WAL
 * frames per batch than SQLite's default 4 KiB (about +25 % rows/s measured on the
 * benchmark machine), while a proof's point reads stay a handful of pages.
 */
export const SQLITE_PAGE_SIZE = 16384;

const SCAN_PAGE = 2048;
const CHECKPOINT_PAGE = 1024;

type Row = { seq: number; record: string; leaf_hash: Buffer };

/** {@link LogStore} on a SQLite file. */
export class SqliteStore implements LogStore {
  readonly driver = "sqlite";
  readonly #db: Database.Database;
  readonly #nodeRow: Database.Statement<[number, number], { leaf_hash: Buffer; nodes: Buffer }>;
  readonly #entry: Database.Statement<[number, number], Row>;
  readonly #tsAt: Database.Statement<[number, number], { ts: string }>;
  readonly #maxSeq: Database.Statement<[number], { seq: number | null }>;
  readonly #latestCheckpoint: Database.Statement<[number], StoredCheckpoint>;
  /** BEGIN IMMEDIATE: takes the write lock up front, so the size check cannot go stale. */
  readonly #appendTx: (batch: PackedBatch) => void;
  readonly #path: string;
  /** Commits large batches on a second core; created on the first large batch. */
  #worker: AppendWorker | undefined;
  #closed = false;

  private constructor(db: Database.Database, path: string) {
    this.#db = db;
    this.#nodeRow = db.prepare("SELECT leaf_hash, nodes FROM entries WHERE log_id = ? AND seq = ?");
    this.#entry = db.prepare(
      "SELECT seq, record, leaf_hash FROM entries WHERE log_id = ? AND seq = ?",
    );
    this.#tsAt = db.prepare("SELECT ts FROM entries WHERE log_id = ? AND seq = ?");
    this.#maxSeq = db.prepare("SELECT max(seq) AS seq FROM entries WHERE log_id = ?");
    this.#latestCheckpoint = db.prepare(
      "SELECT size, note FROM checkpoints WHERE log_id = ? ORDER BY size DESC LIMIT 1",
    );
    this.#appendTx = prepareAppend(db);
    this.#path = path;
  }

  /**
   * Opens (and creates) the database file.
   *
   * @throws {GenlogError} `GENLOG_E_STORE` when the file cannot be opened or is not a genlog database.
   */
  static open(options: SqliteStoreOptions): SqliteStore {
    let db: Database.Database | undefined;
    try {
      // The database holds every record: create it owner-only (SQLite gives the -wal and
      // -shm files the mode of the database file). An existing file keeps its mode.
      if (!options.readonly) closeSync(openSync(options.path, "a", 0o600));
      db = new Database(options.path, {
        readonly: options.readonly ?? false,
        fileMustExist: options.readonly ?? false,
      });
      // First, so that opening next to a busy writer waits instead of failing.
      db.pragma("busy_timeout = 5000");
      if (!options.readonly) {
        // Only takes effect on a new file, before WAL is on.
        db.pragma(`page_size = ${SQLITE_PAGE_SIZE}`);
        configureWriter(db);
        db.exec(SCHEMA);
      }
      const hasSettings = db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'settings'")
        .get();
      const version = hasSettings
        ? (db.prepare("SELECT value FROM settings WHERE key = 'schema_version'").get() as
            { value: string } | undefined)
        : undefined;
      if (version === undefined) {
        if (options.readonly) {
          throw new GenlogError("GENLOG_E_STORE", `${options.path} is not a genlog database`);
        }
        db.prepare("INSERT INTO settings (key, value) VALUES ('schema_version', ?)").run(
          SCHEMA_VERSION,
        );
      } else if (version.value !== SCHEMA_VERSION) {
        throw new GenlogError(
          "GENLOG_E_STORE",
          `database schema version is ${version.value}, this genlog expects ${SCHEMA_VERSION}`,
        );
      }
    } catch (cause) {
      db?.close();
      if (cause instanceof GenlogError) throw cause;
      throw new GenlogError(
        "GENLOG_E_STORE",
        `cannot open SQLite database ${options.path}: ${String(cause)}`,
        {
          cause,
        },
      );
    }
    return new SqliteStore(db, options.path);
  }

  async getSetting(key: string): Promise<string | undefined> {
    this.#check();
    const row = this.#db.prepare("SELECT value FROM settings WHERE key = ?").get(key) as
      { value: string } | undefined;
    return row?.value;
  }

  async initSetting(key: string, value: string): Promise<string> {
    this.#check();
    this.#db.prepare("INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)").run(key, value);
    return (await this.getSetting(key)) ?? value;
  }

  async openLogRef(ref: Omit<LogRef, "logId">, create: boolean): Promise<LogRef | undefined> {
    this.#check();
    const find = () =>
      this.#db
        .prepare("SELECT log_id AS logId, origin, tenant, stream FROM logs WHERE origin = ?")
        .get(ref.origin) as LogRef | undefined;
    const found = find();
    if (found !== undefined || !create) return found;
    this.#db
      .prepare("INSERT OR IGNORE INTO logs (origin, tenant, stream) VALUES (?, ?, ?)")
      .run(ref.origin, ref.tenant, ref.stream);
    return find();
  }

  async logState(logId: number): Promise<{ size: number; latest: StoredCheckpoint | undefined }> {
    this.#check();
    return { size: this.#size(logId), latest: this.#latestCheckpoint.get(logId) };
  }

  async appendBatch(
    logId: number,
    entries: StoredEntry[],
    checkpoint: StoredCheckpoint,
  ): Promise<void> {
    this.#check();
    try {
      const batch = packBatch(logId, entries, checkpoint);
      if (entries.length >= WORKER_BATCH) {
        if (this.#worker?.stopped) this.#worker = undefined;
        this.#worker ??= new AppendWorker(this.#path);
        await this.#worker.append(batch);
      } else {
        this.#appendTx(batch);
      }
    } catch (cause) {
      if (cause instanceof GenlogError) throw cause;
      throw new GenlogError(
        "GENLOG_E_STORE",
        `append of ${entries.length} records failed and was rolled back: ${String(cause)}`,
        {
          cause,
        },
      );
    }
  }

  async findByIds(logId: number, ids: readonly string[]): Promise<Map<string, EntryRow>> {
    this.#check();
    const out = new Map<string, EntryRow>();
    if (ids.length === 0) return out;
    const stmt = this.#db.prepare(
      "SELECT seq, record, leaf_hash, id FROM entries WHERE log_id = ? AND id = ?",
    );
    for (const id of ids) {
      const row = stmt.get(logId, id) as (Row & { id: string }) | undefined;
      if (row !== undefined) out.set(id, toEntry(row));
    }
    return out;
  }

  async readNodes(logId: number, nodes: readonly NodeId[]): Promise<Uint8Array[]> {
    this.#check();
    return nodes.map(({ level, index }) => {
      const seq = completingSeq({ level, index });
      const row = this.#nodeRow.get(logId, seq);
      if (row === undefined) {
        throw new GenlogError(
          "GENLOG_E_NOT_FOUND",
          `Merkle node (${level}, ${index}) is not stored: entry ${seq} is missing`,
          {
            details: { level, index },
          },
        );
      }
      if (level === 0) return row.leaf_hash;
      const start = (level - 1) * 32;
      if (row.nodes.length < start + 32) {
        throw new GenlogError(
          "GENLOG_E_NOT_FOUND",
          `Merkle node (${level}, ${index}) is not stored in entry ${seq}`,
          {
            details: { level, index },
          },
        );
      }
      return row.nodes.subarray(start, start + 32);
    });
  }

  async getEntry(logId: number, seq: number): Promise<EntryRow | undefined> {
    this.#check();
    const row = this.#entry.get(logId, seq);
    return row === undefined ? undefined : toEntry(row);
  }

  async query(logId: number, filter: QueryFilter): Promise<EntryRow[]> {
    this.#check();
    // Timestamps never decrease along a log (the writer guarantees it), so a time bound is a
    // seq bound found by binary search on the primary key: no ts index to maintain on ingest.
    const seqs = {
      since: filter.since === undefined ? 0 : this.#firstSeqAtOrAfter(logId, filter.since),
      until: filter.until === undefined ? 0 : this.#firstSeqAtOrAfter(logId, filter.until),
    };
    const { sql, args } = pageQuery(logId, filter, seqs);
    return (this.#db.prepare(sql).all(...args) as Row[]).map(toEntry);
  }

  async *scanEntries(logId: number, fromSeq = 0): AsyncIterable<EntryRow> {
    this.#check();
    const page = this.#db.prepare(
      "SELECT seq, record, leaf_hash FROM entries WHERE log_id = ? AND seq >= ? ORDER BY seq LIMIT ?",
    );
    let next = fromSeq;
    for (;;) {
      const rows = page.all(logId, next, SCAN_PAGE) as Row[];
      for (const row of rows) yield toEntry(row);
      if (rows.length < SCAN_PAGE) return;
      next = rows[rows.length - 1]!.seq + 1;
    }
  }

  async listCheckpoints(logId: number): Promise<StoredCheckpoint[]> {
    this.#check();
    return this.#db
      .prepare("SELECT size, note FROM checkpoints WHERE log_id = ? ORDER BY rowid")
      .all(logId) as StoredCheckpoint[];
  }

  async *scanCheckpoints(logId: number): AsyncIterable<StoredCheckpoint> {
    this.#check();
    const page = this.#db.prepare(
      "SELECT rowid, size, note FROM checkpoints WHERE log_id = ? AND rowid > ? ORDER BY rowid LIMIT ?",
    );
    let after = 0;
    for (;;) {
      const rows = page.all(logId, after, CHECKPOINT_PAGE) as (StoredCheckpoint & {
        rowid: number;
      })[];
      for (const { size, note } of rows) yield { size, note };
      if (rows.length < CHECKPOINT_PAGE) return;
      after = rows[rows.length - 1]!.rowid;
    }
  }

  async checkpointAt(logId: number, size: number): Promise<StoredCheckpoint | undefined> {
    this.#check();
    return this.#db
      .prepare("SELECT size, note FROM checkpoints WHERE log_id = ? AND size = ?")
      .get(logId, size) as StoredCheckpoint | undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#worker?.close();
    this.#db.close();
  }

  /** The smallest seq whose ts is >= `ts` (the log size when there is none). */
  #firstSeqAtOrAfter(logId: number, ts: string): number {
    let lo = 0;
    let hi = this.#size(logId);
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      // A missing row only exists in a damaged log (which verify reports); treat it as "before".
      const row = this.#tsAt.get(logId, mid);
      if (row !== undefined && row.ts >= ts) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Number of entries of a log (its next seq). */
  #size(logId: number): number {
    const last = this.#maxSeq.get(logId)!.seq;
    return last === null ? 0 : last + 1;
  }

  #check(): void {
    if (this.#closed) throw new GenlogError("GENLOG_E_CLOSED", "the store is closed");
  }
}

/**
 * The SELECT of one page of {@link SqliteStore.query}, with its arguments. `seqs` are the
 * first seqs at or after `filter.since` and `filter.until` (unused when those are absent).
 * Exported so that a test can check the plan SQLite makes of it.
 */
export function pageQuery(
  logId: number,
  filter: QueryFilter,
  seqs: { since: number; until: number },
): { sql: string; args: unknown[] } {
  const where = ["log_id = ?"];
  const args: unknown[] = [logId];
  for (const [col, v] of [
    ["type", filter.type],
    ["actor", filter.actor],
    ["sector", filter.sector],
    ["status", filter.status],
  ] as const) {
    if (v !== undefined) {
      where.push(`${col} = ?`);
      args.push(v);
    }
  }
  // The status index is partial (most records succeed); this term lets the planner use it.
  if (filter.status !== undefined && filter.status !== "succeeded") {
    where.push("status <> 'succeeded'");
  }
  if (filter.since !== undefined) {
    where.push("ts >= ? AND seq >= ?");
    args.push(filter.since, seqs.since);
  }
  if (filter.until !== undefined) {
    where.push("ts < ? AND seq < ?");
    args.push(filter.until, seqs.until);
  }
  if (filter.afterSeq !== undefined) {
    where.push("seq > ?");
    args.push(filter.afterSeq);
  }
  args.push(filter.limit);
  const sql = `SELECT seq, record, leaf_hash FROM entries ${indexFor(filter)} WHERE ${where.join(" AND ")} ORDER BY seq LIMIT ?`;
  return { sql, args };
}

/**
 * The index a filtered query must use. Without table statistics (genlog never runs ANALYZE
 * on the ingest path), SQLite prefers walking the primary key in `seq` order and testing
 * every row, which at a million entries costs tens of milliseconds for a rare actor or an
 * absent status. Each of these indexes yields exactly the matching rows already in `seq`
 * order, so it is never worse than that walk; the likely rarest filter is preferred:
 * a non-`succeeded` status (a partial index of the exceptions), then actor, sector, type.
 */
function indexFor(filter: QueryFilter): string {
  if (filter.status !== undefined && filter.status !== "succeeded") {
    return "INDEXED BY entries_status";
  }
  if (filter.actor !== undefined) return "INDEXED BY entries_actor";
  if (filter.sector !== undefined) return "INDEXED BY entries_sector";
  if (filter.type !== undefined) return "INDEXED BY entries_type";
  return "";
}

/**
 * Batches at least this large are committed by a worker thread with its own connection, so
 * that sealing the next batch on the main thread overlaps the b-tree work and fsync of this
 * one. Small batches stay in-thread: a worker round trip would only add latency.
 */
const WORKER_BATCH = 256;

/** Pragmas of a writing connection. */
export function configureWriter(db: Database.Database): void {
  db.pragma("busy_timeout = 5000");
  db.pragma("journal_mode = WAL");
  // FULL: the WAL is fsynced at every commit, so an acked batch survives power loss.
  db.pragma("synchronous = FULL");
}

/**
 * A batch as the append transaction takes it: one array per column, and every hash in one
 * buffer, so that handing it to the worker clones a few arrays instead of thousands of
 * objects, and moves the hashes without copying them.
 */
export interface PackedBatch {
  logId: number;
  seqs: number[];
  ids: string[];
  ts: string[];
  types: string[];
  actors: (string | null)[];
  sectors: (string | null)[];
  statuses: string[];
  records: string[];
  /** Leaf hashes (32 bytes each, in order), then every entry's nodes, in order. */
  hashes: Uint8Array<ArrayBuffer>;
  /** End offset in `hashes` of each entry's nodes. */
  nodeEnds: Uint32Array;
  checkpoint: StoredCheckpoint;
}

/** Packs entries into a {@link PackedBatch}. */
export function packBatch(
  logId: number,
  entries: readonly StoredEntry[],
  checkpoint: StoredCheckpoint,
): PackedBatch {
  const n = entries.length;
  let nodeBytes = 0;
  for (const e of entries) nodeBytes += e.nodes.length;
  const hashes = new Uint8Array(n * 32 + nodeBytes);
  const nodeEnds = new Uint32Array(n);
  const b: PackedBatch = {
    logId,
    seqs: new Array<number>(n),
    ids: new Array<string>(n),
    ts: new Array<string>(n),
    types: new Array<string>(n),
    actors: new Array<string | null>(n),
    sectors: new Array<string | null>(n),
    statuses: new Array<string>(n),
    records: new Array<string>(n),
    hashes,
    nodeEnds,
    checkpoint,
  };
  let at = n * 32;
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    b.seqs[i] = e.seq;
    b.ids[i] = e.id;
    b.ts[i] = e.ts;
    b.types[i] = e.type;
    b.actors[i] = e.actor;
    b.sectors[i] = e.sector;
    b.statuses[i] = e.status;
    b.records[i] = e.canonical;
    hashes.set(e.leafHash, i * 32);
    hashes.set(e.nodes, at);
    at += e.nodes.length;
    nodeEnds[i] = at;
  }
  return b;
}

/**
 * The append transaction (BEGIN IMMEDIATE: the write lock is taken first, so the size
 * check cannot go stale). Shared by the in-thread path and the worker.
 */
export function prepareAppend(db: Database.Database): (batch: PackedBatch) => void {
  const insertEntry = db.prepare(
    `INSERT INTO entries (log_id, seq, id, ts, type, actor, sector, status, record, leaf_hash, nodes)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertCheckpoint = db.prepare(
    "INSERT INTO checkpoints (log_id, size, note) VALUES (?, ?, ?)",
  );
  const maxSeq = db.prepare("SELECT max(seq) AS seq FROM entries WHERE log_id = ?");
  return db.transaction((b: PackedBatch) => {
    const { logId, checkpoint: cp } = b;
    // Checked under the write lock: another process may have appended since we read.
    const last = (maxSeq.get(logId) as { seq: number | null }).seq;
    const size = last === null ? 0 : last + 1;
    const first = b.seqs[0] ?? cp.size;
    if (first !== size) {
      throw new GenlogError(
        "GENLOG_E_CONFLICT",
        `batch starts at seq ${first} but the log holds ${size} entries: another writer appended first`,
        { details: { expected: first, actual: size } },
      );
    }
    // better-sqlite3 binds Buffers only; these are views, not copies.
    const hashes = Buffer.from(b.hashes.buffer, b.hashes.byteOffset, b.hashes.byteLength);
    let at = b.seqs.length * 32;
    for (let i = 0; i < b.seqs.length; i++) {
      const end = b.nodeEnds[i]!;
      insertEntry.run(
        logId,
        b.seqs[i],
        b.ids[i],
        b.ts[i],
        b.types[i],
        b.actors[i],
        b.sectors[i],
        b.statuses[i],
        b.records[i],
        hashes.subarray(i * 32, i * 32 + 32),
        hashes.subarray(at, end),
      );
      at = end;
    }
    insertCheckpoint.run(logId, cp.size, cp.note);
  }).immediate;
}

/** The main thread's side of the append worker. */
class AppendWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  #next = 0;
  /** Set once the thread has failed or exited: the store then starts a new one. */
  #stopped: GenlogError | undefined;

  constructor(path: string) {
    // Run from the TypeScript sources (tests, benchmarks), the worker is the built one:
    // Node 20 workers cannot load TypeScript through tsx. `npm test` builds first.
    const url = import.meta.url.endsWith(".ts")
      ? new URL("../../../dist/store/sqlite/append-worker.js", import.meta.url)
      : new URL("./append-worker.js", import.meta.url);
    this.#worker = new Worker(url, { workerData: { path } });
    this.#worker.unref();
    this.#worker.on("message", (m: AppendReply) => {
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if (m.error === undefined) p.resolve();
      else p.reject(new GenlogError(m.error.code, m.error.message, { details: m.error.details }));
    });
    const stop = (why: string, cause?: unknown) => {
      // A thread that dies after COMMIT but before answering leaves its batch committed:
      // say so rather than claim a rollback. The writer reloads its state from the store.
      this.#stopped ??= new GenlogError(
        "GENLOG_E_STORE",
        `the SQLite append thread stopped (${why}); its last batch may or may not be committed`,
        { cause },
      );
      for (const p of this.#pending.values()) p.reject(this.#stopped);
      this.#pending.clear();
    };
    this.#worker.on("error", (err) => stop(String(err), err));
    this.#worker.on("exit", (code) => stop(`exit code ${code}`));
  }

  /** True once the thread can take no more batches. */
  get stopped(): boolean {
    return this.#stopped !== undefined;
  }

  append(batch: PackedBatch): Promise<void> {
    if (this.#stopped !== undefined) return Promise.reject(this.#stopped);
    const id = this.#next++;
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.ref(); // a commit in flight keeps the process alive until it is durable
      // The hashes move to the worker: the batch is not used here any more.
      this.#worker.postMessage({ id, batch } satisfies AppendRequest, [batch.hashes.buffer]);
    }).finally(() => {
      if (this.#pending.size === 0) this.#worker.unref();
    });
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}

/** A message to the append worker. */
export interface AppendRequest {
  id: number;
  batch: PackedBatch;
}

/** The append worker's answer: no `error` means committed and synced. */
export interface AppendReply {
  id: number;
  error?: { code: ErrorCode; message: string; details: GenlogErrorDetails };
}

function toEntry(row: Row): EntryRow {
  return { seq: row.seq, canonical: row.record, leafHash: row.leaf_hash };
}
