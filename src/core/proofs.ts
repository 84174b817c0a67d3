/**
 * The proofs genlog serves, as `genlog proof … --json` prints them, and the check that a
 * recipient runs on one with nothing but the verifier key: what an auditor or another
 * program does with a proof it received.
 */
import { GenlogError } from "../errors.js";
import { canonicalize } from "./jcs.js";
import { hashLeaf, verifyInclusion } from "./merkle.js";
import { parseCheckpoint, type ParsedCheckpoint } from "./checkpoint.js";
import { decodeBase64Strict, verifyNote } from "./signed-note.js";
import type { GenerationRecord } from "./record.js";

/** An RFC 9162 inclusion proof with the signed checkpoint it is relative to. */
export interface InclusionProof {
  origin: string;
  leafIndex: number;
  treeSize: number;
  /** Base64 leaf hash. */
  leafHash: string;
  /** Base64 proof hashes, leaf to root. */
  hashes: string[];
  /** The signed note of the checkpoint at `treeSize`. */
  checkpoint: string;
  record: GenerationRecord;
}

/** An RFC 9162 consistency proof between two checkpoints of one log. */
export interface ConsistencyProof {
  origin: string;
  from: number;
  to: number;
  hashes: string[];
}

/**
 * Verifies an inclusion proof end to end: the checkpoint's signature and origin, that the
 * record is the entry at `leafIndex` of that origin's tenant, that it hashes to `leafHash`
 * (RFC 8785 + RFC 9162 leaf), and the audit path to the signed root.
 * Returns the verified checkpoint.
 *
 * @example
 * const proof = await log.inclusionProof(rec.id);
 * checkInclusionProof(proof, await log.verifierKey());
 * @throws {GenlogError} `GENLOG_E_BAD_SIGNATURE`, `GENLOG_E_MALFORMED_NOTE` or `GENLOG_E_BAD_PROOF`.
 */
export function checkInclusionProof(proof: InclusionProof, verifierKey: string): ParsedCheckpoint {
  const cp = parseCheckpoint(verifyNote(proof.checkpoint, verifierKey));
  if (cp.origin !== proof.origin || cp.size !== proof.treeSize) {
    throw new GenlogError(
      "GENLOG_E_BAD_PROOF",
      `the proof is for ${proof.origin} at size ${proof.treeSize}, its checkpoint for ${cp.origin} at size ${cp.size}`,
    );
  }
  // The path proves a leaf at `leafIndex` in the tree of `origin`: the record must say it
  // is that entry of that tenant, or a valid proof of one record could vouch for another.
  if (proof.record.seq !== proof.leafIndex) {
    throw new GenlogError(
      "GENLOG_E_BAD_PROOF",
      `the record says it is entry ${String(proof.record.seq)}, the proof is for entry ${proof.leafIndex}`,
      { details: { rule: "seq" } },
    );
  }
  const tenant = originTenant(cp.origin);
  // An origin without a tenant part names no tenant: a record without one must not match it.
  if (tenant === undefined || proof.record.tenant !== tenant) {
    throw new GenlogError(
      "GENLOG_E_BAD_PROOF",
      `the record is of tenant ${JSON.stringify(proof.record.tenant)}, the checkpoint of ${cp.origin} (tenant ${JSON.stringify(tenant)})`,
      { details: { rule: "tenant" } },
    );
  }
  const leaf = strictHash(proof.leafHash, "leafHash");
  if (!hashLeaf(Buffer.from(canonicalize(proof.record), "utf8")).equals(leaf)) {
    throw new GenlogError(
      "GENLOG_E_BAD_PROOF",
      "the record does not hash to the proof's leafHash",
      {
        details: { rule: "leaf" },
      },
    );
  }
  verifyInclusion(
    leaf,
    proof.leafIndex,
    proof.treeSize,
    (Array.isArray(proof.hashes) ? proof.hashes : [undefined]).map((h, i) =>
      strictHash(h, Array.isArray(proof.hashes) ? `hashes[${i}]` : "hashes list"),
    ),
    cp.rootHash,
  );
  return cp;
}

/** A proof's base64 hash, decoded strictly: one text per hash, as the proof was served. */
function strictHash(text: unknown, name: string): Buffer {
  const bytes = typeof text === "string" ? decodeBase64Strict(text) : undefined;
  if (bytes === undefined) {
    throw new GenlogError("GENLOG_E_BAD_PROOF", `the proof's ${name} is not canonical base64`, {
      details: { rule: "encoding" },
    });
  }
  return bytes;
}

/** The tenant of a log origin `<instance>/<tenant>/<stream>` (the instance may hold slashes). */
function originTenant(origin: string): string | undefined {
  const parts = origin.split("/");
  return parts.length >= 3 ? parts[parts.length - 2] : undefined;
}
