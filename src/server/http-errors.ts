/**
 * GenlogError codes as HTTP answers: the one place that maps a code to a status. Bodies are
 * the error's own JSON (`{code, message, details}`), the same object the CLI prints with
 * `--json`.
 */
import { GenlogError, type ErrorCode } from "../errors.js";

const STATUS: Record<ErrorCode, number> = {
  GENLOG_E_INVALID_INPUT: 400,
  GENLOG_E_USAGE: 400,
  GENLOG_E_CONFIG: 400,
  GENLOG_E_MALFORMED_NOTE: 400,
  GENLOG_E_UNAUTHENTICATED: 401,
  GENLOG_E_FORBIDDEN: 403,
  GENLOG_E_NOT_FOUND: 404,
  GENLOG_E_NOT_INITIALIZED: 404,
  GENLOG_E_ALREADY_INITIALIZED: 409,
  GENLOG_E_ID_REUSED: 409,
  GENLOG_E_HELD: 409,
  GENLOG_E_RATE_LIMITED: 429,
  GENLOG_E_BAD_PROOF: 422,
  GENLOG_E_BAD_SIGNATURE: 422,
  // The log itself is damaged or was changed outside genlog: the server's fault, not the caller's.
  GENLOG_E_INCONSISTENT: 500,
  GENLOG_E_CORRUPT: 500,
  GENLOG_E_KEY: 500,
  GENLOG_E_IO: 500,
  GENLOG_E_STORE: 500,
  GENLOG_E_COMMIT_UNKNOWN: 500,
  // Nothing was stored: the same request may be retried.
  GENLOG_E_CONFLICT: 503,
  GENLOG_E_BUSY: 503,
  GENLOG_E_CLOSED: 503,
};

/** The HTTP status of an error code. */
export function httpStatusOf(code: ErrorCode): number {
  return STATUS[code];
}

/** Codes after which the same request may be sent again (with `Retry-After`). */
export function isRetryable(code: ErrorCode): boolean {
  return STATUS[code] === 503;
}

/** A GenlogError for a request the schema refused, naming the field like the library does. */
export function requestError(pointer: string, rule: string, message: string): GenlogError {
  return new GenlogError("GENLOG_E_INVALID_INPUT", message, { details: { pointer, rule } });
}
