/**
 * What the built-in follower kinds share in their options: the type and sector filters, and
 * how a bad option is said (`GENLOG_E_INVALID_INPUT` naming `/config/<field>`).
 */
import { GenlogError } from "../errors.js";
import type { GenerationRecord } from "../core/record.js";
import { SLUG_PATTERN, type EventStatus } from "../core/event-schema.js";

const SLUG = new RegExp(SLUG_PATTERN);

/**
 * The filters every built-in kind takes, all of which a record must pass: only records of
 * these types, of these sectors, with these statuses, and, with `critical`, only those the
 * platform marked critical (`meta.critical` is `true`).
 */
export interface RecordFilter {
  types?: string[];
  sectors?: string[];
  statuses?: EventStatus[];
  critical?: boolean;
}

/** The option names of {@link RecordFilter}. */
export const FILTER_OPTIONS = ["types", "sectors", "statuses", "critical"] as const;

const STATUSES: readonly EventStatus[] = ["started", "succeeded", "failed"];

/** The filters of `input`, checked; absent ones stay absent. */
export function parseFilter(input: Record<string, unknown>): RecordFilter {
  const { types, sectors, statuses, critical } = input;
  if (critical !== undefined && typeof critical !== "boolean") {
    throw invalidOption("/config/critical", "expected true or false");
  }
  if (
    statuses !== undefined &&
    (!Array.isArray(statuses) ||
      statuses.length === 0 ||
      !statuses.every((s) => (STATUSES as readonly unknown[]).includes(s)))
  ) {
    throw invalidOption("/config/statuses", `expected some of ${STATUSES.join(", ")}`);
  }
  return {
    ...(types !== undefined ? { types: slugs(types, "/config/types") } : {}),
    ...(sectors !== undefined ? { sectors: slugs(sectors, "/config/sectors") } : {}),
    ...(statuses !== undefined ? { statuses: [...new Set(statuses as EventStatus[])] } : {}),
    ...(critical === true ? { critical } : {}),
  };
}

/** Whether `record` passes the filter. */
export function passes(filter: RecordFilter, record: GenerationRecord): boolean {
  return (
    (filter.types === undefined || filter.types.includes(record.type)) &&
    (filter.sectors === undefined ||
      (record.sector !== null && filter.sectors.includes(record.sector))) &&
    (filter.statuses === undefined || filter.statuses.includes(record.status)) &&
    (filter.critical !== true || record.meta["critical"] === true)
  );
}

/** The filter in words, for `followers list` (empty when it passes everything). */
export function describeFilter(filter: RecordFilter): string {
  return [
    filter.types === undefined ? "" : ` types ${filter.types.join(",")}`,
    filter.sectors === undefined ? "" : ` sectors ${filter.sectors.join(",")}`,
    filter.statuses === undefined ? "" : ` statuses ${filter.statuses.join(",")}`,
    filter.critical === true ? " critical only" : "",
  ].join("");
}

/**
 * The options object of a kind, with no member but `known`.
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` naming `/config` or the unknown member.
 */
export function optionsObject(input: unknown, known: readonly string[]): Record<string, unknown> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw invalidOption("/config", "expected an object");
  }
  const extra = Object.keys(input).find((k) => !known.includes(k));
  if (extra !== undefined) throw invalidOption(`/config/${extra}`, "unknown option");
  return input as Record<string, unknown>;
}

/** An integer option between `min` and `max`, or `fallback` when absent. */
export function integerOption(
  value: unknown,
  pointer: string,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(pointer, `expected an integer from ${min} to ${max}`);
  }
  return value;
}

/** One of `allowed`, or `fallback` when absent. */
export function enumOption<T extends string>(
  value: unknown,
  pointer: string,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw invalidOption(pointer, `expected one of ${allowed.join(", ")}`);
  }
  return value as T;
}

function slugs(v: unknown, pointer: string): string[] {
  if (
    !Array.isArray(v) ||
    v.length === 0 ||
    v.length > 64 ||
    !v.every((s) => typeof s === "string" && SLUG.test(s))
  ) {
    throw invalidOption(
      pointer,
      "expected 1 to 64 names (a lower-case letter, then letters, digits, . _ -)",
    );
  }
  return [...new Set(v as string[])];
}

/** A bad option of a follower, naming it. */
export function invalidOption(pointer: string, why: string): GenlogError {
  return new GenlogError("GENLOG_E_INVALID_INPUT", `${pointer}: ${why}`, {
    details: { pointer, rule: "follower" },
  });
}
