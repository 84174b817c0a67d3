/**
 * The writer of one log: seals prepared records into the Merkle tree, proves the new
 * checkpoint consistent with the previous one, and commits records and checkpoint in one
 * durable transaction before it acknowledges anything. Concurrent appends share that
 * transaction (group commit): while one batch is being committed, the next one fills.
 */
import { GenlogError } from "./errors.js";
import { formatCheckpoint, parseCheckpoint } from "./core/checkpoint.js";
import { verifyNote } from "./core/signed-note.js";
import {
  MerkleFrontier,
  assembleProof,
  planConsistencyProof,
  rootPlan,
  verifyConsistency,
} from "./core/merkle.js";
import {
  formatTimestamp,
  sealRecord,
  type GenerationRecord,
  type PreparedRecord,
  type SealedRecord,
} from "./core/record.js";
import {
  completingSeq,
  type LogRef,
  type LogStore,
  type NodeId,
  type StoredEntry,
} from "./store/log-store.js";
import type { Signer } from "./keys.js";

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
  resolve: (r: AppendResult) => void;
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
}

const DEFAULT_MAX_BATCH = 4096;

/** How often a batch is re-sealed after another process appended first. */
const MAX_CONFLICT_RETRIES = 100;

/** What a writer knows of its log: the right edge of the tree, its root and the last time. */
interface WriterState {
  frontier: MerkleFrontier;
  root: Uint8Array;
  lastTs: number;
}

/**
 * Appends to one log. Several writers (in this or other processes) may share a log: the
 * store refuses a batch that does not start at the log's current size, and the writer then
 * reloads the state from the store and seals the batch again.
 */
export class LogWriter {
  readonly ref: LogRef;
  readonly #store: LogStore;
  readonly #signer: Signer;
  readonly #maxBatch: number;
  readonly #onCommit: ((batch: CommittedBatch) => void) | undefined;
  #frontier: MerkleFrontier;
  #root: Uint8Array;
  #lastTs = 0;
  #queue: Pending[] = [];
  #scheduled = false;
  #flushing: Promise<void> | undefined;

  private constructor(options: LogWriterOptions, state: WriterState) {
    this.ref = options.ref;
    this.#store = options.store;
    this.#signer = options.signer;
    this.#maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    this.#onCommit = options.onCommit;
    this.#frontier = state.frontier;
    this.#root = state.root;
    this.#lastTs = state.lastTs;
  }

  /**
   * Loads the log's state and checks it, so that a writer never extends a log that was
   * tampered with.
   *
   * @throws {GenlogError} `GENLOG_E_INCONSISTENT` when stored entries and checkpoint disagree.
   */
  static async open(options: LogWriterOptions): Promise<LogWriter> {
    return new LogWriter(options, await loadState(options.store, options.ref, options.signer));
  }

  /** Number of committed records. */
  get size(): number {
    return this.#frontier.size;
  }

  /** Queues a prepared record; resolves once it is durable and covered by a checkpoint. */
  append(prepared: PreparedRecord, clientId: boolean): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.#queue.push({ prepared, clientId, resolve, reject });
      this.#schedule();
    });
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

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      try {
        await this.#commit(batch);
      } catch (e) {
        for (const p of batch) p.reject(e);
      }
    }
  }

  async #commit(batch: Pending[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#commitOnce(batch);
      } catch (e) {
        if (!(e instanceof GenlogError && e.code === "GENLOG_E_CONFLICT")) throw e;
        if (attempt >= MAX_CONFLICT_RETRIES) throw e;
        const state = await loadState(this.#store, this.ref, this.#signer);
        this.#frontier = state.frontier;
        this.#root = state.root;
        this.#lastTs = Math.max(this.#lastTs, state.lastTs);
      }
    }
  }

  async #commitOnce(batch: Pending[]): Promise<void> {
    const oldSize = this.#frontier.size;
    const results = new Array<AppendResult | undefined>(batch.length);
    await this.#findDuplicates(batch, results);

    const frontier = this.#frontier.clone();
    const now = Date.now();
    const ts = Math.max(now, this.#lastTs);
    const tsText = formatTimestamp(ts);
    const entries: StoredEntry[] = [];
    const sealed: SealedRecord[] = [];
    const inBatch = new Map<string, AppendResult>();
    for (let i = 0; i < batch.length; i++) {
      if (results[i] !== undefined) continue;
      const { prepared } = batch[i]!;
      const repeat = inBatch.get(prepared.id);
      if (repeat !== undefined) {
        results[i] = { ...repeat, duplicate: true };
        continue;
      }
      const s = sealRecord(prepared, frontier.size, tsText);
      const completed = frontier.append(s.leafHash);
      const nodes = Buffer.allocUnsafe((completed.length - 1) * 32);
      for (const n of completed) if (n.level > 0) nodes.set(n.hash, (n.level - 1) * 32);
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
      sealed.push(s);
      const result: AppendResult = { record: r, canonical: s.canonical, duplicate: false };
      results[i] = result;
      if (batch[i]!.clientId) inBatch.set(prepared.id, result);
    }

    let note: string | undefined;
    if (entries.length > 0) {
      const newRoot = frontier.root();
      await this.#proveConsistent(oldSize, newRoot, entries);
      note = this.#signer.sign(
        formatCheckpoint({ origin: this.ref.origin, size: frontier.size, rootHash: newRoot }),
      );
      await this.#store.appendBatch(this.ref.logId, entries, { size: frontier.size, note });
      this.#frontier = frontier;
      this.#root = newRoot;
      this.#lastTs = ts;
    }
    const done = results as AppendResult[];
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(done[i]!);
    if (note !== undefined && this.#onCommit !== undefined) {
      this.#onCommit({
        origin: this.ref.origin,
        size: this.#frontier.size,
        checkpoint: note,
        results: done,
      });
    }
  }

  /** Fills `results` for appends whose client id is already committed. */
  async #findDuplicates(batch: Pending[], results: (AppendResult | undefined)[]): Promise<void> {
    const ids: string[] = [];
    for (const p of batch) if (p.clientId) ids.push(p.prepared.id);
    if (ids.length === 0) return;
    const found = await this.#store.findByIds(this.ref.logId, ids);
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      if (!p.clientId) continue;
      const row = found.get(p.prepared.id);
      if (row === undefined) continue;
      results[i] = {
        record: JSON.parse(row.canonical) as GenerationRecord,
        canonical: row.canonical,
        duplicate: true,
      };
    }
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
  ): Promise<void> {
    if (oldSize === 0) return;
    const newSize = oldSize + entries.length;
    const plan = planConsistencyProof(oldSize, newSize);
    // A node lives in the entry that completes it: new nodes come from this batch, the
    // others from disk.
    const stored = plan.nodes.filter((n) => completingSeq(n) < oldSize);
    const hashes = await this.#store.readNodes(this.ref.logId, stored);
    const fromDisk = new Map(stored.map((n, i) => [nodeKey(n), hashes[i]!]));
    const lookup = (level: number, index: number): Uint8Array => {
      const seq = completingSeq({ level, index });
      if (seq < oldSize) return fromDisk.get(nodeKey({ level, index }))!;
      const e = entries[seq - oldSize]!;
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

/**
 * Reads a log's state from the store: the frontier from O(log n) stored nodes, checked
 * against the latest checkpoint, whose signature must be the signer's own.
 */
async function loadState(store: LogStore, ref: LogRef, signer: Signer): Promise<WriterState> {
  const { size, latest } = await store.logState(ref.logId);
  const cpSize = latest?.size ?? 0;
  if (size !== cpSize) {
    throw new GenlogError(
      "GENLOG_E_INCONSISTENT",
      `log ${ref.origin} holds ${size} entries but its latest checkpoint covers ${cpSize}; run \`genlog verify\``,
      { details: { origin: ref.origin, size, checkpointSize: cpSize } },
    );
  }
  const plan = rootPlan(size);
  const hashes = await store.readNodes(ref.logId, plan.nodes);
  const frontier = MerkleFrontier.fromNodes(size, (level, index) => {
    const i = plan.nodes.findIndex((n) => n.level === level && n.index === index);
    return hashes[i]!;
  });
  const root = frontier.root();
  if (latest === undefined) return { frontier, root, lastTs: 0 };
  let cp;
  try {
    cp = parseCheckpoint(verifyNote(latest.note, signer.verifierKey));
  } catch (cause) {
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
  const last = await store.getEntry(ref.logId, size - 1);
  const lastTs =
    last === undefined ? 0 : Date.parse((JSON.parse(last.canonical) as { ts: string }).ts);
  return { frontier, root, lastTs };
}

function nodeKey(n: NodeId): string {
  return `${n.level}/${n.index}`;
}
