/**
 * RFC 3339 §5.6 date-times, checked against the calendar: `Date.parse` is no judge, since it
 * takes `2024-02-30` (as 1 March) and `24:00:00` (as the next midnight) and refuses the leap
 * second `23:59:60` that RFC 3339 allows.
 *
 * Leap seconds (§5.7): `:60` is accepted only where one can be inserted, at 23:59:60 UTC
 * (after applying the offset) on the last day of a month. The table of leap seconds that
 * actually happened is not consulted: it changes, and a client clock is not ours to judge.
 */

/** A date-time split into its fields, as written. */
export interface Rfc3339DateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Digits after the decimal point, as written ("" when none). */
  fraction: string;
  /** Offset from UTC in minutes (`Z` and `-00:00` are 0). */
  offsetMinutes: number;
}

// §5.6: full-date "T" full-time; "T" and "Z" may be lower case (§5.6, NOTE). At most 9
// fraction digits: nanoseconds are the finest a clock gives, and the bound keeps it short.
// The ranges that do not depend on the calendar are checked here: month 01-12, day 01-31,
// hour 00-23, minute 00-59, second 00-60, offset up to 23:59.
const DATE_TIME =
  /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):([0-5]\d):([0-5]\d|60)(?:\.(\d{1,9}))?(?:([Zz])|([+-])([01]\d|2[0-3]):([0-5]\d))$/;
const FULL_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a leap year of the proleptic Gregorian calendar (RFC 3339 Appendix C). */
export function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** Days in a month (1..12) of a year. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function validDate(year: number, month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/**
 * Parses an RFC 3339 `date-time`, or returns undefined when the text is not one or names a
 * time that does not exist (30 February, hour 24, a leap second anywhere but 23:59:60 UTC on
 * the last day of a month).
 */
export function parseRfc3339DateTime(text: string): Rfc3339DateTime | undefined {
  if (typeof text !== "string") return undefined;
  const m = DATE_TIME.exec(text);
  if (m === null) return undefined;
  // Unary plus on the captured digits: this runs on every append that sends a time.
  const year = +m[1]!;
  const month = +m[2]!;
  const day = +m[3]!;
  const hour = +m[4]!;
  const minute = +m[5]!;
  const second = +m[6]!;
  if (day > daysInMonth(year, month)) return undefined;
  let offsetMinutes = 0;
  if (m[8] === undefined) offsetMinutes = (m[9] === "-" ? -1 : 1) * (+m[10]! * 60 + +m[11]!);
  const parsed = { year, month, day, hour, minute, second, fraction: m[7] ?? "", offsetMinutes };
  if (second === 60 && !isLeapSecondInstant(parsed)) return undefined;
  return parsed;
}

/** True when a `:60` second falls at 23:59:60 UTC on the last day of a month. */
function isLeapSecondInstant(t: Rfc3339DateTime): boolean {
  // Local minute of the day minus the offset is the UTC minute, possibly one day off.
  const utcMinute = t.hour * 60 + t.minute - t.offsetMinutes;
  const LAST = 23 * 60 + 59;
  if (utcMinute === LAST) return t.day === daysInMonth(t.year, t.month);
  // The UTC day is the local day before: it is a month's last day when the local day is the 1st.
  if (utcMinute === LAST - 24 * 60) return t.day === 1;
  // The UTC day is the local day after: the last day when the local day is the one before it.
  if (utcMinute === LAST + 24 * 60) return t.day + 1 === daysInMonth(t.year, t.month);
  return false;
}

/** True when `text` is an RFC 3339 `date-time` that exists on the calendar. */
export function isRfc3339DateTime(text: string): boolean {
  if (typeof text !== "string") return false;
  const m = DATE_TIME.exec(text);
  if (m === null) return false;
  // The common case costs one regex: every month has days 1 to 28, and no leap second.
  if (m[3]! <= "28" && m[6] !== "60") return true;
  return parseRfc3339DateTime(text) !== undefined;
}

/**
 * Milliseconds since the epoch of an RFC 3339 `date-time` (rounded up to a whole
 * millisecond; a leap second counts as the first millisecond after it, as POSIX time has
 * none), or of a `full-date` taken as its midnight UTC; undefined for anything else.
 */
export function rfc3339ToEpochMs(text: string): number | undefined {
  if (typeof text !== "string") return undefined;
  const date = FULL_DATE.exec(text);
  if (date !== null) {
    const [year, month, day] = date.slice(1, 4).map(Number) as [number, number, number];
    return validDate(year, month, day) ? utcMs(year, month, day, 0, 0, 0, 0) : undefined;
  }
  const t = parseRfc3339DateTime(text);
  if (t === undefined) return undefined;
  // Rounded up to the millisecond: for a timestamp `ts` in whole milliseconds, `ts >= x`
  // and `ts < x` then mean the same for `x` and its rounded value.
  const nanos = t.fraction.padEnd(9, "0");
  const ms = Number(nanos.slice(0, 3)) + (/[1-9]/.test(nanos.slice(3)) ? 1 : 0);
  return utcMs(t.year, t.month, t.day, t.hour, t.minute, t.second, ms) - t.offsetMinutes * 60_000;
}

function utcMs(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number) {
  // setUTCFullYear, unlike Date.UTC, does not map years 0..99 to 1900..1999. Second 60 rolls
  // over into the next minute.
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, ms);
  return date.getTime();
}
