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
  GENLOG_E_EXISTS: 409,
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

/** An error body as a remote caller gets it: {@link clientBody}. */
type ErrorBody = ReturnType<GenlogError["toJSON"]>;

/**
 * What a remote caller is told of an error. Messages are written for the operator at the
 * shell: they name the server's directories and suggest commands to run there. Over HTTP
 * those paths say nothing useful and tell an attacker where things live, so they become
 * "the server's data directory" (the server's own log keeps the original). A tenant that
 * does not exist is said so plainly.
 */
export function clientBody(
  body: ErrorBody,
  paths: { dataDir: string; keysDir: string },
): ErrorBody {
  const details = { ...body.details };
  if (
    body.code === "GENLOG_E_NOT_FOUND" &&
    Object.keys(details).length === 1 &&
    typeof details["tenant"] === "string"
  ) {
    return { ...body, message: `tenant "${details["tenant"]}" does not exist on this server` };
  }
  const named: [string, string][] = [
    [paths.keysDir, "the server's keys directory"],
    [paths.dataDir, "the server's data directory"],
  ];
  // The longer first: the keys directory is often inside the data directory.
  named.sort((a, b) => b[0].length - a[0].length);
  const scrub = (text: string) => named.reduce((t, [path, name]) => t.split(path).join(name), text);
  for (const [key, value] of Object.entries(details)) {
    if (typeof value === "string") details[key] = scrub(value);
  }
  return { ...body, message: scrub(body.message), details };
}
