/**
 * (f) Inclusion-proof latency on a large log: a log of `size` entries is built with genlog's
 * own windowed appends (timed: that is ingest at scale), then `log.inclusionProof(seq)` is
 * timed for random seqs, one at a time. Every proof is checked against its checkpoint's root
 * outside the clock, and a separate untimed pass counts the SQLite calls of one proof.
 */
import { checkInclusionProof, type Genlog } from "../src/index.js";
import { latencyStats, now, seededRandom, type LatencyStats } from "./common.js";
import { countSqliteCalls } from "./sqlite-calls.js";

/** The result of {@link measureProofs}. */
export interface ProofResult {
  treeSize: number;
  latency: LatencyStats;
  /** Mean number of hashes in a proof. */
  meanHashes: number;
  /** SQLite statements run (reads) per proof. */
  sqlReadsPerProof: number;
  /** SQLite statements compiled per proof. */
  preparesPerProof: number;
}

/** Times `count` inclusion proofs of random seqs below `treeSize` (a fixed seed). */
export async function measureProofs(
  log: Genlog,
  treeSize: number,
  count: number,
  seed = 20240901,
): Promise<ProofResult> {
  const random = seededRandom(seed);
  const seqs = Array.from({ length: count }, () => Math.floor(random() * treeSize));
  const key = await log.verifierKey();
  const checkProof = (proof: Awaited<ReturnType<Genlog["inclusionProof"]>>) =>
    checkInclusionProof(proof, key);
  for (let i = 0; i < Math.min(50, count); i++) checkProof(await log.inclusionProof(seqs[i]!));

  const durations: number[] = [];
  let hashes = 0;
  for (const seq of seqs) {
    const start = now();
    const proof = await log.inclusionProof(seq);
    durations.push(now() - start);
    if (proof.treeSize !== treeSize) throw new Error(`proof is for size ${proof.treeSize}`);
    checkProof(proof);
    hashes += proof.hashes.length;
  }

  const sample = seqs.slice(0, Math.min(100, seqs.length));
  const calls = await countSqliteCalls(async () => {
    for (const seq of sample) await log.inclusionProof(seq);
  });
  return {
    treeSize,
    latency: latencyStats(durations),
    meanHashes: hashes / count,
    sqlReadsPerProof: calls.reads / sample.length,
    preparesPerProof: calls.prepares / sample.length,
  };
}
