/**
 * Followers: what leaves the process after an append (webhooks, SIEM streams, publication)
 * reads the committed log from a durable cursor kept beside it (DESIGN.md §9). Nothing is
 * handed over before it is committed and covered by a signed checkpoint, nothing committed is
 * skipped, and a follower never slows or fails an append: it runs apart, and its failures are
 * retried with backoff, then kept as dead letters.
 *
 * Delivery is at least once: a follower's cursor moves after the record was handed over, so a
 * crash between the two hands it over again; receivers deduplicate by the record's id.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { GenlogError } from "../errors.js";
import type { GenerationRecord } from "../core/record.js";
import type {
  DeadLetterRow,
  FollowerProgress,
  FollowerRow,
  LogRef,
  LogStore,
} from "../store/log-store.js";

/** What a follower kind says of one delivery. */
export type DeliveryOutcome =
  | { ok: true }
  /** `gone`: the receiver asked never to be called again (HTTP 410); the follower stops. */
  | { ok: false; error: string; gone?: boolean };

/** One record handed to a follower. */
export interface Delivery<C> {
  tenant: string;
  /** The follower's name. */
  name: string;
  config: C;
  /** The follower's secret, opened (undefined for a kind without one). */
  secret: string | undefined;
  record: GenerationRecord;
  /** The committed text of the record: its leaf hash is SHA-256(0x00 || canonical). */
  canonical: string;
  /** The record's leaf hash, hex: what a receiver needs to ask for its inclusion proof later. */
  leafHash: string;
  /** 1 for the first try of this record, then 2, 3… */
  attempt: number;
  /** Aborted past the delivery timeout, or when the runner stops. */
  signal: AbortSignal;
}

/** A kind of follower (`webhook`, …): its options, its filter and how it hands a record over. */
export interface FollowerKind<C = unknown> {
  /** The name `followers add` takes. */
  readonly kind: string;
  /** Whether the kind takes a secret, and how one looks (checked by {@link checkSecret}). */
  readonly secret: "required" | "none";
  /** What a secret looks like, for the error that asks for one. */
  readonly secretForm?: string;
  /** One line for `followers list` and errors. */
  describe(config: C): string;
  /**
   * Checks the options and returns them as kept.
   *
   * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` naming the field (`/config/url`).
   */
  parse(config: unknown): C;
  /** Checks a secret before it is stored; throws `GENLOG_E_INVALID_INPUT` naming `/secret`. */
  checkSecret?(secret: string): void;
  /** Whether the follower wants this record (its filters); the others are passed over. */
  wants(config: C, record: GenerationRecord): boolean;
  /** Hands one record over. A rejection counts as a failed delivery. */
  deliver(delivery: Delivery<C>): Promise<DeliveryOutcome>;
}

/** How a runner retries; every field has a default. */
export interface RetryOptions {
  /** Tries of one record before it becomes a dead letter; default 8. */
  maxAttempts?: number;
  /** The first wait after a failure, in ms; doubled after each; default 1,000. */
  baseDelayMs?: number;
  /** The longest wait, in ms; default 300,000 (5 minutes). */
  maxDelayMs?: number;
  /** How long one delivery may take, in ms; default 10,000. */
  timeoutMs?: number;
}

/** What the runner needs from the handle that owns it. */
export interface FollowerHost {
  /** Every store that may hold followers (the home database and each region's). */
  stores(): Promise<LogStore[]>;
  /** The tenant's events log (undefined before its first record). */
  eventsLog(tenant: string): Promise<LogRef | undefined>;
  /** The tenant's key that seals follower secrets. */
  secretKey(tenant: string): Promise<Uint8Array>;
  /** Where failures are said (they never reach an append). */
  warn(message: string, details: Record<string, unknown>): void;
}

/** What one pass did. */
export interface PassResult {
  delivered: number;
  /** Records passed over by a follower's filters. */
  skipped: number;
  failed: number;
  deadLettered: number;
}

const DEFAULTS = { maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 300_000, timeoutMs: 10_000 };

/** A follower's name: a slug, as a tenant's. */
export const FOLLOWER_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * The wait before try `attempts + 1` of a record that failed `attempts` times: exponential,
 * capped, with "equal jitter" (half fixed, half random) so that followers of many tenants
 * failing together do not retry together.
 */
export function backoffMs(attempts: number, base: number, max: number): number {
  const full = Math.min(max, base * 2 ** Math.min(attempts - 1, 30));
  return Math.round(full / 2 + (Math.random() * full) / 2);
}

/** Reads every tenant's followers and hands them the records they have not had yet. */
export class FollowerRunner {
  readonly #host: FollowerHost;
  readonly #kinds: ReadonlyMap<string, FollowerKind>;
  readonly #retry: Required<RetryOptions>;
  readonly #stop = new AbortController();
  #wake: (() => void) | undefined;
  /** Set by {@link wake} during a pass: the next wait is skipped. */
  #woken = false;

  constructor(host: FollowerHost, kinds: readonly FollowerKind[], retry: RetryOptions = {}) {
    this.#host = host;
    this.#kinds = new Map(kinds.map((k) => [k.kind, k]));
    this.#retry = { ...DEFAULTS, ...retry };
  }

  /**
   * One pass over every follower: each hands over what it can until it has caught up with
   * the latest checkpoint, is waiting to retry, or has just failed.
   */
  async pass(now = Date.now()): Promise<PassResult> {
    const result: PassResult = { delivered: 0, skipped: 0, failed: 0, deadLettered: 0 };
    for (const store of await this.#host.stores()) {
      for (const row of await store.listFollowers()) {
        if (this.#stop.signal.aborted) return result;
        try {
          await this.#follow(store, row, now, result);
        } catch (e) {
          // One follower that cannot run (options edited by hand, a store error) holds back
          // only itself.
          this.#host.warn("genlog: a follower could not run", {
            tenant: row.tenant,
            follower: row.name,
            err: e,
          });
        }
      }
    }
    return result;
  }

  /** Passes until `signal` aborts, waiting `pollMs` between passes (or less, see {@link wake}). */
  async run(signal: AbortSignal, pollMs = 1000): Promise<void> {
    const stop = () => {
      this.#stop.abort();
      this.#wake?.();
    };
    signal.addEventListener("abort", stop, { once: true });
    try {
      while (!signal.aborted) {
        try {
          await this.pass();
        } catch (e) {
          // A store that fails now may answer at the next pass; the appends are not concerned.
          this.#host.warn("genlog: a follower pass failed", { err: e });
        }
        if (signal.aborted) break;
        if (this.#woken) {
          this.#woken = false;
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    } finally {
      signal.removeEventListener("abort", stop);
    }
  }

  /** Shortens the current wait of {@link run}: new records were committed. */
  wake(): void {
    if (this.#wake === undefined) this.#woken = true;
    else this.#wake();
  }

  async #follow(store: LogStore, row: FollowerRow, now: number, result: PassResult) {
    const kind = this.#kinds.get(row.kind);
    if (kind === undefined || row.disabled !== null) return;
    const ref = await this.#host.eventsLog(row.tenant);
    if (ref === undefined) return;
    const config = kind.parse(JSON.parse(row.config));
    const secret =
      row.secret === null
        ? undefined
        : openSecret(await this.#host.secretKey(row.tenant), row.tenant, row.name, row.secret);
    let id = "";
    const hand = async (seq: number, attempt: number): Promise<DeliveryOutcome | "skipped"> => {
      const entry = await store.getEntry(ref.logId, seq);
      // A body purged before its follower got to it is gone: there is nothing to hand over.
      if (entry === undefined || entry.canonical === null) return "skipped";
      const record = JSON.parse(entry.canonical) as GenerationRecord;
      id = record.id;
      if (!kind.wants(config, record)) return "skipped";
      const signal = AbortSignal.any([
        this.#stop.signal,
        AbortSignal.timeout(this.#retry.timeoutMs),
      ]);
      try {
        return await kind.deliver({
          tenant: row.tenant,
          name: row.name,
          config,
          secret,
          record,
          canonical: entry.canonical,
          leafHash: Buffer.from(entry.leafHash).toString("hex"),
          attempt,
          signal,
        });
      } catch (e) {
        return { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
    };

    // Dead letters that `followers retry` made due go first, once each.
    for (const letter of await store.listDeadLetters(row.tenant, row.name)) {
      if (!letter.due) continue;
      const outcome = await hand(letter.seq, letter.attempts + 1);
      const delivered = outcome === "skipped" || outcome.ok;
      await store.settleDeadLetter(
        row.tenant,
        row.name,
        letter.seq,
        delivered ? { delivered: true } : { delivered: false, error: outcome.error },
      );
      if (delivered) result.delivered++;
      else result.failed++;
    }

    if (row.nextAt > now) return;
    const { size } = await store.logState(ref.logId);
    // `stored` is where the store has the cursor: every write moves it only from there.
    let stored = row.cursor;
    let cursor = row.cursor;
    let attempts = row.attempts;
    const write = async (progress: FollowerProgress, letter?: DeadLetterRow) => {
      // Another runner moved this follower meanwhile: it goes on from there, not this one.
      const moved = await store.advanceFollower(row.tenant, row.name, stored, progress, letter);
      if (moved) stored = progress.cursor;
      return moved;
    };
    const caughtUp = { attempts: 0, nextAt: 0, lastError: null };
    while (cursor < size && !this.#stop.signal.aborted) {
      const outcome = await hand(cursor, attempts + 1);
      // Stopped in the middle of a delivery: not the receiver's failure, nothing recorded.
      if (this.#stop.signal.aborted && outcome !== "skipped" && !outcome.ok) return;
      if (outcome === "skipped") {
        // Records passed over are written in runs, not a transaction each.
        result.skipped++;
        cursor++;
        attempts = 0;
        if (cursor - stored >= SKIP_RUN && !(await write({ cursor, ...caughtUp }))) return;
        continue;
      }
      if (outcome.ok) {
        result.delivered++;
        if (!(await write({ cursor: cursor + 1, ...caughtUp }))) return;
      } else if (outcome.gone === true) {
        // The receiver said it is gone for good: stop here, at this record, until re-enabled.
        result.failed++;
        await write({
          cursor,
          attempts: attempts + 1,
          nextAt: 0,
          lastError: outcome.error,
          disabled: outcome.error,
        });
        this.#host.warn("genlog: a follower's receiver is gone; the follower is disabled", {
          tenant: row.tenant,
          follower: row.name,
          error: outcome.error,
        });
        return;
      } else if (attempts + 1 >= this.#retry.maxAttempts) {
        result.deadLettered++;
        const letter: DeadLetterRow = {
          tenant: row.tenant,
          name: row.name,
          seq: cursor,
          eventId: id,
          attempts: attempts + 1,
          error: outcome.error,
          at: new Date(now).toISOString(),
          due: false,
        };
        const progress = { cursor: cursor + 1, attempts: 0, nextAt: 0, lastError: outcome.error };
        if (!(await write(progress, letter))) return;
      } else {
        result.failed++;
        const wait = backoffMs(attempts + 1, this.#retry.baseDelayMs, this.#retry.maxDelayMs);
        await write({
          cursor,
          attempts: attempts + 1,
          nextAt: now + wait,
          lastError: outcome.error,
        });
        return;
      }
      cursor = stored;
      attempts = 0;
    }
    if (cursor !== stored) await write({ cursor, ...caughtUp });
  }
}

/** Records passed over by a follower's filters between two writes of its cursor. */
const SKIP_RUN = 1000;

/** Seals a follower's secret for the store: AES-256-GCM under a key of its tenant. */
export function sealSecret(key: Uint8Array, tenant: string, name: string, secret: string): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(secretAad(tenant, name));
  return Buffer.concat([iv, c.update(secret, "utf8"), c.final(), c.getAuthTag()]);
}

/** A follower's secret, opened. */
export function openSecret(
  key: Uint8Array,
  tenant: string,
  name: string,
  sealed: Uint8Array,
): string {
  try {
    const s = Buffer.from(sealed);
    const d = createDecipheriv("aes-256-gcm", key, s.subarray(0, 12));
    d.setAAD(secretAad(tenant, name));
    d.setAuthTag(s.subarray(s.length - 16));
    return Buffer.concat([d.update(s.subarray(12, s.length - 16)), d.final()]).toString("utf8");
  } catch (cause) {
    throw new GenlogError(
      "GENLOG_E_KEY",
      `the secret of follower ${name} (tenant ${tenant}) does not open with the tenant's key: it was changed, or sealed under another master key`,
      { cause, details: { tenant, follower: name } },
    );
  }
}

function secretAad(tenant: string, name: string): Buffer {
  return Buffer.from(`genlog/v1/follower-secret\u0000${tenant}\u0000${name}`);
}
