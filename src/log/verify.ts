/**
 * Full verification of one log from its stored bytes: every leaf is recomputed from the
 * committed record, every root from those leaves, every checkpoint signature is checked and
 * every checkpoint must be the root of the same leaf sequence at its size (which is exactly
 * consistency between successive checkpoints). Optionally the log must also extend a
 * checkpoint the caller trusts (one published earlier), which catches a rollback of both
 * records and checkpoints by someone who holds the database.
 *
 * The report names every bad entry by index and id and says what is wrong with it.
 */
import { GenlogError } from "../errors.js";
import { parseCheckpoint, type ParsedCheckpoint as Checkpoint } from "../core/checkpoint.js";
import { parseVerifierKey, verifyNote } from "../core/signed-note.js";
import { MerkleFrontier, hashLeaf } from "../core/merkle.js";
import type { LogRef, LogStore, StoredCheckpoint } from "../store/log-store.js";

/** What can be wrong; the names are part of the `--json` report contract. */
export type ProblemKind =
  | "modified"
  | "missing"
  | "inserted"
  | "reordered"
  | "truncated"
  | "forged-checkpoint"
  | "rolled-back-checkpoint"
  | "inconsistent-checkpoint";

/** One finding of {@link verifyLog}. */
export interface VerifyProblem {
  kind: ProblemKind;
  /** Leaf index (seq) of the entry concerned, when there is one. */
  index?: number;
  /** Record id of the entry concerned, when it could be read. */
  id?: string;
  /** Tree size of the checkpoint concerned, for checkpoint problems. */
  size?: number;
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
  problems: VerifyProblem[];
}

/** Options of {@link verifyLog}. */
export interface VerifyOptions {
  /** The verifier key line of the log's signer. */
  verifierKey: string;
  /** A signed checkpoint note the caller trusts (e.g. one published earlier). */
  trusted?: string;
  /** Called now and then with (entries done, entries in all). */
  onProgress?: (done: number, total: number) => void;
  /** Stop listing problems after this many (the report says how many more). */
  maxProblems?: number;
}

interface Row {
  /** Position key in the store. */
  key: number;
  /** `seq` and `id` as claimed by the record, if it parsed. */
  seq: number | undefined;
  id: string | undefined;
  leaf: Buffer;
  /** Whether the recomputed leaf equals the leaf hash stored beside the record. */
  leafOk: boolean;
}

/**
 * Verifies a log end to end.
 *
 * @throws {GenlogError} `GENLOG_E_KEY` for a malformed verifier key or `GENLOG_E_MALFORMED_NOTE`
 * for an unreadable trusted checkpoint; tampering is reported, not thrown.
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
  const verifier = parseVerifierKey(options.verifierKey);
  let trusted: Checkpoint | undefined;
  if (options.trusted !== undefined) {
    trusted = parseCheckpoint(verifyNote(options.trusted, verifier));
    if (trusted.origin !== ref.origin) {
      throw new GenlogError(
        "GENLOG_E_USAGE",
        `trusted checkpoint is for ${trusted.origin}, expected ${ref.origin}`,
      );
    }
  }

  // An intact log, the usual case, is checked in one streaming pass over checkpoints and
  // entries that keeps only the tree's frontier, so memory does not grow with the log.
  // Anything unexpected sends the check to the full analysis below, which holds every row
  // and every checkpoint to say what happened to each.
  if (streaming) {
    const intact = await verifyIntact(store, ref, verifier, trusted, options);
    if (intact !== undefined) return intact;
  }

  const problems: VerifyProblem[] = [];
  const add = (p: VerifyProblem) => problems.push(p);

  // 1. Checkpoints: signature, origin, and sizes that never go back.
  const stored = await store.listCheckpoints(ref.logId);
  const checkpoints: Checkpoint[] = [];
  let maxSize = -1;
  // Entries that only a forged checkpoint claims to cover are explained by that finding.
  let forgedCover = 0;
  for (const c of stored) {
    let cp: Checkpoint;
    try {
      cp = openCheckpoint(c, verifier, ref.origin);
    } catch (e) {
      add({
        kind: "forged-checkpoint",
        size: c.size,
        message: `checkpoint at size ${c.size} does not verify: ${(e as Error).message}`,
      });
      forgedCover = Math.max(forgedCover, c.size);
      continue;
    }
    if (cp.size < maxSize) {
      add({
        kind: "rolled-back-checkpoint",
        size: cp.size,
        message: `checkpoint at size ${cp.size} was issued after one at size ${maxSize}`,
      });
    }
    maxSize = Math.max(maxSize, cp.size);
    checkpoints.push(cp);
  }
  if (trusted !== undefined) {
    if (trusted.size > maxSize) {
      add({
        kind: "rolled-back-checkpoint",
        size: trusted.size,
        message: `the trusted checkpoint covers ${trusted.size} entries but the log's latest checkpoint covers ${Math.max(maxSize, 0)}: history was rolled back`,
      });
    }
  }

  // 2. Rows: recompute every leaf from the committed bytes.
  const rows: Row[] = [];
  const total = Math.max(maxSize, 0);
  for await (const e of store.scanEntries(ref.logId)) {
    const bytes = Buffer.from(e.canonical, "utf8");
    let seq: number | undefined;
    let id: string | undefined;
    try {
      const parsed = JSON.parse(e.canonical) as { seq?: unknown; id?: unknown };
      if (Number.isSafeInteger(parsed.seq)) seq = parsed.seq as number;
      if (typeof parsed.id === "string") id = parsed.id;
    } catch {
      // Unreadable bytes: reported below as a modified entry.
    }
    const leaf = hashLeaf(bytes);
    rows.push({ key: e.seq, seq, id, leaf, leafOk: leaf.equals(e.leafHash) });
    if (options.onProgress !== undefined && rows.length % 4096 === 0) {
      options.onProgress(rows.length, Math.max(total, rows.length));
    }
  }
  // A writer may have committed batches while we read. Each batch lands with its checkpoint
  // in one transaction, so entries that a valid checkpoint issued since then covers are
  // legitimate growth: they are left out, and this report speaks of the log as it was.
  const end = await latestSignedSize(store, ref, verifier);
  if (end > total) {
    for (let i = rows.length - 1; i >= 0; i--) {
      const k = rows[i]!.key;
      if (k >= total && k < end) rows.splice(i, 1);
    }
  }

  // 3. Walk the positions in order, placing the record that claims each one and checking
  //    every signed root on the way. Where several records claim one position, the one that
  //    yields the next signed root is the original; the others were inserted.
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
    if (r.seq === undefined) {
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

  checkRoots();
  const chosen: (Row | undefined)[] = new Array<Row | undefined>(Math.max(size, maxClaimed + 1));
  for (let s = 0; s < chosen.length; s++) {
    const candidates = bySeq.get(s);
    if (candidates === undefined) {
      walking = false;
      const at = byKey.get(s);
      if (at !== undefined && at.seq === undefined) continue; // reported as unreadable
      if (s >= size) continue; // beyond anything signed: nothing is owed here
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
      frontier.append(best.leaf);
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
    if (r === undefined || flagged.has(r.key)) continue;
    if (!r.leafOk) {
      flag({
        kind: "modified",
        index: s,
        ...(r.id !== undefined ? { id: r.id } : {}),
        message: `record ${s} does not hash to its stored leaf: its bytes were changed`,
      });
    }
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
  options.onProgress?.(rows.length, Math.max(total, rows.length));

  const limit = options.maxProblems ?? 1000;
  problems.sort((a, b) => (a.index ?? a.size ?? 0) - (b.index ?? b.size ?? 0));
  return {
    ok: problems.length === 0,
    origin: ref.origin,
    entries: rows.length,
    checkpoints: stored.length,
    verifiedSize,
    root,
    ...(trusted !== undefined ? { trustedSize: trusted.size } : {}),
    problems: problems.slice(0, limit),
  };
}

/**
 * A stored checkpoint, verified: signed by the log's key, for its origin, and stored under
 * the size it states. Throws an Error saying what is wrong otherwise.
 */
function openCheckpoint(
  c: StoredCheckpoint,
  verifier: ReturnType<typeof parseVerifierKey>,
  origin: string,
): Checkpoint {
  const cp = parseCheckpoint(verifyNote(c.note, verifier));
  if (cp.origin !== origin) throw new Error(`origin is ${cp.origin}`);
  if (cp.size !== c.size) throw new Error(`note says size ${cp.size}, row says ${c.size}`);
  return cp;
}

/**
 * The size of the log's latest checkpoint as stored now, or 0 if it does not verify. A
 * writer may commit while verify reads; each batch lands with its checkpoint, so entries it
 * covers are legitimate growth rather than insertions.
 */
async function latestSignedSize(
  store: LogStore,
  ref: LogRef,
  verifier: ReturnType<typeof parseVerifierKey>,
): Promise<number> {
  const { latest } = await store.logState(ref.logId);
  if (latest === undefined) return 0;
  try {
    return openCheckpoint(latest, verifier, ref.origin).size;
  } catch {
    return 0; // a forged newer checkpoint covers nothing
  }
}

/**
 * The streaming check of a log expected to be intact: checkpoints, read in issue order,
 * verify and grow strictly; every row sits at the position its record claims and hashes to
 * its stored leaf; every signed root (and the trusted one) is reproduced when the tree
 * reaches its size. Returns the report of an intact log, or undefined at the first thing
 * that is not so, for the full analysis to explain.
 */
async function verifyIntact(
  store: LogStore,
  ref: LogRef,
  verifier: ReturnType<typeof parseVerifierKey>,
  trusted: Checkpoint | undefined,
  options: VerifyOptions,
): Promise<VerifyReport | undefined> {
  const total = (await store.logState(ref.logId)).latest?.size ?? 0; // for progress only
  const stored = store.scanCheckpoints(ref.logId)[Symbol.asyncIterator]();
  let read = 0;
  let lastSize = 0;
  /** The next stored checkpoint, undefined after the last one, null if it is not valid. */
  const nextCheckpoint = async (): Promise<Checkpoint | undefined | null> => {
    const next = await stored.next();
    if (next.done === true) return undefined;
    read++;
    try {
      const cp = openCheckpoint(next.value, verifier, ref.origin);
      if (cp.size <= lastSize) return null;
      lastSize = cp.size;
      return cp;
    } catch {
      return null;
    }
  };
  const sameRoot = (frontier: MerkleFrontier, cp: Checkpoint) =>
    Buffer.from(frontier.root()).equals(Buffer.from(cp.rootHash));

  const frontier = new MerkleFrontier();
  if (trusted?.size === 0 && !sameRoot(frontier, trusted)) return undefined;
  let pending = await nextCheckpoint();
  let verifiedSize = 0;
  let root: string | null = null;
  let beyond = 0; // rows past the last checkpoint: growth while we read, or insertions
  for await (const e of store.scanEntries(ref.logId)) {
    if (pending === null || e.seq !== frontier.size) return undefined;
    let claimed: unknown;
    try {
      claimed = (JSON.parse(e.canonical) as { seq?: unknown }).seq;
    } catch {
      return undefined;
    }
    const leaf = hashLeaf(Buffer.from(e.canonical, "utf8"));
    if (claimed !== e.seq || !leaf.equals(e.leafHash)) return undefined;
    frontier.append(leaf);
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
  if (trusted !== undefined && trusted.size > verifiedSize) return undefined;
  // Rows past the last checkpoint are fine only if one issued since covers them all.
  if (beyond > 0 && (await latestSignedSize(store, ref, verifier)) < frontier.size) {
    return undefined;
  }
  options.onProgress?.(verifiedSize, Math.max(total, verifiedSize));
  return {
    ok: true,
    origin: ref.origin,
    entries: verifiedSize,
    checkpoints: read,
    verifiedSize,
    root,
    ...(trusted !== undefined ? { trustedSize: trusted.size } : {}),
    problems: [],
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
  const keep = longestIncreasing(seqs);
  seqs.forEach((s, j) => {
    if (keep.has(j)) return;
    const r = rows[idx[j]!]!;
    flag({
      kind: "reordered",
      index: r.key,
      ...(r.id !== undefined ? { id: r.id } : {}),
      message: `entry at position ${r.key} holds record ${s}: records were moved`,
    });
  });
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
