import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { isGenlogError } from "../src/errors.js";
import type { ErrorCode } from "../src/errors.js";
import {
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from "../src/core/checkpoint.js";
import { ed25519RawPublicKey, formatVerifierKey, signNote } from "../src/core/signed-note.js";

function code(c: ErrorCode): (e: unknown) => boolean {
  return (e: unknown) => isGenlogError(e, c);
}

const ROOT = createHash("sha256").update("root").digest();
const ROOT64 = ROOT.toString("base64");

test("format/parse round trip, with and without extensions", () => {
  const body = formatCheckpoint({ origin: "example.com/log", size: 20852163, rootHash: ROOT });
  assert.equal(body, `example.com/log\n20852163\n${ROOT64}\n`);
  assert.deepEqual(parseCheckpoint(body), {
    origin: "example.com/log",
    size: 20852163,
    rootHash: ROOT,
    extensions: [],
  });
  const ext = formatCheckpoint({
    origin: "o",
    size: 0,
    rootHash: new Uint8Array(ROOT),
    extensions: ["ext one", "ext two"],
  });
  assert.equal(ext, `o\n0\n${ROOT64}\next one\next two\n`);
  assert.deepEqual(parseCheckpoint(ext).extensions, ["ext one", "ext two"]);
  const max = formatCheckpoint({ origin: "o", size: Number.MAX_SAFE_INTEGER, rootHash: ROOT });
  assert.equal(parseCheckpoint(max).size, Number.MAX_SAFE_INTEGER);
});

test("malformed checkpoint bodies give GENLOG_E_MALFORMED_NOTE", () => {
  const cases: [string, unknown][] = [
    ["empty", ""],
    ["no final newline", `o\n1\n${ROOT64}`],
    ["two lines", "o\n1\n"],
    ["empty origin", `\n1\n${ROOT64}\n`],
    ["leading zero", `o\n01\n${ROOT64}\n`],
    ["negative", `o\n-1\n${ROOT64}\n`],
    ["plus sign", `o\n+1\n${ROOT64}\n`],
    ["exponent", `o\n1e3\n${ROOT64}\n`],
    ["hex", `o\n0x10\n${ROOT64}\n`],
    ["space", `o\n 1\n${ROOT64}\n`],
    ["fraction", `o\n1.0\n${ROOT64}\n`],
    ["above 2^53-1", `o\n9007199254740992\n${ROOT64}\n`],
    ["huge", `o\n${"9".repeat(400)}\n${ROOT64}\n`],
    ["short root", `o\n1\n${ROOT.subarray(0, 31).toString("base64")}\n`],
    ["long root", `o\n1\n${Buffer.concat([ROOT, ROOT]).toString("base64")}\n`],
    ["unpadded root", `o\n1\n${ROOT64.slice(0, -1)}\n`],
    ["base64url root", `o\n1\n${ROOT.toString("base64url")}=\n`],
    ["empty extension line", `o\n1\n${ROOT64}\n\n`],
    ["control char", `o\t\n1\n${ROOT64}\n`],
    ["CRLF", `o\r\n1\r\n${ROOT64}\r\n`],
    ["not a string", 12],
    ["null", null],
  ];
  for (const [what, input] of cases) {
    assert.throws(
      () => parseCheckpoint(input as string),
      (e: unknown) => isGenlogError(e, "GENLOG_E_MALFORMED_NOTE") && /expected/.test(e.message),
      what,
    );
  }
});

test("formatCheckpoint rejects values the format cannot hold", () => {
  const good = { origin: "o", size: 1, rootHash: ROOT };
  const bad: unknown[] = [
    { ...good, origin: "" },
    { ...good, origin: "a\nb" },
    { ...good, size: -1 },
    { ...good, size: 1.5 },
    { ...good, size: 2 ** 53 },
    { ...good, rootHash: ROOT.subarray(1) },
    { ...good, rootHash: "x" },
    { ...good, extensions: [""] },
    { ...good, extensions: ["a\nb"] },
  ];
  for (const cp of bad) {
    assert.throws(() => formatCheckpoint(cp as never), code("GENLOG_E_USAGE"), JSON.stringify(cp));
  }
});

test("sign and open a checkpoint", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const origin = "genlog.example/log";
  const vkey = formatVerifierKey(origin, ed25519RawPublicKey(publicKey));
  const cp = { origin, size: 42, rootHash: ROOT };
  const text = signCheckpoint(cp, undefined, privateKey);
  assert.deepEqual(openCheckpoint(text, vkey, origin), { ...cp, extensions: [] });
  assert.deepEqual(openCheckpoint(text, vkey), { ...cp, extensions: [] });
  assert.throws(
    () => openCheckpoint(text, vkey, "other.example/log"),
    code("GENLOG_E_BAD_SIGNATURE"),
  );
  const other = formatVerifierKey(
    origin,
    ed25519RawPublicKey(generateKeyPairSync("ed25519").publicKey),
  );
  assert.throws(() => openCheckpoint(text, other, origin), code("GENLOG_E_BAD_SIGNATURE"));
  assert.throws(
    () => openCheckpoint(text.replace("\n42\n", "\n43\n"), vkey),
    code("GENLOG_E_BAD_SIGNATURE"),
  );
  // A correctly signed note whose body is not a checkpoint.
  const notCp = signNote("just text\n", origin, privateKey);
  assert.throws(() => openCheckpoint(notCp, vkey), code("GENLOG_E_MALFORMED_NOTE"));
  // A key name other than the origin is allowed (the spec says SHOULD match).
  const named = signCheckpoint(cp, "signer.example", privateKey);
  const namedKey = formatVerifierKey("signer.example", ed25519RawPublicKey(publicKey));
  assert.equal(openCheckpoint(named, namedKey, origin).size, 42);
});
