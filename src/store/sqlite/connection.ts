/**
 * Opening and closing SQLite connections the way genlog needs them.
 *
 * - A writing connection uses WAL with `synchronous=FULL` (an acked batch survives power
 *   loss). When the last connection closes, the file goes back to SQLite's rollback journal
 *   mode, so that at rest `genlog.db` is one self-contained file: a copy of it is complete,
 *   and anyone allowed to read it can, from a directory they cannot write.
 * - A read-only connection never creates files. In WAL mode SQLite needs `-wal` and `-shm`
 *   beside the database; made by another user they would belong to that user and later
 *   block the owner's writer, so a read-only open refuses to create them for a file it does
 *   not own.
 */
import Database from "better-sqlite3";
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { GenlogError } from "../../errors.js";

/** How long a statement waits for a lock held by another connection. */
export const BUSY_TIMEOUT_MS = 5000;

/** Pragmas of a writing connection. */
export function configureWriter(db: Database.Database): void {
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma("journal_mode = WAL");
  // FULL: the WAL is fsynced at every commit, so an acked batch survives power loss.
  db.pragma("synchronous = FULL");
  // What is deleted (an erased subject's data key, a purged record) is overwritten with
  // zeros, not left in free pages for anyone who reads the file.
  db.pragma("secure_delete = ON");
}

/**
 * Closes a writing connection. If it is the last one on the file, SQLite checkpoints the
 * WAL into the database and the file is switched back to rollback journal mode; with other
 * connections open the switch fails at once (no waiting) and the last of them does it.
 */
export function closeWriter(db: Database.Database): void {
  try {
    db.pragma("busy_timeout = 0");
    db.pragma("journal_mode = DELETE");
  } catch {
    // Another connection is open: it stays in WAL mode until that one closes.
  }
  db.close();
}

/**
 * Opens an existing database read-only, without creating any file beside it.
 *
 * @throws {GenlogError} `GENLOG_E_CORRUPT` when the file is not a SQLite database;
 * `GENLOG_E_STORE` saying what to do when it is in WAL mode without its `-wal` file and
 * belongs to another user.
 */
export function openReadOnly(path: string): Database.Database {
  const header = readHeader(path);
  if (header.subarray(0, 16).toString("latin1") !== "SQLite format 3\0") throw notADatabase(path);
  // Bytes 18 and 19 are 2 in WAL mode. Without a -wal file (a copy taken while a writer had
  // the file open), SQLite would create -wal and -shm to read it.
  const wal = header[18] === 2 || header[19] === 2;
  if (wal && !existsSync(`${path}-wal`) && !ownsFile(path)) {
    throw new GenlogError(
      "GENLOG_E_STORE",
      `${path} is in WAL mode without its -wal file (it was copied while a writer had it open); reading it would create files beside it that its owner's writer could not use. Ask for a copy taken while no writer runs (genlog leaves a closed database in one file), or copy it into a directory of your own and read that copy`,
      { details: { path } },
    );
  }
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return db;
}

function readHeader(path: string): Buffer {
  const header = Buffer.alloc(100);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new GenlogError(
      "GENLOG_E_STORE",
      code === "EACCES"
        ? `cannot read ${path}: permission denied (an auditor needs read access to the file and to its directory)`
        : `cannot open ${path}: ${String(cause)}`,
      { cause, details: { path } },
    );
  }
  try {
    readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  return header;
}

/** True when files SQLite creates beside `path` would belong to the file's owner. */
function ownsFile(path: string): boolean {
  const uid = process.getuid?.();
  // As root, SQLite gives the files it creates to the database's owner.
  return uid === undefined || uid === 0 || statSync(path).uid === uid;
}

/**
 * The database file does not start as a SQLite database: its header was overwritten, or it
 * is another kind of file. Where genlog's database should be, that is damage (`verify` fails).
 */
export function notADatabase(path: string, cause?: unknown): GenlogError {
  return new GenlogError(
    "GENLOG_E_CORRUPT",
    `${path} is not a SQLite database: its header is damaged, or it is another kind of file; restore it from a backup`,
    { ...(cause !== undefined ? { cause } : {}), details: { path } },
  );
}
