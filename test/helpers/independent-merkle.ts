/**
 * RFC 9162 §2.1 hashes computed straight from their definitions with node:crypto, so that
 * end-to-end tests check genlog's output against something that does not share its code.
 */
import { createHash } from "node:crypto";

function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
}

/** SHA-256(0x00 || bytes): the leaf hash of a record's canonical JSON. */
export function leafHashOf(canonical: string): Buffer {
  return sha256(Buffer.from([0]), Buffer.from(canonical, "utf8"));
}

/** MTH(D[n]) of RFC 9162 §2.1.1 over leaf hashes, recursively. */
export function merkleTreeHash(leafHashes: readonly Buffer[]): Buffer {
  if (leafHashes.length === 0) return sha256();
  if (leafHashes.length === 1) return leafHashes[0]!;
  let k = 1;
  while (k * 2 < leafHashes.length) k *= 2;
  return sha256(
    Buffer.from([1]),
    merkleTreeHash(leafHashes.slice(0, k)),
    merkleTreeHash(leafHashes.slice(k)),
  );
}
