/**
 * Followers: what leaves the process after an append (webhooks, SIEM streams, publication)
 * reads the committed log from a durable cursor kept beside it (DESIGN.md §9). Nothing is
 * handed over before it is committed and covered by a signed checkpoint, nothing committed is
 * skipped, and a follower never slows or fails an append: it runs apart, and its failures are
 * retried with backoff, then kept as dead letters.
 *
 * Delivery is at least once: a follower's cursor is written after the records were handed
 * over, at most a second (or {@link CURSOR_RUN} records) apart, so a crash hands over again
 * what was delivered since; receivers deduplicate by the record's id. Writing the cursor after
 * every delivery would put a synchronous commit beside every append of the process.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { readlinkSync } from "node:fs";
import { hostname } from "node:os";
import { GenlogError } from "../errors.js";
import type { GenerationRecord } from "../core/record.js";
import type { GenerationReport } from "./generation-report.js";
import type { AccessReport } from "./access-log.js";
import type { CarManifest } from "./car-export.js";
import type {
  DeadLetterRow,
  FollowerKey,
  FollowerProgress,
  FollowerRow,
  LogRef,
  LogStore,
  PurgedEntry,
  StoredEntry,
} from "../store/log-store.js";

/** Where followers may connect: the operator's choice, not a tenant admin's. */
export interface NetworkPolicy {
  /**
   * Allow loopback, private (RFC 1918, ULA), link-local and shared addresses, and plain
   * `http:` URLs: for receivers on the operator's own network. Default false.
   */
  allowPrivate: boolean;
}

/** The policy a handle gets when it is given none: `GENLOG_FOLLOWERS_ALLOW_PRIVATE=true`. */
export function networkPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): NetworkPolicy {
  return { allowPrivate: env.GENLOG_FOLLOWERS_ALLOW_PRIVATE === "true" };
}

/** What a follower kind says of one delivery. */
export type DeliveryOutcome =
  | { ok: true }
  /**
   * `gone`: the receiver asked never to be called again (HTTP 410); the follower stops.
   * `unreachable`: no answer at all (network, DNS, timeout): the record is not at fault, so the
   * follower waits and tries again without ever giving the record up.
   */
  | { ok: false; error: string; gone?: boolean; unreachable?: boolean };

/** One record handed to a follower. */
export interface Delivery<C> {
  tenant: string;
  /** The follower's name. */
  name: string;
  /** The follower's id: one removed and added again under its name has another. */
  id: string;
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
  /**
   * The follower's durable cursor when this pass began: what a crash would resume from. A kind
   * that finds its own output past it (written, then the process died before the cursor
   * moved) may drop that output, which is about to be handed over again.
   */
  cursor: number;
  /** The tenant's events log (`<instance>/<tenant>/events`). */
  origin: string;
  /**
   * The signed note of the checkpoint whose tree ends with this record, if one was signed at
   * that size (one is for each commit): read only when asked.
   */
  checkpoint(): Promise<string | undefined>;
  /** Aborted past the delivery timeout, or when the runner stops. */
  signal: AbortSignal;
  /** Where the operator lets followers connect. */
  network: NetworkPolicy;
  /** The directory where kinds that write files keep them (`<filesDir>/<tenant>/<name>/`). */
  filesDir: string;
}

/**
 * One period handed to a periodic kind (`report`): `[from, until)`, the `index`-th period of
 * its length since the Unix epoch.
 */
export interface PeriodDelivery<C> {
  tenant: string;
  name: string;
  id: string;
  config: C;
  secret: string | undefined;
  index: number;
  from: string;
  until: string;
  attempt: number;
  origin: string;
  /** The tenant's reports over the period, made when asked. */
  report(): Promise<PeriodReports>;
  /**
   * Writes a CAR export of the tenant's events log at `out` (which must not exist), from the
   * checkpoint `since` (a signed note) to the latest; undefined, and nothing written, when
   * nothing was committed after `since`.
   */
  exportCar(out: string, since?: string): Promise<CarExport | undefined>;
  /** The seqs in `[fromSeq, toSeq)` whose `meta` or artifact names hold personal data in clear. */
  clearPersonalData(fromSeq: number, toSeq: number): Promise<number[]>;
  signal: AbortSignal;
  network: NetworkPolicy;
  filesDir: string;
}

/** What {@link PeriodDelivery.exportCar} wrote. */
export interface CarExport {
  root: string;
  manifest: CarManifest;
  /** The signed note of the checkpoint the export ends at. */
  checkpoint: string;
  /**
   * Set when records since the previous export were purged (retention) before they could be
   * exported: the export then starts at the first checkpoint past them, and `[fromSeq, toSeq)`
   * is what no export holds.
   */
  skipped?: { fromSeq: number; toSeq: number };
}

/** What {@link FollowerHost.report} makes of a period. */
export interface PeriodReports {
  generations: GenerationReport;
  access: AccessReport;
  /** The latest signed checkpoint of the events log, or null before the first. */
  checkpoint: string | null;
}

/** A kind of follower (`webhook`, …): its options, its filter and how it hands a record over. */
export interface FollowerKind<C = unknown> {
  /** The name `followers add` takes. */
  readonly kind: string;
  /** Whether the kind takes a secret, and how one looks (checked by {@link checkSecret}). */
  readonly secret: "required" | "optional" | "none";
  /** What a secret looks like, for the error that asks for one. */
  readonly secretForm?: string;
  /** For a kind whose secret is optional: whether these options need one all the same. */
  needsSecret?(config: C): boolean;
  /** One line for `followers list` and errors. */
  describe(config: C): string;
  /**
   * Checks the options, under the operator's network policy, and returns them as kept.
   *
   * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` naming the field (`/config/url`).
   */
  parse(config: unknown, network: NetworkPolicy): C;
  /** Checks a secret before it is stored; throws `GENLOG_E_INVALID_INPUT` naming `/secret`. */
  checkSecret?(secret: string): void;
  /** Whether the follower wants this record (its filters); the others are passed over. */
  wants(config: C, record: GenerationRecord): boolean;
  /** Hands one record over. A rejection counts as a failed delivery. */
  deliver(delivery: Delivery<C>): Promise<DeliveryOutcome>;
  /**
   * For a kind whose deliveries are not durable when `deliver` resolves (a file written
   * through a buffer): makes them so. Called before the follower's cursor moves past them; a
   * rejection leaves the cursor where it was (the records are handed over again).
   */
  flush?(follower: FollowerKey): Promise<void>;
  /**
   * Called after the follower's cursor was written: what the kind wrote for records below
   * `cursor` will never be handed over again, and may be finished (a file compressed). A
   * rejection is warned of; the next call may try again.
   */
  committed?(follower: FollowerKey, cursor: number): Promise<void>;
  /**
   * For a kind that hands over periods of time rather than records (`report`): the length of
   * one, in ms. Its cursor then counts periods since the Unix epoch, a period is handed to
   * {@link deliverPeriod} once it has ended (and {@link PERIOD_GRACE_MS} more), and `wants`
   * and `deliver` are not called.
   */
  periodMs?(config: C): number;
  deliverPeriod?(delivery: PeriodDelivery<C>): Promise<DeliveryOutcome>;
}

/** How long after a period ends it is reported: the commits under way at its end are in. */
export const PERIOD_GRACE_MS = 60_000;

/**
 * Where a follower's cursor is going: the log's size for a kind of records, the number of
 * periods ended (by {@link PERIOD_GRACE_MS}) for a periodic one.
 */
export function followerEnd(
  kind: FollowerKind | undefined,
  config: unknown,
  size: number,
  now = Date.now(),
): number {
  if (kind?.periodMs === undefined) return size;
  return Math.floor((now - PERIOD_GRACE_MS) / kind.periodMs(config));
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
  /** Followers run at once (each one in order); default 8. */
  concurrency?: number;
  /** Records one follower hands over in a pass before the others get their turn; default 1,000. */
  budget?: number;
  /**
   * How long a runner holds a follower once it took a turn, in ms; default 60,000. Renewed at
   * each turn; another process (node) takes the follower over once it expired.
   */
  leaseMs?: number;
}

/** What the runner needs from the handle that owns it. */
export interface FollowerHost {
  /** Every store that may hold followers (the home database and each region's). */
  stores(): Promise<LogStore[]>;
  /** The tenant's events log (undefined before its first record). */
  eventsLog(tenant: string): Promise<LogRef | undefined>;
  /** The tenant's key that seals follower secrets. */
  secretKey(tenant: string): Promise<Uint8Array>;
  /** Where followers may connect. */
  network: NetworkPolicy;
  /** Where kinds that write files keep them. */
  filesDir: string;
  /** Where failures are said (they never reach an append). */
  warn(message: string, details: Record<string, unknown>): void;
  /** The tenant's reports over `[since, until)`, for a periodic kind. */
  report(tenant: string, since: string, until: string): Promise<PeriodReports>;
  /** See {@link PeriodDelivery.exportCar}. */
  exportCar(tenant: string, out: string, since?: string): Promise<CarExport | undefined>;
  /** See {@link PeriodDelivery.clearPersonalData}. */
  clearPersonalData(tenant: string, fromSeq: number, toSeq: number): Promise<number[]>;
  /** Calls `wake` on every new checkpoint while {@link FollowerRunner.run} runs; returns the undo. */
  subscribe(wake: () => void): () => void;
}

/** What one pass did. */
export interface PassResult {
  delivered: number;
  /** Records passed over by a follower's filters. */
  skipped: number;
  failed: number;
  deadLettered: number;
  /** Whether a follower stopped at its budget with records left: the next pass should not wait. */
  more: boolean;
}

const DEFAULTS = {
  maxAttempts: 8,
  baseDelayMs: 1000,
  maxDelayMs: 300_000,
  timeoutMs: 10_000,
  concurrency: 8,
  budget: 1000,
  leaseMs: 60_000,
};

/**
 * This process's PID namespace (Linux): two containers on one host may share a hostname and
 * reuse each other's pids, so a holder's pid is looked up only in the same namespace. Empty
 * where it cannot be read: no holder is then ever taken over before its lease ends.
 */
const PID_NAMESPACE = (() => {
  try {
    return /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/pid"))?.[1] ?? "";
  } catch {
    return "";
  }
})();

/**
 * Whether a lease holder (`<host>/<pid namespace>/<pid>/…`) is a process of this machine and
 * PID namespace that no longer runs.
 */
function deadHereAndNow(holder: string): boolean {
  const [host, ns, pid] = holder.split("/");
  if (host !== hostname() || PID_NAMESPACE === "" || ns !== PID_NAMESPACE) return false;
  if (pid === undefined || !/^[1-9][0-9]*$/.test(pid)) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

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
  readonly #totals = { delivered: 0, skipped: 0, failed: 0, deadLettered: 0 };
  #wake: (() => void) | undefined;
  /** Set when {@link run} is kicked while it is not waiting: its next wait is skipped. */
  #woken = false;
  /** {@link run}'s rounds: one per new checkpoint ({@link wake}) and per poll. */
  #round = 0;
  /** Whether {@link run}'s last listing left a follower waiting for a slot. */
  #waiting = false;
  /** Whether every follower {@link run} listed last is in a turn. */
  #allBusy = false;
  /** This runner, as the holder of follower leases: `<host>/<pid namespace>/<pid>/<random>`. */
  readonly #id = `${hostname()}/${PID_NAMESPACE}/${process.pid}/${randomBytes(9).toString("base64url")}`;

  constructor(host: FollowerHost, kinds: readonly FollowerKind[], retry: RetryOptions = {}) {
    this.#host = host;
    this.#kinds = new Map(kinds.map((k) => [k.kind, k]));
    this.#retry = { ...DEFAULTS, ...retry };
  }

  /**
   * One pass over every follower, several at once: each hands over what it can until it has
   * caught up with the latest checkpoint, used its budget, is waiting to retry, or has just
   * failed. For `followers run --once` and tests; {@link run} schedules each follower apart.
   */
  async pass(): Promise<PassResult> {
    const result = emptyResult();
    const queue = await this.#list();
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        if (this.#stop.signal.aborted) return;
        await this.#turn(next[0], next[1], result);
      }
    };
    await Promise.all(Array.from({ length: this.#retry.concurrency }, worker));
    this.#count(result);
    await this.#release();
    return result;
  }

  /** What every pass or turn of this runner did, added up: for metrics. */
  get totals(): Readonly<Omit<PassResult, "more">> {
    return { ...this.#totals };
  }

  /**
   * Runs until `signal` aborts. Each follower takes its turns apart from the others, up to
   * `concurrency` at once: a slow receiver holds back only its own follower. Time is cut in
   * rounds: a round begins with each new checkpoint and every `pollMs` (for the retries that
   * came due), and every follower gets one turn per round, the ones that waited longest
   * first, plus another at once whenever its last turn stopped at its budget. So no follower
   * waits behind others for a slot for more than a round, and nothing runs when nothing came.
   */
  async run(signal: AbortSignal, pollMs = 1000): Promise<void> {
    const stop = () => {
      this.#stop.abort();
      this.#wake?.();
    };
    signal.addEventListener("abort", stop, { once: true });
    const unsubscribe = this.#host.subscribe(() => this.wake());
    const busy = new Map<string, Promise<void>>();
    /** The round in which each follower's last turn began. */
    const lastRound = new Map<string, number>();
    /** Followers whose last turn stopped at its budget: they go again at once. */
    const more = new Set<string>();
    try {
      while (!signal.aborted) {
        const round = this.#round;
        let waiting = false;
        try {
          const listed = await this.#list();
          const key = (row: FollowerRow) => `${row.tenant}\u0000${row.name}`;
          const known = new Set(listed.map(([, row]) => key(row)));
          for (const k of lastRound.keys()) if (!known.has(k)) lastRound.delete(k);
          // The longest waiting first (never run: -1).
          listed.sort(
            ([, a], [, b]) => (lastRound.get(key(a)) ?? -1) - (lastRound.get(key(b)) ?? -1),
          );
          for (const [store, row] of listed) {
            const k = key(row);
            if (busy.has(k)) continue;
            if ((lastRound.get(k) ?? -1) >= round && !more.has(k)) continue; // had its turn
            if (busy.size >= this.#retry.concurrency) {
              waiting = true;
              continue;
            }
            lastRound.set(k, round);
            more.delete(k);
            const result = emptyResult();
            const turn = this.#turn(store, row, result).then(() => {
              busy.delete(k);
              this.#allBusy = false;
              this.#count(result);
              if (result.more) more.add(k);
              // List again at once: this follower has more, a round began during its turn,
              // or a follower waits for its slot.
              if (result.more || this.#round !== round || this.#waiting) this.#kick();
            });
            busy.set(k, turn);
          }
          this.#waiting = waiting;
          // Every follower busy: a checkpoint now is for the turns to notice when they end,
          // not a reason to list the followers again.
          this.#allBusy = listed.length > 0 && busy.size === listed.length;
        } catch (e) {
          // A store that fails now may answer at the next listing; the appends are not concerned.
          this.#host.warn("genlog: the followers could not be listed", { err: e });
        }
        if (signal.aborted) break;
        if (this.#woken) {
          this.#woken = false;
          continue;
        }
        const polled = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(true), pollMs);
          this.#wake = () => {
            clearTimeout(timer);
            resolve(false);
          };
        });
        this.#wake = undefined;
        if (polled) this.#round++;
      }
    } finally {
      await Promise.all(busy.values());
      signal.removeEventListener("abort", stop);
      unsubscribe();
      await this.#release();
    }
  }

  /**
   * Takes or renews the follower's lease; true when this runner holds it. A holder on this
   * machine whose process is gone (killed, crashed) is taken over at once, not after its lease.
   */
  async #claim(store: LogStore, row: FollowerRow): Promise<boolean> {
    const holder = await store.claimFollower(row, this.#id, this.#retry.leaseMs);
    if (holder === this.#id) return true;
    if (holder === null || !deadHereAndNow(holder)) return false;
    return (await store.claimFollower(row, this.#id, this.#retry.leaseMs, holder)) === this.#id;
  }

  /** Gives up this runner's leases: another process may take its followers at once. */
  async #release(): Promise<void> {
    for (const store of await this.#host.stores().catch(() => [])) {
      await store.releaseFollowers(this.#id).catch(() => undefined);
    }
  }

  /** Begins a round of {@link run} at once: new records were committed. */
  wake(): void {
    this.#round++;
    if (!this.#allBusy) this.#kick();
  }

  #kick(): void {
    if (this.#wake === undefined) this.#woken = true;
    else this.#wake();
  }

  async #list(): Promise<[LogStore, FollowerRow][]> {
    const all: [LogStore, FollowerRow][] = [];
    for (const store of await this.#host.stores()) {
      for (const row of await store.listFollowers()) all.push([store, row]);
    }
    return all;
  }

  #count(result: PassResult): void {
    this.#totals.delivered += result.delivered;
    this.#totals.skipped += result.skipped;
    this.#totals.failed += result.failed;
    this.#totals.deadLettered += result.deadLettered;
  }

  /** One follower's turn; never rejects. */
  async #turn(store: LogStore, row: FollowerRow, result: PassResult): Promise<void> {
    try {
      // A kind this process does not run (a plugin configured elsewhere), or a follower
      // stopped by a 410: not ours to hold, or the node that runs it would never get it.
      if (!this.#kinds.has(row.kind) || row.disabled !== null) return;
      // Another process (node) holds this follower: its turn is theirs.
      if (!(await this.#claim(store, row))) return;
      // Where the follower is now that it is ours (the listing may be a turn old).
      const current = (await store.listFollowers(row.tenant)).find(
        (f) => f.name === row.name && f.id === row.id,
      );
      if (current === undefined) return;
      row = current;
      await this.#follow(store, row, result);
    } catch (e) {
      // One follower that cannot run (options edited by hand, a store error, a missing
      // record) holds back only itself.
      // A GenlogError says what is wrong in its message (a bad option, a policy): no stack.
      this.#host.warn("genlog: a follower could not run", {
        tenant: row.tenant,
        follower: row.name,
        ...(e instanceof GenlogError ? { error: `${e.message} [${e.code}]` } : { err: e }),
      });
      // Said where the operator looks (`followers list`), and tried again after a backoff.
      // Written only if the follower did not move meanwhile.
      const attempts = row.attempts + 1;
      const wait = backoffMs(attempts, this.#retry.baseDelayMs, this.#retry.maxDelayMs);
      await store
        .advanceFollower(row, row.cursor, {
          cursor: row.cursor,
          attempts,
          nextAt: Date.now() + wait,
          lastError: `cannot run: ${e instanceof Error ? e.message : String(e)}`,
        })
        .catch(() => undefined);
      result.failed++;
    }
  }

  async #follow(store: LogStore, row: FollowerRow, result: PassResult) {
    const kind = this.#kinds.get(row.kind);
    if (kind === undefined || row.disabled !== null) return;
    // Waiting out a backoff (one that could not run too) with no dead letter made due: no
    // work, and no options to parse again.
    if (
      row.nextAt > Date.now() &&
      !(await store.listDeadLetters(row.tenant, row.name)).some((l) => l.due)
    ) {
      return;
    }
    const ref = await this.#host.eventsLog(row.tenant);
    if (ref === undefined) return;
    const network = this.#host.network;
    const config = kind.parse(JSON.parse(row.config), network);
    const secret =
      row.secret === null
        ? undefined
        : openSecret(await this.#host.secretKey(row.tenant), row.tenant, row.name, row.secret);
    let id = "";
    const hand = async (
      entry: StoredEntry | PurgedEntry | undefined,
      attempt: number,
    ): Promise<DeliveryOutcome | "skipped"> => {
      // A body purged (retention) before the follower got to it: only its leaf hash is left,
      // and there is nothing to hand over.
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
          id: row.id,
          config,
          secret,
          record,
          canonical: entry.canonical,
          leafHash: Buffer.from(entry.leafHash).toString("hex"),
          attempt,
          origin: ref.origin,
          cursor: row.cursor,
          checkpoint: async () => (await store.checkpointAt(ref.logId, entry.seq + 1))?.note,
          signal,
          network,
          filesDir: this.#host.filesDir,
        });
      } catch (e) {
        return { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
    };
    const period = kind.periodMs?.(config);
    const handPeriod = async (index: number, attempt: number): Promise<DeliveryOutcome> => {
      id = `period-${index}`;
      const from = new Date(index * period!).toISOString();
      const until = new Date((index + 1) * period!).toISOString();
      const signal = AbortSignal.any([
        this.#stop.signal,
        AbortSignal.timeout(this.#retry.timeoutMs),
      ]);
      try {
        return await kind.deliverPeriod!({
          tenant: row.tenant,
          name: row.name,
          id: row.id,
          config,
          secret,
          index,
          from,
          until,
          attempt,
          origin: ref.origin,
          report: () => this.#host.report(row.tenant, from, until),
          exportCar: (out, since) => this.#host.exportCar(row.tenant, out, since),
          clearPersonalData: (a, b) => this.#host.clearPersonalData(row.tenant, a, b),
          signal,
          network,
          filesDir: this.#host.filesDir,
        });
      } catch (e) {
        return { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
    };
    /** What is at `seq`, handed over: a record, or for a periodic kind a period. */
    const handAt = async (seq: number, attempt: number, stored?: boolean) =>
      period !== undefined
        ? handPeriod(seq, attempt)
        : hand(
            stored === true ? await store.getEntry(ref.logId, seq) : await entryAt(seq),
            attempt,
          );
    const stopped = (outcome: DeliveryOutcome | "skipped") =>
      this.#stop.signal.aborted && outcome !== "skipped" && !outcome.ok;

    // Dead letters that `followers retry` made due go first, once each.
    for (const letter of await store.listDeadLetters(row.tenant, row.name)) {
      if (!letter.due) continue;
      const outcome = await handAt(letter.seq, letter.attempts + 1, true);
      // Stopped in the middle: the letter stays due for the next run.
      if (stopped(outcome)) return;
      const delivered = outcome === "skipped" || outcome.ok;
      if (delivered) await kind.flush?.(row);
      await store.settleDeadLetter(
        row,
        letter.seq,
        delivered ? { delivered: true } : { delivered: false, error: outcome.error },
      );
      if (delivered) result.delivered++;
      else result.failed++;
    }

    if (row.nextAt > Date.now()) return;
    const size = followerEnd(kind, config, (await store.logState(ref.logId)).size);
    // `stored` is where the store has the cursor: every write moves it only from there.
    let stored = row.cursor;
    let storedAt = Date.now();
    let cursor = row.cursor;
    let attempts = row.attempts;
    const write = async (progress: FollowerProgress, letter?: DeadLetterRow) => {
      // What the cursor moves past must be durable first. When it cannot be made so, the
      // cursor stays, and what was handed over since is handed over again after a backoff.
      if (progress.cursor > stored) {
        try {
          await kind.flush?.(row);
        } catch (e) {
          result.failed++;
          const failures = attempts + 1;
          const wait = backoffMs(failures, this.#retry.baseDelayMs, this.#retry.maxDelayMs);
          const error = e instanceof Error ? e.message : String(e);
          await store.advanceFollower(row, stored, {
            cursor: stored,
            attempts: failures,
            nextAt: Date.now() + wait,
            lastError: error,
          });
          return false;
        }
      }
      // Another runner moved this follower meanwhile, or it was removed: it goes on from
      // there, not this one.
      const moved = await store.advanceFollower(row, stored, progress, letter);
      if (moved) {
        stored = progress.cursor;
        storedAt = Date.now();
        await kind.committed?.(row, stored).catch((e: unknown) =>
          this.#host.warn("genlog: a follower could not finish its output", {
            tenant: row.tenant,
            follower: row.name,
            err: e,
          }),
        );
      }
      return moved;
    };
    const caughtUp = { attempts: 0, nextAt: 0, lastError: null };
    const end = Math.min(size, row.cursor + this.#retry.budget);
    // One read per page of records, driven by the tree: a purged position still comes out.
    let scan: AsyncIterator<StoredEntry | PurgedEntry> | undefined;
    const entryAt = async (seq: number) => {
      scan ??= store.scanEntries(ref.logId, cursor)[Symbol.asyncIterator]();
      const next = await scan.next();
      if (next.done === true || next.value.seq !== seq) {
        // Below the checkpoint every position has its row: one missing is damage, not a gap
        // to step over. The follower stops here; `genlog verify` names what happened.
        throw new GenlogError(
          "GENLOG_E_CORRUPT",
          `entry ${seq} of ${ref.origin} is missing: follower ${row.name} stops there`,
          { details: { origin: ref.origin, seq } },
        );
      }
      return next.value;
    };
    let renewedAt = Date.now();
    try {
      while (cursor < end && !this.#stop.signal.aborted) {
        // A long turn renews its lease as it goes; one that lost it (this process stalled
        // past it) writes where it is and leaves the rest to the new holder.
        if (Date.now() - renewedAt > this.#retry.leaseMs / 3) {
          if (cursor !== stored && !(await write({ cursor, ...caughtUp }))) return;
          if (!(await this.#claim(store, row))) return;
          renewedAt = Date.now();
        }
        const outcome = await handAt(cursor, attempts + 1);
        // Stopped in the middle of a delivery: not the receiver's failure; what was handed over
        // before is written below.
        if (stopped(outcome)) break;
        if (outcome === "skipped" || outcome.ok) {
          if (outcome === "skipped") result.skipped++;
          else result.delivered++;
          cursor++;
          attempts = 0;
          // The cursor is written in runs, not a transaction each.
          if (cursor - stored >= CURSOR_RUN || Date.now() - storedAt >= CURSOR_MS) {
            if (!(await write({ cursor, ...caughtUp }))) return;
          }
          continue;
        }
        if (cursor !== stored && !(await write({ cursor, ...caughtUp }))) return;
        if (outcome.gone === true) {
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
        }
        if (outcome.unreachable !== true && attempts + 1 >= this.#retry.maxAttempts) {
          // The receiver answered, and refused this record every time: give it up, go on.
          result.deadLettered++;
          const letter: DeadLetterRow = {
            tenant: row.tenant,
            name: row.name,
            seq: cursor,
            eventId: id,
            attempts: attempts + 1,
            error: outcome.error,
            at: new Date().toISOString(),
            due: false,
          };
          const progress = { cursor: cursor + 1, attempts: 0, nextAt: 0, lastError: outcome.error };
          if (!(await write(progress, letter))) return;
          cursor = stored;
          attempts = 0;
          continue;
        }
        result.failed++;
        const wait = backoffMs(attempts + 1, this.#retry.baseDelayMs, this.#retry.maxDelayMs);
        await write({
          cursor,
          attempts: attempts + 1,
          nextAt: Date.now() + wait,
          lastError: outcome.error,
        });
        return;
      }
      if (cursor !== stored) await write({ cursor, ...caughtUp });
      if (cursor === end && end < size && !this.#stop.signal.aborted) result.more = true;
    } finally {
      await scan?.return?.();
    }
  }
}

function emptyResult(): PassResult {
  return { delivered: 0, skipped: 0, failed: 0, deadLettered: 0, more: false };
}

/** Records handed over (or passed over by filters) between two writes of a cursor, at most. */
const CURSOR_RUN = 1000;
/** The longest a cursor goes unwritten while its follower moves on, in ms. */
const CURSOR_MS = 1000;

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
