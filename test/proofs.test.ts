/**
 * checkInclusionProof on proofs that a signer (or a bug) made internally consistent: the
 * path, leaf hash and signature all verify, and only the record's own claims are wrong.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import {
  GenlogError,
  canonicalize,
  checkInclusionProof,
  formatVerifierKey,
  type GenerationRecord,
} from "../src/index.js";
import {
  MerkleFrontier,
  assembleProof,
  hashLeafText,
  planInclusionProof,
} from "../src/core/merkle.js";
import { signCheckpoint } from "../src/core/checkpoint.js";
import { ed25519RawPublicKey } from "../src/core/signed-note.js";
import { record } from "./helpers/record-fixture.js";

const ORIGIN = "genlog.example/acme/events";

/** A signed tree of `records` and the served proof of the one at `index`. */
function signedProof(records: GenerationRecord[], index: number) {
  const { privateKey } = generateKeyPairSync("ed25519");
  const name = "genlog.example/acme";
  const verifierKey = formatVerifierKey(name, ed25519RawPublicKey(privateKey));
  const frontier = new MerkleFrontier();
  const nodes = new Map<string, Buffer>();
  for (const r of records) {
    for (const n of frontier.append(hashLeafText(canonicalize(r)))) {
      nodes.set(`${n.level}/${n.index}`, n.hash);
    }
  }
  const size = records.length;
  const note = signCheckpoint(
    { origin: ORIGIN, size, rootHash: frontier.root() },
    name,
    privateKey,
  );
  const hashes = assembleProof(planInclusionProof(index, size), (l, i) => nodes.get(`${l}/${i}`));
  const proof = {
    origin: ORIGIN,
    leafIndex: index,
    treeSize: size,
    leafHash: hashLeafText(canonicalize(records[index]!)).toString("base64"),
    hashes: hashes.map((h) => h.toString("base64")),
    checkpoint: note,
    record: records[index]!,
  };
  return { proof, verifierKey };
}

const badProof = (rule: string) => (e: unknown) =>
  e instanceof GenlogError && e.code === "GENLOG_E_BAD_PROOF" && e.details.rule === rule;

test("a consistent proof of a record at its own position and tenant is accepted", () => {
  const records = [0, 1, 2, 3, 4].map((s) => record(s));
  const { proof, verifierKey } = signedProof(records, 3);
  assert.equal(checkInclusionProof(proof, verifierKey).size, 5);
});

test("a signed leaf whose record claims another position is refused", () => {
  const records = [0, 1, 2, 3, 4].map((s) => record(s));
  records[2] = record(4); // a second copy of entry 4, signed at position 2
  const { proof, verifierKey } = signedProof(records, 2);
  assert.throws(() => checkInclusionProof(proof, verifierKey), badProof("seq"));
});

test("a signed leaf whose record names another tenant than the origin's is refused", () => {
  const records = [0, 1, 2].map((s) => record(s));
  records[1] = record(1, { tenant: "other" });
  const { proof, verifierKey } = signedProof(records, 1);
  assert.throws(() => checkInclusionProof(proof, verifierKey), badProof("tenant"));
});

test("a proof's hashes are read as served: base64 with junk after it, or unpadded, is refused", () => {
  const records = [0, 1, 2, 3, 4].map((s) => record(s));
  const { proof, verifierKey } = signedProof(records, 3);
  // Node's lenient decoder reads the 32 bytes and ignores what follows the padding.
  for (const leafHash of [`${proof.leafHash}AAAA`, proof.leafHash.replace(/=+$/, "")]) {
    assert.throws(
      () => checkInclusionProof({ ...proof, leafHash }, verifierKey),
      badProof("encoding"),
    );
  }
  const hashes = [...proof.hashes];
  hashes[0] = `${hashes[0]!} `;
  assert.throws(() => checkInclusionProof({ ...proof, hashes }, verifierKey), badProof("encoding"));
  const notAList = { ...proof, hashes: "AAAA" as unknown as string[] };
  assert.throws(() => checkInclusionProof(notAList, verifierKey), badProof("encoding"));
  // The changed leaf: its own rule.
  const other = hashLeafText("x").toString("base64");
  assert.throws(
    () => checkInclusionProof({ ...proof, leafHash: other }, verifierKey),
    badProof("leaf"),
  );
});
