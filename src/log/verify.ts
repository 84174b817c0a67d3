/**
 * Full verification of one log from its stored bytes. Every leaf is recomputed from the
 * committed record, every root from those leaves, every checkpoint signature is checked and
 * every checkpoint must be the root of the same leaf sequence at its size (which is exactly
 * consistency between successive checkpoints). Beyond the tree, every stored byte a reader
 * relies on is held to the record it was derived from (the audit rules of `core/audit.ts`):
 * the leaf hashes and interior nodes that proofs are built from, the copies of record
 * members that queries and lookups use, the size each checkpoint is filed under; and the
 * store runs its own integrity check (damaged pages, a changed schema).
 * Optionally the log must also extend a checkpoint the caller trusts (one published
 * earlier), which catches a rollback of both records and checkpoints by someone who holds
 * the database.
 *
 * An intact log is checked in one streaming pass whose memory does not grow with the log;
 * anything unexpected sends it to the full analysis, which names every bad entry by index
 * and id and says what is wrong with it. Both apply the same rules (`core/audit.ts`). Ids
 * unique in a log: the streaming pass relies on the store for it (SQLite's unique index,
 * whose presence the store's integrity check confirms), the full analysis checks it.
 */
import { GenlogError, isGenlogError } from "../errors.js";
import { parseCheckpoint, type ParsedCheckpoint as Checkpoint } from "../core/checkpoint.js";
import { KeySchedule, type KeyEpoch } from "../core/key-schedule.js";
import { rotationsOf, type RecordedRotations } from "./key-rotation.js";
import { MerkleFrontier } from "../core/merkle.js";
import {
  auditCheckpoint,
  auditEntry,
  entryIsSound,
  nodesMatch,
  purgeCoverOf,
  PurgeCovers,
  PURGE_TYPE,
  type IndexMismatch,
} from "../core/audit.js";
import type {
  LogRef,
  LogStore,
  StoreDamage,
  PurgedEntry,
  StoredCheckpoint,
  StoredEntry,
} from "../store/log-store.js";

/** What can be wrong; the names are part of the `--json` report contract. */
export type ProblemKind =
  | "modified"
  | "missing"
  | "inserted"
  | "reordered"
  | "truncated"
  | "duplicate-id"
  | "index-mismatch"
  | "hash-mismatch"
  | "forged-checkpoint"
  | "misfiled-checkpoint"
  | "rolled-back-checkpoint"
  | "missing-checkpoint"
  | "inconsistent-checkpoint"
  | "store-damaged";

/** One finding of {@link verifyLog}. */
export interface VerifyProblem {
  kind: ProblemKind;
  /** Leaf index (seq) of the entry concerned, when there is one. */
  index?: number;
  /** Record id of the entry concerned, when it could be read. */
  id?: string;
  /** Tree size of the checkpoint concerned, for checkpoint problems. */
  size?: number;
  /** The stored copy concerned: a record member for `index-mismatch`, `leaf` or `node` for `hash-mismatch`. */
  field?: string;
  message: string;
}

/** The result of {@link verifyLog}. */
export interface VerifyReport {
  ok: boolean;
  origin: string;
  /** Entries read from the store. */
  entries: number;
  /** Checkpoints checked. */
  checkpoints: number;
  /** Size and root (base64) of the latest valid checkpoint. */
  verifiedSize: number;
  root: string | null;
  /** Size of the trusted checkpoint the log was checked against, if any. */
  trustedSize?: number;
  /**
   * Present once the log was purged: how many entries have no body because a committed purge
   * event deleted it (their leaves remain and were verified), and the purged ranges.
   */
  purged?: { entries: number; ranges: [number, number][] };
  /**
   * Present once the log's signing key was rotated: each key and the checkpoint sizes it
   * signs, oldest first, as the log's rotation records state them (followed from the key
   * the log was verified with).
   */
  keys?: KeyEpoch[];
  problems: VerifyProblem[];
}

/** Options of {@link verifyLog}. */
export interface VerifyOptions {
  /**
   * The verifier key line of the log's signer. After a rotation, any key of the chain: the
   * others are followed from the log's rotation records.
   */
  verifierKey: string;
  /** A signed checkpoint note the caller trusts (e.g. one published earlier). */
  trusted?: string;
  /** Called now and then with (entries done, entries in all). */
  onProgress?: (done: number, total: number) => void;
  /** List at most this many problems (default 1000); `ok` is false whenever there is one. */
  maxProblems?: number;
}

/** One stored row, as the full analysis holds it. */
interface Row {
  /** Position key in the store. */
  key: number;
  /** `seq` and `id` as claimed by the record, if it parsed. */
  seq: number | undefined;
  id: string | undefined;
  readable: boolean;
  leaf: Buffer;
  /** Whether the recomputed leaf equals the leaf hash stored beside the record. */
  leafOk: boolean;
  mismatches: readonly IndexMismatch[];
  nodes: Uint8Array;
}

/**
 * Verifies a log end to end.
 *
 * @throws {GenlogError} `GENLOG_E_KEY` for a malformed verifier key, `GENLOG_E_MALFORMED_NOTE`
 * or `GENLOG_E_BAD_SIGNATURE` for an unusable trusted checkpoint, `GENLOG_E_USAGE` for a
 * trusted checkpoint of another log; tampering and damage are reported, not thrown.
 */
export function verifyLog(
  store: LogStore,
  ref: LogRef,
  options: VerifyOptions,
): Promise<VerifyReport> {
  return verifyWith(store, ref, options, true);
}

/**
 * {@link verifyLog} without the streaming pass: always the full analysis, whose memory grows
 * with the log. The report is the same; tests use it to hold the two paths to that.
 */
export function verifyLogFully(
  store: LogStore,
  ref: LogRef,
  options: VerifyOptions,
): Promise<VerifyReport> {
  return verifyWith(store, ref, options, false);
}

async function verifyWith(
  store: LogStore,
  ref: LogRef,
  options: VerifyOptions,
  streaming: boolean,
): Promise<VerifyReport> {
  const report = await verifyOnce(store, ref, options, streaming, await rotationsOf(store, ref));
  if (!report.problems.some((p) => p.kind === "forged-checkpoint")) return report;
  // Another process may have rotated the key while this one read: checkpoints past the
  // rotation are then the new key's. Judged again with the rotations as they are now.
  const now = await rotationsOf(store, ref);
  if (now.vouched.length === (report.keys?.length ?? 1) - 1) return report;
  return verifyOnce(store, ref, options, streaming, now);
}

async function verifyOnce(
  store: LogStore,
  ref: LogRef,
  options: VerifyOptions,
  streaming: boolean,
  rotations: RecordedRotations,
): Promise<VerifyReport> {
  const verifier = KeySchedule.follow(options.verifierKey, rotations.vouched);
  let trusted: Checkpoint | undefined;
  if (options.trusted !== undefined) {
    trusted = parseCheckpoint(verifier.verify(options.trusted));
    if (trusted.origin !== ref.origin) {
      throw new GenlogError(
        "GENLOG_E_USAGE",
        `the trusted checkpoint is for ${trusted.origin}, not ${ref.origin}: pass a checkpoint of this log (or verify the tenant it belongs to)`,
        { details: { expected: ref.origin, actual: trusted.origin } },
      );
    }
  }
  // The store's own check reads the whole database; it runs beside the log's.
  const integrity = integrityOf(store);

  if (streaming) {
    let intact: VerifyReport | undefined;
    try {
      intact = await verifyIntact(store, ref, verifier, trusted, options);
    } catch (e) {
      // A damaged page met on the way: the full analysis says where.
      if (!isGenlogError(e, "GENLOG_E_CORRUPT")) throw e;
    }
    const damage = await integrity;
    if (intact !== undefined && damage.length === 0 && rotations.unvouched.length === 0) {
      return withKeys(intact, verifier);
    }
  }
  const report = await analyse(store, ref, verifier, trusted, options, integrity);
  for (const damage of await integrity) {
    report.problems.push({ kind: "store-damaged", message: damage.message });
  }
  for (const r of rotations.unvouched) {
    report.problems.push({
      kind: "missing-checkpoint",
      index: r.seq,
      size: r.seq + 1,
      message: `entry ${r.seq} records a key rotation that no checkpoint vouches for: the log holds no checkpoint of size ${r.seq + 1} signed by both the old and the new key, so it changes no key`,
    });
  }
  return finish(withKeys(report, verifier), options);
}

/** The report with the keys that signed the log, when there was more than one. */
function withKeys(report: VerifyReport, keys: KeySchedule): VerifyReport {
  const epochs = keys.epochs;
  if (epochs.length > 1) report.keys = epochs;
  return report;
}

/**
 * The report on a log whose store is too damaged to even find it: the failure itself and
 * whatever the store's integrity check says, so that a damaged file is a finding of
 * `verify`, never a crash of it.
 */
export async function verifyUnreadableLog(
  store: LogStore,
  origin: string,
  cause: Error,
): Promise<VerifyReport> {
  const damage = await integrityOf(store);
  return finish(
    {
      ok: false,
      origin,
      entries: 0,
      checkpoints: 0,
      verifiedSize: 0,
      root: null,
      problems: [
        { kind: "store-damaged", message: `the log could not be read: ${cause.message}` },
        ...damage.map((d) => ({ kind: "store-damaged" as const, message: d.message })),
      ],
    },
    {},
  );
}

/** The store's integrity check; a check that cannot run is itself a finding. */
function integrityOf(store: LogStore): Promise<StoreDamage[]> {
  return store
    .checkIntegrity()
    .catch((e: unknown): StoreDamage[] => [
      { message: `the integrity check failed: ${(e as Error).message}`, entriesAffected: true },
    ]);
}

/** Orders the problems, applies `maxProblems` and sets `ok`. */
function finish(report: VerifyReport, options: Pick<VerifyOptions, "maxProblems">): VerifyReport {
  const limit = options.maxProblems ?? 1000;
  report.problems.sort((a, b) => (a.index ?? a.size ?? 0) - (b.index ?? b.size ?? 0));
  // Decided before the list is cut: a limit of 0 lists nothing but must not say "intact".
  report.ok = report.problems.length === 0;
  report.problems = report.problems.slice(0, Math.max(0, limit));
  return report;
}

/** The log's latest checkpoint as stored now, verified; undefined when it does not verify. */
async function readLatest(
  store: LogStore,
  ref: LogRef,
  verifier: KeySchedule,
): Promise<Checkpoint | undefined> {
  const { latest } = await store.logState(ref.logId);
  if (latest === undefined) return undefined;
  const audit = auditCheckpoint(latest, verifier, ref.origin);
  return audit.kind === "valid" ? audit.checkpoint : undefined;
}

/**
 * The streaming check of a log expected to be intact: checkpoints, read in issue order,
 * pass the checkpoint rules and grow strictly; every row sits at the position its record
 * claims and passes the entry rules; its stored nodes are the ones the tree recomputes;
 * every signed root (and the trusted one) is reproduced when the tree reaches its size.
 * Returns the report of an intact log, or undefined at the first thing that is not so, for
 * the full analysis to explain.
 */
async function verifyIntact(
  store: LogStore,
  ref: LogRef,
  verifier: KeySchedule,
  trusted: Checkpoint | undefined,
  options: VerifyOptions,
): Promise<VerifyReport | undefined> {
  const total = (await store.logState(ref.logId)).latest?.size ?? 0; // for progress only
  const stored = store.scanCheckpoints(ref.logId)[Symbol.asyncIterator]();
  let read = 0;
  let lastSize = 0;
  // The log must still hold the checkpoint the caller trusts (it holds every one it issued).
  let trustedStored = trusted === undefined || trusted.size === 0;
  /** The next stored checkpoint, undefined after the last one, null if it is not valid. */
  const nextCheckpoint = async (): Promise<Checkpoint | undefined | null> => {
    const next = await stored.next();
    if (next.done === true) return undefined;
    read++;
    const audit = auditCheckpoint(next.value, verifier, ref.origin);
    if (audit.kind !== "valid" || audit.checkpoint.size <= lastSize) return null;
    lastSize = audit.checkpoint.size;
    if (trusted?.size === lastSize) {
      trustedStored = Buffer.from(audit.checkpoint.rootHash).equals(Buffer.from(trusted.rootHash));
    }
    return audit.checkpoint;
  };
  const sameRoot = (frontier: MerkleFrontier, cp: Checkpoint) =>
    Buffer.from(frontier.root()).equals(Buffer.from(cp.rootHash));

  const frontier = new MerkleFrontier();
  if (trusted?.size === 0 && !sameRoot(frontier, trusted)) return undefined;
  let pending = await nextCheckpoint();
  let verifiedSize = 0;
  let root: string | null = null;
  let beyond = 0; // rows past the last checkpoint: growth while we read, or insertions
  const covers = new PurgeCovers();
  for await (const e of store.scanEntries(ref.logId)) {
    if (pending === null || e.seq !== frontier.size) return undefined;
    let leaf: Buffer;
    if (e.canonical === null) {
      // No body: only a purge may explain it (judged at the end, once every purge event was
      // read); the stored leaf stands in for it, and the signed roots check it.
      covers.missing(e.seq);
      leaf = Buffer.from(e.leafHash);
    } else {
      const audit = auditEntry(e, ref.tenant);
      if (!entryIsSound(audit, e.seq)) return undefined;
      notePurge(covers, e);
      leaf = audit.leaf;
    }
    if (!nodesMatch(e.nodes, frontier.appendOwned(leaf))) return undefined;
    if (trusted?.size === frontier.size && !sameRoot(frontier, trusted)) return undefined;
    if (pending === undefined) {
      beyond++;
      continue;
    }
    if (pending.size === frontier.size) {
      if (!sameRoot(frontier, pending)) return undefined;
      verifiedSize = pending.size;
      root = Buffer.from(pending.rootHash).toString("base64");
      pending = await nextCheckpoint();
    }
    if (options.onProgress !== undefined && frontier.size % 4096 === 0) {
      options.onProgress(frontier.size, Math.max(total, frontier.size));
    }
  }
  // A checkpoint past the last row (truncated), one not valid, or a trusted checkpoint the
  // log does not reach (rolled back): all for the full analysis.
  if (pending !== undefined) return undefined;
  if (trusted !== undefined && (trusted.size > verifiedSize || !trustedStored)) return undefined;
  // Read after the rows: a writer may have appended meanwhile. Rows past the last
  // checkpoint read are fine only if one issued since covers them all.
  if (beyond > 0 && ((await readLatest(store, ref, verifier))?.size ?? 0) < frontier.size) {
    return undefined;
  }
  const { purged, unexplained } = covers.judge();
  if (unexplained.length > 0) return undefined;
  if ((await purgeTableProblem(store, ref, covers)) !== undefined) return undefined;
  // Any failure of the audit (a dropped index table, say) is for the full analysis to report.
  const faults = await store.auditQueryIndexes(ref.logId, 1).catch(() => undefined);
  if (faults === undefined || faults.length > 0) return undefined;
  options.onProgress?.(verifiedSize, Math.max(total, verifiedSize));
  return {
    ok: true,
    origin: ref.origin,
    entries: verifiedSize,
    checkpoints: read,
    verifiedSize,
    root,
    ...(trusted !== undefined ? { trustedSize: trusted.size } : {}),
    ...purgedOf(covers, purged),
    problems: [],
  };
}

/** The report's `purged` member: present once the log has a purge. */
function purgedOf(covers: PurgeCovers, entries: number): Pick<VerifyReport, "purged"> {
  return covers.size === 0 ? {} : { purged: { entries, ranges: covers.ranges() } };
}

/**
 * The store's `purges` table (which lets bodies be deleted, and tells a purge where it may
 * start) must hold exactly the ranges of the committed purge events; says how it differs.
 */
async function purgeTableProblem(
  store: LogStore,
  ref: LogRef,
  covers: PurgeCovers,
): Promise<string | undefined> {
  const rows = (await store.listPurges(ref.logId)).map((p) => `${p.fromSeq}..${p.toSeq}`);
  const events = covers.ranges().map(([a, b]) => `${a}..${b}`);
  if (rows.join(",") === events.join(",")) return undefined;
  return `it lists the ranges [${rows.join(", ")}] but the committed purge events state [${events.join(", ")}]: it was changed outside genlog`;
}

/** Notes the purge a committed entry states, if it is a purge event. */
function notePurge(covers: PurgeCovers, e: StoredEntry): void {
  if (e.type !== PURGE_TYPE) return;
  const cover = purgeCoverOf(e.canonical, e.seq);
  if (cover !== undefined) covers.add(cover);
}

/**
 * The full analysis: holds every row and checkpoint to say what happened to each. Reads
 * what it can of a damaged store and reports where reading stopped.
 */
async function analyse(
  store: LogStore,
  ref: LogRef,
  verifier: KeySchedule,
  trusted: Checkpoint | undefined,
  options: VerifyOptions,
  integrity: Promise<StoreDamage[]>,
): Promise<VerifyReport> {
  const problems: VerifyProblem[] = [];
  const add = (p: VerifyProblem) => problems.push(p);
  const damaged = (what: string, e: unknown, index?: number) => {
    if (!isGenlogError(e, "GENLOG_E_CORRUPT")) throw e;
    add({
      kind: "store-damaged",
      ...(index !== undefined ? { index } : {}),
      message: `${what} failed: ${e.message}`,
    });
  };

  // 1. Checkpoints: the checkpoint rules, in size order (the order they were issued in).
  const checkpoints: Checkpoint[] = [];
  let storedCheckpoints = 0;
  let maxSize = -1;
  // Entries that only a forged or misfiled checkpoint claims to cover are explained by it.
  let forgedCover = 0;
  try {
    for await (const c of store.scanCheckpoints(ref.logId)) {
      storedCheckpoints++;
      const audit = auditCheckpoint(c, verifier, ref.origin);
      if (audit.kind !== "valid") {
        add(checkpointProblem(c, audit));
        forgedCover = Math.max(forgedCover, c.size);
        continue;
      }
      maxSize = Math.max(maxSize, audit.checkpoint.size);
      checkpoints.push(audit.checkpoint);
    }
  } catch (e) {
    damaged(`reading the checkpoints after the first ${storedCheckpoints}`, e);
  }
  if (trusted !== undefined && trusted.size > maxSize) {
    add({
      kind: "rolled-back-checkpoint",
      size: trusted.size,
      message: `the trusted checkpoint covers ${trusted.size} entries but the log's latest checkpoint covers ${Math.max(maxSize, 0)}: history was rolled back`,
    });
  } else if (
    trusted !== undefined &&
    trusted.size > 0 &&
    !checkpoints.some((c) => c.size === trusted.size) &&
    !problems.some((p) => p.size === trusted.size)
  ) {
    add({
      kind: "missing-checkpoint",
      size: trusted.size,
      message: `the log no longer holds its checkpoint at size ${trusted.size}, which the trusted one is: checkpoints were deleted, and consistency proofs from that size cannot be served`,
    });
  }

  // 2. Rows: the entry rules on every stored row (every row that can be read).
  const rows: Row[] = [];
  const total = Math.max(maxSize, 0);
  const entriesDamaged = integrity.then((d) => d.some((x) => x.entriesAffected));
  const covers = new PurgeCovers();
  const unreadable = await readRows(store, ref, total, entriesDamaged, (e) => {
    if (e.canonical === null) {
      // The body is gone; the leaf stored in the tree stands in for it, and the roots check it.
      rows.push({
        key: e.seq,
        seq: e.seq,
        id: undefined,
        readable: true,
        leaf: Buffer.from(e.leafHash),
        leafOk: true,
        mismatches: [],
        nodes: e.nodes,
      });
      covers.missing(e.seq);
      return;
    }
    const a = auditEntry(e, ref.tenant);
    // Only a sound purge event explains missing bodies: a modified one hides nothing.
    if (entryIsSound(a, e.seq)) notePurge(covers, e);
    rows.push({
      key: e.seq,
      seq: a.claimedSeq,
      id: a.claimedId,
      readable: a.readable,
      leaf: a.leaf,
      leafOk: a.leafMatches,
      mismatches: a.mismatches,
      nodes: e.nodes,
    });
    if (options.onProgress !== undefined && rows.length % 4096 === 0) {
      options.onProgress(rows.length, Math.max(total, rows.length));
    }
  });
  // Where entries may be lost to damage (the store says so, or a read failed), a position no
  // row holds may be damage as much as deletion: it is reported as such, in runs.
  const lossy = unreadable > 0 || (await entriesDamaged);
  // A writer may have committed batches while we read. Each batch lands with its checkpoint
  // in one transaction, so entries that a valid checkpoint issued since then covers are
  // legitimate growth: they are left out, and this report speaks of the log as it was.
  const end = (await readLatest(store, ref, verifier))?.size ?? 0;
  if (end > total) {
    for (let i = rows.length - 1; i >= 0; i--) {
      const k = rows[i]!.key;
      if (k >= total && k < end) rows.splice(i, 1);
    }
  }

  // 3. Walk the positions in order, placing the record that claims each one and checking
  //    every signed root, and every stored node, on the way. Where several records claim
  //    one position, the one that yields the next signed root is the original; the others
  //    were inserted.
  const size = Math.max(total, trusted?.size ?? 0);
  const bySeq = new Map<number, Row[]>();
  const byKey = new Map<number, Row>();
  let maxClaimed = -1;
  for (const r of rows) {
    byKey.set(r.key, r);
    maxClaimed = Math.max(maxClaimed, r.seq ?? -1);
    if (r.seq === undefined) continue;
    const list = bySeq.get(r.seq);
    if (list === undefined) bySeq.set(r.seq, [r]);
    else list.push(r);
  }
  const flagged = new Set<number>();
  const flag = (p: VerifyProblem) => {
    add(p);
    if (p.index !== undefined) flagged.add(p.index);
  };
  for (const r of rows) {
    if (!r.readable || r.seq === undefined) {
      flag({ kind: "modified", index: r.key, message: `entry ${r.key} is not a readable record` });
    }
  }

  const signed = [...checkpoints];
  if (trusted !== undefined) signed.push(trusted);
  signed.sort((a, b) => a.size - b.size);
  const frontier = new MerkleFrontier();
  let next = 0; // index in `signed` of the next checkpoint to reach
  let verifiedSize = 0;
  let root: string | null = null;
  let lastGood = 0;
  let mismatch: { from: number; size: number } | undefined;
  let walking = true;
  /** Positions whose stored interior nodes differ from the recomputed ones. */
  const badNodes: number[] = [];
  const checkRoots = () => {
    while (walking && next < signed.length && signed[next]!.size === frontier.size) {
      const cp = signed[next++]!;
      if (Buffer.from(frontier.root()).equals(Buffer.from(cp.rootHash))) {
        verifiedSize = cp.size;
        root = Buffer.from(cp.rootHash).toString("base64");
        lastGood = cp.size;
      } else if (cp === trusted && lastGood === cp.size) {
        // The log agrees with its own checkpoint at this size but not with the published one:
        // someone holding the key rewrote history after it was published.
        add({
          kind: "inconsistent-checkpoint",
          size: cp.size,
          message: `the trusted checkpoint at size ${cp.size} has another root than this log: its history was rewritten after that checkpoint was published`,
        });
      } else {
        mismatch = { from: lastGood, size: cp.size };
        walking = false;
      }
    }
  };
  /** The candidate for position `s` that gives the next signed root, if one does. */
  const pickByRoot = (s: number, candidates: Row[]): Row | undefined => {
    const target = signed[next];
    if (!walking || target === undefined) return undefined;
    for (const c of candidates) {
      const f = frontier.clone();
      f.append(c.leaf);
      for (let t = s + 1; t < target.size; t++) {
        const later = bySeq.get(t);
        if (later === undefined) return undefined;
        f.append(later[0]!.leaf);
      }
      if (Buffer.from(f.root()).equals(Buffer.from(target.rootHash))) return c;
    }
    return undefined;
  };

  /** Positions no row holds, in a store whose entries may have been lost to damage. */
  const lost: number[] = [];
  checkRoots();
  // Only the signed positions are walked: a record may claim, and a row be stored at, any
  // number; rows past them are inserted ones (below), and nothing is sized by the data.
  const span = size;
  const chosen: (Row | undefined)[] = new Array<Row | undefined>(span);
  for (let s = 0; s < chosen.length; s++) {
    const candidates = bySeq.get(s);
    if (candidates === undefined) {
      walking = false;
      const at = byKey.get(s);
      if (at !== undefined && at.seq === undefined) continue; // reported as unreadable
      if (at !== undefined && at.seq! >= span) {
        flag({
          kind: "modified",
          index: s,
          ...(at.id !== undefined ? { id: at.id } : {}),
          message: `record ${s} claims position ${at.seq}, outside the log: its bytes were changed`,
        });
        continue;
      }
      if (s >= size) continue; // beyond anything signed: nothing is owed here
      if (lossy) {
        lost.push(s);
        continue;
      }
      flag({
        kind: s >= rows.length && s > maxClaimed ? "truncated" : "missing",
        index: s,
        message:
          s >= rows.length && s > maxClaimed
            ? `entry ${s} is gone: the log ends at ${rows.length} entries but was signed at size ${size}`
            : `no record holds position ${s}: it was deleted`,
      });
      continue;
    }
    let best = candidates[0]!;
    if (candidates.length > 1) {
      best =
        pickByRoot(s, candidates) ??
        candidates.find((c) => c.key === s && c.leafOk) ??
        candidates.find((c) => c.key === s) ??
        best;
      for (const c of candidates) {
        if (c === best) continue;
        flag({
          kind: "inserted",
          index: c.key,
          ...(c.id !== undefined ? { id: c.id } : {}),
          message: `entry at position ${c.key} claims position ${s}, which another record holds`,
        });
      }
    }
    chosen[s] = best;
    if (walking) {
      const nodes = frontier.appendOwned(best.leaf);
      if (best.key === s && !nodesMatch(best.nodes, nodes)) badNodes.push(s);
      checkRoots();
    }
  }
  for (const r of rows) {
    if (r.seq !== undefined && r.seq >= Math.max(size, forgedCover) && !flagged.has(r.key)) {
      flag({
        kind: "inserted",
        index: r.key,
        ...(r.id !== undefined ? { id: r.id } : {}),
        message: `entry ${r.key} is not covered by any signed checkpoint (the latest covers ${size})`,
      });
    }
  }
  markReordered(rows, flag, flagged);
  for (let s = 0; s < chosen.length; s++) {
    const r = chosen[s];
    if (r === undefined || flagged.has(r.key) || r.leafOk) continue;
    const id = r.id !== undefined ? { id: r.id } : {};
    // Leaves recomputed from the records reproduced the signed root over this position: the
    // record is intact and only its stored leaf hash (which proofs serve) was changed.
    if (s < verifiedSize) {
      flag({
        kind: "hash-mismatch",
        index: s,
        ...id,
        field: "leaf",
        message: `entry ${s}'s stored leaf hash is not the hash of its record (the record matches the signed checkpoints): inclusion proofs served for it would fail`,
      });
    } else {
      flag({
        kind: "modified",
        index: s,
        ...id,
        message: `record ${s} does not hash to its stored leaf: its bytes were changed`,
      });
    }
  }
  for (const s of badNodes) {
    if (flagged.has(s)) continue;
    const r = chosen[s]!;
    flag({
      kind: "hash-mismatch",
      index: s,
      ...(r.id !== undefined ? { id: r.id } : {}),
      field: "node",
      message: `the Merkle nodes stored with entry ${s} differ from those recomputed from the records: proofs built from them would fail`,
    });
  }
  // 4. A signed root that the leaves do not give, with no entry to blame yet: a record was
  //    changed together with its stored hashes. The checkpoints bound where.
  if (mismatch !== undefined) {
    const { from, size: at } = mismatch;
    let blamed = false;
    for (let s = from; s < at && !blamed; s++) {
      blamed = flagged.has(s) || (chosen[s] !== undefined && flagged.has(chosen[s]!.key));
    }
    if (!blamed) {
      const r = chosen[from];
      flag({
        kind: "modified",
        index: from,
        ...(r?.id !== undefined ? { id: r.id } : {}),
        message:
          at - from === 1
            ? `record ${from} does not match the signed checkpoint at size ${at}: it was changed together with its stored hashes`
            : `records ${from}..${at - 1} do not match the signed checkpoint at size ${at}: one of them was changed together with its stored hashes`,
      });
    }
  }
  for (const [from, to] of runs(lost)) {
    add({
      kind: "store-damaged",
      index: from,
      message: `${from === to ? `entry ${from} is` : `entries ${from}..${to} are`} not readable in the damaged store (lost to the damage, or deleted: the two cannot be told apart here)`,
    });
  }
  // 5. What queries and lookups read: copies of record members, the store's own query
  //    structures, and ids unique in the log.
  try {
    // At least one: the list's limit never decides the verdict.
    const limit = Math.max(1, options.maxProblems ?? 1000);
    for (const f of await store.auditQueryIndexes(ref.logId, limit)) {
      const r = chosen[f.seq];
      if (r !== undefined && flagged.has(r.key)) continue;
      add({
        kind: "index-mismatch",
        index: f.seq,
        ...(r?.id !== undefined ? { id: r.id } : {}),
        field: f.field,
        message: f.message,
      });
    }
  } catch (e) {
    if (!isGenlogError(e)) throw e;
    add({ kind: "store-damaged", message: `checking the query indexes failed: ${e.message}` });
  }
  const firstWithId = new Map<string, number>();
  for (let s = 0; s < chosen.length; s++) {
    const r = chosen[s];
    if (r === undefined || flagged.has(r.key)) continue;
    for (const m of r.mismatches) {
      add({
        kind: "index-mismatch",
        index: s,
        ...(r.id !== undefined ? { id: r.id } : {}),
        field: m.field,
        message: `entry ${s}'s stored ${m.field} is ${JSON.stringify(m.stored)} but its record says ${JSON.stringify(m.record)}: queries and lookups by ${m.field} would miss or misreport it`,
      });
    }
    if (r.id === undefined) continue;
    const first = firstWithId.get(r.id);
    if (first === undefined) firstWithId.set(r.id, s);
    else {
      add({
        kind: "duplicate-id",
        index: s,
        id: r.id,
        message: `record ${s} has the id of record ${first}: ids must be unique in a log`,
      });
    }
  }
  options.onProgress?.(rows.length, Math.max(total, rows.length));
  // Bodies missing where no committed purge event says they were purged: deleted.
  const { purged, unexplained } = covers.judge();
  const table = await purgeTableProblem(store, ref, covers).catch((e: unknown) => {
    if (!isGenlogError(e, "GENLOG_E_CORRUPT")) throw e;
    return `reading it failed: ${e.message}`;
  });
  if (table !== undefined) add({ kind: "store-damaged", message: `the purges table: ${table}` });
  for (const [from, to] of unexplained) {
    add({
      kind: "missing",
      index: from,
      message:
        to - from === 1
          ? `the record of entry ${from} was deleted (its leaf remains), and no committed purge event covers it`
          : `the records of entries ${from} to ${to - 1} were deleted (their leaves remain), and no committed purge event covers them`,
    });
  }

  return {
    ok: false,
    origin: ref.origin,
    entries: rows.length,
    checkpoints: storedCheckpoints,
    verifiedSize,
    root,
    ...(trusted !== undefined ? { trustedSize: trusted.size } : {}),
    ...purgedOf(covers, purged),
    problems,
  };
}

/**
 * Reads every row of the log it can, in order, handing each to `onRow`. A scan that fails on
 * a damaged page, or stops short of `expected` rows in a store known to have damaged
 * entries, goes on past the damage by point reads, one position at a time, until a row
 * reads again. Returns how many reads failed.
 */
async function readRows(
  store: LogStore,
  ref: LogRef,
  expected: number,
  entriesDamaged: Promise<boolean>,
  onRow: (e: StoredEntry | PurgedEntry) => void,
): Promise<number> {
  let failed = 0;
  let from = 0;
  for (;;) {
    let broken = false;
    try {
      for await (const e of store.scanEntries(ref.logId, from)) {
        onRow(e);
        from = e.seq + 1;
      }
    } catch (e) {
      if (!isGenlogError(e, "GENLOG_E_CORRUPT")) throw e;
      broken = true;
    }
    if (!broken && (from >= expected || !(await entriesDamaged))) return failed;
    let resumed = false;
    for (; from < expected && !resumed; from++) {
      try {
        const e = await store.getEntry(ref.logId, from);
        if (e !== undefined) {
          onRow(e);
          resumed = true;
        }
      } catch (e) {
        if (!isGenlogError(e, "GENLOG_E_CORRUPT")) throw e;
        failed++;
      }
    }
    if (!resumed) return failed;
  }
}

/** Runs of consecutive numbers in a sorted list, as [first, last] pairs. */
function runs(sorted: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const n of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last[1] === n - 1) last[1] = n;
    else out.push([n, n]);
  }
  return out;
}

/** The problem a checkpoint that failed the checkpoint rules is reported as. */
function checkpointProblem(
  c: StoredCheckpoint,
  audit: { kind: "forged"; reason: string } | { kind: "misfiled"; signedSize: number },
): VerifyProblem {
  if (audit.kind === "forged") {
    return {
      kind: "forged-checkpoint",
      size: c.size,
      message: `checkpoint at size ${c.size} does not verify: ${audit.reason}`,
    };
  }
  return {
    kind: "misfiled-checkpoint",
    size: c.size,
    message: `the checkpoint stored for size ${c.size} is the signed checkpoint of size ${audit.signedSize}: proofs served at size ${c.size} would use the wrong root`,
  };
}

/**
 * Rows read in store order whose claimed positions are out of order. The longest run of
 * positions that is in order is taken as the untouched log; every other row was moved.
 */
function markReordered(rows: Row[], flag: (p: VerifyProblem) => void, flagged: Set<number>): void {
  const seqs: number[] = [];
  const idx: number[] = [];
  rows.forEach((r, i) => {
    if (r.seq !== undefined && !flagged.has(r.key)) {
      seqs.push(r.seq);
      idx.push(i);
    }
  });
  if (seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)) return;
  // The fewest records whose moving explains the order are the ones out of its longest
  // increasing run; beside each, the position it was taken from is named when that holds
  // another moved record (both halves of a swap of neighbours).
  const keep = longestIncreasing(seqs);
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const moved = (r: Row) => {
    if (flagged.has(r.key) || r.seq === undefined || r.seq === r.key) return;
    flag({
      kind: "reordered",
      index: r.key,
      ...(r.id !== undefined ? { id: r.id } : {}),
      message: `entry at position ${r.key} holds record ${r.seq}: records were moved`,
    });
  };
  const out = idx.filter((_, j) => !keep.has(j)).map((i) => rows[i]!);
  for (const r of out) moved(r);
  for (const r of out) {
    const home = byKey.get(r.seq!);
    if (home !== undefined) moved(home);
  }
}

/** Indexes of one longest strictly increasing subsequence (patience sorting, O(n log n)). */
function longestIncreasing(a: number[]): Set<number> {
  const tails: number[] = [];
  const prev = new Array<number>(a.length).fill(-1);
  for (let i = 0; i < a.length; i++) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[tails[mid]!]! < a[i]!) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[i] = tails[lo - 1]!;
    tails[lo] = i;
  }
  const keep = new Set<number>();
  for (let k = tails[tails.length - 1] ?? -1; k >= 0; k = prev[k]!) keep.add(k);
  return keep;
}
