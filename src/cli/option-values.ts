/**
 * Option values as the CLI accepts them. Each parser says what it expected and refuses what a
 * lenient conversion would have guessed at (`Number("")` is 0, `Date.parse("1")` is 2001).
 */
import { GenlogError } from "../errors.js";
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
 * ISO 8601 as records carry it: a date `YYYY-MM-DD` (midnight UTC), or a date and time with
 * `Z` or an offset (RFC 3339, seconds and fraction optional). A time without an offset is
 * refused: it would be read in the local time zone of whoever runs the command.
 */
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** A time bound for a query, as the RFC 3339 UTC text the library takes. */
export function parseTimeBound(value: string, option: string): string {
  const fail = (why: string) =>
    new GenlogError("GENLOG_E_USAGE", `${option}: expected ${why}, got ${shown(value)}`, {
      details: { option },
    });
  const m = DATE_TIME.exec(value);
  if (m === null) {
    throw fail(
      "an ISO 8601 date (2026-11-01) or date and time with Z or an offset (2026-11-01T09:30:00Z)",
    );
  }
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((s) => Number(s ?? "0"));
  const lastDay = new Date(0);
  lastDay.setUTCFullYear(year!, month!, 0); // day 0 of the next month
  if (month! < 1 || month! > 12 || day! < 1 || day! > lastDay.getUTCDate()) {
    throw fail("a real calendar date");
  }
  if (hour! > 23 || minute! > 59 || second! > 59) throw fail("a time from 00:00:00 to 23:59:59");
  const ms = Date.parse(m[4] === undefined ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(ms)) throw fail("a date and time JavaScript can represent");
  return new Date(ms).toISOString();
}
