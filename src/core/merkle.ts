/**
 * RFC 9162 §2.1 Merkle hash trees: leaf and node hashing, an append-only frontier
 * (compact range) for the write path, store-agnostic proof generation and proof
 * verification.
 *
 * Everything here is pure and synchronous. Storage is abstracted as a lookup of
 * *perfect* subtree hashes by `(level, index)`: the subtree at level `L`, index `i`
 * covers leaves `[i * 2^L, (i + 1) * 2^L)`, level 0 being the leaf hashes themselves.
 * A store only ever needs to persist what {@link MerkleFrontier.append} reports.
 *
 * Tree sizes and indices are JavaScript numbers up to `Number.MAX_SAFE_INTEGER`. We
 * never use the 32-bit bitwise operators on them (they would silently truncate
 * above 2^31); shifts are divisions and bit tests are `% 2`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9162.html#section-2.1
 */

import { createHash, hash as oneShotHash } from "node:crypto";
import { GenlogError } from "../errors.js";

/** Size in bytes of every hash in the tree (SHA-256). */
export const HASH_SIZE = 32;

/** Domain-separation prefix of a leaf hash (RFC 9162 §2.1.1): `0x00`. */
export const RFC9162_LEAF_HASH_PREFIX = 0x00;

/** Domain-separation prefix of an interior node hash (RFC 9162 §2.1.1): `0x01`. */
export const RFC9162_NODE_HASH_PREFIX = 0x01;

/** Identifies a perfect subtree: level `L`, index `i` covers leaves `[i*2^L, (i+1)*2^L)`. */
export interface NodeId {
  /** Height of the subtree; 0 is a single leaf. */
  readonly level: number;
  /** Position of the subtree among the subtrees of the same level, from the left. */
  readonly index: number;
}

/** A perfect subtree and its hash, as reported by {@link MerkleFrontier.append}. */
export interface TreeNode extends NodeId {
  /** The Merkle tree hash of the subtree (32 bytes). */
  readonly hash: Buffer;
}

/**
 * Returns the stored hash of the perfect subtree `(level, index)`. It must return a
 * 32-byte hash; returning `undefined` makes the caller throw `GENLOG_E_NOT_FOUND`.
 */
export type NodeLookup = (level: number, index: number) => Uint8Array | undefined;

/**
 * What to fetch from a store to build a proof or a root, without touching the store.
 * Fetch every id in {@link ProofPlan.nodes} (synchronously or not), then pass the
 * hashes to {@link assembleProof} / {@link assembleRoot}.
 */
export interface ProofPlan {
  /** Which computation this plan is for; assembling checks it. */
  readonly kind: "inclusion" | "consistency" | "root";
  /** The tree size the plan was made for (`size2` for consistency). */
  readonly treeSize: number;
  /** The unique perfect subtrees to fetch, O(log n) of them. */
  readonly nodes: readonly NodeId[];
  /**
   * One entry per output hash, in output order. Each lists indices into `nodes`
   * whose hashes, folded right to left with {@link hashChildren}, give that hash:
   * a single index for a perfect subtree, several for an imperfect right-edge one.
   */
  readonly elements: readonly (readonly number[])[];
}

// One 65-byte scratch buffer for interior nodes: `crypto.hash` over it is the cheapest
// SHA-256 Node offers (no Hash object, no concat). Safe because hashing is synchronous.
const nodeScratch = Buffer.alloc(1 + 2 * HASH_SIZE);
nodeScratch[0] = RFC9162_NODE_HASH_PREFIX;
const LEAF_PREFIX = Buffer.from([RFC9162_LEAF_HASH_PREFIX]);
const NODE_PREFIX = Buffer.from([RFC9162_NODE_HASH_PREFIX]);
/** What {@link MerkleFrontier.appendOwned} returns for a leaf that completes no subtree. */
const NO_NODES = Buffer.alloc(0);
// Small leaves are copied behind the prefix into this buffer for the same reason.
const LEAF_SCRATCH_MAX = 16 * 1024;
const leafScratch = Buffer.alloc(1 + LEAF_SCRATCH_MAX);
leafScratch[0] = RFC9162_LEAF_HASH_PREFIX;

/** RFC 9162 §2.1.1 leaf hash: `SHA-256(0x00 || data)`. */
export function hashLeaf(data: Uint8Array): Buffer {
  if (data.length <= LEAF_SCRATCH_MAX) {
    leafScratch.set(data, 1);
    return oneShotHash("sha256", leafScratch.subarray(0, 1 + data.length), "buffer");
  }
  return createHash("sha256").update(LEAF_PREFIX).update(data).digest();
}

/**
 * {@link hashLeaf} of the UTF-8 encoding of `text`, without an intermediate buffer when
 * the text fits the scratch buffer (UTF-8 takes at most 3 bytes per UTF-16 unit).
 */
export function hashLeafText(text: string): Buffer {
  if (text.length * 3 <= LEAF_SCRATCH_MAX) {
    const n = leafScratch.write(text, 1, "utf8");
    return oneShotHash("sha256", leafScratch.subarray(0, 1 + n), "buffer");
  }
  return createHash("sha256").update(LEAF_PREFIX).update(text, "utf8").digest();
}

/** RFC 9162 §2.1.1 interior node hash: `SHA-256(0x01 || left || right)`. */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length === HASH_SIZE && right.length === HASH_SIZE) {
    nodeScratch.set(left, 1);
    nodeScratch.set(right, 1 + HASH_SIZE);
    return oneShotHash("sha256", nodeScratch, "buffer");
  }
  // Odd lengths only reach here from callers hashing non-tree data; stay correct.
  return createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest();
}

/** RFC 9162 §2.1.1 hash of the empty tree: `SHA-256("")`. */
export function emptyRoot(): Buffer {
  return oneShotHash("sha256", Buffer.alloc(0), "buffer");
}

/** RFC 9162 §2.1.1 Merkle tree hash (MTH) of a list of leaf hashes, in O(n). */
export function rootFromLeafHashes(leafHashes: readonly Uint8Array[]): Buffer {
  const frontier = new MerkleFrontier();
  for (const leafHash of leafHashes) frontier.append(leafHash);
  return frontier.root();
}

// ---------------------------------------------------------------------------------
// Integer helpers (exact for safe integers, no 32-bit bitwise operators).

function usage(message: string): GenlogError {
  return new GenlogError("GENLOG_E_USAGE", message);
}

function badProof(message: string): GenlogError {
  return new GenlogError("GENLOG_E_BAD_PROOF", message);
}

function isSize(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function requireSize(name: string, v: unknown): number {
  if (!isSize(v)) {
    throw usage(`expected ${name} to be a non-negative safe integer, got ${String(v)}`);
  }
  return v;
}

/** Largest power of two strictly less than `n` (n >= 2): RFC 9162's split point `k`. */
function splitPoint(n: number): number {
  let p = 2 ** Math.floor(Math.log2(n - 1));
  // Math.log2 may round near 2^53; correct it exactly.
  while (p >= n) p /= 2;
  while (p * 2 < n) p *= 2;
  return p;
}

/** Largest power of two less than or equal to `n` (n >= 1). */
function floorPow2(n: number): number {
  return n === 1 ? 1 : splitPoint(n + 1);
}

/** log2 of an exact power of two. */
function levelOf(pow2: number): number {
  return Math.round(Math.log2(pow2));
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && toBuffer(a).equals(b);
}

// ---------------------------------------------------------------------------------
// Frontier

/**
 * The compact range `[0, size)` of a tree: one perfect-subtree hash per set bit of
 * `size`, largest (leftmost) first. It is all the state needed to append leaves and
 * compute the current root, so appending costs O(1) amortized hashes and no reads.
 */
export class MerkleFrontier {
  #size: number;
  #hashes: Buffer[];

  /** An empty tree. */
  constructor() {
    this.#size = 0;
    this.#hashes = [];
  }

  /** Number of leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /** The perfect subtrees of the frontier with their hashes, leftmost first. */
  nodes(): TreeNode[] {
    const out: TreeNode[] = [];
    let lo = 0;
    let i = 0;
    for (const width of compactWidths(this.#size)) {
      const hash = this.#hashes[i++];
      if (hash === undefined) throw new Error("unreachable: frontier out of sync");
      out.push({ level: levelOf(width), index: lo / width, hash });
      lo += width;
    }
    return out;
  }

  /**
   * Appends one leaf hash and returns every perfect subtree it completed, the leaf
   * itself first (level 0, index = leaf index), then each newly closed ancestor.
   * Persisting exactly these is what {@link assembleProof} and
   * {@link MerkleFrontier.fromNodes} need later.
   */
  append(leafHash: Uint8Array): TreeNode[] {
    this.#checkAppend(leafHash);
    // Copy: the caller may reuse its buffer, and we keep this hash.
    let hash: Buffer = Buffer.from(leafHash);
    const completed: TreeNode[] = [{ level: 0, index: this.#size, hash }];
    // `s` is the index of the current node at `level`; an odd index means it is a
    // right child whose left sibling is the last frontier entry, so they merge.
    let s = this.#size;
    let level = 0;
    while (s % 2 === 1) {
      const left = this.#hashes.pop();
      if (left === undefined) throw new Error("unreachable: frontier out of sync");
      hash = hashChildren(left, hash);
      level++;
      s = (s - 1) / 2;
      completed.push({ level, index: s, hash });
    }
    this.#hashes.push(hash);
    this.#size++;
    return completed;
  }

  /**
   * {@link append} for the writer's hot path: keeps `leafHash` itself (the caller must not
   * change it afterwards) and returns only the interior nodes the leaf completed, level 1
   * first, 32 bytes each in one buffer (empty when it completed none).
   */
  appendOwned(leafHash: Buffer): Buffer {
    this.#checkAppend(leafHash);
    let levels = 0;
    for (let s = this.#size; s % 2 === 1; s = (s - 1) / 2) levels++;
    const nodes = levels === 0 ? NO_NODES : Buffer.allocUnsafe(levels * HASH_SIZE);
    let hash = leafHash;
    for (let level = 0; level < levels; level++) {
      hash = hashChildren(this.#hashes.pop()!, hash);
      nodes.set(hash, level * HASH_SIZE);
    }
    this.#hashes.push(hash);
    this.#size++;
    return nodes;
  }

  #checkAppend(leafHash: Uint8Array): void {
    if (!(leafHash instanceof Uint8Array) || leafHash.length !== HASH_SIZE) {
      throw usage(
        `expected a ${HASH_SIZE}-byte leaf hash, got ${describeBytes(leafHash as unknown)}`,
      );
    }
    if (this.#size >= Number.MAX_SAFE_INTEGER) {
      throw usage(`expected a tree size below 2^53 - 1, got ${this.#size}`);
    }
  }

  /** RFC 9162 MTH of the current tree (the empty-tree hash when size is 0). */
  root(): Buffer {
    const hashes = this.#hashes;
    let i = hashes.length - 1;
    let acc = hashes[i];
    if (acc === undefined) return emptyRoot();
    // Fold right to left: an imperfect tree is the left perfect subtree joined with
    // the (recursively split) rest, so the smallest subtrees combine first.
    while (--i >= 0) acc = hashChildren(hashes[i] as Buffer, acc);
    return acc;
  }

  /** An independent copy, e.g. to compute a tentative root without committing. */
  clone(): MerkleFrontier {
    const copy = new MerkleFrontier();
    copy.#size = this.#size;
    copy.#hashes = this.#hashes.slice();
    return copy;
  }

  /**
   * Rebuilds the frontier of a tree of `size` leaves from stored perfect-subtree
   * hashes with one lookup per set bit of `size` (O(log n)).
   *
   * @throws GenlogError GENLOG_E_USAGE for a bad size, GENLOG_E_NOT_FOUND when a
   *   lookup returns nothing, GENLOG_E_STORE when it returns a non-32-byte value.
   */
  static fromNodes(size: number, lookup: NodeLookup): MerkleFrontier {
    requireSize("size", size);
    const f = new MerkleFrontier();
    let lo = 0;
    for (const width of compactWidths(size)) {
      const level = levelOf(width);
      f.#hashes.push(fetchNode(lookup, level, lo / width));
      lo += width;
    }
    f.#size = size;
    return f;
  }
}

/** Widths of the perfect subtrees of the compact range [0, size), largest first. */
function compactWidths(size: number): number[] {
  const out: number[] = [];
  let rest = size;
  while (rest > 0) {
    const w = floorPow2(rest);
    out.push(w);
    rest -= w;
  }
  return out;
}

function describeBytes(v: unknown): string {
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (v === null) return "null";
  return typeof v;
}

function fetchNode(lookup: NodeLookup, level: number, index: number): Buffer {
  const h = lookup(level, index);
  if (h === undefined || h === null) {
    throw new GenlogError(
      "GENLOG_E_NOT_FOUND",
      `expected a stored hash for subtree (level ${level}, index ${index}), got none`,
      { details: { level, index } },
    );
  }
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
    throw new GenlogError(
      "GENLOG_E_STORE",
      `expected a ${HASH_SIZE}-byte hash for subtree (level ${level}, index ${index}), got ${describeBytes(h)}`,
      { details: { level, index } },
    );
  }
  return toBuffer(h);
}

// ---------------------------------------------------------------------------------
// Proof plans

/** Collects proof elements and deduplicates the node ids they need. */
class PlanBuilder {
  readonly nodes: NodeId[] = [];
  readonly elements: number[][] = [];
  readonly #seen = new Map<string, number>();

  /**
   * Adds the MTH of leaves [lo, hi) as one element. Every range RFC 9162's recursion
   * produces has `lo` aligned to a power of two >= hi - lo, so its greedy split into
   * perfect subtrees is exactly the tree's own split and a right fold rebuilds it.
   */
  addRange(lo: number, hi: number): void {
    const element: number[] = [];
    while (lo < hi) {
      const width = floorPow2(hi - lo);
      element.push(this.#node(levelOf(width), lo / width));
      lo += width;
    }
    this.elements.push(element);
  }

  #node(level: number, index: number): number {
    const key = `${level}/${index}`;
    let i = this.#seen.get(key);
    if (i === undefined) {
      i = this.nodes.length;
      this.nodes.push({ level, index });
      this.#seen.set(key, i);
    }
    return i;
  }

  build(kind: ProofPlan["kind"], treeSize: number): ProofPlan {
    return { kind, treeSize, nodes: this.nodes, elements: this.elements };
  }
}

/**
 * Plans the RFC 9162 §2.1.3.1 inclusion proof `PATH(leafIndex, D[0:treeSize])`.
 *
 * @throws GenlogError GENLOG_E_USAGE for non-integer arguments, GENLOG_E_NOT_FOUND
 *   when `leafIndex >= treeSize` (the leaf is not in that tree).
 */
export function planInclusionProof(leafIndex: number, treeSize: number): ProofPlan {
  requireSize("leafIndex", leafIndex);
  requireSize("treeSize", treeSize);
  if (leafIndex >= treeSize) {
    throw new GenlogError(
      "GENLOG_E_NOT_FOUND",
      `expected leafIndex < treeSize, got leafIndex ${leafIndex} and treeSize ${treeSize}`,
    );
  }
  const b = new PlanBuilder();
  // Walk from the root down to the leaf; the RFC appends each sibling after the
  // recursive call, so the path is the reverse of the walk.
  let lo = 0;
  let hi = treeSize;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (leafIndex < lo + k) {
      b.addRange(lo + k, hi);
      hi = lo + k;
    } else {
      b.addRange(lo, lo + k);
      lo += k;
    }
  }
  b.elements.reverse();
  return b.build("inclusion", treeSize);
}

/**
 * Plans the RFC 9162 §2.1.4.1 consistency proof `PROOF(size1, D[0:size2])`. Equal
 * sizes give an empty plan (the empty proof).
 *
 * @throws GenlogError GENLOG_E_USAGE unless `0 < size1 <= size2` (a proof from the
 *   empty tree is meaningless and verifiers reject it).
 */
export function planConsistencyProof(size1: number, size2: number): ProofPlan {
  requireSize("size1", size1);
  requireSize("size2", size2);
  if (size1 === 0) throw usage("expected size1 > 0, got 0 (consistency with the empty tree)");
  if (size1 > size2) throw usage(`expected size1 <= size2, got ${size1} > ${size2}`);
  const b = new PlanBuilder();
  if (size1 < size2) {
    // SUBPROOF(m, D[lo:hi], b) unrolled; m stays relative to lo.
    let m = size1;
    let lo = 0;
    let hi = size2;
    let whole = true;
    for (;;) {
      const n = hi - lo;
      if (m === n) {
        if (!whole) b.addRange(lo, hi);
        break;
      }
      const k = splitPoint(n);
      if (m <= k) {
        b.addRange(lo + k, hi);
        hi = lo + k;
      } else {
        b.addRange(lo, lo + k);
        m -= k;
        lo += k;
        whole = false;
      }
    }
    b.elements.reverse();
  }
  return b.build("consistency", size2);
}

/** Plans the MTH of the first `treeSize` leaves: one element of O(log n) nodes. */
export function rootPlan(treeSize: number): ProofPlan {
  requireSize("treeSize", treeSize);
  const b = new PlanBuilder();
  if (treeSize > 0) b.addRange(0, treeSize);
  return b.build("root", treeSize);
}

function resolve(
  plan: ProofPlan,
  lookup: NodeLookup | readonly (Uint8Array | undefined)[],
): Buffer[] {
  if (typeof lookup === "function") {
    return plan.nodes.map((n) => fetchNode(lookup, n.level, n.index));
  }
  if (lookup.length !== plan.nodes.length) {
    throw usage(`expected ${plan.nodes.length} fetched hashes, got ${lookup.length}`);
  }
  return plan.nodes.map((n, i) => fetchNode(() => lookup[i], n.level, n.index));
}

function fold(hashes: readonly Buffer[], element: readonly number[]): Buffer {
  let i = element.length - 1;
  let acc = hashes[element[i] as number];
  if (acc === undefined) throw usage("expected a well-formed proof plan, got an empty element");
  while (--i >= 0) acc = hashChildren(hashes[element[i] as number] as Buffer, acc);
  return acc;
}

/**
 * Builds the proof a plan describes: the RFC 9162 inclusion PATH or consistency
 * PROOF, as 32-byte hashes in RFC order.
 *
 * @param lookup either a function returning stored hashes, or the hashes of
 *   `plan.nodes` in the same order (handy after an async batch fetch).
 */
export function assembleProof(
  plan: ProofPlan,
  lookup: NodeLookup | readonly (Uint8Array | undefined)[],
): Buffer[] {
  if (plan.kind === "root") throw usage("expected an inclusion or consistency plan, got root");
  const hashes = resolve(plan, lookup);
  return plan.elements.map((e) => fold(hashes, e));
}

/** Computes the root a {@link rootPlan} describes (the empty-tree hash for size 0). */
export function assembleRoot(
  plan: ProofPlan,
  lookup: NodeLookup | readonly (Uint8Array | undefined)[],
): Buffer {
  if (plan.kind !== "root") throw usage(`expected a root plan, got ${plan.kind}`);
  const hashes = resolve(plan, lookup);
  const element = plan.elements[0];
  return element === undefined ? emptyRoot() : fold(hashes, element);
}

// ---------------------------------------------------------------------------------
// Verification (RFC 9162 §2.1.3.2, §2.1.4.2)

function requireHash(name: string, h: unknown): Uint8Array {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
    throw badProof(`expected ${name} to be ${HASH_SIZE} bytes, got ${describeBytes(h)}`);
  }
  return h;
}

function requireProof(proof: unknown): readonly Uint8Array[] {
  if (!Array.isArray(proof)) throw badProof(`expected proof to be an array, got ${typeof proof}`);
  // 2 * 64 is far above any real proof for a 2^53 tree; bounds work on hostile input.
  if (proof.length > 128) throw badProof(`expected at most 128 proof hashes, got ${proof.length}`);
  proof.forEach((p: unknown, i) => requireHash(`proof[${i}]`, p));
  return proof as readonly Uint8Array[];
}

function requireVerifySize(name: string, v: unknown): number {
  if (!isSize(v))
    throw badProof(`expected ${name} to be a non-negative safe integer, got ${String(v)}`);
  return v;
}

/**
 * Recomputes the root implied by an inclusion proof (RFC 9162 §2.1.3.2 steps 1-5,
 * without the final root comparison).
 *
 * @throws GenlogError GENLOG_E_BAD_PROOF if the arguments are malformed or the proof
 *   has the wrong length for `(leafIndex, treeSize)`.
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  leafIndex: number,
  treeSize: number,
  proof: readonly Uint8Array[],
): Buffer {
  requireVerifySize("leafIndex", leafIndex);
  requireVerifySize("treeSize", treeSize);
  requireHash("leafHash", leafHash);
  requireProof(proof);
  if (leafIndex >= treeSize) {
    throw badProof(
      `expected leafIndex < treeSize, got leafIndex ${leafIndex} and treeSize ${treeSize}`,
    );
  }
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = toBuffer(leafHash);
  for (const p of proof) {
    if (sn === 0) throw badProof(`expected a shorter proof, got ${proof.length} hashes`);
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      // Skip the levels where this node has no right sibling (right edge).
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw badProof(`expected a longer proof, got ${proof.length} hashes`);
  return r;
}

/**
 * Verifies that `leafHash` is the leaf at `leafIndex` of the tree of `treeSize`
 * leaves whose root is `root` (RFC 9162 §2.1.3.2). Every hash must be 32 bytes.
 *
 * @throws GenlogError GENLOG_E_BAD_PROOF when it does not verify.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  leafIndex: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  requireHash("root", root);
  const computed = rootFromInclusionProof(leafHash, leafIndex, treeSize, proof);
  if (!computed.equals(root)) {
    throw badProof(
      `expected root ${toBuffer(root).toString("hex")}, got ${computed.toString("hex")} from the inclusion proof`,
    );
  }
}

/**
 * Verifies that the tree of `size2` leaves with root `root2` extends the tree of
 * `size1` leaves with root `root1` (RFC 9162 §2.1.4.2), following the reference
 * transparency-dev/merkle edge rules: `size1 > size2` fails; a proof from size 0 is
 * meaningless and fails; equal sizes need an empty proof and byte-equal roots.
 *
 * @throws GenlogError GENLOG_E_BAD_PROOF when it does not verify.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  requireVerifySize("size1", size1);
  requireVerifySize("size2", size2);
  if (!Array.isArray(proof)) throw badProof(`expected proof to be an array, got ${typeof proof}`);
  if (size1 > size2) throw badProof(`expected size1 <= size2, got ${size1} > ${size2}`);
  if (size1 === 0) {
    throw badProof("expected size1 > 0, got 0 (consistency with the empty tree is meaningless)");
  }
  if (size1 === size2) {
    if (proof.length !== 0) {
      throw badProof(`expected an empty proof for equal sizes, got ${proof.length} hashes`);
    }
    // Nothing to recompute: the claim is only that both checkpoints name one tree.
    if (
      !(root1 instanceof Uint8Array) ||
      !(root2 instanceof Uint8Array) ||
      !bytesEqual(root1, root2)
    ) {
      throw badProof("expected equal roots for equal tree sizes, got different roots");
    }
    return;
  }
  requireHash("root1", root1);
  requireHash("root2", root2);
  requireProof(proof);
  if (proof.length === 0) throw badProof("expected a non-empty proof, got an empty one");

  // Step 2: when size1 is a power of two its root is not in the proof; prepend it.
  const path: readonly Uint8Array[] = size1 === floorPow2(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  let fr = toBuffer(path[0] as Uint8Array);
  let sr = fr;
  for (let i = 1; i < path.length; i++) {
    const c = path[i] as Uint8Array;
    if (sn === 0) throw badProof(`expected a shorter proof, got ${proof.length} hashes`);
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw badProof(`expected a longer proof, got ${proof.length} hashes`);
  if (!fr.equals(root1)) {
    throw badProof(
      `expected root1 ${toBuffer(root1).toString("hex")}, got ${fr.toString("hex")} from the consistency proof`,
    );
  }
  if (!sr.equals(root2)) {
    throw badProof(
      `expected root2 ${toBuffer(root2).toString("hex")}, got ${sr.toString("hex")} from the consistency proof`,
    );
  }
}
