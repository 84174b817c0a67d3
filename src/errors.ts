/**
 * The one error type of genlog. Every failure a caller can act on carries a stable
 * `code`; only the CLI maps codes to exit statuses and only a server maps them to HTTP.
 * `docs/reference/errors.md` lists every code, and a test keeps that table and
 * {@link ERROR_CODES} equal.
 */

/** Every error code genlog throws, with the one-line meaning used in the docs. */
export const ERROR_CODES = {
  GENLOG_E_INVALID_INPUT: "An event or option failed validation; `pointer` names the field.",
  GENLOG_E_USAGE: "A command or function was called the wrong way (unknown flag, bad argument).",
  GENLOG_E_CONFIG:
    "A privacy policy, rule file or key configuration is invalid; the message names the field. Nothing was opened.",
  GENLOG_E_NOT_FOUND: "The record, checkpoint or tree size asked for does not exist.",
  GENLOG_E_NOT_INITIALIZED:
    "The data directory has no database, or the keys directory no signing key for the tenant: check the paths, or run `genlog init` for a new one.",
  GENLOG_E_ALREADY_INITIALIZED: "`genlog init` found an existing signing key and kept it.",
  GENLOG_E_KEY:
    "A signing or verifier key is unreadable, malformed, has unsafe permissions, or is not the key that signed the log.",
  GENLOG_E_MALFORMED_NOTE: "A signed note or checkpoint text does not follow C2SP signed-note.",
  GENLOG_E_BAD_SIGNATURE: "A signed note carries no valid signature from the expected key.",
  GENLOG_E_BAD_PROOF: "An inclusion or consistency proof does not verify.",
  GENLOG_E_INCONSISTENT:
    "A new checkpoint is not consistent with the previous one; nothing was acked.",
  GENLOG_E_CONFLICT:
    "Another writer appended to the log first and retries ran out; the append can be retried.",
  GENLOG_E_STORE: "The storage driver failed; the batch was rolled back and nothing was acked.",
  GENLOG_E_BUSY:
    "The database stayed locked by another connection past the busy timeout; nothing was changed, retry.",
  GENLOG_E_CORRUPT:
    "The database file is damaged (SQLite reports corruption); `genlog verify` names what it can.",
  GENLOG_E_COMMIT_UNKNOWN:
    "A commit may or may not have landed (the committing thread or connection died) and reading back could not tell.",
  GENLOG_E_ID_REUSED:
    "An idempotency id was sent again with a different payload; the first record is kept and returned in `details`.",
  GENLOG_E_IO:
    "Reading or writing a file or stream failed (disk full, missing directory, closed pipe).",
  GENLOG_E_CLOSED: "The log was closed; open it again to append or read.",
  GENLOG_E_UNAUTHENTICATED:
    "No credentials, or a token that is unknown, expired or revoked (HTTP 401); the message never repeats the token.",
  GENLOG_E_FORBIDDEN:
    "The principal's role or tenant scope does not allow this call (HTTP 403); the denial is recorded in the tenant's access log.",
  GENLOG_E_RATE_LIMITED:
    "The token sent more requests than its rate limit allows (HTTP 429); retry after the `Retry-After` seconds.",
  GENLOG_E_EXISTS:
    "The name is taken (a follower of that name in the tenant); nothing was changed.",
  GENLOG_E_HELD:
    "A legal hold on the tenant or the subject refuses the erasure or purge; nothing was changed. Release the hold first.",
} as const;

/** A stable, documented error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Extra, machine-readable facts about an error. */
export interface GenlogErrorDetails {
  /** JSON Pointer (RFC 6901) to the offending field, for input errors. */
  pointer?: string;
  /** The rule that failed, e.g. `maxLength`, `pattern`, `depth`. */
  rule?: string;
  [key: string]: unknown;
}

/**
 * The error genlog throws.
 *
 * @example
 * try { await log.append({ type: "Bad Type" }); }
 * catch (e) { if (e instanceof GenlogError && e.code === "GENLOG_E_INVALID_INPUT") console.log(e.details.pointer); }
 */
export class GenlogError extends Error {
  override readonly name = "GenlogError";
  readonly code: ErrorCode;
  readonly details: GenlogErrorDetails;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: GenlogErrorDetails } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  /** A plain object for `--json` output and HTTP bodies. */
  toJSON(): { code: ErrorCode; message: string; details: GenlogErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** True when `e` is a {@link GenlogError}, optionally with the given code. */
export function isGenlogError(e: unknown, code?: ErrorCode): e is GenlogError {
  return e instanceof GenlogError && (code === undefined || e.code === code);
}
