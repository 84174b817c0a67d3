/**
 * console/verify.js, the web console's own WebCrypto check of what the server shows it: on
 * the specs' vectors, cross-checked against the core on random logs (the core's proofs, its
 * signed checkpoints and its checkInclusionProof), and under each attack it must name.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, type KeyObject } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import canonicalizeReference from "canonicalize";
import {
  ProofError,
  canonicalize,
  checkRecordProof,
  checkRevealed,
  fromBase64,
  hashLeaf,
  parseCheckpoint,
  parseVerifierKey,
  toBase64,
  verifyInclusion,
  verifyNote,
  type Rule,
} from "../console/verify.js";
import { GenlogError, checkInclusionProof, type GenerationRecord } from "../src/index.js";
import { canonicalize as coreCanonicalize } from "../src/core/jcs.js";
import {
  MerkleFrontier,
  assembleProof,
  hashLeafText,
  planInclusionProof,
  rootFromLeafHashes,
} from "../src/core/merkle.js";
import { parseCheckpoint as coreParseCheckpoint, signCheckpoint } from "../src/core/checkpoint.js";
import {
  ed25519RawPublicKey,
  formatSignedNote,
  formatVerifierKey,
  parseSignedNote,
  parseVerifierKey as coreParseVerifierKey,
  signNote,
  verifyNote as coreVerifyNote,
} from "../src/core/signed-note.js";
import { openLog } from "./helpers/store-under-test.js";
import { tempDir } from "./helpers/temp-dir.js";
import { RFC8785_APPENDIX_B } from "./vectors/rfc8785.js";
import { record } from "./helpers/record-fixture.js";

const VECTORS = fileURLToPath(new URL("./vectors/", import.meta.url));
const GOLDEN = join(VECTORS, "tessera-golden-log");
const GOLDEN_VKEY =
  "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
const GOLDEN_ORIGIN = "example.com/log/testdata";

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64"));
const hex = (u: Uint8Array): string => Buffer.from(u).toString("hex");
const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};

/** Asserts that `run` fails with a ProofError of `rule` and a message that says something. */
async function rejects(
  run: () => Promise<unknown> | unknown,
  rule: Rule,
  what = "",
): Promise<void> {
  await assert.rejects(
    async () => run(),
    (e: unknown) => {
      assert.ok(e instanceof ProofError, `${what}: expected a ProofError, got ${String(e)}`);
      assert.equal(e.rule, rule, `${what}: ${e.message}`);
      assert.match(e.message, /^[a-zA-Z0-9].{8,}$/s, what);
      return true;
    },
    what,
  );
}

/** Name, hex id and base64 key of a verifier key (whose base64 may hold "+" too). */
function vkeyParts(vkey: string): [string, string, string] {
  const [name, id, ...key] = vkey.split("+");
  return [name!, id!, key.join("+")];
}

function golden(file: string): string {
  return readFileSync(join(GOLDEN, file), "utf8");
}

/** Entry bundle (C2SP tlog-tiles): each entry a 2-byte big-endian length, then bytes. */
function parseBundle(bundle: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < bundle.length; off += 2 + bundle.readUInt16BE(off)) {
    out.push(bundle.subarray(off + 2, off + 2 + bundle.readUInt16BE(off)));
  }
  return out;
}

function jsonFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return jsonFiles(p);
      return name.endsWith(".json") ? [p] : [];
    });
}

// ---------------------------------------------------------------------------------
// Spec vectors

const inclusionFiles = jsonFiles(join(VECTORS, "rfc9162-proofs", "inclusion"));

test(`RFC 9162: transparency-dev inclusion vectors (${inclusionFiles.length} cases)`, async () => {
  assert.ok(inclusionFiles.length > 50);
  let accepted = 0;
  for (const file of inclusionFiles) {
    const c = JSON.parse(readFileSync(file, "utf8")) as {
      leafIdx: number;
      treeSize: number;
      root: string;
      leafHash: string;
      proof: string[] | null;
      wantErr: boolean;
    };
    const run = () =>
      verifyInclusion(
        b64(c.leafHash),
        c.leafIdx,
        c.treeSize,
        (c.proof ?? []).map(b64),
        b64(c.root),
      );
    if (c.wantErr) {
      await rejects(run, "path", file);
    } else {
      await run();
      accepted++;
    }
  }
  assert.equal(accepted, 6); // five happy paths and the single-entry tree
});

test("RFC 9162: leaf hashes of the vectors' inputs, and every path of trees of 1 to 3", async () => {
  // The inputs the transparency-dev vectors are built from (test/vectors/README.md).
  const inputs = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657"].map(
    (h) => new Uint8Array(Buffer.from(h, "hex")),
  );
  for (const file of inclusionFiles.filter((f) => f.endsWith("happy-path.json"))) {
    const c = JSON.parse(readFileSync(file, "utf8")) as { leafIdx: number; leafHash: string };
    assert.equal(hex(await hashLeaf(inputs[c.leafIdx]!)), hex(b64(c.leafHash)), file);
  }
  const l = inputs.slice(0, 3).map((d) => sha256(Buffer.from([0]), d));
  const node = (a: Uint8Array, b: Uint8Array) => sha256(Buffer.from([1]), a, b);
  const l01 = node(l[0]!, l[1]!);
  const roots = [l[0]!, l01, node(l01, l[2]!)];
  // The roots the README prints (first and last bytes), computed here from RFC 9162 itself.
  assert.deepEqual(
    roots.map((r) => `${hex(r).slice(0, 8)}…${hex(r).slice(-4)}`),
    ["6e340b9c…a01d", "fac54203…c125", "aeb6bcfe…6e77"],
  );
  const paths: [number, number, Uint8Array[]][] = [
    [0, 1, []],
    [0, 2, [l[1]!]],
    [1, 2, [l[0]!]],
    [0, 3, [l[1]!, l[2]!]],
    [1, 3, [l[0]!, l[2]!]],
    [2, 3, [l01]],
  ];
  for (const [i, n, path] of paths) {
    await verifyInclusion(l[i]!, i, n, path, roots[n - 1]!);
    await rejects(() => verifyInclusion(l[i]!, i, n, path, roots[(n % 3) as 0 | 1 | 2]!), "path");
    await rejects(() => verifyInclusion(l[(i + 1) % 3]!, i, n, path, roots[n - 1]!), "path");
  }
});

test("Tessera golden log: every checkpoint verifies under its key and parses", async () => {
  const files = readdirSync(GOLDEN).filter((f) => /^checkpoint(\.\d+)?$/.test(f));
  assert.equal(files.length, 17);
  for (const f of files) {
    const text = golden(f);
    const note = await verifyNote(text, [GOLDEN_VKEY]);
    assert.equal(note.body, text.slice(0, text.indexOf("\n\n") + 1));
    assert.equal(note.keyName, GOLDEN_ORIGIN);
    assert.equal(note.verifierKey, GOLDEN_VKEY);
    const cp = parseCheckpoint(note.body);
    const [origin, size, root] = note.body.split("\n");
    assert.equal(cp.origin, GOLDEN_ORIGIN);
    assert.equal(cp.origin, origin);
    assert.equal(cp.size, f === "checkpoint" ? 15 : Number(f.slice("checkpoint.".length)));
    assert.equal(String(cp.size), size);
    assert.equal(hex(cp.rootHash), hex(b64(root!)));
  }
  const key = parseVerifierKey(GOLDEN_VKEY);
  assert.equal(key.name, GOLDEN_ORIGIN);
  assert.equal(key.keyId, 0x33d7b496);
  assert.equal(hex(key.raw), hex(b64(vkeyParts(GOLDEN_VKEY)[2]).subarray(1)));
  // Upper-case hex ids are accepted, as by the Go reference.
  await verifyNote(golden("checkpoint.3"), [GOLDEN_VKEY.replace("33d7b496", "33D7B496")]);
});

test("Tessera golden log: leaf hashes match its tiles and every path reaches its signed roots", async () => {
  const entries = parseBundle(readFileSync(join(GOLDEN, "tile/entries/000.p/15")));
  assert.equal(entries.length, 15);
  const leaves = await Promise.all(entries.map((e) => hashLeaf(e)));
  assert.equal(hex(Buffer.concat(leaves)), hex(readFileSync(join(GOLDEN, "tile/0/000.p/15"))));
  // The paths come from the core's planner over Tessera's own level-0 tile.
  const nodes = new Map<string, Uint8Array>();
  const frontier = new MerkleFrontier();
  for (const leaf of leaves)
    for (const n of frontier.append(leaf)) nodes.set(`${n.level}/${n.index}`, n.hash);
  for (let n = 1; n <= 15; n++) {
    const { rootHash } = parseCheckpoint(
      (await verifyNote(golden(`checkpoint.${n}`), [GOLDEN_VKEY])).body,
    );
    for (let i = 0; i < n; i++) {
      const path = assembleProof(planInclusionProof(i, n), (l, x) => nodes.get(`${l}/${x}`));
      await verifyInclusion(leaves[i]!, i, n, path, rootHash);
      if (path.length > 0) {
        const flipped = path.map((h, k) => (k === path.length - 1 ? flip(h, 0) : h));
        await rejects(() => verifyInclusion(leaves[i]!, i, n, flipped, rootHash), "path");
      }
      if (n > 1)
        await rejects(() => verifyInclusion(leaves[(i + 1) % n]!, i, n, path, rootHash), "path");
    }
  }
});

test("Tessera golden log: a tampered checkpoint, another key or a wrong key id is refused", async () => {
  const text = golden("checkpoint.15");
  await rejects(() => verifyNote(text.replace("\n15\n", "\n16\n"), [GOLDEN_VKEY]), "signature");
  const other = formatVerifierKey(GOLDEN_ORIGIN, ed25519RawPublicKey(newKey().publicKey));
  await rejects(() => verifyNote(text, [other]), "signature");
  // Both keys pinned: the golden key still signed it.
  assert.equal((await verifyNote(text, [other, GOLDEN_VKEY])).verifierKey, GOLDEN_VKEY);
  await rejects(() => verifyNote(text, [GOLDEN_VKEY.replace("33d7b496", "33d7b497")]), "key");
  await rejects(
    () => verifyNote(text, [GOLDEN_VKEY.replace(GOLDEN_ORIGIN, "example.com/x")]),
    "key",
  );
  await rejects(() => verifyNote(text, []), "key");
});

// The cases of test/signed-note.test.ts, on this module.
const SIG = Buffer.alloc(68, 0xab).toString("base64");
const GOOD = `body\n\n— name ${SIG}\n`;

test("signed-note: malformed notes are refused as notes, before any signature is checked", async () => {
  const cases: [string, string][] = [
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
    ["empty line at the end", `body\n\n— name ${SIG}\n\n`],
    ["text after signature", `body\n\n— name ${SIG}\nmore`],
    ["tab in body", `bo\tdy\n\n— name ${SIG}\n`],
    ["CRLF", `body\r\n\r\n— name ${SIG}\r\n`],
    ["NUL", `body\u0000\n\n— name ${SIG}\n`],
    ["lone surrogate", `bo\ud800dy\n\n— name ${SIG}\n`],
    ["101 signatures", `body\n\n${`— name ${SIG}\n`.repeat(101)}`],
    ["too long", `${"x".repeat(2 ** 20)}\n\n— name ${SIG}\n`],
  ];
  for (const [what, text] of cases) {
    assert.throws(() => parseSignedNote(text), GenlogError, `the core accepts ${what}`);
    await rejects(() => verifyNote(text, [GOLDEN_VKEY]), "note", what);
  }
  await rejects(() => verifyNote(42 as unknown as string, [GOLDEN_VKEY]), "note", "number");
  // The limits themselves are accepted (and then no pinned key signed them).
  await rejects(
    () => verifyNote(`a\n\n${`— name ${SIG}\n`.repeat(100)}`, [GOLDEN_VKEY]),
    "signature",
  );
});

test("signed-note: lines by other keys are ignored, a failing line by a pinned key is not", async () => {
  const { privateKey } = newKey();
  const body = "body\n\nwith a blank line\n";
  const vkey = formatVerifierKey("me.example", ed25519RawPublicKey(privateKey));
  const mine = parseSignedNote(signNote(body, "me.example", privateKey)).signatures[0]!;
  const witness = parseSignedNote(signNote(body, "witness.example", newKey().privateKey))
    .signatures[0]!;
  const junk = { name: "unknown.example", keyId: 7, signature: Buffer.alloc(3, 1) };
  const sameName = {
    name: "me.example",
    keyId: (mine.keyId + 1) >>> 0,
    signature: Buffer.alloc(64),
  };
  const note = await verifyNote(formatSignedNote(body, [witness, junk, sameName, mine]), [vkey]);
  assert.deepEqual(note, { body, keyName: "me.example", verifierKey: vkey });
  const zeroed = { ...mine, signature: Buffer.alloc(64) };
  await rejects(() => verifyNote(formatSignedNote(body, [mine, zeroed]), [vkey]), "signature");
  const short = { ...mine, signature: mine.signature.subarray(0, 63) };
  await rejects(() => verifyNote(formatSignedNote(body, [short]), [vkey]), "signature");
  await rejects(() => verifyNote(formatSignedNote(body, [witness, junk]), [vkey]), "signature");
  const flippedBit = { ...mine, signature: flip(mine.signature, 10) };
  await rejects(() => verifyNote(formatSignedNote(body, [flippedBit]), [vkey]), "signature");
  // The signature covers the body with its final newline, nothing more or less.
  const text = signNote(body, "me.example", privateKey);
  await rejects(
    () => verifyNote(text.replace("body\n\nwith", "body\n\n\nwith"), [vkey]),
    "signature",
  );
});

test("verifier keys: malformed ones are refused as keys", async () => {
  const [name, id, key] = vkeyParts(GOLDEN_VKEY);
  const rawKey = Buffer.from(key, "base64");
  const withAlg = (alg: number) =>
    Buffer.concat([Buffer.from([alg]), rawKey.subarray(1)]).toString("base64");
  const syntax: [string, unknown][] = [
    ["empty", ""],
    ["no plus", "example.com"],
    ["two parts", `${name}+${id}`],
    ["empty name", `+${id}+${key}`],
    ["space in name", `a b+${id}+${key}`],
    ["short id", `${name}+33d7b49+${key}`],
    ["non-hex id", `${name}+33d7b49g+${key}`],
    ["wrong algorithm byte", `${name}+${id}+${withAlg(0x02)}`],
    ["short key", `${name}+${id}+${rawKey.subarray(0, 32).toString("base64")}`],
    ["long key", `${name}+${id}+${Buffer.concat([rawKey, Buffer.from([0])]).toString("base64")}`],
    ["bad base64", `${name}+${id}+${key.slice(1)}`],
    ["empty key", `${name}+${id}+`],
    ["number", 5],
    ["null", null],
  ];
  // Only SHA-256 tells these from a good key, and WebCrypto hashes asynchronously.
  const idMismatch: [string, string][] = [
    ["id mismatch", `${name}+33d7b497+${key}`],
    ["name mismatch", `example.com/other+${id}+${key}`],
  ];
  for (const [what, vkey] of [...syntax, ...idMismatch]) {
    assert.throws(
      () => coreParseVerifierKey(vkey as string),
      GenlogError,
      `the core accepts ${what}`,
    );
    if (syntax.some(([w]) => w === what))
      await rejects(() => parseVerifierKey(vkey as string), "key", what);
    await rejects(() => verifyNote(GOOD, [vkey as string]), "key", what);
    await rejects(() => verifyNote(GOOD, [GOLDEN_VKEY, vkey as string]), "key", what);
  }
});

// ---------------------------------------------------------------------------------
// RFC 8785

test("RFC 8785: the sample, member order, Appendix B numbers and refusals", () => {
  const sample = String.raw`{
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  }`;
  assert.equal(
    canonicalize(JSON.parse(sample)),
    String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
  );
  const sorted = canonicalize(
    JSON.parse(
      String.raw`{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}`,
    ),
  );
  assert.deepEqual(
    [...sorted.matchAll(/:"([^"]*)"/g)].map((m) => m[1]),
    [
      "Carriage Return",
      "One",
      "Control",
      "Latin Small Letter O With Diaeresis",
      "Euro Sign",
      "Emoji: Grinning Face",
      "Hebrew Letter Dalet With Dagesh",
    ],
  );
  const appendixB = RFC8785_APPENDIX_B;
  for (const [bits, expected] of appendixB) {
    const n = Buffer.from(bits, "hex").readDoubleBE(0);
    assert.equal(canonicalize({ n }), `{"n":${expected}}`, bits);
  }
  assert.equal(canonicalize({ "\ue000": 1, "\u{10000}": 2 }), '{"\u{10000}":2,"\ue000":1}');
  const refused: [string, unknown][] = [
    ["NaN", { a: [{ b: Number.NaN }] }],
    ["Infinity", [Number.POSITIVE_INFINITY]],
    ["undefined member", { a: 1, b: undefined }],
    // eslint-disable-next-line no-sparse-arrays -- the hole is the point
    ["array hole", [1, , 3]],
    ["bigint", { n: 10n }],
    ["function", { toJSON: () => 1 }],
    ["symbol", [Symbol("x")]],
    ["lone surrogate value", { s: "a\ud800" }],
    ["lone surrogate name", { ["k\udfff"]: 1 }],
    ["Date", { when: new Date(0) }],
    ["typed array", { b: new Uint8Array(2) }],
    [
      "cycle",
      (() => {
        const o: Record<string, unknown> = {};
        o.me = [o];
        return o;
      })(),
    ],
  ];
  for (const [what, value] of refused) {
    assert.throws(() => coreCanonicalize(value), GenlogError, `the core accepts ${what}`);
    assert.throws(
      () => canonicalize(value),
      (e: unknown) => e instanceof ProofError && e.rule === "leaf",
      what,
    );
  }
});

test("RFC 8785: agrees with the core and with the canonicalize package on random values", () => {
  const value = fc.letrec((tie) => ({
    json: fc.oneof(
      { depthSize: "small" },
      fc.constant(null),
      fc.boolean(),
      fc.double(),
      fc.integer(),
      fc.string({ unit: "binary" }),
      fc.array(tie("json")),
      fc.dictionary(fc.string({ unit: "binary" }), tie("json")),
    ),
  })).json;
  fc.assert(
    fc.property(value, (v) => {
      let want: string;
      try {
        want = coreCanonicalize(v);
      } catch (e) {
        assert.ok(e instanceof GenlogError);
        assert.throws(
          () => canonicalize(v),
          (e2: unknown) => e2 instanceof ProofError && e2.rule === "leaf",
        );
        return;
      }
      assert.equal(canonicalize(v), want);
      assert.equal(canonicalize(v), canonicalizeReference(v));
    }),
    { numRuns: 2000 },
  );
});

test("base64: round trips, and refuses what is not canonical", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      const text = toBase64(bytes);
      assert.equal(text, Buffer.from(bytes).toString("base64"));
      assert.equal(hex(fromBase64(text)), hex(bytes));
    }),
  );
  for (const bad of [
    "AAAAAB==",
    "AA",
    "AA=",
    "AAA",
    "q6urq6ur-_8=",
    "AAAA\n",
    " AAAA",
    "A===",
    "=AAA",
  ]) {
    assert.throws(
      () => fromBase64(bad),
      (e: unknown) => e instanceof ProofError && e.rule === "note",
      bad,
    );
    assert.throws(
      () => fromBase64(bad, "path"),
      (e: unknown) => e instanceof ProofError && e.rule === "path",
      bad,
    );
  }
  assert.equal(fromBase64("").length, 0);
});

// ---------------------------------------------------------------------------------
// Differential fuzzing against the core

test("fuzz: a mutated checkpoint is accepted, or refused as a note or signature, exactly as by the core", async () => {
  const base = golden("checkpoint.7");
  const outcomes = new Set<string>();
  await fc.assert(
    fc.asyncProperty(
      fc.nat(base.length),
      fc.nat(8),
      fc.string({ unit: "binary", maxLength: 8 }),
      async (at, del, ins) => {
        const text = base.slice(0, at) + ins + base.slice(at + del);
        let core: string | GenlogError;
        try {
          core = coreVerifyNote(text, GOLDEN_VKEY);
        } catch (e) {
          assert.ok(e instanceof GenlogError);
          core = e;
        }
        outcomes.add(typeof core === "string" ? "accepted" : core.code);
        if (typeof core === "string") {
          assert.equal((await verifyNote(text, [GOLDEN_VKEY])).body, core);
          let cp: ReturnType<typeof coreParseCheckpoint> | undefined;
          try {
            cp = coreParseCheckpoint(core);
          } catch {
            assert.throws(() => parseCheckpoint(core), ProofError);
          }
          if (cp) {
            const mine = parseCheckpoint(core);
            assert.deepEqual(
              [mine.origin, mine.size, hex(mine.rootHash)],
              [cp.origin, cp.size, hex(cp.rootHash)],
            );
          }
        } else {
          await rejects(
            () => verifyNote(text, [GOLDEN_VKEY]),
            core.code === "GENLOG_E_MALFORMED_NOTE" ? "note" : "signature",
            core.message,
          );
        }
      },
    ),
    { numRuns: 1000 },
  );
  assert.deepEqual([...outcomes].sort(), [
    "GENLOG_E_BAD_SIGNATURE",
    "GENLOG_E_MALFORMED_NOTE",
    "accepted",
  ]);
});

test("fuzz: checkpoint bodies parse exactly as the core parses them", () => {
  const line = fc.string({
    unit: fc.constantFrom("a", "/", "0", "1", "9", "=", "+", " ", "\n", "\t", "é", "\ud800"),
    maxLength: 6,
  });
  const root = toBase64(new Uint8Array(32).fill(7));
  const outcomes = new Set<boolean>();
  const body = fc.oneof(
    fc
      .tuple(
        line,
        fc.constantFrom("0", "15", "007", "9007199254740991", "9007199254740992", "-1", ""),
        fc.constantFrom(root, root.slice(1), "", "AA=="),
        fc.array(line, { maxLength: 2 }),
        fc.boolean(),
      )
      .map(([o, s, r, ext, nl]) => [o, s, r, ...ext].join("\n") + (nl ? "\n" : "")),
    line,
  );
  fc.assert(
    fc.property(body, (text) => {
      let cp: ReturnType<typeof coreParseCheckpoint>;
      try {
        cp = coreParseCheckpoint(text);
        outcomes.add(true);
      } catch {
        outcomes.add(false);
        assert.throws(
          () => parseCheckpoint(text),
          (e: unknown) => e instanceof ProofError && e.rule === "note",
          JSON.stringify(text),
        );
        return;
      }
      const mine = parseCheckpoint(text);
      assert.deepEqual(
        [mine.origin, mine.size, hex(mine.rootHash)],
        [cp.origin, cp.size, hex(cp.rootHash)],
      );
    }),
    { numRuns: 3000 },
  );
  assert.equal(outcomes.size, 2);
});

test("fuzz: a mutated verifier key is refused as a key exactly when the core refuses it", async () => {
  const alphabet = fc.constantFrom("+", "a", "A", "3", "=", "/", " ", "é", "0");
  const outcomes = new Set<string>();
  await fc.assert(
    fc.asyncProperty(
      fc.nat(GOLDEN_VKEY.length),
      fc.nat(3),
      fc.string({ unit: alphabet, maxLength: 3 }),
      async (at, del, ins) => {
        const vkey = GOLDEN_VKEY.slice(0, at) + ins + GOLDEN_VKEY.slice(at + del);
        let coreOk = true;
        try {
          coreParseVerifierKey(vkey);
        } catch {
          coreOk = false;
        }
        const mine = await verifyNote(golden("checkpoint.7"), [vkey]).then(
          () => "ok",
          (e: unknown) => (e instanceof ProofError ? e.rule : String(e)),
        );
        outcomes.add(mine);
        if (coreOk) assert.notEqual(mine, "key", vkey);
        else assert.equal(mine, "key", vkey);
      },
    ),
    { numRuns: 1000 },
  );
  assert.ok(outcomes.has("ok") && outcomes.has("key"), [...outcomes].join());
});

// ---------------------------------------------------------------------------------
// Genuine proofs: the core's, on random logs

function newKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync("ed25519");
}

const ORIGIN = "genlog.example/eu/acme/events"; // an instance with a "/" in its name
const KEY_NAME = "genlog.example/eu/acme";
const KEY = newKey().privateKey;
const VKEY = formatVerifierKey(KEY_NAME, ed25519RawPublicKey(KEY));

/** A log of `records` built and signed by the core, and what it serves. */
function coreLog(records: GenerationRecord[], origin = ORIGIN, key = KEY, keyName = KEY_NAME) {
  const frontier = new MerkleFrontier();
  const nodes = new Map<string, Buffer>();
  const leaves = records.map((r) => hashLeafText(coreCanonicalize(r)));
  for (const leaf of leaves)
    for (const n of frontier.append(leaf)) nodes.set(`${n.level}/${n.index}`, n.hash);
  const checkpoint = (size: number) =>
    signCheckpoint(
      { origin, size, rootHash: rootFromLeafHashes(leaves.slice(0, size)) },
      keyName,
      key,
    );
  const proof = (index: number, treeSize = records.length) => ({
    origin,
    leafIndex: index,
    treeSize,
    leafHash: leaves[index]!.toString("base64"),
    hashes: assembleProof(planInclusionProof(index, treeSize), (l, i) =>
      nodes.get(`${l}/${i}`),
    ).map((h) => h.toString("base64")),
    checkpoint: checkpoint(treeSize),
    record: records[index]!,
  });
  return { leaves, proof, checkpoint };
}

/** As the console gets it: JSON over HTTP. */
const overHttp = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const metaArb = fc.dictionary(
  fc.string({ unit: "grapheme", maxLength: 8 }),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 4 },
);

test("fast-check: every genuine proof of the core is accepted, with the core's root and leaf", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(metaArb, { minLength: 1, maxLength: 40 }),
      fc.nat(),
      fc.nat(),
      async (metas, a, b) => {
        const records = metas.map((meta, seq) =>
          record(seq, { meta: meta as Record<string, unknown> }),
        );
        const log = coreLog(records);
        const index = a % records.length;
        const treeSize = index + 1 + (b % (records.length - index));
        const proof = log.proof(index, treeSize);
        const cp = checkInclusionProof(proof, VKEY);
        const got = await checkRecordProof(overHttp(proof.record), overHttp(proof), [VKEY]);
        assert.deepEqual(got, {
          origin: ORIGIN,
          treeSize,
          rootHash: cp.rootHash.toString("base64"),
          keyName: KEY_NAME,
          leafHash: log.leaves[index]!.toString("base64"),
        });
        assert.equal(
          got.rootHash,
          rootFromLeafHashes(log.leaves.slice(0, treeSize)).toString("base64"),
        );
      },
    ),
    { numRuns: 150 },
  );
});

test("fast-check: any one flipped bit in a genuine proof's path is refused, by both", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 2, max: 33 }),
      fc.nat(),
      fc.nat(),
      fc.nat(255),
      async (size, a, b, bit) => {
        const log = coreLog(Array.from({ length: size }, (_, i) => record(i, { meta: { i } })));
        const proof = log.proof(a % size);
        const k = b % proof.hashes.length;
        const hashes = proof.hashes.map((h, i) => (i === k ? toBase64(flip(b64(h), bit)) : h));
        assert.throws(() => checkInclusionProof({ ...proof, hashes }, VKEY), GenlogError);
        await rejects(() => checkRecordProof(proof.record, { ...proof, hashes }, [VKEY]), "path");
      },
    ),
    { numRuns: 100 },
  );
});

test("fast-check: a real log's served proofs are accepted after a trip through JSON", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(metaArb, { minLength: 1, maxLength: 12 }),
      fc.nat(),
      async (metas, pick) => {
        const log = await openLog({ dataDir: tempDir() });
        try {
          for (const meta of metas)
            await log.logGenerationEvent("backend", { meta: meta as Record<string, unknown> });
          const key = await log.verifierKey();
          const seq = pick % metas.length;
          for (const treeSize of new Set([seq + 1, metas.length])) {
            const proof = await log.inclusionProof(seq, { treeSize });
            const cp = checkInclusionProof(proof, key);
            const got = await checkRecordProof(overHttp(proof.record), overHttp(proof), [key]);
            assert.equal(got.rootHash, cp.rootHash.toString("base64"));
            assert.equal(got.treeSize, treeSize);
            assert.equal(got.origin, proof.origin);
            assert.equal(got.leafHash, proof.leafHash);
            assert.equal(`${got.keyName}+`, key.slice(0, got.keyName.length + 1));
          }
        } finally {
          await log.close();
        }
      },
    ),
    { numRuns: 8 },
  );
});

// ---------------------------------------------------------------------------------
// Attacks

function flip(bytes: Uint8Array, bit: number): Uint8Array {
  const out = new Uint8Array(bytes);
  out[(bit >> 3) % out.length]! ^= 1 << (bit & 7);
  return out;
}

const records = Array.from({ length: 9 }, (_, i) =>
  record(i, { meta: { note: `entry ${i}`, n: i / 3 } }),
);
const log = coreLog(records);

test("attack: a record with one character of meta changed does not hash to the leaf", async () => {
  const proof = log.proof(4);
  await checkRecordProof(proof.record, proof, [VKEY]);
  const changed = { ...proof.record, meta: { ...proof.record.meta, note: "entry 5" } };
  assert.throws(() => checkInclusionProof({ ...proof, record: changed }, VKEY), GenlogError);
  await rejects(() => checkRecordProof(changed, proof, [VKEY]), "leaf");
  // The proof's leafHash is never trusted: made to agree with the changed record, the path fails.
  const lying = {
    ...proof,
    leafHash: toBase64(await hashLeaf(Buffer.from(canonicalize(changed)))),
  };
  await rejects(() => checkRecordProof(changed, lying, [VKEY]), "path");
  // And a leafHash that disagrees with a genuine record is refused even though the path holds.
  await rejects(
    () => checkRecordProof(proof.record, { ...proof, leafHash: log.proof(3).leafHash }, [VKEY]),
    "leaf",
  );
  await rejects(
    () => checkRecordProof(proof.record, { ...proof, leafHash: "AAAAAB==" }, [VKEY]),
    "leaf",
  );
});

test("attack: a path from another tree size, or with a sibling flipped, does not reach the root", async () => {
  const proof = log.proof(2, 8);
  const other = log.proof(2, 7);
  assert.notDeepEqual(other.hashes, proof.hashes);
  await rejects(
    () => checkRecordProof(proof.record, { ...proof, hashes: other.hashes }, [VKEY]),
    "path",
  );
  await rejects(
    () => checkRecordProof(proof.record, { ...proof, hashes: log.proof(2, 9).hashes }, [VKEY]),
    "path",
  );
  for (let k = 0; k < proof.hashes.length; k++) {
    const hashes = proof.hashes.map((h, i) => (i === k ? toBase64(flip(b64(h), 77)) : h));
    await rejects(
      () => checkRecordProof(proof.record, { ...proof, hashes }, [VKEY]),
      "path",
      `sibling ${k}`,
    );
  }
  await rejects(
    () => checkRecordProof(proof.record, { ...proof, hashes: proof.hashes.slice(1) }, [VKEY]),
    "path",
  );
  await rejects(
    () =>
      checkRecordProof(proof.record, { ...proof, hashes: [...proof.hashes, proof.hashes[0]!] }, [
        VKEY,
      ]),
    "path",
  );
  await rejects(
    () => checkRecordProof(proof.record, { ...proof, hashes: ["AAAA"] }, [VKEY]),
    "path",
  );
});

test("attack: a checkpoint of another tree or another origin is not the proof's", async () => {
  const proof = log.proof(2, 8);
  await rejects(
    () => checkRecordProof(proof.record, { ...proof, checkpoint: log.checkpoint(9) }, [VKEY]),
    "checkpoint",
  );
  await rejects(
    () => checkRecordProof(proof.record, { ...proof, treeSize: 9 }, [VKEY]),
    "checkpoint",
  );
  const elsewhere = coreLog(records, "genlog.example/eu/acme/access");
  await rejects(
    () => checkRecordProof(proof.record, { ...proof, checkpoint: elsewhere.checkpoint(8) }, [VKEY]),
    "checkpoint",
  );
});

test("attack: a checkpoint signed by another key, or with a flipped signature bit, is refused", async () => {
  const proof = log.proof(5);
  const mallory = newKey().privateKey;
  const forged = coreLog(records, ORIGIN, mallory, "mallory.example").proof(5);
  assert.equal(forged.checkpoint.split("\n\n")[0], proof.checkpoint.split("\n\n")[0]);
  await rejects(() => checkRecordProof(proof.record, forged, [VKEY]), "signature");
  // Mallory's key under our key's name: a different key id, so not our signature.
  const impostor = coreLog(records, ORIGIN, mallory, KEY_NAME).proof(5);
  await rejects(() => checkRecordProof(proof.record, impostor, [VKEY]), "signature");
  const note = parseSignedNote(proof.checkpoint);
  for (const bit of [0, 100, 511]) {
    const sig = { ...note.signatures[0]!, signature: flip(note.signatures[0]!.signature, bit) };
    const checkpoint = formatSignedNote(note.body, [sig]);
    assert.throws(() => checkInclusionProof({ ...proof, checkpoint }, VKEY), GenlogError);
    await rejects(
      () => checkRecordProof(proof.record, { ...proof, checkpoint }, [VKEY]),
      "signature",
      `bit ${bit}`,
    );
  }
  const mallorysKey = formatVerifierKey(KEY_NAME, ed25519RawPublicKey(mallory));
  await rejects(() => checkRecordProof(proof.record, proof, [mallorysKey]), "signature");
  assert.equal(
    (await checkRecordProof(proof.record, proof, [mallorysKey, VKEY])).keyName,
    KEY_NAME,
  );
});

test("attack: a signed leaf whose record names another tenant than the origin's is refused", async () => {
  const forged = records.map((r, i) => (i === 3 ? record(3, { tenant: "globex" }) : r));
  const proof = coreLog(forged).proof(3);
  assert.throws(() => checkInclusionProof(proof, VKEY), GenlogError);
  await rejects(() => checkRecordProof(proof.record, proof, [VKEY]), "tenant");
  // An origin outside the key's tenant (here, without a tenant part) is not the key's to sign.
  const bare = coreLog(records, "genlog.example/events").proof(3);
  await rejects(() => checkRecordProof(bare.record, bare, [VKEY]), "checkpoint");
  const tenantless = records.map(({ tenant: _, ...r }) => r as GenerationRecord);
  const none = coreLog(tenantless, "genlog.example/events").proof(3);
  await rejects(() => checkRecordProof(none.record, none, [VKEY]), "checkpoint");
  const lone = coreLog(tenantless, "events").proof(3);
  await rejects(() => checkRecordProof(lone.record, lone, [VKEY]), "checkpoint");
});

test("attack: a key pinned for one tenant does not vouch for another tenant's checkpoint", async () => {
  // The same key signing the log of another origin: genuine signature, wrong tenant.
  const other = coreLog(
    records.map((r) => ({ ...r, tenant: "globex" })),
    ORIGIN.replace("/acme/", "/globex/"),
  ).proof(3);
  assert.notEqual(other.origin, ORIGIN);
  await rejects(() => checkRecordProof(other.record, other, [VKEY]), "checkpoint");
});

test("attack: a signed leaf whose record claims another position, or a moved proof, is refused", async () => {
  const forged = records.map((r, i) => (i === 2 ? record(6) : r)); // entry 6 signed at position 2
  const proof = coreLog(forged).proof(2);
  assert.throws(() => checkInclusionProof(proof, VKEY), GenlogError);
  await rejects(() => checkRecordProof(proof.record, proof, [VKEY]), "seq");
  const genuine = log.proof(2);
  await rejects(
    () => checkRecordProof(genuine.record, { ...genuine, leafIndex: 3 }, [VKEY]),
    "seq",
  );
  await rejects(() => checkRecordProof(log.proof(6).record, genuine, [VKEY]), "seq");
});

test("attack: a malformed verifier key is refused before anything is believed", async () => {
  const proof = log.proof(1);
  const [name, id, key] = vkeyParts(VKEY);
  for (const vkey of [
    "x+00000000+AAAA",
    `${name}+${id}`,
    `${name}+${(Number.parseInt(id, 16) ^ 1).toString(16).padStart(8, "0")}+${key}`,
    `${name}x+${id}+${key}`,
    `${name}+${id}+${key.slice(0, -1)}`,
    `${name}+${id}+${toBase64(new Uint8Array([2, ...b64(key).subarray(1)]))}`,
  ]) {
    await rejects(() => checkRecordProof(proof.record, proof, [vkey]), "key", vkey);
    await rejects(() => checkRecordProof(proof.record, proof, [VKEY, vkey]), "key", vkey);
  }
  await rejects(() => checkRecordProof(proof.record, proof, []), "key");
});

test("attack: a key's checkpoint for a log its name only prefixes is refused", async () => {
  // acme's key signing `<instance>/acme/globex/events`, over a record of globex.
  const origin = `${KEY_NAME}/globex/events`;
  const globex = records.map((r) => ({ ...r, tenant: "globex" }));
  const proof = coreLog(globex, origin).proof(3);
  await rejects(() => checkRecordProof(proof.record, proof, [VKEY]), "checkpoint");
  // And acme's access log is not its events log.
  const access = coreLog(records, `${KEY_NAME}/access`).proof(3);
  await rejects(() => checkRecordProof(access.record, access, [VKEY]), "checkpoint");
});

test("attack: a valid proof of another record than the one asked for, or of another tenant, is refused", async () => {
  const proof = coreLog(records).proof(3);
  const asked = records[4]!;
  assert.equal(
    (await checkRecordProof(proof.record, proof, [VKEY], { id: records[3]!.id })).treeSize,
    9,
  );
  assert.equal((await checkRecordProof(proof.record, proof, [VKEY], { id: "3" })).treeSize, 9);
  await rejects(() => checkRecordProof(proof.record, proof, [VKEY], { id: asked.id }), "record");
  await rejects(() => checkRecordProof(proof.record, proof, [VKEY], { id: "4" }), "record");
  await rejects(
    () => checkRecordProof(proof.record, proof, [VKEY], { tenant: "globex" }),
    "tenant",
  );
});

test("a subject export's decrypted values are checked against the committed envelopes", async () => {
  const log = await openLog({ dataDir: tempDir() });
  await log.append({
    type: "backend",
    user: "alice@example.org",
    meta: { email: "alice@example.org" },
  });
  await log.append({ type: "frontend", user: "bob@example.org" });
  await log.append({
    type: "model",
    user: "alice@example.org",
    meta: { phone: "+33 6 12 34 56 78" },
  });
  const exported = await log.exportSubject({ subject: "alice@example.org" });
  await log.close();
  assert.equal(exported.records.length, 2);
  const key = new Map(exported.subject.keys.map((k) => [k.pseudonym, k.dataKey]));
  for (const item of exported.records) {
    await checkRevealed(item.record, item.revealed, key.get(item.record.actor!)!);
    // A value the envelope does not hold.
    const forged = { ...item.revealed, values: { ...item.revealed.values, extra: "x" } };
    await rejects(
      () => checkRevealed(item.record, forged, key.get(item.record.actor!)!),
      "revealed",
    );
    await rejects(
      () =>
        checkRevealed(
          item.record,
          { ...item.revealed, actor: "mallory@example.org" },
          key.get(item.record.actor!)!,
        ),
      "revealed",
    );
    // Another key, or the envelope moved to another tenant (its binding), does not open it.
    await rejects(
      () => checkRevealed(item.record, item.revealed, toBase64(new Uint8Array(32))),
      "revealed",
    );
    await rejects(
      () =>
        checkRevealed(
          { ...item.record, tenant: "globex" },
          item.revealed,
          key.get(item.record.actor!)!,
        ),
      "revealed",
    );
  }
});
