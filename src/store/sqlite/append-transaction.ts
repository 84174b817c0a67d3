/**
 * The append transaction of the SQLite store, shared by the main thread and the append
 * worker: one `BEGIN IMMEDIATE` transaction commits any number of batches, of one log or of
 * many, each in a savepoint of its own, so that one fsync makes them all durable and a
 * batch that is refused (a conflict) leaves the others whole.
 */
import type Database from "better-sqlite3";
import { GenlogError, type ErrorCode, type GenlogErrorDetails } from "../../errors.js";
import type { AppendBatch, StoreEffect, StoredCheckpoint, SubjectRow } from "../log-store.js";
import { actorIndexBound } from "./schema.js";
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
import { sqliteCode, toStoreError } from "./sqlite-errors.js";

/**
 * A batch as the append transaction takes it: one array per column, and every hash in one
 * buffer, so that handing it to the worker clones a few arrays instead of thousands of
 * objects, and moves the hashes without copying them.
 */
export interface PackedBatch {
  logId: number;
  seqs: number[];
  /** The record texts; the query columns are generated from them (schema version 2). */
  records: string[];
  /** Leaf hashes (32 bytes each, in order), then every entry's nodes, in order. */
  hashes: Uint8Array<ArrayBuffer>;
  /** End offset in `hashes` of each entry's nodes. */
  nodeEnds: Uint32Array;
  checkpoint: StoredCheckpoint;
  /** Note of the checkpoint the batch extends; null for the first batch of a log. */
  previousNote: string | null;
  /** Subjects first met in this batch, stored with it. */
  subjects: SubjectRow[];
  /** What the batch's system event changes beside the log. */
  effects: StoreEffect[];
}

/** A GenlogError as it crosses the thread boundary. */
export interface ErrorData {
  code: ErrorCode;
  message: string;
  details: GenlogErrorDetails;
}

/** The outcome of each batch of a commit, in order: null when committed. */
export type BatchOutcomes = (ErrorData | null)[];

/** Packs a batch into a {@link PackedBatch}. */
export function packBatch(logId: number, batch: AppendBatch): PackedBatch {
  const { entries, checkpoint, previous } = batch;
  const n = entries.length;
  let nodeBytes = 0;
  for (const e of entries) nodeBytes += e.nodes.length;
  const hashes = new Uint8Array(n * 32 + nodeBytes);
  const nodeEnds = new Uint32Array(n);
  const b: PackedBatch = {
    logId,
    seqs: new Array<number>(n),
    records: new Array<string>(n),
    hashes,
    nodeEnds,
    checkpoint,
    previousNote: previous?.note ?? null,
    subjects: batch.subjects ?? [],
    effects: batch.effects ?? [],
  };
  let at = n * 32;
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    b.seqs[i] = e.seq;
    b.records[i] = e.canonical;
    hashes.set(e.leafHash, i * 32);
    hashes.set(e.nodes, at);
    at += e.nodes.length;
    nodeEnds[i] = at;
  }
  return b;
}

/**
 * Prepares the append transaction on a writing connection. The returned function commits
 * `batches` and returns each one's outcome; it throws only when the transaction as a whole
 * failed (nothing of it was written).
 */
export function prepareAppend(
  db: Database.Database,
  path: string,
): (batches: readonly PackedBatch[]) => BatchOutcomes {
  // The tree and the body of each entry: kept apart so that retention deletes bodies only.
  const insertLeaf = db.prepare(
    "INSERT INTO tree (log_id, seq, leaf_hash, nodes) VALUES (?, ?, ?, ?)",
  );
  const insertBody = db.prepare("INSERT INTO bodies (log_id, seq, record) VALUES (?, ?, ?)");
  const insertCheckpoint = db.prepare(
    "INSERT INTO checkpoints (log_id, size, note) VALUES (?, ?, ?)",
  );
  const logExists = db.prepare("SELECT 1 FROM logs WHERE log_id = ?").pluck();
  // A subject already stored (by an earlier batch that carried it too) is the same row.
  const insertSubject = db.prepare(
    "INSERT OR IGNORE INTO subjects (tenant, pseudonym, lookup, wrapped_key) VALUES (?, ?, ?, ?)",
  );
  const lastSeq = db.prepare("SELECT max(seq) FROM tree WHERE log_id = ?").pluck();
  const latestOf = db.prepare(
    "SELECT size, note FROM checkpoints WHERE log_id = ? ORDER BY size DESC LIMIT 1",
  );
  // Sorted by actor, so that the insert walks the index in order. A row already there (only
  // someone writing the file adds one ahead of its chunk) is left for verify to judge: it
  // must not stop every later append.
  const indexActors = db.prepare(
    `INSERT OR IGNORE INTO actor_index (log_id, actor, seq)
     SELECT log_id, actor, seq FROM bodies
     WHERE log_id = ? AND seq >= ? AND seq < ? AND actor IS NOT NULL ORDER BY actor, seq`,
  );

  const applyEffects = prepareEffects(db);

  const appendBody = (b: PackedBatch) => {
    const { logId, checkpoint: cp } = b;
    if (logExists.get(logId) === undefined) {
      throw new GenlogError("GENLOG_E_STORE", `log ${logId} does not exist in ${path}`);
    }
    // Checked under the write lock: another process may have appended since we sealed. The
    // log's size is its latest checkpoint's.
    const latest = latestOf.get(logId) as StoredCheckpoint | undefined;
    const size = latest?.size ?? 0;
    const first = b.seqs[0] ?? cp.size;
    if (first !== size || (latest?.note ?? null) !== b.previousNote) {
      throw batchConflict(first, size);
    }
    // The entries must end exactly at that size. A deletion of the last entries (by someone
    // who dropped the triggers) shows here, before anything is added.
    const last = lastSeq.get(logId) as number | null;
    if ((last === null ? 0 : last + 1) !== size) {
      throw entriesOutOfStep(logId, size, last);
    }
    // better-sqlite3 binds Buffers only; these are views, not copies.
    const hashes = Buffer.from(b.hashes.buffer, b.hashes.byteOffset, b.hashes.byteLength);
    let at = b.seqs.length * 32;
    for (let i = 0; i < b.seqs.length; i++) {
      const end = b.nodeEnds[i]!;
      insertLeaf.run(
        logId,
        b.seqs[i],
        hashes.subarray(i * 32, i * 32 + 32),
        hashes.subarray(at, end),
      );
      insertBody.run(logId, b.seqs[i], b.records[i]);
      at = end;
    }
    for (const sub of b.subjects) {
      // Posted to the worker, Buffers arrive as Uint8Arrays, which better-sqlite3 refuses.
      insertSubject.run(sub.tenant, sub.pseudonym, asBuffer(sub.lookup), asBuffer(sub.wrappedKey));
    }
    if (b.effects.length > 0) applyEffects(b.effects);
    insertCheckpoint.run(logId, cp.size, cp.note);
    // Past a multiple of the chunk: the chunks below it join the actor index.
    const [from, to] = [actorIndexBound(size), actorIndexBound(cp.size)];
    if (to > from) indexActors.run(logId, from, to);
  };
  // Called inside the outer transaction, better-sqlite3 runs this in a SAVEPOINT: a batch
  // that throws is rolled back alone, and the other batches of the commit stand.
  const appendOne = db.transaction(appendBody);

  const failure = (e: unknown, b: PackedBatch) =>
    errorData(toStoreError(e, `append of ${b.seqs.length} records to log ${b.logId}`, path));
  const commitMany = db.transaction((batches: readonly PackedBatch[]): BatchOutcomes =>
    batches.map((b) => {
      try {
        appendOne(b);
        return null;
      } catch (e) {
        // A lock or I/O failure inside a savepoint dooms the whole transaction: rethrow it.
        if (!(e instanceof GenlogError) && isFatal(e)) throw e;
        return failure(e, b);
      }
    }),
  ).immediate;
  // A batch alone needs no savepoint: if it fails, its whole transaction rolls back.
  const commitOne = db.transaction(appendBody).immediate;

  return (batches) => {
    try {
      if (batches.length !== 1) return commitMany(batches);
      commitOne(batches[0]!);
      return [null];
    } catch (e) {
      if (batches.length === 1 && (e instanceof GenlogError || !isFatal(e))) {
        return [failure(e, batches[0]!)];
      }
      const rows = batches.reduce((n, b) => n + b.seqs.length, 0);
      throw toStoreError(e, `commit of ${rows} records (rolled back)`, path);
    }
  };
}

/** Settings key of a tenant's erasure count (`LogStore.erasureCount`). */
export function erasureCountSetting(tenant: string): string {
  return `erasure_count:${tenant}`;
}

/** Applies the {@link StoreEffect}s of a system event, inside its append transaction. */
function prepareEffects(db: Database.Database): (effects: readonly StoreEffect[]) => void {
  const holdOn = db
    .prepare("SELECT subject FROM holds WHERE tenant = ? AND subject IN ('', ?) ORDER BY subject")
    .pluck();
  const tenantHeld = db
    .prepare("SELECT subject FROM holds WHERE tenant = ? AND subject = ''")
    .pluck();
  const deleteSubject = db.prepare("DELETE FROM subjects WHERE tenant = ? AND pseudonym = ?");
  const countErasure = db.prepare(
    "INSERT INTO settings (key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
  );
  const insertHold = db.prepare(
    "INSERT OR IGNORE INTO holds (tenant, subject, event_id) VALUES (?, ?, ?)",
  );
  const deleteHold = db.prepare("DELETE FROM holds WHERE tenant = ? AND subject = ?");
  const purgedTo = db
    .prepare("SELECT coalesce(max(to_seq), 0) FROM purges WHERE log_id = ?")
    .pluck();
  const setSetting = db.prepare(
    "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  );
  const insertPurge = db.prepare(
    "INSERT INTO purges (log_id, from_seq, to_seq, event_id) VALUES (?, ?, ?, ?)",
  );
  // A held subject with a record in the range: its whole range is kept.
  const heldInRange = db
    .prepare(
      `SELECT b.actor FROM bodies b WHERE b.log_id = ? AND b.seq >= ? AND b.seq < ?
       AND b.actor IN (SELECT subject FROM holds WHERE tenant = ?) LIMIT 1`,
    )
    .pluck();
  const deleteIndexed = db.prepare(
    "DELETE FROM actor_index WHERE log_id = ? AND seq >= ? AND seq < ?",
  );
  const deleteBodies = db.prepare(
    "DELETE FROM bodies WHERE log_id = ? AND seq >= ? AND seq < ? AND (type IS NULL OR type NOT LIKE 'genlog.%')",
  );
  return (effects) => {
    for (const e of effects) {
      if (e.kind === "erase") {
        let deleted = 0;
        for (const p of e.pseudonyms) {
          const held = holdOn.get(e.tenant, p) as string | undefined;
          if (held !== undefined) {
            throw heldError(e.tenant, held, "erase");
          }
          deleted += deleteSubject.run(e.tenant, p).changes;
        }
        if (deleted === 0) {
          throw alreadyErased(e.tenant, e.pseudonyms);
        }
        countErasure.run(erasureCountSetting(e.tenant));
      } else if (e.kind === "purge") {
        const held = (tenantHeld.get(e.tenant) ??
          heldInRange.get(e.logId, e.fromSeq, e.toSeq, e.tenant)) as string | undefined;
        if (held !== undefined) {
          throw heldError(e.tenant, held, "purge");
        }
        if (purgedTo.get(e.logId) !== e.fromSeq) {
          throw purgeRace(e.logId);
        }
        insertPurge.run(e.logId, e.fromSeq, e.toSeq, e.eventId);
        deleteIndexed.run(e.logId, e.fromSeq, e.toSeq);
        const deleted = deleteBodies.run(e.logId, e.fromSeq, e.toSeq).changes;
        if (deleted !== e.expected) {
          throw purgeMismatch(e.fromSeq, e.toSeq, deleted, e.expected);
        }
      } else if (e.kind === "setting") {
        setSetting.run(e.key, e.value);
      } else if (e.kind === "hold") {
        if (insertHold.run(e.tenant, e.subject, e.eventId).changes === 0) {
          throw alreadyHeld(e.tenant, e.subject);
        }
      } else if (deleteHold.run(e.tenant, e.subject).changes === 0) {
        throw notHeld(e.tenant, e.subject);
      }
    }
  };
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** Errors after which SQLite may already have rolled the transaction back. */
function isFatal(e: unknown): boolean {
  const code = sqliteCode(e) ?? "";
  return /^SQLITE_(BUSY|LOCKED|IOERR|FULL|NOMEM|CORRUPT|CANTOPEN|READONLY)/.test(code);
}

/** The plain form of a GenlogError, to post to another thread. */
export function errorData(e: GenlogError): ErrorData {
  return { code: e.code, message: e.message, details: e.details };
}

/** A GenlogError again, from its plain form. */
export function fromErrorData(d: ErrorData): GenlogError {
  return new GenlogError(d.code, d.message, { details: d.details });
}
