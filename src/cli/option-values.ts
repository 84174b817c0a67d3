/**
 * Option values as the CLI accepts them. Each parser says what it expected and refuses what a
 * lenient conversion would have guessed at (`Number("")` is 0, `Date.parse("1")` is 2001).
 */
import { GenlogError } from "../errors.js";
import { rfc3339ToEpochMs } from "../core/rfc3339.js";
import { escapeForTerminal } from "./terminal.js";

/** Values are quoted in messages, shortened: an option is not the place for long input. */
function shown(value: string): string {
  return `"${escapeForTerminal(value.length > 40 ? `${value.slice(0, 40)}…` : value)}"`;
}

/** A tree size: a whole number (0 included). */
export function parseTreeSize(value: string, option: string): number {
  if (!/^\d{1,15}$/.test(value)) {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      `${option}: expected a tree size (a whole number), got ${shown(value)}`,
      { details: { option } },
    );
  }
  return Number(value);
}

/** A page size, 1..1000. */
export function parseLimit(value: string, option: string): number {
  const n = /^\d{1,4}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= 1000)) {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      `${option}: expected a whole number from 1 to 1000, got ${shown(value)}`,
      { details: { option } },
    );
  }
  return n;
}

/**
 * A time bound for a query, as the RFC 3339 UTC text the library takes: an RFC 3339 date
 * (midnight UTC) or date-time with `Z` or an offset, read as the library reads it (rounded up
 * to the millisecond; see `core/rfc3339.ts`). A time without an offset is refused: it would be
 * read in the local time zone of whoever runs the command.
 */
export function parseTimeBound(value: string, option: string): string {
  const ms = rfc3339ToEpochMs(value);
  if (ms === undefined || !Number.isFinite(new Date(ms).getTime())) {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      `${option}: expected an ISO 8601 date (2026-11-01) or date and time with Z or an offset (2026-11-01T09:30:00Z), got ${shown(value)}`,
      { details: { option } },
    );
  }
  return new Date(ms).toISOString();
}

/** A whole number within [min, max]. */
export function integerOption(value: string, option: string, min: number, max: number): number {
  const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      `${option}: expected a whole number from ${min} to ${max}, got ${shown(value)}`,
      { details: { option } },
    );
  }
  return n;
}
