import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isGenlogError } from "../src/errors.js";
import {
  MerkleFrontier,
  assembleProof,
  assembleRoot,
  emptyRoot,
  hashChildren,
  hashLeaf,
  planConsistencyProof,
  planInclusionProof,
  rootFromInclusionProof,
  rootFromLeafHashes,
  rootPlan,
  verifyConsistency,
  verifyInclusion,
} from "../src/core/merkle.js";
import type { NodeLookup } from "../src/core/merkle.js";

const VECTORS = fileURLToPath(new URL("./vectors/rfc9162-proofs/", import.meta.url));

function sha256(data: Uint8Array | string): Buffer {
  return createHash("sha256").update(data).digest();
}

function b64(s: string): Buffer {
  return Buffer.from(s, "base64");
}

function jsonFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...jsonFiles(p));
    else if (name.endsWith(".json")) out.push(p);
  }
  return out;
}

function assertBadProof(fn: () => unknown, msg?: string): void {
  assert.throws(fn, (e: unknown) => isGenlogError(e, "GENLOG_E_BAD_PROOF"), msg);
}

// ---------------------------------------------------------------------------------
// Naive reference: RFC 9162 §2.1 definitions, recursively, straight from the leaves.

function largestPow2Below(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function mth(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return sha256(Buffer.alloc(0));
  if (leaves.length === 1) return leaves[0] as Buffer;
  const k = largestPow2Below(leaves.length);
  return hashChildren(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

function refPath(m: number, leaves: readonly Buffer[]): Buffer[] {
  const n = leaves.length;
  if (n === 1) return [];
  const k = largestPow2Below(n);
  if (m < k) return [...refPath(m, leaves.slice(0, k)), mth(leaves.slice(k))];
  return [...refPath(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

function refSubproof(m: number, leaves: readonly Buffer[], b: boolean): Buffer[] {
  const n = leaves.length;
  if (m === n) return b ? [] : [mth(leaves)];
  const k = largestPow2Below(n);
  if (m <= k) return [...refSubproof(m, leaves.slice(0, k), b), mth(leaves.slice(k))];
  return [...refSubproof(m - k, leaves.slice(k), false), mth(leaves.slice(0, k))];
}

/** A lookup computing perfect-subtree hashes from the leaves, counting its calls. */
function refLookup(leaves: readonly Buffer[]): { lookup: NodeLookup; calls: () => number } {
  let calls = 0;
  const lookup: NodeLookup = (level, index) => {
    calls++;
    const w = 2 ** level;
    const lo = index * w;
    assert.ok(lo + w <= leaves.length, `lookup of incomplete subtree (${level}, ${index})`);
    return mth(leaves.slice(lo, lo + w));
  };
  return { lookup, calls: () => calls };
}

/** Deterministic pseudo-random leaf data of varying length. */
function leafData(i: number): Buffer {
  const seed = sha256(`genlog-test-leaf-${i}`);
  return Buffer.concat([seed, seed]).subarray(0, (seed[0] as number) % 64);
}

const MAX_N = 200;
const ALL_LEAVES: Buffer[] = Array.from({ length: MAX_N }, (_, i) => hashLeaf(leafData(i)));

function logBound(n: number): number {
  return 2 * Math.ceil(Math.log2(Math.max(n, 2))) + 2;
}

// ---------------------------------------------------------------------------------

test("hashing primitives match RFC 9162 definitions", () => {
  assert.deepEqual(emptyRoot(), sha256(Buffer.alloc(0)));
  assert.equal(
    emptyRoot().toString("hex"),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  const data = Buffer.from("hello");
  assert.deepEqual(hashLeaf(data), sha256(Buffer.concat([Buffer.from([0]), data])));
  const big = Buffer.alloc(5000, 7);
  assert.deepEqual(hashLeaf(big), sha256(Buffer.concat([Buffer.from([0]), big])));
  const l = sha256("l");
  const r = sha256("r");
  assert.deepEqual(hashChildren(l, r), sha256(Buffer.concat([Buffer.from([1]), l, r])));
  const odd = Buffer.from("xyz");
  assert.deepEqual(hashChildren(odd, r), sha256(Buffer.concat([Buffer.from([1]), odd, r])));
  // Results must not alias an internal scratch buffer.
  const a = hashChildren(l, r);
  hashChildren(r, l);
  assert.deepEqual(a, sha256(Buffer.concat([Buffer.from([1]), l, r])));
});

test("README leaves give the documented roots", () => {
  const inputs = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657"];
  inputs.push("606162636465666768696a6b6c6d6e6f");
  const leaves = inputs.map((h) => hashLeaf(Buffer.from(h, "hex")));
  const roots = [1, 2, 3].map((n) => rootFromLeafHashes(leaves.slice(0, n)).toString("hex"));
  assert.ok(roots[0]?.startsWith("6e340b9c") && roots[0].endsWith("a01d"));
  assert.ok(roots[1]?.startsWith("fac54203") && roots[1].endsWith("c125"));
  assert.ok(roots[2]?.startsWith("aeb6bcfe") && roots[2].endsWith("6e77"));
  for (let n = 1; n <= 8; n++) {
    const { lookup } = refLookup(leaves.slice(0, n));
    const root = mth(leaves.slice(0, n));
    for (let m = 0; m < n; m++) {
      const proof = assembleProof(planInclusionProof(m, n), lookup);
      verifyInclusion(leaves[m] as Buffer, m, n, proof, root);
    }
    for (let m = 1; m <= n; m++) {
      const proof = assembleProof(planConsistencyProof(m, n), lookup);
      verifyConsistency(m, n, proof, mth(leaves.slice(0, m)), root);
    }
  }
});

const inclusionFiles = jsonFiles(join(VECTORS, "inclusion"));
const consistencyFiles = jsonFiles(join(VECTORS, "consistency"));

test(`transparency-dev inclusion vectors (${inclusionFiles.length} cases)`, () => {
  assert.ok(inclusionFiles.length > 50);
  for (const file of inclusionFiles) {
    const c = JSON.parse(readFileSync(file, "utf8")) as {
      leafIdx: number;
      treeSize: number;
      root: string;
      leafHash: string;
      proof: string[] | null;
      wantErr: boolean;
    };
    const run = (): void =>
      verifyInclusion(
        b64(c.leafHash),
        c.leafIdx,
        c.treeSize,
        (c.proof ?? []).map(b64),
        b64(c.root),
      );
    if (c.wantErr) assertBadProof(run, file);
    else assert.doesNotThrow(run, file);
  }
});

test(`transparency-dev consistency vectors (${consistencyFiles.length} cases)`, () => {
  assert.ok(consistencyFiles.length > 50);
  for (const file of consistencyFiles) {
    const c = JSON.parse(readFileSync(file, "utf8")) as {
      size1: number;
      size2: number;
      root1: string;
      root2: string;
      proof: string[] | null;
      wantErr: boolean;
    };
    const run = (): void =>
      verifyConsistency(c.size1, c.size2, (c.proof ?? []).map(b64), b64(c.root1), b64(c.root2));
    if (c.wantErr) assertBadProof(run, file);
    else assert.doesNotThrow(run, file);
  }
});

test("frontier root equals MTH for every size 0..200 and reports every perfect subtree", () => {
  const f = new MerkleFrontier();
  const store = new Map<string, Buffer>();
  assert.deepEqual(f.root(), emptyRoot());
  for (let n = 1; n <= MAX_N; n++) {
    const completed = f.append(ALL_LEAVES[n - 1] as Buffer);
    assert.equal(completed[0]?.level, 0);
    assert.equal(completed[0]?.index, n - 1);
    for (const node of completed) {
      const w = 2 ** node.level;
      assert.deepEqual(node.hash, mth(ALL_LEAVES.slice(node.index * w, (node.index + 1) * w)));
      store.set(`${node.level}/${node.index}`, node.hash);
    }
    const prefix = ALL_LEAVES.slice(0, n);
    const root = mth(prefix);
    assert.equal(f.size, n);
    assert.deepEqual(f.root(), root, `size ${n}`);
    assert.deepEqual(rootFromLeafHashes(prefix), root);
    assert.equal(f.nodes().length, n.toString(2).replace(/0/g, "").length);

    // Every past root from the persisted perfect subtrees alone, O(log n) reads.
    let reads = 0;
    const lookup: NodeLookup = (l, i) => {
      reads++;
      return store.get(`${l}/${i}`);
    };
    for (const size of [n, Math.floor(n / 2), 1]) {
      reads = 0;
      assert.deepEqual(assembleRoot(rootPlan(size), lookup), mth(ALL_LEAVES.slice(0, size)));
      assert.ok(reads <= Math.ceil(Math.log2(size + 1)));
    }
    reads = 0;
    const rebuilt = MerkleFrontier.fromNodes(n, lookup);
    assert.ok(reads <= Math.ceil(Math.log2(n + 1)));
    assert.deepEqual(rebuilt.root(), root);
    assert.deepEqual(rebuilt.nodes(), f.nodes());
  }
  assert.deepEqual(
    assembleRoot(rootPlan(0), () => undefined),
    emptyRoot(),
  );
});

test("appendOwned gives the nodes and roots append gives", () => {
  const general = new MerkleFrontier();
  const owned = new MerkleFrontier();
  for (let n = 1; n <= MAX_N; n++) {
    const leaf = ALL_LEAVES[n - 1] as Buffer;
    const completed = general.append(leaf);
    const nodes = owned.appendOwned(Buffer.from(leaf));
    const expected = Buffer.concat(completed.slice(1).map((node) => node.hash));
    assert.deepEqual(nodes, expected, `size ${n}`);
    assert.equal(owned.size, n);
    assert.deepEqual(owned.root(), general.root());
  }
  assert.throws(
    () => owned.appendOwned(Buffer.alloc(31)),
    (e: unknown) => isGenlogError(e, "GENLOG_E_USAGE"),
  );
});

test("frontier clone is independent and append validates input", () => {
  const f = new MerkleFrontier();
  f.append(ALL_LEAVES[0] as Buffer);
  const g = f.clone();
  g.append(ALL_LEAVES[1] as Buffer);
  assert.equal(f.size, 1);
  assert.deepEqual(f.root(), ALL_LEAVES[0]);
  assert.deepEqual(g.root(), mth(ALL_LEAVES.slice(0, 2)));
  // The frontier keeps its own copy of the leaf hash.
  const leaf = Buffer.from(ALL_LEAVES[2] as Buffer);
  const h = new MerkleFrontier();
  h.append(leaf);
  leaf.fill(0);
  assert.deepEqual(h.root(), ALL_LEAVES[2]);
  assert.throws(
    () => f.append(Buffer.alloc(31)),
    (e: unknown) => isGenlogError(e, "GENLOG_E_USAGE"),
  );
  assert.throws(
    () => f.append("x" as unknown as Uint8Array),
    (e: unknown) => isGenlogError(e, "GENLOG_E_USAGE"),
  );
});

test("inclusion proofs from plan+assemble equal RFC PATH and verify (sizes 1..200)", () => {
  let checked = 0;
  for (let n = 1; n <= MAX_N; n++) {
    const leaves = ALL_LEAVES.slice(0, n);
    const root = mth(leaves);
    const { lookup, calls } = refLookup(leaves);
    const indices =
      n <= 64 ? [...Array(n).keys()] : [0, 1, n >> 1, n - 2, n - 1, (n * 7) % n, (n * 13) % n];
    for (const m of indices) {
      const plan = planInclusionProof(m, n);
      const before = calls();
      const proof = assembleProof(plan, lookup);
      const reads = calls() - before;
      assert.equal(reads, plan.nodes.length);
      assert.ok(reads <= logBound(n), `size ${n} leaf ${m}: ${reads} reads`);
      assert.deepEqual(proof, refPath(m, leaves), `size ${n} leaf ${m}`);
      verifyInclusion(leaves[m] as Buffer, m, n, proof, root);
      assert.deepEqual(rootFromInclusionProof(leaves[m] as Buffer, m, n, proof), root);
      // The array form of lookup gives the same proof.
      const fetched = plan.nodes.map((id) => lookup(id.level, id.index));
      assert.deepEqual(assembleProof(plan, fetched), proof);
      checked++;
    }
  }
  assert.ok(checked > 2000);
});

test("consistency proofs from plan+assemble equal RFC PROOF and verify (sizes 1..200)", () => {
  let checked = 0;
  for (let n = 1; n <= MAX_N; n++) {
    const leaves = ALL_LEAVES.slice(0, n);
    const root2 = mth(leaves);
    const { lookup, calls } = refLookup(leaves);
    const sizes = n <= 40 ? [...Array(n).keys()].map((i) => i + 1) : [1, 2, n >> 1, n - 1, n];
    for (const m of sizes) {
      const plan = planConsistencyProof(m, n);
      const before = calls();
      const proof = assembleProof(plan, lookup);
      assert.ok(calls() - before <= logBound(n), `${m}->${n}: ${calls() - before} reads`);
      assert.deepEqual(proof, m === n ? [] : refSubproof(m, leaves, true), `${m}->${n}`);
      verifyConsistency(m, n, proof, mth(leaves.slice(0, m)), root2);
      checked++;
    }
  }
  assert.ok(checked > 1000);
});

test("tampered proofs fail", () => {
  const n = 77;
  const leaves = ALL_LEAVES.slice(0, n);
  const root = mth(leaves);
  const { lookup } = refLookup(leaves);
  const variants = (proof: Buffer[]): Buffer[][] => {
    const out: Buffer[][] = [];
    for (let i = 0; i < proof.length; i++) {
      for (const bit of [0, 7, 255]) {
        const copy = proof.map((p) => Buffer.from(p));
        const el = copy[i] as Buffer;
        el[bit >> 3] = (el[bit >> 3] as number) ^ (1 << (bit & 7));
        out.push(copy);
      }
      out.push(proof.filter((_, j) => j !== i));
      out.push([...proof.slice(0, i), sha256("x"), ...proof.slice(i)]);
    }
    out.push([...proof, sha256("extra")]);
    out.push([sha256("extra"), ...proof]);
    return out;
  };
  for (const m of [0, 5, 38, 63, 64, 76]) {
    const proof = assembleProof(planInclusionProof(m, n), lookup);
    for (const bad of variants(proof)) {
      assertBadProof(() => verifyInclusion(leaves[m] as Buffer, m, n, bad, root));
    }
    assertBadProof(() => verifyInclusion(leaves[m] as Buffer, m + 1, n, proof, root));
    // (n + 1 can still verify for leaves on the left edge: the path is the same.)
    assertBadProof(() => verifyInclusion(leaves[m] as Buffer, m, n * 2, proof, root));
    assertBadProof(() => verifyInclusion(sha256("other"), m, n, proof, root));
  }
  for (const m of [1, 3, 8, 32, 50, 76]) {
    const proof = assembleProof(planConsistencyProof(m, n), lookup);
    const root1 = mth(leaves.slice(0, m));
    for (const bad of variants(proof)) {
      assertBadProof(() => verifyConsistency(m, n, bad, root1, root));
    }
    assertBadProof(() => verifyConsistency(m, n, proof, root, root1));
    assertBadProof(() => verifyConsistency(m + 1, n, proof, root1, root));
  }
});

test("verification rejects malformed input with GENLOG_E_BAD_PROOF, never a TypeError", () => {
  const h = sha256("h");
  const bad: unknown[] = [undefined, null, "abc", 1.5, -1, Number.MAX_SAFE_INTEGER + 2, {}];
  for (const v of bad) {
    assertBadProof(() => verifyInclusion(h, v as number, 4, [h, h], h));
    assertBadProof(() => verifyInclusion(h, 0, v as number, [h, h], h));
    assertBadProof(() => verifyInclusion(v as Uint8Array, 0, 4, [h, h], h));
    assertBadProof(() => verifyInclusion(h, 0, 4, v as Uint8Array[], h));
    assertBadProof(() => verifyInclusion(h, 0, 4, [h, v as Uint8Array], h));
    assertBadProof(() => verifyInclusion(h, 0, 4, [h, h], v as Uint8Array));
    assertBadProof(() => verifyConsistency(v as number, 4, [h], h, h));
    assertBadProof(() => verifyConsistency(3, 4, v as Uint8Array[], h, h));
    assertBadProof(() => verifyConsistency(3, 4, [h, v as Uint8Array], h, h));
    assertBadProof(() => verifyConsistency(3, 4, [h], v as Uint8Array, h));
    assertBadProof(() => verifyConsistency(2, 2, [], v as Uint8Array, h));
  }
  assertBadProof(() => verifyInclusion(h, 0, 4, Array<Buffer>(1000).fill(h), h));
});

test("plans validate their arguments", () => {
  const usage = (e: unknown): boolean => isGenlogError(e, "GENLOG_E_USAGE");
  const notFound = (e: unknown): boolean => isGenlogError(e, "GENLOG_E_NOT_FOUND");
  assert.throws(() => planInclusionProof(0, 0), notFound);
  assert.throws(() => planInclusionProof(5, 5), notFound);
  assert.throws(() => planInclusionProof(-1, 5), usage);
  assert.throws(() => planInclusionProof(0.5, 5), usage);
  assert.throws(() => planConsistencyProof(0, 5), usage);
  assert.throws(() => planConsistencyProof(6, 5), usage);
  assert.throws(() => planConsistencyProof(1, NaN), usage);
  assert.throws(() => rootPlan(-1), usage);
  assert.deepEqual(planConsistencyProof(5, 5).nodes, []);
  assert.deepEqual(
    assembleProof(planConsistencyProof(5, 5), () => undefined),
    [],
  );
  // A store missing a node, or returning garbage, is reported, not mis-hashed.
  assert.throws(() => assembleProof(planInclusionProof(3, 8), () => undefined), notFound);
  assert.throws(
    () => assembleProof(planInclusionProof(3, 8), () => Buffer.alloc(3)),
    (e: unknown) => isGenlogError(e, "GENLOG_E_STORE"),
  );
  assert.throws(() => assembleProof(planInclusionProof(3, 8), []), usage);
  assert.throws(() => assembleRoot(planInclusionProof(3, 8), () => undefined), usage);
  assert.throws(() => assembleProof(rootPlan(8), () => undefined), usage);
  assert.throws(() => MerkleFrontier.fromNodes(3, () => undefined), notFound);
});

test("proofs near 2^53 stay O(log n) and verify", () => {
  // A tree whose leaves are all equal: a perfect subtree hash depends only on its
  // level, so any size is cheap to model consistently.
  const perLevel: Buffer[] = [hashLeaf(Buffer.from("same"))];
  for (let l = 1; l <= 53; l++) {
    const c = perLevel[l - 1] as Buffer;
    perLevel.push(hashChildren(c, c));
  }
  let reads = 0;
  const lookup: NodeLookup = (level) => {
    reads++;
    return perLevel[level];
  };
  const sizes = [2 ** 31 + 1, 2 ** 32 + 12345, 2 ** 52 + 3, Number.MAX_SAFE_INTEGER];
  for (const n of sizes) {
    const root = assembleRoot(rootPlan(n), lookup);
    assert.deepEqual(MerkleFrontier.fromNodes(n, lookup).root(), root);
    for (const m of [0, 1, 2 ** 31, Math.floor(n / 3), n - 2, n - 1]) {
      reads = 0;
      const proof = assembleProof(planInclusionProof(m, n), lookup);
      assert.ok(reads <= logBound(n), `inclusion ${m} in ${n}: ${reads} reads`);
      verifyInclusion(perLevel[0] as Buffer, m, n, proof, root);
    }
    for (const m of [1, 2 ** 31 - 1, 2 ** 31, Math.floor(n / 3), n - 1]) {
      reads = 0;
      const proof = assembleProof(planConsistencyProof(m, n), lookup);
      assert.ok(reads <= logBound(n), `consistency ${m}->${n}: ${reads} reads`);
      verifyConsistency(m, n, proof, assembleRoot(rootPlan(m), lookup), root);
    }
  }
});
