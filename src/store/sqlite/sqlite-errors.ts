/**
 * SQLite's failures as genlog's typed errors: a caller (and the CLI's exit status) can tell a
 * lock held by another program, a damaged file and any other storage failure apart, and
 * never sees a raw `SqliteError`.
 */
import { GenlogError, type ErrorCode } from "../../errors.js";

/** The SQLite result code of an error (`SQLITE_BUSY`, `SQLITE_CORRUPT_INDEX`, …), if any. */
export function sqliteCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_") ? code : undefined;
}

/** The genlog error code for a SQLite result code. */
export function codeForSqlite(code: string | undefined): ErrorCode {
  if (code === undefined) return "GENLOG_E_STORE";
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return "GENLOG_E_BUSY";
  if (code.startsWith("SQLITE_CORRUPT")) return "GENLOG_E_CORRUPT";
  return "GENLOG_E_STORE";
}

/**
 * Wraps a failure of `what` (e.g. "append of 12 records to log 3") in a GenlogError. A
 * GenlogError passes through unchanged.
 */
export function toStoreError(cause: unknown, what: string, path: string): GenlogError {
  if (cause instanceof GenlogError) return cause;
  const sqlite = sqliteCode(cause);
  const code = codeForSqlite(sqlite);
  const reason = cause instanceof Error ? cause.message : String(cause);
  const message =
    code === "GENLOG_E_BUSY"
      ? `${what} failed: ${path} stayed locked by another connection for more than the busy timeout (${reason}); nothing was changed, retry`
      : code === "GENLOG_E_CORRUPT"
        ? `${what} failed: ${path} is damaged (${reason}); run \`genlog verify\` to see what is affected`
        : `${what} failed: ${reason}`;
  return new GenlogError(code, message, {
    cause,
    details: sqlite === undefined ? { path } : { path, sqlite },
  });
}
