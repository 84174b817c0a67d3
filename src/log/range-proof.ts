/**
 * What archives and CAR exports share: a range [fromSeq, toSeq) of a log is proved by the
 * perfect subtrees of [0, fromSeq) and the leaves recomputed from its records, which together
 * rebuild the tree of size toSeq; a consistency proof ties it to a signed checkpoint.
 */
import { canonicalize } from "../core/jcs.js";
import {
  MerkleFrontier,
  assembleProof,
  hashLeafText,
  planConsistencyProof,
  rootPlan,
} from "../core/merkle.js";
import { decodeBase64Strict } from "../core/signed-note.js";
import type { LogRef, LogStore } from "../store/log-store.js";
import { readStoredNodes } from "./writer.js";

/** A perfect subtree before the range, as `rootPlan(fromSeq)` lists them (hash in base64). */
export interface Subtree {
  level: number;
  index: number;
  hash: string;
}

/** The perfect subtrees of [0, fromSeq), read from the stored nodes. */
export async function subtreesBefore(
  store: LogStore,
  ref: LogRef,
  fromSeq: number,
): Promise<Subtree[]> {
  if (fromSeq === 0) return [];
  const plan = rootPlan(fromSeq);
  const hashes = await readStoredNodes(store, ref, plan.nodes);
  return plan.nodes.map((n, i) => ({
    level: n.level,
    index: n.index,
    hash: Buffer.from(hashes[i]!).toString("base64"),
  }));
}

/** The RFC 9162 consistency proof from `size1` to `size2` (base64); empty when there is none to give. */
export async function consistencyBetween(
  store: LogStore,
  ref: LogRef,
  size1: number,
  size2: number,
): Promise<string[]> {
  if (size1 === 0 || size1 >= size2) return [];
  const plan = planConsistencyProof(size1, size2);
  return assembleProof(plan, await readStoredNodes(store, ref, plan.nodes)).map((h) =>
    h.toString("base64"),
  );
}

/**
 * The tree of size `fromSeq` from its subtrees, ready for the range's leaves.
 *
 * @throws {Error} naming the subtree that is missing or not a hash.
 */
export function frontierFrom(fromSeq: number, before: readonly Subtree[]): MerkleFrontier {
  const hashes = new Map(before.map((n) => [`${n.level}/${n.index}`, hashOf(n.hash)]));
  return MerkleFrontier.fromNodes(fromSeq, (level, index) => {
    const h = hashes.get(`${level}/${index}`);
    if (h === undefined) throw new Error(`the subtree (${level}, ${index}) is missing`);
    return h;
  });
}

/**
 * Checks one line of a range's records (canonical, record `seq` of `tenant`) and appends its
 * leaf to `frontier` whatever it finds, so that the root still says whether bytes changed.
 */
export function checkRecordLine(
  line: string,
  seq: number,
  fromSeq: number,
  tenant: string,
  frontier: MerkleFrontier,
  problems: { seq?: number; message: string }[],
): void {
  let rec: { seq?: unknown; tenant?: unknown };
  try {
    rec = JSON.parse(line) as typeof rec;
    if (canonicalize(rec) !== line) throw new Error("not in canonical form");
  } catch (e) {
    problems.push({ seq, message: `record ${seq}: ${(e as Error).message}` });
    rec = {};
  }
  if (rec.seq !== seq) {
    problems.push({ seq, message: `line ${seq - fromSeq + 1} is not record ${seq}` });
  } else if (rec.tenant !== tenant) {
    problems.push({ seq, message: `record ${seq} is not of tenant ${tenant}` });
  }
  frontier.append(hashLeafText(line));
}

/** A 32-byte hash from strict base64. */
export function hashOf(s: string): Buffer {
  const b = decodeBase64Strict(s);
  if (b === undefined || b.length !== 32) throw new Error("a hash is not 32 bytes of base64");
  return b;
}
