/**
 * Retention: how long a tenant keeps its records, and the purge that deletes the bodies of
 * older ones while the tree stays (so old checkpoints and the proofs of every remaining entry
 * still verify). A purge is a sequence of `genlog.purge` events, each covering a range of at
 * most {@link PURGE_CHUNK} entries and deleting its bodies in its own transaction; genlog's
 * own events in the range (erasures, holds, earlier purges) are kept, and each event lists
 * them, so that `verify` knows exactly which bodies may be missing.
 */
import { GenlogError } from "../errors.js";
import { rfc3339ToEpochMs } from "../core/rfc3339.js";
import { PURGE_TYPE, PurgeCovers, purgeCoverOf } from "../core/audit.js";
import type { LogRef, LogStore } from "../store/log-store.js";

/** The retention of a tenant that has set none, in days. */
export const DEFAULT_RETENTION_DAYS = 365;

/**
 * Below this many days `setRetention` warns: the EU AI Act requires deployers and providers of
 * high-risk AI systems to keep their logs at least six months (Art. 19(1) and 26(6)).
 */
export const AI_ACT_MINIMUM_DAYS = 183;

/** The longest range one purge event covers (one transaction). */
export const PURGE_CHUNK = 10_000;

/** Settings key of a tenant's retention in days. */
export function retentionSetting(tenant: string): string {
  return `retention_days:${tenant}`;
}

/** A tenant's retention in days, and whether it is the default (the tenant set none). */
export async function retentionOf(
  store: LogStore,
  tenant: string,
): Promise<{ days: number; isDefault: boolean }> {
  const v = await store.getSetting(retentionSetting(tenant));
  return v === undefined
    ? { days: DEFAULT_RETENTION_DAYS, isDefault: true }
    : { days: Number(v), isDefault: false };
}

/**
 * A retention in days, checked at the edge: a whole number from 1 to 36,500.
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` with pointer `/days`.
 */
export function checkRetentionDays(days: unknown): number {
  if (typeof days !== "number" || !Number.isInteger(days) || days < 1 || days > 36_500) {
    throw new GenlogError(
      "GENLOG_E_INVALID_INPUT",
      "/days: expected a whole number of days from 1 to 36500",
      { details: { pointer: "/days", rule: "range" } },
    );
  }
  return days;
}

/**
 * The purges a log's committed purge events state (read through the type index), by the same
 * rule as `verify`: the store's own `purges` table only guards deletions.
 */
export async function purgesOf(store: LogStore, ref: LogRef): Promise<PurgeCovers> {
  const covers = new PurgeCovers();
  for (let afterSeq: number | undefined; ;) {
    const page = await store.query(ref.logId, {
      type: PURGE_TYPE,
      limit: 1000,
      ...(afterSeq !== undefined ? { afterSeq } : {}),
    });
    for (const e of page) {
      const c = purgeCoverOf(e.canonical, e.seq);
      if (c !== undefined) covers.add(c);
    }
    if (page.length < 1000) return covers;
    afterSeq = page[page.length - 1]!.seq;
  }
}

/** One range a purge deletes, as its event states it. */
export interface PurgeRange {
  fromSeq: number;
  toSeq: number;
  /** Bodies deleted: every entry of the range but genlog's own events. */
  purged: number;
  /** Seqs of genlog's own events in the range, kept. */
  kept: number[];
}

/**
 * The cutoff of a purge: `before` as given (RFC 3339, not in the future), or now minus the
 * tenant's retention.
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` (`/before`) for a time that is not RFC 3339
 * or is in the future.
 */
export function purgeCutoff(
  before: string | undefined,
  retentionDays: number,
  now: number,
): string {
  if (before === undefined) return new Date(now - retentionDays * 86_400_000).toISOString();
  const ms = rfc3339ToEpochMs(before);
  if (ms === undefined || ms > now) {
    throw new GenlogError(
      "GENLOG_E_INVALID_INPUT",
      `/before: expected a past RFC 3339 time with Z or an offset, got ${JSON.stringify(before)}`,
      { details: { pointer: "/before", rule: "format" } },
    );
  }
  return new Date(ms).toISOString();
}

/**
 * The ranges a purge up to `cutoff` would delete: from where the last purge stopped to the
 * first entry at or after the cutoff, in chunks. Refused under a legal hold.
 *
 * @throws {GenlogError} `GENLOG_E_HELD` under a tenant hold, or when a held subject has a
 * record in the range.
 */
export async function planPurge(
  store: LogStore,
  ref: LogRef,
  cutoff: string,
): Promise<PurgeRange[]> {
  const from = (await purgesOf(store, ref)).end();
  const { size } = await store.logState(ref.logId);
  const [first] = await store.query(ref.logId, { since: cutoff, limit: 1 });
  const to = Math.min(first?.seq ?? size, size);
  if (from >= to) return [];
  const holds = await store.listHolds(ref.tenant);
  for (const h of holds) {
    const what = h.subject === "" ? `tenant ${ref.tenant}` : `subject ${h.subject}`;
    let held = h.subject === "";
    if (!held) {
      const [rec] = await store.query(ref.logId, {
        actor: h.subject,
        ...(from > 0 ? { afterSeq: from - 1 } : {}),
        limit: 1,
      });
      held = rec !== undefined && rec.seq < to;
    }
    if (held) {
      throw new GenlogError(
        "GENLOG_E_HELD",
        `${what} is under a legal hold${h.subject === "" ? "" : " and has records before the cutoff"}: nothing was purged; release the hold first (\`genlog hold release\`)`,
        { details: { tenant: ref.tenant, subject: h.subject } },
      );
    }
  }
  const ranges: PurgeRange[] = [];
  for (let a = from; a < to; a += PURGE_CHUNK) {
    const b = Math.min(to, a + PURGE_CHUNK);
    const kept = await store.systemEventSeqs(ref.logId, a, b);
    ranges.push({ fromSeq: a, toSeq: b, purged: b - a - kept.length, kept });
  }
  return ranges;
}
