import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { GenlogError, isGenlogError } from "../src/errors.js";
import type { ErrorCode } from "../src/errors.js";
import {
  SIGNED_NOTE_MAX_SIGNATURES,
  ed25519KeyId,
  ed25519PublicKeyFromRaw,
  ed25519RawPublicKey,
  formatSignedNote,
  formatSignerKey,
  formatVerifierKey,
  isValidKeyName,
  noteVerifierFromKey,
  parseSignedNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifyNote,
} from "../src/core/signed-note.js";
import { openCheckpoint } from "../src/core/checkpoint.js";
import { emptyRoot, hashLeaf, rootFromLeafHashes } from "../src/core/merkle.js";

const GOLDEN = fileURLToPath(new URL("./vectors/tessera-golden-log/", import.meta.url));
const GOLDEN_VKEY =
  "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
const GOLDEN_ORIGIN = "example.com/log/testdata";

function code(c: ErrorCode): (e: unknown) => boolean {
  return (e: unknown) => isGenlogError(e, c);
}

function newKey() {
  return generateKeyPairSync("ed25519");
}

/** Entry bundle (C2SP tlog-tiles): each entry a 2-byte big-endian length, then bytes. */
function parseBundle(bundle: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < bundle.length) {
    const len = bundle.readUInt16BE(off);
    out.push(bundle.subarray(off + 2, off + 2 + len));
    off += 2 + len;
  }
  assert.equal(off, bundle.length);
  return out;
}

// ---------------------------------------------------------------------------------
// Tessera golden log

test("Tessera golden log: every checkpoint parses and verifies", () => {
  const files = readdirSync(GOLDEN).filter((f) => /^checkpoint(\.\d+)?$/.test(f));
  assert.equal(files.length, 17);
  for (const f of files) {
    const text = readFileSync(GOLDEN + f, "utf8");
    const note = parseSignedNote(text);
    assert.equal(note.signatures.length, 1);
    assert.equal(note.signatures[0]?.keyId, 0x33d7b496);
    assert.equal(note.signatures[0]?.name, GOLDEN_ORIGIN);
    assert.equal(formatSignedNote(note.body, note.signatures), text);
    const cp = openCheckpoint(text, GOLDEN_VKEY, GOLDEN_ORIGIN);
    const n = f === "checkpoint" ? 15 : Number(f.slice("checkpoint.".length));
    assert.equal(cp.size, n);
    // The raw bytes form is accepted too.
    assert.deepEqual(openCheckpoint(readFileSync(GOLDEN + f), GOLDEN_VKEY), cp);
  }
});

test("Tessera golden log: entries, leaf hashes and every prefix root match", () => {
  const entries = parseBundle(readFileSync(GOLDEN + "tile/entries/000.p/15"));
  const names =
    "one two three four five six seven eit nain ten ileven twelf threeten fourten fivten";
  assert.deepEqual(
    entries.map((e) => e.toString("utf8")),
    names.split(" "),
  );
  const leafHashes = entries.map((e) => hashLeaf(e));
  assert.deepEqual(Buffer.concat(leafHashes), readFileSync(GOLDEN + "tile/0/000.p/15"));
  for (let n = 1; n <= 15; n++) {
    assert.deepEqual(
      readFileSync(GOLDEN + `tile/0/000.p/${n}`),
      Buffer.concat(leafHashes.slice(0, n)),
    );
    assert.deepEqual(
      parseBundle(readFileSync(GOLDEN + `tile/entries/000.p/${n}`)),
      entries.slice(0, n),
    );
  }
  for (let n = 0; n <= 15; n++) {
    const cp = openCheckpoint(readFileSync(GOLDEN + `checkpoint.${n}`, "utf8"), GOLDEN_VKEY);
    assert.deepEqual(rootFromLeafHashes(leafHashes.slice(0, n)), cp.rootHash, `size ${n}`);
  }
  assert.deepEqual(
    openCheckpoint(readFileSync(GOLDEN + "checkpoint.0", "utf8"), GOLDEN_VKEY).rootHash,
    emptyRoot(),
  );
});

test("Tessera golden log: tampering and wrong keys are rejected", () => {
  const text = readFileSync(GOLDEN + "checkpoint.15", "utf8");
  assert.throws(
    () => verifyNote(text.replace("\n15\n", "\n16\n"), GOLDEN_VKEY),
    code("GENLOG_E_BAD_SIGNATURE"),
  );
  assert.throws(
    () => openCheckpoint(text, GOLDEN_VKEY, "example.com/other"),
    code("GENLOG_E_BAD_SIGNATURE"),
  );
  const other = newKey();
  const vkey = formatVerifierKey(GOLDEN_ORIGIN, ed25519RawPublicKey(other.publicKey));
  assert.throws(() => verifyNote(text, vkey), code("GENLOG_E_BAD_SIGNATURE"));
  const v = parseVerifierKey(GOLDEN_VKEY);
  assert.equal(v.keyId, 0x33d7b496);
  assert.equal(v.name, GOLDEN_ORIGIN);
  assert.equal(formatVerifierKey(v.name, v.raw), GOLDEN_VKEY);
  // Same name and key id but another public key (a forged verifier): must not verify.
  const forged = { ...v, publicKey: other.publicKey };
  assert.throws(() => verifyNote(text, forged), code("GENLOG_E_BAD_SIGNATURE"));
});

// ---------------------------------------------------------------------------------
// Sign / verify

test("sign/verify round trip with a fresh Ed25519 key", () => {
  const { privateKey, publicKey } = newKey();
  const body = "genlog.example/log\nhello, wörld ✓\n\nwith an empty line\n";
  const text = signNote(body, "genlog.example/log", privateKey);
  const raw = ed25519RawPublicKey(publicKey);
  assert.deepEqual(ed25519RawPublicKey(privateKey), raw);
  assert.deepEqual(ed25519RawPublicKey(ed25519PublicKeyFromRaw(raw)), raw);
  const vkey = formatVerifierKey("genlog.example/log", raw);
  assert.match(vkey, /^genlog\.example\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
  assert.equal(verifyNote(text, vkey), body);
  assert.equal(verifyNote(text, parseVerifierKey(vkey)), body);
  assert.equal(verifyNote(text, noteVerifierFromKey("genlog.example/log", privateKey)), body);
  const parsed = parseSignedNote(text);
  const first = parsed.signatures[0];
  assert.ok(first);
  assert.equal(parsed.body, body);
  assert.equal(parsed.signatures[0]?.keyId, ed25519KeyId("genlog.example/log", raw));
  assert.equal(parsed.signatures[0]?.signature.length, 64);

  // Wrong key, same name: different key id, so the line is ignored and none is left.
  const other = formatVerifierKey("genlog.example/log", ed25519RawPublicKey(newKey().publicKey));
  assert.throws(() => verifyNote(text, other), code("GENLOG_E_BAD_SIGNATURE"));
  // Right key, other name.
  assert.throws(
    () => verifyNote(text, formatVerifierKey("other.example", raw)),
    code("GENLOG_E_BAD_SIGNATURE"),
  );
  // Altered body.
  assert.throws(
    () => verifyNote(text.replace("hello", "jello"), vkey),
    code("GENLOG_E_BAD_SIGNATURE"),
  );
  // Altered signature bytes.
  const sig = Buffer.from(parsed.signatures[0]?.signature ?? []);
  sig[10] = (sig[10] as number) ^ 1;
  const tampered = formatSignedNote(body, [{ ...first, signature: sig }]);
  assert.throws(() => verifyNote(tampered, vkey), code("GENLOG_E_BAD_SIGNATURE"));
  // Truncated signature from the known key.
  const short = formatSignedNote(body, [{ ...first, signature: sig.subarray(0, 63) }]);
  assert.throws(() => verifyNote(short, vkey), code("GENLOG_E_BAD_SIGNATURE"));
});

test("unknown signature lines are ignored; a failing known one rejects the note", () => {
  const { privateKey } = newKey();
  const body = "body\n";
  const mine = parseSignedNote(signNote(body, "me.example", privateKey)).signatures[0];
  assert.ok(mine);
  const witness = parseSignedNote(signNote(body, "witness.example", newKey().privateKey))
    .signatures[0];
  assert.ok(witness);
  const vkey = noteVerifierFromKey("me.example", privateKey);
  const junk = { name: "unknown.example", keyId: 7, signature: Buffer.alloc(3, 1) };
  // Same name as ours but another key id: an unknown key, ignored.
  const sameName = {
    name: "me.example",
    keyId: (mine.keyId + 1) >>> 0,
    signature: Buffer.alloc(64),
  };
  const text = formatSignedNote(body, [witness, junk, sameName, mine]);
  assert.equal(verifyNote(text, vkey), body);
  const bad = { ...mine, signature: Buffer.alloc(64) };
  assert.throws(
    () => verifyNote(formatSignedNote(body, [mine, bad]), vkey),
    code("GENLOG_E_BAD_SIGNATURE"),
  );
  assert.throws(
    () => verifyNote(formatSignedNote(body, [witness, junk]), vkey),
    code("GENLOG_E_BAD_SIGNATURE"),
  );
});

test("signNote and formatSignedNote reject bad arguments with typed errors", () => {
  const { privateKey, publicKey } = newKey();
  assert.throws(() => signNote("no newline", "a", privateKey), code("GENLOG_E_USAGE"));
  assert.throws(() => signNote("", "a", privateKey), code("GENLOG_E_USAGE"));
  assert.throws(() => signNote("tab\there\n", "a", privateKey), code("GENLOG_E_USAGE"));
  assert.throws(() => signNote("x\n", "has space", privateKey), code("GENLOG_E_KEY"));
  assert.throws(() => signNote("x\n", "a+b", privateKey), code("GENLOG_E_KEY"));
  assert.throws(() => signNote("x\n", "a", publicKey), code("GENLOG_E_KEY"));
  const rsa = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  assert.throws(() => signNote("x\n", "a", rsa), code("GENLOG_E_KEY"));
  assert.throws(() => signNote("x\n", "a", "key" as never), code("GENLOG_E_KEY"));
  const s = { name: "a", keyId: 1, signature: Buffer.alloc(64) };
  assert.throws(() => formatSignedNote("x\n", []), code("GENLOG_E_USAGE"));
  assert.throws(() => formatSignedNote("x\n", [{ ...s, keyId: 2 ** 32 }]), code("GENLOG_E_USAGE"));
  assert.throws(() => formatSignedNote("x\n", [{ ...s, name: "" }]), code("GENLOG_E_USAGE"));
  assert.throws(
    () => formatSignedNote("x\n", [{ ...s, signature: Buffer.alloc(0) }]),
    code("GENLOG_E_USAGE"),
  );
  assert.throws(
    () => formatSignedNote("x\n", Array<typeof s>(SIGNED_NOTE_MAX_SIGNATURES + 1).fill(s)),
    code("GENLOG_E_USAGE"),
  );
});

// ---------------------------------------------------------------------------------
// Strict parsing

const SIG = Buffer.alloc(68, 0xab).toString("base64");
const GOOD = `body\n\n— name ${SIG}\n`;

test("parseSignedNote accepts spec edge cases", () => {
  assert.deepEqual(parseSignedNote(GOOD).body, "body\n");
  // The last blank line separates: earlier blank lines belong to the text.
  assert.equal(parseSignedNote(`a\n\nb\n\n— name ${SIG}\n`).body, "a\n\nb\n");
  assert.equal(parseSignedNote(`a\n\n\n— name ${SIG}\n`).body, "a\n\n");
  const many = `body\n\n${`— name ${SIG}\n`.repeat(SIGNED_NOTE_MAX_SIGNATURES)}`;
  assert.equal(parseSignedNote(many).signatures.length, SIGNED_NOTE_MAX_SIGNATURES);
  assert.equal(parseSignedNote(`é ✓ 🙂\n\n— name ${SIG}\n`).body, "é ✓ 🙂\n");
});

test("malformed notes give GENLOG_E_MALFORMED_NOTE, never a raw error", () => {
  const cases: [string, unknown][] = [
    ["empty", ""],
    ["no final newline", GOOD.slice(0, -1)],
    ["no blank line", `body\n— name ${SIG}\n`],
    ["no signatures", "body\n\n"],
    ["only text", "body\n"],
    ["hyphen instead of em dash", `body\n\n- name ${SIG}\n`],
    ["en dash", `body\n\n\u2013 name ${SIG}\n`],
    ["no space after dash", `body\n\n—name ${SIG}\n`],
    ["no signature", "body\n\n— name\n"],
    ["empty name", `body\n\n—  ${SIG}\n`],
    ["plus in name", `body\n\n— na+me ${SIG}\n`],
    ["nbsp in name", `body\n\n— na\u00a0me ${SIG}\n`],
    ["ideographic space in name", `body\n\n— na\u3000me ${SIG}\n`],
    ["two spaces", `body\n\n— name  ${SIG}\n`],
    ["trailing space", `body\n\n— name ${SIG} \n`],
    ["bad base64", "body\n\n— name !!!!!!!!\n"],
    ["unpadded base64", `body\n\n— name ${SIG.replace(/=+$/, "")}\n`],
    ["non-canonical base64", "body\n\n— name AAAAAB==\n"],
    ["base64url", "body\n\n— name q6urq6ur-_8=\n"],
    ["signature too short", `body\n\n— name ${Buffer.alloc(4).toString("base64")}\n`],
    ["empty line between signatures at end", `body\n\n— name ${SIG}\n\n`],
    ["text after signature", `body\n\n— name ${SIG}\nmore`],
    ["tab in body", `bo\tdy\n\n— name ${SIG}\n`],
    ["CRLF", `body\r\n\r\n— name ${SIG}\r\n`],
    ["NUL", `body\u0000\n\n— name ${SIG}\n`],
    ["lone surrogate", `bo\ud800dy\n\n— name ${SIG}\n`],
    ["too many signatures", `body\n\n${`— name ${SIG}\n`.repeat(SIGNED_NOTE_MAX_SIGNATURES + 1)}`],
    ["too long", `${"x".repeat(2 ** 20)}\n\n— name ${SIG}\n`],
    [
      "invalid UTF-8 bytes",
      Buffer.concat([
        Buffer.from("b\xff"),
        Buffer.from([0xff]),
        Buffer.from(`\n\n— name ${SIG}\n`),
      ]),
    ],
    ["number", 42],
    ["null", null],
    ["undefined", undefined],
    ["object", { body: "x" }],
  ];
  for (const [what, input] of cases) {
    assert.throws(
      () => parseSignedNote(input as string),
      (e: unknown) => isGenlogError(e, "GENLOG_E_MALFORMED_NOTE") && /expected/.test(e.message),
      what,
    );
    assert.throws(
      () => verifyNote(input as string, GOLDEN_VKEY),
      code("GENLOG_E_MALFORMED_NOTE"),
      what,
    );
  }
});

test("fuzz: mutated notes parse or throw GenlogError only", () => {
  const base = readFileSync(GOLDEN + "checkpoint.7", "utf8");
  fc.assert(
    fc.property(
      fc.nat(base.length),
      fc.nat(8),
      fc.string({ unit: "binary", maxLength: 8 }),
      (at, del, ins) => {
        const text = base.slice(0, at) + ins + base.slice(at + del);
        try {
          verifyNote(text, GOLDEN_VKEY);
        } catch (e) {
          assert.ok(e instanceof GenlogError, String(e));
        }
        try {
          parseSignedNote(Buffer.from(text));
        } catch (e) {
          assert.ok(e instanceof GenlogError, String(e));
        }
      },
    ),
    { numRuns: 2000 },
  );
});

// ---------------------------------------------------------------------------------
// Keys

test("verifier key format/parse round trip and key id", () => {
  const { publicKey } = newKey();
  const raw = ed25519RawPublicKey(publicKey);
  const vkey = formatVerifierKey("example.com/k", raw);
  const v = parseVerifierKey(vkey);
  assert.equal(v.name, "example.com/k");
  assert.deepEqual(Buffer.from(v.raw), raw);
  assert.equal(v.keyId, ed25519KeyId("example.com/k", raw));
  assert.equal(vkey.split("+")[1], v.keyId.toString(16).padStart(8, "0"));
  assert.deepEqual(ed25519RawPublicKey(v.publicKey), raw);
  // Upper-case hex is accepted, as by the Go reference.
  assert.equal(parseVerifierKey(GOLDEN_VKEY.replace("33d7b496", "33D7B496")).keyId, 0x33d7b496);
  assert.ok(isValidKeyName("example.com/log"));
  assert.ok(!isValidKeyName("a b") && !isValidKeyName("") && !isValidKeyName("a+b"));
});

test("malformed verifier keys give GENLOG_E_KEY", () => {
  const [name, id, key] = GOLDEN_VKEY.split("+") as [string, string, string];
  const rawKey = Buffer.from(key, "base64");
  const withAlg = (alg: number): string =>
    Buffer.concat([Buffer.from([alg]), rawKey.subarray(1)]).toString("base64");
  const cases: [string, unknown][] = [
    ["empty", ""],
    ["no plus", "example.com"],
    ["two parts", `${name}+${id}`],
    ["empty name", `+${id}+${key}`],
    ["space in name", `a b+${id}+${key}`],
    ["short id", `${name}+33d7b49+${key}`],
    ["non-hex id", `${name}+33d7b49g+${key}`],
    ["id mismatch", `${name}+33d7b497+${key}`],
    ["name mismatch", `example.com/other+${id}+${key}`],
    ["wrong algorithm byte", `${name}+${id}+${withAlg(0x02)}`],
    ["short key", `${name}+${id}+${rawKey.subarray(0, 32).toString("base64")}`],
    ["long key", `${name}+${id}+${Buffer.concat([rawKey, Buffer.from([0])]).toString("base64")}`],
    ["bad base64", `${name}+${id}+${key.slice(1)}`],
    ["empty key", `${name}+${id}+`],
    ["number", 5],
    ["null", null],
  ];
  for (const [what, input] of cases) {
    assert.throws(() => parseVerifierKey(input as string), code("GENLOG_E_KEY"), what);
    assert.throws(() => verifyNote(GOOD, input as string), code("GENLOG_E_KEY"), what);
  }
  assert.throws(() => formatVerifierKey("a", Buffer.alloc(31)), code("GENLOG_E_KEY"));
  assert.throws(() => formatVerifierKey("a b", Buffer.alloc(32)), code("GENLOG_E_KEY"));
  assert.throws(() => ed25519RawPublicKey({} as never), code("GENLOG_E_KEY"));
});

test("signer key format/parse round trip", () => {
  const { privateKey, publicKey } = newKey();
  const skey = formatSignerKey("example.com/s", privateKey);
  assert.match(skey, /^PRIVATE\+KEY\+example\.com\/s\+[0-9a-f]{8}\+/);
  const s = parseSignerKey(skey);
  assert.equal(s.verifierKey, formatVerifierKey("example.com/s", ed25519RawPublicKey(publicKey)));
  assert.equal(verifyNote(signNote("x\n", s.name, s.privateKey), s.verifierKey), "x\n");
  assert.throws(() => parseSignerKey(skey.replace("PRIVATE+KEY+", "")), code("GENLOG_E_KEY"));
  assert.throws(() => parseSignerKey(skey.slice(0, -4)), code("GENLOG_E_KEY"));
  const parts = skey.split("+");
  parts[3] = "00000000";
  assert.throws(() => parseSignerKey(parts.join("+")), code("GENLOG_E_KEY"));
});
