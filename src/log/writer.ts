/**
 * The writer of one log: seals prepared records into the Merkle tree, proves the new
 * checkpoint consistent with the previous one, and commits records and checkpoint in one
 * durable transaction before it acknowledges anything. Concurrent appends share that
 * transaction (group commit): while one batch is being committed, the next one fills.
 */
import { GenlogError, isGenlogError } from "../errors.js";
import { formatCheckpoint, parseCheckpoint } from "../core/checkpoint.js";
import {
  formatSignedNote,
  parseSignedNote,
  parseVerifierKey,
  verifyNote,
  type NoteVerifier,
} from "../core/signed-note.js";
import { KEY_ROTATION_TYPE } from "../core/key-schedule.js";
import {
  MerkleFrontier,
  assembleProof,
  hashLeafText,
  planConsistencyProof,
  planInclusionProof,
  rootPlan,
  verifyConsistency,
  verifyInclusion,
} from "../core/merkle.js";
import {
  canonicalText,
  formatTimestamp,
  parseStoredRecord,
  sealRecord,
  type GenerationRecord,
  type PreparedRecord,
} from "../core/record.js";
import {
  completingSeq,
  type LogRef,
  type LogStore,
  type NodeId,
  type StoredCheckpoint,
  type StoreEffect,
  type StoredEntry,
  type SubjectRow,
} from "../store/log-store.js";
import type { Signer } from "../keys/signer.js";

/** The outcome of one append: the committed record and whether it was already there. */
export interface AppendResult {
  record: GenerationRecord;
  canonical: string;
  /** True when the idempotency key matched an earlier record, which is returned instead. */
  duplicate: boolean;
}

/** Facts about a committed batch, handed to the `checkpoint` hook. */
export interface CommittedBatch {
  origin: string;
  size: number;
  checkpoint: string;
  results: AppendResult[];
}

interface Pending {
  prepared: PreparedRecord;
  /** True when the id came from the caller and so may repeat. */
  clientId: boolean;
  /** A system event's changes beside the log: it is then sealed in a batch of its own. */
  effects?: StoreEffect[];
  /** True when the caller wants the record alone (`append`): no second promise to unwrap it. */
  recordOnly: boolean;
  /** A key rotation's new signer: it co-signs this record's checkpoint and signs after it. */
  rotateTo?: Signer;
  resolve: (r: AppendResult | GenerationRecord) => void;
  reject: (e: unknown) => void;
}

/** Options of {@link LogWriter.open}. */
export interface LogWriterOptions {
  store: LogStore;
  ref: LogRef;
  signer: Signer;
  /** Most records in one transaction. */
  maxBatch?: number;
  /** Called after each committed batch, once every append of it has been resolved. */
  onCommit?: (batch: CommittedBatch) => void;
  /**
   * Called when the log turns out to be signed by another key than this writer's (another
   * process rotated it): the appends waiting fail, and the owner should load the key again.
   */
  onKeyChanged?: () => void;
}

const DEFAULT_MAX_BATCH = 4096;

/** The shortest queue that the writer splits into two batches when nothing is committing. */
const MIN_SPLIT = 16;

/** How often a batch is re-sealed after another process appended first. */
const MAX_CONFLICT_RETRIES = 100;

/** A sealed batch waiting for (or in) its commit. */
interface SealedBatch {
  batch: Pending[];
  /** One per pending append, in order. */
  results: AppendResult[];
  /** New entries only (repeats of an idempotency key add none). */
  entries: StoredEntry[];
  /** Results of appends with a client id, by id. */
  byClientId: Map<string, AppendResult>;
  /** Tree size once committed. */
  size: number;
  /** The signed checkpoint at `size`, when the batch adds entries. */
  note: string | undefined;
  /** The checkpoint this batch extends (undefined for the first batch of a log). */
  previous: StoredCheckpoint | undefined;
  /** Subjects of its new records not known to be stored yet; committed with them. */
  subjects: SubjectRow[];
  /** The changes of its system event beside the log. */
  effects: StoreEffect[];
  /** The signer that takes over once this batch (a key rotation, alone) is committed. */
  rotateTo?: Signer;
}

/** A batch handed to the store, with its commit's outcome: the failure, or undefined. */
interface Inflight {
  sealed: SealedBatch;
  done: Promise<unknown>;
}

/**
 * What a writer knows of its log: the right edge of the tree, its root, the last time and
 * the latest checkpoint.
 */
interface WriterState {
  frontier: MerkleFrontier;
  root: Uint8Array;
  lastTs: number;
  latest: StoredCheckpoint | undefined;
}

/**
 * Checks `maxBatch` at the edge: 0, a negative number or NaN would make the writer take
 * nothing from its queue and spin.
 *
 * @throws {GenlogError} `GENLOG_E_USAGE`.
 */
export function checkMaxBatch(maxBatch: unknown): number {
  if (maxBatch === undefined) return DEFAULT_MAX_BATCH;
  if (typeof maxBatch !== "number" || !Number.isSafeInteger(maxBatch) || maxBatch < 1) {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      `maxBatch: expected a whole number of at least 1, got ${String(maxBatch)}`,
      { details: { pointer: "/maxBatch", rule: "minimum" } },
    );
  }
  return maxBatch;
}

/**
 * Appends to one log. Several writers (in this or other processes) may share a log: the
 * store refuses a batch that does not start at the log's current size, and the writer then
 * reloads the state from the store and seals the batch again.
 */
export class LogWriter {
  readonly ref: LogRef;
  readonly #store: LogStore;
  /** Changed only by a committed key rotation. */
  #signer: Signer;
  /** The signer's verifier key, parsed once: a reload checks the latest checkpoint with it. */
  #verifier: NoteVerifier;
  readonly #maxBatch: number;
  readonly #onCommit: ((batch: CommittedBatch) => void) | undefined;
  readonly #onKeyChanged: (() => void) | undefined;
  #frontier: MerkleFrontier;
  #root: Uint8Array;
  #lastTs = 0;
  /** The checkpoint of the last sealed batch: the one the next batch extends. */
  #tip: StoredCheckpoint | undefined;
  #queue: Pending[] = [];
  #scheduled = false;
  #flushing: Promise<void> | undefined;
  /** Conflicts in a row; reset by every successful commit. */
  #conflicts = 0;
  /**
   * Set while the tree above is a sealed batch's that failed and the store could not be read
   * back (a connection cut): it is not the store's, and nothing is sealed on it until a
   * reload succeeds.
   */
  #stale = false;
  /** After a committed key rotation: nothing more commits until {@link release}. */
  #hold: { promise: Promise<unknown>; resolve: (failure: unknown) => void } | undefined;
  /** Set when a key rotation did not finish: every append fails with it. */
  #broken: unknown;

  private constructor(options: LogWriterOptions, verifier: NoteVerifier, state: WriterState) {
    this.ref = options.ref;
    this.#store = options.store;
    this.#signer = options.signer;
    this.#verifier = verifier;
    this.#maxBatch = checkMaxBatch(options.maxBatch);
    this.#onCommit = options.onCommit;
    this.#onKeyChanged = options.onKeyChanged;
    this.#frontier = state.frontier;
    this.#root = state.root;
    this.#lastTs = state.lastTs;
    this.#tip = state.latest;
  }

  /**
   * Loads the log's state and checks it, so that a writer never extends a log that was
   * tampered with.
   *
   * @throws {GenlogError} `GENLOG_E_INCONSISTENT` when stored entries and checkpoint
   * disagree or an entry is missing; `GENLOG_E_USAGE` for a bad `maxBatch`.
   */
  static async open(options: LogWriterOptions): Promise<LogWriter> {
    checkMaxBatch(options.maxBatch);
    const { store, ref, signer } = options;
    const verifier = parseVerifierKey(signer.verifierKey);
    const state = await loadState(store, ref, signer.verifierKey, verifier, true);
    return new LogWriter(options, verifier, state);
  }

  /** Number of committed records. */
  get size(): number {
    return this.#frontier.size;
  }

  /**
   * Queues a prepared record; resolves once it is durable and covered by a checkpoint. A
   * system event passes the `effects` it makes beside the log: they commit with its record
   * or not at all, in a batch that holds it alone (a refused effect fails no other append).
   */
  append(
    prepared: PreparedRecord,
    clientId: boolean,
    effects?: StoreEffect[],
  ): Promise<AppendResult> {
    return this.#enqueue(prepared, clientId, false, effects) as Promise<AppendResult>;
  }

  /**
   * Appends a key rotation's record (prepared by the caller) alone in a batch whose checkpoint
   * the current signer and `next` both sign; once it is committed, `next` signs every later
   * checkpoint. No batch is sealed on top of it before then, so none can be signed by the
   * wrong key whichever way its commit goes. After it, the writer holds every later batch
   * until {@link release}: until the new key file is in place, no checkpoint may exist that
   * only the new key signs (a crash would leave a log whose key file cannot sign it).
   */
  rotate(prepared: PreparedRecord, next: Signer, effects: StoreEffect[]): Promise<AppendResult> {
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      this.#queue.push({
        prepared,
        clientId: false,
        recordOnly: false,
        effects,
        rotateTo: next,
        resolve: resolve as (r: AppendResult | GenerationRecord) => void,
        reject,
      });
      this.#schedule();
    });
  }

  /**
   * Ends the hold of a committed rotation. With a failure (the rotation did not finish), the
   * appends waiting and every later one fail with it; the log must be opened again.
   */
  release(failure?: unknown): void {
    if (failure !== undefined) this.#broken = failure;
    this.#hold?.resolve(failure);
    this.#hold = undefined;
  }

  /** The verifier key line of the key that signs this log's next checkpoint. */
  get verifierKey(): string {
    return this.#signer.verifierKey;
  }

  /** {@link append} that resolves with the record alone. */
  appendRecord(prepared: PreparedRecord, clientId: boolean): Promise<GenerationRecord> {
    return this.#enqueue(prepared, clientId, true) as Promise<GenerationRecord>;
  }

  #enqueue(
    prepared: PreparedRecord,
    clientId: boolean,
    recordOnly: boolean,
    effects?: StoreEffect[],
  ): Promise<AppendResult | GenerationRecord> {
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      const p: Pending = { prepared, clientId, recordOnly, resolve, reject };
      if (effects !== undefined) p.effects = effects;
      this.#queue.push(p);
      this.#schedule();
    });
  }

  /**
   * Takes the next batch off the queue: up to `n` appends; a system event with effects, or a
   * key rotation, alone.
   */
  #take(n: number): Pending[] {
    const end = Math.min(n, this.#queue.length);
    for (let i = 0; i < end; i++) {
      const p = this.#queue[i]!;
      if (p.effects !== undefined || p.rotateTo !== undefined) {
        return this.#queue.splice(0, i === 0 ? 1 : i);
      }
    }
    return this.#queue.splice(0, end);
  }

  #schedule(): void {
    if (this.#scheduled || this.#flushing !== undefined) return;
    this.#scheduled = true;
    // Yield one macrotask so that appends issued in the same turn join this batch.
    setImmediate(() => {
      this.#scheduled = false;
      this.#flushing = this.#drain().finally(() => {
        this.#flushing = undefined;
        // An append queued after the drain loop saw an empty queue must not be stranded.
        if (this.#queue.length > 0) this.#schedule();
      });
    });
  }

  /** Resolves when every queued append has been committed or rejected. */
  async idle(): Promise<void> {
    while (this.#flushing !== undefined || this.#scheduled || this.#queue.length > 0) {
      await (this.#flushing ?? new Promise((r) => setImmediate(r)));
    }
  }

  /**
   * Seals and commits the queue, two batches deep: while one batch is being committed (on
   * the store's side, e.g. SQLite's worker thread), the next one is sealed against the tree
   * that batch will leave and handed over at once, so that the store can start it the moment
   * the first is done. If a commit fails, the batch sealed on top of it cannot land (the
   * store checks the checkpoint each batch extends): its appends go back to the head of the
   * queue unharmed, and the state is reloaded from the store.
   */
  async #drain(): Promise<void> {
    /** Batches handed to the store, oldest first; each sealed on top of the one before. */
    const flights: Inflight[] = [];
    while (this.#queue.length > 0 || flights.length > 0) {
      if (this.#hold !== undefined && flights.length === 0) {
        const failure = await this.#hold.promise;
        if (failure !== undefined) {
          for (const p of this.#queue.splice(0)) p.reject(failure);
          continue;
        }
      }
      // Nothing is sealed on top of a key rotation: the key of the next batch depends on it.
      const rotating = flights.some((f) => f.sealed.rotateTo !== undefined);
      if (this.#stale && flights.length === 0) {
        await this.#reload(true); // fails what waits if the store still cannot be read
        continue;
      }
      if (this.#queue.length > 0 && flights.length < 2 && !rotating) {
        // With nothing committing, half the queue goes first: the other half is sealed while
        // it commits, and then the callers it releases fill the next batch while that one
        // commits. Two batches then alternate, so sealing and committing overlap even when
        // few callers wait; taking all of them at once would make every batch wait for the
        // one before it. A short queue is not split: a second checkpoint would cost more
        // than the overlap gains (as for the few appends of each of many tenants).
        const n = this.#queue.length;
        const take = flights.length === 0 && n >= MIN_SPLIT ? Math.ceil(n / 2) : this.#maxBatch;
        const batch = this.#take(Math.min(take, this.#maxBatch));
        try {
          flights.push(this.#commit(await this.#seal(batch, flights.at(-1)?.sealed)));
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
        continue;
      }
      const { sealed, done } = flights.shift()!;
      let failure = await done;
      // Unknown outcome: the store is asked which it was before anything else happens.
      if (isGenlogError(failure, "GENLOG_E_COMMIT_UNKNOWN")) {
        failure = await this.#resolveUnknown(sealed, failure);
      }
      if (failure === undefined) {
        this.#conflicts = 0;
        this.#finish(sealed);
        // Let the appends released by this commit reach the queue, so that the next batch
        // is sealed while the one handed over after this one commits.
        if (flights.length > 0) await new Promise((r) => setImmediate(r));
        continue;
      }
      // What was sealed on top of the failed batch is refused too: wait for that, then seal
      // it again on the state the store holds. Lost a race: retry; anything else fails.
      // (When the outcome is still unknown, nothing is known of the later batches either:
      // they share it rather than be sealed again under ids that may have landed.)
      const unknown = isGenlogError(failure, "GENLOG_E_COMMIT_UNKNOWN");
      const later = flights.splice(0);
      for (const f of later) {
        await f.done;
        if (unknown) for (const p of f.sealed.batch) p.reject(failure);
      }
      const conflict = isGenlogError(failure, "GENLOG_E_CONFLICT");
      const retry = conflict && ++this.#conflicts <= MAX_CONFLICT_RETRIES;
      this.#queue.unshift(
        ...(retry ? sealed.batch : []),
        ...(unknown ? [] : later.flatMap((f) => f.sealed.batch)),
      );
      if (!retry) for (const p of sealed.batch) p.reject(failure);
      await this.#reload(!conflict);
    }
  }

  /** Hands a sealed batch to the store; the returned `done` settles to the failure or undefined. */
  #commit(sealed: SealedBatch): Inflight {
    const done =
      sealed.entries.length === 0
        ? Promise.resolve()
        : this.#store.appendBatch(this.ref.logId, {
            entries: sealed.entries,
            checkpoint: { size: sealed.size, note: sealed.note! },
            previous: sealed.previous,
            ...(sealed.subjects.length > 0 ? { subjects: sealed.subjects } : {}),
            ...(sealed.effects.length > 0 ? { effects: sealed.effects } : {}),
            // Callers that wait together come back together: while this commits, their next
            // appends (or the rest of the queue) can be sealed. A lone append commits
            // quickest where it is.
            overlap: this.#queue.length > 0 || sealed.batch.length > 1,
          });
    // Handled at once (no unhandled rejection), awaited later.
    return {
      sealed,
      done: done.then(
        () => undefined,
        (e: unknown) => e ?? new Error("commit failed"),
      ),
    };
  }

  /**
   * Settles a commit whose outcome is unknown (the committing thread or connection died
   * after it may have sent COMMIT). Once the committer is gone, reading back is definitive:
   * the batch landed if the log holds this very checkpoint, whose note is signed over this
   * batch's root; otherwise nothing of it was written. Returns undefined when it landed, a
   * STORE error when it did not, and `unknown` itself when the store cannot be read.
   */
  async #resolveUnknown(sealed: SealedBatch, unknown: GenlogError): Promise<unknown> {
    let cp: StoredCheckpoint | undefined;
    try {
      cp = await this.#store.checkpointAt(this.ref.logId, sealed.size);
    } catch {
      return unknown;
    }
    if (cp?.note === sealed.note) return undefined;
    return new GenlogError(
      "GENLOG_E_STORE",
      `${unknown.message}; read back: it did not land, nothing of the batch was written, the append can be retried`,
      { cause: unknown, details: { ...unknown.details, landed: false } },
    );
  }

  /** Drops sealed-but-uncommitted state: the store is the truth after a failed commit. */
  async #reload(countEntries: boolean): Promise<void> {
    try {
      const state = await loadState(
        this.#store,
        this.ref,
        this.#signer.verifierKey,
        this.#verifier,
        countEntries,
      );
      this.#frontier = state.frontier;
      this.#root = state.root;
      this.#lastTs = Math.max(this.#lastTs, state.lastTs);
      this.#tip = state.latest;
      this.#stale = false;
    } catch (e) {
      // The tree held is not known to be the store's: fail what waits rather than guess, and
      // read the store again before the next batch.
      this.#stale = true;
      for (const p of this.#queue.splice(0)) p.reject(e);
      if (isKeyChanged(e)) this.#onKeyChanged?.();
    }
  }

  /** Resolves the appends of a committed batch, then hands it to the hooks. */
  #finish(sealed: SealedBatch): void {
    if (sealed.rotateTo !== undefined) {
      this.#signer = sealed.rotateTo;
      this.#verifier = parseVerifierKey(sealed.rotateTo.verifierKey);
      let resolve!: (failure: unknown) => void;
      const promise = new Promise<unknown>((r) => (resolve = r));
      this.#hold = { promise, resolve };
    }
    for (let i = 0; i < sealed.batch.length; i++) {
      const p = sealed.batch[i]!;
      const r = sealed.results[i]!;
      p.resolve(p.recordOnly ? r.record : r);
    }
    if (sealed.note !== undefined && this.#onCommit !== undefined) {
      this.#onCommit({
        origin: this.ref.origin,
        size: sealed.size,
        checkpoint: sealed.note,
        results: sealed.results,
      });
    }
  }

  /**
   * Seals a batch on top of the current (possibly not yet committed) tree: positions, time,
   * canonical bytes, leaves, nodes, a consistency proof from the previous checkpoint, and
   * the signed checkpoint. Advances the writer's tree only if all of it succeeds.
   */
  async #seal(taken: Pending[], previous: SealedBatch | undefined): Promise<SealedBatch> {
    const oldSize = this.#frontier.size;
    const found = await this.#findDuplicates(taken, previous);
    // An id reused for another payload fails its own append; the rest of the batch goes on.
    const batch: Pending[] = [];
    const results: (AppendResult | undefined)[] = [];
    taken.forEach((p, i) => {
      const f = found[i];
      if (f instanceof GenlogError) return p.reject(f);
      batch.push(p);
      results.push(f);
    });

    const frontier = this.#frontier.clone();
    const ts = Math.max(Date.now(), this.#lastTs);
    const tsText = formatTimestamp(ts);
    const entries: StoredEntry[] = [];
    const subjects: SubjectRow[] = [];
    const effects: StoreEffect[] = [];
    const byClientId = new Map<string, AppendResult>();
    const rejected = new Set<number>();
    for (let i = 0; i < batch.length; i++) {
      if (results[i] !== undefined) continue;
      const { prepared, clientId } = batch[i]!;
      const repeat = clientId ? byClientId.get(prepared.template.id) : undefined;
      if (repeat !== undefined) {
        const reused = checkSamePayload(prepared, repeat.record, repeat.canonical);
        if (reused !== undefined) {
          // Nothing of the batch is resolved before its commit: reject this one alone.
          batch[i]!.reject(reused);
          rejected.add(i);
        } else results[i] = { ...repeat, duplicate: true };
        continue;
      }
      const s = sealRecord(prepared, frontier.size, tsText);
      if (prepared.newSubject !== undefined) subjects.push(prepared.newSubject);
      if (batch[i]!.effects !== undefined) effects.push(...batch[i]!.effects!);
      const nodes = frontier.appendOwned(s.leafHash);
      const r = s.record;
      entries.push({
        seq: r.seq,
        id: r.id,
        ts: r.ts,
        type: r.type,
        actor: r.actor,
        sector: r.sector,
        status: r.status,
        canonical: s.canonical,
        leafHash: s.leafHash,
        nodes,
      });
      const result: AppendResult = { record: r, canonical: s.canonical, duplicate: false };
      results[i] = result;
      if (clientId) byClientId.set(prepared.template.id, result);
    }
    const kept = rejected.size === 0 ? batch : batch.filter((_, i) => !rejected.has(i));
    const sealed: SealedBatch = {
      batch: kept,
      results: (rejected.size === 0
        ? results
        : results.filter((_, i) => !rejected.has(i))) as AppendResult[],
      entries,
      byClientId,
      size: frontier.size,
      note: undefined,
      previous: this.#tip,
      subjects,
      effects,
    };
    if (entries.length === 0) return sealed;
    const newRoot = frontier.root();
    await this.#proveConsistent(oldSize, newRoot, entries, previous);
    const body = formatCheckpoint({
      origin: this.ref.origin,
      size: frontier.size,
      rootHash: newRoot,
    });
    sealed.note = await signChecked(this.#signer, body);
    const rotateTo = kept.find((p) => p.rotateTo !== undefined)?.rotateTo;
    if (rotateTo !== undefined) {
      // #take makes a rotation a batch of its own: anything else beside it is a bug.
      if (kept.length !== 1) throw new Error("a key rotation must be alone in its batch");
      // The old key vouches for the new one, and the new one proves it is held.
      const signatures = [sealed.note, await signChecked(rotateTo, body)].flatMap(
        (n) => parseSignedNote(n).signatures,
      );
      sealed.note = formatSignedNote(body, signatures);
      sealed.rotateTo = rotateTo;
    }
    this.#frontier = frontier;
    this.#root = newRoot;
    this.#lastTs = ts;
    this.#tip = { size: sealed.size, note: sealed.note };
    return sealed;
  }

  /**
   * For each append with a client id already committed (or in the batch being committed):
   * the earlier record, or an ID_REUSED error when this append's payload differs from it.
   */
  async #findDuplicates(
    batch: Pending[],
    previous: SealedBatch | undefined,
  ): Promise<(AppendResult | GenlogError | undefined)[]> {
    const out = new Array<AppendResult | GenlogError | undefined>(batch.length);
    const ids: string[] = [];
    for (const p of batch) if (p.clientId) ids.push(p.prepared.template.id);
    if (ids.length === 0) return out;
    const found = await this.#store.findByIds(this.ref.logId, ids);
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      if (!p.clientId) continue;
      // Sealed in the batch still being committed: if that commit fails, this batch is
      // sealed again from scratch, so the answer cannot outlive its premise.
      const pending = previous?.byClientId.get(p.prepared.template.id);
      const stored = found.get(p.prepared.template.id);
      const first =
        pending ??
        (stored === undefined
          ? undefined
          : {
              record: parseStoredRecord(stored.canonical, this.ref.origin, stored.seq),
              canonical: stored.canonical,
            });
      if (first === undefined) continue;
      out[i] = checkSamePayload(p.prepared, first.record, first.canonical) ?? {
        record: first.record,
        canonical: first.canonical,
        duplicate: true,
      };
    }
    return out;
  }

  /**
   * Validation after each batch: a consistency proof from the previous signed root to the
   * new root, built from the nodes on disk plus this batch's, must verify before the batch
   * is committed. It fails when stored nodes were altered under the writer.
   */
  async #proveConsistent(
    oldSize: number,
    newRoot: Uint8Array,
    entries: StoredEntry[],
    previous: SealedBatch | undefined,
  ): Promise<void> {
    if (oldSize === 0) return;
    const newSize = oldSize + entries.length;
    const plan = planConsistencyProof(oldSize, newSize);
    // A node lives in the entry that completes it: it comes from this batch, from the batch
    // still being committed, or from disk.
    const held = [...(previous?.entries ?? []), ...entries];
    const heldFrom = held[0]?.seq ?? oldSize;
    const stored = plan.nodes.filter((n) => completingSeq(n) < heldFrom);
    const hashes = await readStoredNodes(this.#store, this.ref, stored);
    const fromDisk = new Map(stored.map((n, i) => [nodeKey(n), hashes[i]!]));
    const lookup = (level: number, index: number): Uint8Array => {
      const seq = completingSeq({ level, index });
      if (seq < heldFrom) return fromDisk.get(nodeKey({ level, index }))!;
      const e = held[seq - heldFrom]!;
      return level === 0 ? e.leafHash : e.nodes.subarray((level - 1) * 32, level * 32);
    };
    try {
      const proof = assembleProof(plan, lookup);
      verifyConsistency(oldSize, newSize, proof, this.#root, newRoot);
    } catch (cause) {
      throw new GenlogError(
        "GENLOG_E_INCONSISTENT",
        `new checkpoint of ${this.ref.origin} at size ${newSize} is not consistent with size ${oldSize}; nothing was appended, run \`genlog verify\``,
        { cause, details: { origin: this.ref.origin, from: oldSize, to: newSize } },
      );
    }
  }
}

/** How long a signer (a KMS over the network) may take to sign one checkpoint. */
const SIGN_TIMEOUT_MS = 30_000;

/**
 * Asks `signer` to sign a checkpoint body, and checks what it returns before anything is
 * committed: a checkpoint is kept for ever, and one that does not verify with the signer's
 * own key (a KMS key version changed behind genlog, a wrong body) would stand in the log as
 * forged. A signer that does not answer in time fails the batch, which is retried.
 *
 * @throws {GenlogError} `GENLOG_E_KEY`.
 */
async function signChecked(signer: Signer, body: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new GenlogError(
            "GENLOG_E_KEY",
            `the signer of ${signer.name} did not answer within ${SIGN_TIMEOUT_MS / 1000} s: nothing was committed`,
          ),
        ),
      SIGN_TIMEOUT_MS,
    );
  });
  try {
    const note = await Promise.race([Promise.resolve(signer.sign(body)), late]);
    let signed: string;
    try {
      signed = verifyNote(note, signer.verifierKey);
    } catch (cause) {
      throw new GenlogError(
        "GENLOG_E_KEY",
        `the signer of ${signer.name} returned a note that does not verify with its own key ${signer.verifierKey}: nothing was committed`,
        { cause },
      );
    }
    if (signed !== body) {
      throw new GenlogError(
        "GENLOG_E_KEY",
        `the signer of ${signer.name} signed another text than the checkpoint it was given: nothing was committed`,
      );
    }
    return note;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Nodes that a signed checkpoint says exist, read from the store. One that is missing or is
 * not a hash was deleted or edited outside genlog: that is the log's inconsistency, not a
 * lookup that found nothing.
 *
 * @throws {GenlogError} `GENLOG_E_INCONSISTENT`.
 */
export async function readStoredNodes(
  store: LogStore,
  ref: LogRef,
  nodes: readonly NodeId[],
): Promise<Uint8Array[]> {
  try {
    return await store.readNodes(ref.logId, nodes);
  } catch (cause) {
    if (!isGenlogError(cause, "GENLOG_E_NOT_FOUND")) throw cause;
    throw new GenlogError(
      "GENLOG_E_INCONSISTENT",
      `stored Merkle nodes of ${ref.origin} are missing (${cause.message}): entries were removed or changed outside genlog; run \`genlog verify\``,
      { cause, details: { origin: ref.origin } },
    );
  }
}

/**
 * Reads a log's state from the store: the frontier from O(log n) stored nodes, checked
 * against the latest checkpoint, whose signature must be the signer's own.
 */
async function loadState(
  store: LogStore,
  ref: LogRef,
  verifierKey: string,
  verifier: NoteVerifier,
  countEntries: boolean,
): Promise<WriterState> {
  // The log's size is its latest checkpoint's, which deleting entries cannot change. The
  // entries are counted against it (O(n), ~40 ms at a million entries: on open and after a
  // commit that failed for another reason than a lost race), so that a writer never extends
  // a log with a hole. Under the write lock the store checks only that the entries end at
  // that size: a hole made while a writer runs is found at its next count, and by verify.
  const { size, latest } = await store.logState(ref.logId);
  const { size: counted, entries } = countEntries
    ? await store.countEntries(ref.logId)
    : { size, entries: size };
  if (entries !== counted) {
    throw new GenlogError(
      "GENLOG_E_INCONSISTENT",
      `log ${ref.origin} has size ${counted} but holds ${entries} entries: entries were removed or added outside genlog; nothing can be appended, run \`genlog verify\``,
      { details: { origin: ref.origin, size: counted, stored: entries } },
    );
  }
  const plan = rootPlan(size);
  const hashes = await readStoredNodes(store, ref, plan.nodes);
  const frontier = MerkleFrontier.fromNodes(size, (level, index) => {
    const i = plan.nodes.findIndex((n) => n.level === level && n.index === index);
    return hashes[i]!;
  });
  const root = frontier.root();
  if (latest === undefined) return { frontier, root, lastTs: 0, latest };
  let cp;
  try {
    cp = parseCheckpoint(verifyNote(latest.note, verifier));
  } catch (cause) {
    if (signedByOtherKey(latest.note, verifier)) throw rotatedAway(ref, size, undefined);
    throw new GenlogError(
      "GENLOG_E_INCONSISTENT",
      `the latest checkpoint of ${ref.origin} (size ${size}) does not verify with this log's key; run \`genlog verify\``,
      { cause, details: { origin: ref.origin, size } },
    );
  }
  if (cp.size !== size || !Buffer.from(cp.rootHash).equals(Buffer.from(root))) {
    throw new GenlogError(
      "GENLOG_E_INCONSISTENT",
      `stored Merkle nodes of ${ref.origin} do not match its latest checkpoint (size ${size}); run \`genlog verify\``,
      { details: { origin: ref.origin, size } },
    );
  }
  const last = await lastRecord(store, ref, size, root);
  // The key was rotated after this signer was loaded (by another process, or a rotation that
  // stopped before its new key file was put in place): signing on would fork the key chain.
  if (last.rotatedTo !== undefined && last.rotatedTo !== verifierKey) {
    throw rotatedAway(ref, size, last.rotatedTo);
  }
  return { frontier, root, lastTs: last.ts, latest };
}

/**
 * Whether `e` says the log is signed by another key than the writer's (see {@link rotatedAway}):
 * its owner should load the key file again, which `openTenantSigner` checks against the log
 * (a forged checkpoint then fails there, with its own message).
 */
export function isKeyChanged(e: unknown): boolean {
  if (!isGenlogError(e, "GENLOG_E_KEY")) return false;
  return e.details["reason"] === "rotated" || e.details["reason"] === "other-key";
}

/** Whether a note carries a signature under the verifier's name by another key id. */
function signedByOtherKey(note: string, verifier: NoteVerifier): boolean {
  try {
    return parseSignedNote(note).signatures.some(
      (s) => s.name === verifier.name && s.keyId !== verifier.keyId,
    );
  } catch {
    return false;
  }
}

function rotatedAway(ref: LogRef, size: number, next: string | undefined): GenlogError {
  const what =
    next !== undefined
      ? `its last record rotates its signing key to ${next}`
      : "its latest checkpoint is signed by another key of this name";
  return new GenlogError(
    "GENLOG_E_KEY",
    `${ref.origin} (size ${size}): ${what}, not the key this process loaded; nothing was appended. If the key was rotated since, reopen the log; if a rotation was interrupted, run \`genlog keys rotate\` again to finish it; otherwise run \`genlog verify\``,
    {
      details: {
        origin: ref.origin,
        size,
        reason: next !== undefined ? "rotated" : "other-key",
        ...(next !== undefined ? { next } : {}),
      },
    },
  );
}

/**
 * The time of the log's last record, which the next records must not precede, and the key it
 * rotates to when it is a key rotation. The record is proven to be the signed last leaf
 * first: a time edited into the future would otherwise be signed into every record that
 * follows.
 */
async function lastRecord(
  store: LogStore,
  ref: LogRef,
  size: number,
  root: Uint8Array,
): Promise<{ ts: number; rotatedTo?: string }> {
  if (size === 0) return { ts: 0 };
  // Read failures (a lock, damage) pass through as they are; only what is read is judged.
  const last = await store.getEntry(ref.logId, size - 1);
  const plan = planInclusionProof(size - 1, size);
  const path = await readStoredNodes(store, ref, plan.nodes);
  let ts: number | undefined;
  try {
    if (last === undefined) throw new Error("it is missing");
    const proof = assembleProof(plan, path);
    verifyInclusion(hashLeafText(last.canonical), size - 1, size, proof, root);
    const record = JSON.parse(last.canonical) as { ts?: unknown; type?: unknown; meta?: unknown };
    ts = typeof record.ts === "string" ? Date.parse(record.ts) : NaN;
    if (Number.isNaN(ts)) throw new Error("it has no valid ts");
    if (record.type === KEY_ROTATION_TYPE) {
      const next = (record.meta as { next?: unknown } | undefined)?.next;
      if (typeof next === "string") return { ts, rotatedTo: next };
    }
  } catch (cause) {
    throw new GenlogError(
      "GENLOG_E_INCONSISTENT",
      `the last record of ${ref.origin} (seq ${size - 1}) is not the one its latest checkpoint signs; nothing can be appended, run \`genlog verify\``,
      { cause, details: { origin: ref.origin, seq: size - 1 } },
    );
  }
  return { ts };
}

/**
 * Undefined when `prepared` is the same event as the committed record `first` (whose text is
 * `canonical`): a true retry; else the ID_REUSED error that keeps the first record. The
 * comparison is of the canonical text with the first record's own seq and ts put in.
 */
function checkSamePayload(
  prepared: PreparedRecord,
  first: GenerationRecord,
  canonical: string,
): GenlogError | undefined {
  const again = canonicalText(prepared, first.seq, first.ts);
  if (again === canonical) return undefined;
  return new GenlogError(
    "GENLOG_E_ID_REUSED",
    `id ${first.id} was already used for another event (seq ${first.seq}); the first record is kept`,
    { details: { pointer: "/id", id: first.id, seq: first.seq, record: first } },
  );
}

function nodeKey(n: NodeId): string {
  return `${n.level}/${n.index}`;
}
