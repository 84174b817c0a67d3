/**
 * The peers genlog is measured against, writing the same events:
 *
 * (b) pino to a file through an asynchronous SonicBoom destination. The clock stops once the
 *     destination has flushed and closed; pino does not fsync, so nothing is durable.
 * (c) better-sqlite3 inserting genlog-shaped rows (same schema, indexes and page size, WAL,
 *     synchronous=FULL) in fixed-size transactions: what the storage alone costs. Building a
 *     row (UUIDv7, JSON.stringify of a record, SHA-256 of it as the leaf hash) is timed too,
 *     as any application storing these rows would have to do it.
 * (d) peer: the floor of one durable, signed append. The same row, built the same way, is
 *     committed alone (one single-row INSERT in its own transaction, WAL, synchronous=FULL,
 *     so one fsync) after one Ed25519 signature (node:crypto) over a checkpoint-like text
 *     naming the row. No Merkle tree, no checkpoint row, no batching delay, no thread hop.
 */
import { generateKeyPairSync, hash, sign, type KeyObject } from "node:crypto";
import { once } from "node:events";
import { statSync } from "node:fs";
import Database from "better-sqlite3";
import { pino } from "pino";
import { uuidv7 } from "../src/core/uuid.js";
import { SQLITE_PAGE_SIZE, SQLITE_SCHEMA } from "../src/store/sqlite/sqlite-store.js";
import { makeEvent, now } from "./common.js";

/** The result of {@link measurePino}. */
export interface PinoResult {
  lines: number;
  seconds: number;
  linesPerSec: number;
  bytes: number;
}

/** Logs `n` events with pino to `file` and waits for the destination to close. */
export async function measurePino(file: string, n: number, firstIndex = 0): Promise<PinoResult> {
  const dest = pino.destination({ dest: file, sync: false });
  await once(dest, "ready");
  const logger = pino(dest);
  const closed = once(dest, "close");
  const start = now();
  for (let i = 0; i < n; i++) logger.info(makeEvent(firstIndex + i));
  dest.end();
  await closed;
  const seconds = (now() - start) / 1000;
  return { lines: n, seconds, linesPerSec: n / seconds, bytes: statSync(file).size };
}

/** The result of {@link measureSqlite}. */
export interface SqliteResult {
  rows: number;
  rowsPerTx: number;
  seconds: number;
  rowsPerSec: number;
}

// As genlog stores an entry: its place in the tree, and its body (whose query columns, id, ts,
// type, actor, sector and status, are generated from the record).
const INSERT_LEAF = "INSERT INTO tree (log_id, seq, leaf_hash, nodes) VALUES (?, ?, ?, ?)";
const INSERT_BODY = "INSERT INTO bodies (log_id, seq, record) VALUES (?, ?, ?)";

interface Inserts {
  leaf: Database.Statement;
  body: Database.Statement;
}

function prepareInserts(db: Database.Database): Inserts {
  return { leaf: db.prepare(INSERT_LEAF), body: db.prepare(INSERT_BODY) };
}

/** Zeros standing in for the interior nodes a leaf completes (32 bytes per level). */
const NODE_BYTES = Buffer.alloc(64 * 32);

/** Number of perfect subtrees above the leaf that leaf `seq` completes (its trailing 1 bits). */
function completedLevels(seq: number): number {
  let levels = 0;
  for (let s = seq; s % 2 === 1; s = (s - 1) / 2) levels++;
  return levels;
}

/** A fresh database at `file` with genlog's page size, schema, WAL and synchronous=FULL. */
function openPeerDb(file: string): Database.Database {
  const db = new Database(file);
  db.pragma(`page_size = ${SQLITE_PAGE_SIZE}`);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(SQLITE_SCHEMA);
  return db;
}

/** The row of event `seq`: the record's text (as JSON.stringify writes it) and its leaf hash. */
function buildRow(seq: number, ts: string): { text: string; leaf: Buffer } {
  const event = makeEvent(seq);
  const record = {
    v: 1,
    id: uuidv7(),
    seq,
    tenant: "default",
    type: event.type,
    ts,
    occurredAt: null,
    actor: event.user ?? null,
    sector: event.sector ?? null,
    status: "succeeded",
    meta: event.meta,
    artifacts: event.artifacts,
    redactions: [],
    pii: null,
  };
  const text = JSON.stringify(record);
  return { text, leaf: hash("sha256", text, "buffer") };
}

function insertRow(insert: Inserts, seq: number, text: string, leaf: Buffer): void {
  insert.leaf.run(1, seq, leaf, NODE_BYTES.subarray(0, completedLevels(seq) * 32));
  insert.body.run(1, seq, text);
}

/** Inserts `n` genlog-shaped rows into a fresh database at `file`, `rowsPerTx` per transaction. */
export function measureSqlite(file: string, n: number, rowsPerTx: number): SqliteResult {
  const db = openPeerDb(file);
  try {
    const insert = prepareInserts(db);
    const insertMany = db.transaction((from: number, count: number, ts: string) => {
      for (let seq = from; seq < from + count; seq++) {
        const { text, leaf } = buildRow(seq, ts);
        insertRow(insert, seq, text, leaf);
      }
    });
    const start = now();
    for (let from = 0; from < n; from += rowsPerTx) {
      insertMany(from, Math.min(rowsPerTx, n - from), new Date().toISOString());
    }
    const seconds = (now() - start) / 1000;
    return { rows: n, rowsPerTx, seconds, rowsPerSec: n / seconds };
  } finally {
    db.close();
  }
}

/** The (d) peer: one signed, durable single-row commit per call of {@link SignedRowPeer.op}. */
export interface SignedRowPeer {
  /** Builds the next row, signs a checkpoint-like text over it, commits the row alone. */
  op(): void;
  /** Rows in the database. */
  count(): number;
  close(): void;
}

/** Opens the (d) peer on a fresh database at `file`, with a fresh Ed25519 key. */
export function openSignedRowPeer(file: string): SignedRowPeer {
  const db = openPeerDb(file);
  const insert = prepareInserts(db);
  const { privateKey }: { privateKey: KeyObject } = generateKeyPairSync("ed25519");
  const commit = db.transaction(insertRow);
  let seq = 0;
  let signatures = 0;
  return {
    op() {
      const s = seq++;
      const { text, leaf } = buildRow(s, new Date().toISOString());
      // As genlog does: sign a checkpoint (origin, size, root; here the leaf stands for the
      // root) before the commit that makes the row durable.
      const body = `peer.local/default/events\n${s + 1}\n${leaf.toString("base64")}\n`;
      signatures += sign(null, Buffer.from(body, "utf8"), privateKey).length;
      commit(insert, s, text, leaf);
    },
    count() {
      const rows = db.prepare("SELECT count(*) FROM bodies").pluck().get() as number;
      if (signatures !== 64 * seq) throw new Error("(d) peer: a signature is missing");
      return rows;
    },
    close: () => db.close(),
  };
}
