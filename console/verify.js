/**
 * What the web console checks itself of what the server shows it: `checkInclusionProof`
 * (src/core/proofs.ts) and the rules it rests on (C2SP signed-note and tlog-checkpoint,
 * RFC 9162 inclusion proofs, RFC 8785 JCS) ported to WebCrypto, so that a proof is believed
 * because a pinned key signed it, not because the server says so. No dependencies, no build
 * step: it runs unchanged in browsers and in Node 20+.
 *
 * @module
 */

/**
 * @typedef {"key"|"note"|"signature"|"checkpoint"|"seq"|"tenant"|"leaf"|"path"|"record"
 *   |"revealed"|"browser"} Rule
 */

/** A proof, note, key or record that does not check out; `rule` says which check failed. */
export class ProofError extends Error {
  /** @param {Rule} rule @param {string} message */
  constructor(rule, message) {
    super(message);
    this.name = "ProofError";
    this.rule = rule;
  }
}

/** @param {Rule} rule @param {string} message @returns {never} */
function fail(rule, message) {
  throw new ProofError(rule, message);
}

const HASH_SIZE = 32;
const MAX_SIGNATURES = 100; // as the core and the Go note package
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_RE = /[\u0000-\u0009\u000b-\u001f]/; // all but newline
const LONE_SURROGATE_RE = /\p{Cs}/u; // with /u, paired surrogates do not match

/** WebCrypto, looked up when needed: browsers give it only to secure contexts. */
function subtle() {
  const s = globalThis.crypto?.subtle;
  if (s === undefined) throw new Error("WebCrypto is unavailable: the console needs HTTPS");
  return s;
}

/** @param {string} text */
const utf8 = (text) => new globalThis.TextEncoder().encode(text);

/** @param {...ArrayLike<number>} parts */
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** @param {Uint8Array} a @param {Uint8Array} b */
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** @param {Uint8Array} bytes */
const sha256 = async (bytes) => new Uint8Array(await subtle().digest("SHA-256", bytes));

/** @param {Uint8Array} bytes */
export function toBase64(bytes) {
  return globalThis.btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
}

/**
 * Decodes canonical padded standard base64 (RFC 4648 §4) only: `atob` alone would accept
 * missing padding, whitespace and non-zero trailing bits. `rule` and `what` are for errors.
 * @param {string} text @param {Rule} [rule] @param {string} [what]
 */
export function fromBase64(text, rule = "note", what = "the value") {
  if (typeof text === "string" && BASE64_RE.test(text)) {
    const out = Uint8Array.from(globalThis.atob(text), (c) => c.charCodeAt(0));
    if (toBase64(out) === text) return out;
  }
  return fail(rule, `${what} is not canonical base64`);
}

// ---------------------------------------------------------------------------------
// RFC 8785 JCS

/**
 * Canonicalises a JSON value per RFC 8785, refusing (rule "leaf") what the core refuses:
 * non-finite numbers, non-JSON types, array holes, lone surrogates, cycles, objects that are
 * not plain. `toJSON` is never called: the hash commits to the data, not to a method.
 * @param {unknown} value @returns {string}
 */
export function canonicalize(value) {
  return jcs(value, [], "");
}

/** @param {unknown} v @param {object[]} stack the containers above v @param {string} at */
function jcs(v, stack, at) {
  const where = at === "" ? "the root" : JSON.stringify(at); // at is v's JSON Pointer
  const refuse = (/** @type {string} */ why) => fail("leaf", `the value at ${where} ${why}`);
  if (typeof v === "string") return jcsString(v, at);
  if (typeof v === "boolean") return String(v);
  // Number.prototype.toString is RFC 8785's number format (it writes -0 as 0).
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : refuse("is not finite");
  if (typeof v !== "object") return refuse(`is of type ${typeof v}, which JSON cannot hold`);
  if (v === null) return "null";
  if (stack.includes(v)) return refuse("contains itself");
  stack.push(v);
  let out;
  if (Array.isArray(v)) {
    // Indexed reads, so that holes read as undefined and are refused.
    const items = [];
    for (let i = 0; i < v.length; i++) items.push(jcs(v[i], stack, `${at}/${i}`));
    out = `[${items.join(",")}]`;
  } else {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) refuse("is not a plain object");
    const o = /** @type {Record<string, unknown>} */ (v);
    // The default sort compares UTF-16 code units: the order RFC 8785 §3.2.3 requires.
    const members = Object.keys(o)
      .sort()
      .map((k) => {
        const p = `${at}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`;
        return `${jcsString(k, p)}:${jcs(o[k], stack, p)}`;
      });
    out = `{${members.join(",")}}`;
  }
  stack.pop();
  return out;
}

/** @param {string} s @param {string} at */
function jcsString(s, at) {
  // JSON.stringify escapes as RFC 8785 does, but would write lone surrogates as escapes.
  if (LONE_SURROGATE_RE.test(s)) {
    fail("leaf", `the string at ${JSON.stringify(at)} has a lone surrogate`);
  }
  return JSON.stringify(s);
}

// ---------------------------------------------------------------------------------
// RFC 9162 Merkle tree

/** RFC 9162 leaf hash `SHA-256(0x00 || bytes)`. @param {Uint8Array} bytes */
export async function hashLeaf(bytes) {
  return sha256(concat([0], bytes));
}

/** @param {Uint8Array} left @param {Uint8Array} right */
const hashChildren = (left, right) => sha256(concat([1], left, right));

/** @param {unknown} n */
const isSize = (n) => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
/** @param {unknown} h */
const isHash = (h) => h instanceof Uint8Array && h.length === HASH_SIZE;

/**
 * Checks that `leafHash` is leaf `leafIndex` of the tree of `treeSize` leaves whose root is
 * `rootHash`, by the audit path `hashes` (RFC 9162 §2.1.3.2); rule "path" otherwise.
 * @param {Uint8Array} leafHash @param {number} leafIndex @param {number} treeSize
 * @param {Uint8Array[]} hashes @param {Uint8Array} rootHash
 */
export async function verifyInclusion(leafHash, leafIndex, treeSize, hashes, rootHash) {
  if (!isSize(leafIndex) || !isSize(treeSize) || leafIndex >= treeSize) {
    fail("path", `leaf ${leafIndex} is not in a tree of size ${treeSize}`);
  }
  if (!isHash(leafHash) || !isHash(rootHash)) fail("path", "the leaf or root is not 32 bytes");
  // 128 is far above any path in a 2^53 tree; it bounds work on hostile input.
  if (!Array.isArray(hashes) || hashes.length > 128 || !hashes.every(isHash)) {
    fail("path", "the audit path is not a list of at most 128 hashes of 32 bytes");
  }
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of hashes) {
    if (sn === 0) fail("path", `the audit path is too long for a tree of size ${treeSize}`);
    if (fn % 2 === 1 || fn === sn) {
      r = await hashChildren(p, r);
      // Skip the levels where the node is on the right edge, without a sibling.
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) fail("path", `the audit path is too short for a tree of size ${treeSize}`);
  if (!equal(r, rootHash)) fail("path", "the audit path does not lead to the signed root");
}

// ---------------------------------------------------------------------------------
// C2SP signed-note and tlog-checkpoint

/** Non-empty, no Unicode space, no "+", valid note text. @param {string} name */
const isKeyName = (name) =>
  /^[^+\p{White_Space}]+$/u.test(name) && !CONTROL_RE.test(name) && !LONE_SURROGATE_RE.test(name);

/** @param {number} id */
const hex8 = (id) => id.toString(16).padStart(8, "0");

/**
 * Parses a verifier key `<name>+<8 hex key id>+<base64(0x01 || 32-byte Ed25519 key)>`.
 * That the id is the one of this name and key needs SHA-256, which WebCrypto only offers
 * asynchronously: {@link verifyNote} checks it.
 * @param {string} vkey
 * @returns {{name: string, keyId: number, raw: Uint8Array}}
 */
export function parseVerifierKey(vkey) {
  if (typeof vkey !== "string") fail("key", "the verifier key is not a string");
  // Names cannot hold "+", base64 can: split on the first two only.
  const [, name = "", idHex, keyB64] = /^([^+]*)\+([^+]*)\+(.*)$/s.exec(vkey) ?? [];
  if (keyB64 === undefined) fail("key", "the verifier key is not <name>+<hex id>+<base64 key>");
  if (!isKeyName(name)) fail("key", "the verifier key's name is empty or holds a space");
  if (!/^[0-9a-fA-F]{8}$/.test(idHex)) fail("key", "the verifier key's id is not 8 hex digits");
  const key = fromBase64(keyB64, "key", "the verifier key's key");
  if (key.length !== 1 + HASH_SIZE || key[0] !== 0x01) {
    fail("key", "the verifier key is not a 32-byte Ed25519 key (type 0x01)");
  }
  return { name, keyId: Number.parseInt(idHex, 16), raw: key.subarray(1) };
}

/** A verifier key, its id checked, imported for WebCrypto. @param {string} vkey */
async function pinnedKey(vkey) {
  const { name, keyId, raw } = parseVerifierKey(vkey);
  // The spec's key id: SHA-256(name || "\n" || 0x01 || key)[0:4], big-endian.
  const want = new DataView((await sha256(concat(utf8(name), [0x0a, 0x01], raw))).buffer);
  if (keyId !== want.getUint32(0)) {
    fail("key", `the key id ${hex8(keyId)} is not the one of ${name} and its key`);
  }
  const alg = { name: "Ed25519" };
  const cryptoKey = await subtle()
    .importKey("raw", raw, alg, false, ["verify"])
    .catch((e) =>
      // A browser without Ed25519 in WebCrypto (Chrome before 137, Safari before 17) is not a
      // bad key: say which it is.
      e?.name === "NotSupportedError"
        ? fail("browser", "this browser's WebCrypto has no Ed25519: use a current browser")
        : fail("key", `the verifier key of ${name} is not a usable Ed25519 key`),
    );
  return { name, keyId, cryptoKey, vkey };
}

/** Splits a note as strictly as the core's `parseSignedNote`. @param {unknown} text */
function parseNote(text) {
  const bad = (/** @type {string} */ m) => fail("note", m);
  if (typeof text !== "string") bad("the note is not text");
  if (text.length > 1 << 20) bad("the note is longer than 2^20 characters");
  if (CONTROL_RE.test(text) || LONE_SURROGATE_RE.test(text)) bad("the note is not valid text");
  if (!text.endsWith("\n")) bad("the note does not end with a newline");
  // The text ends at the last blank line; signature lines follow it.
  const split = text.lastIndexOf("\n\n");
  if (split < 0) bad("the note has no blank line before its signatures");
  const lines = text.slice(split + 2, -1).split("\n");
  if (split + 2 === text.length) bad("the note has no signature line");
  if (lines.length > MAX_SIGNATURES) bad(`the note has over ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line, i) => {
    const [, name = "", b64 = ""] = /^\u2014 ([^ ]*) (.*)$/s.exec(line) ?? [];
    if (!isKeyName(name)) bad(`signature line ${i + 1} is not "— <name> <signature>"`);
    const raw = fromBase64(b64, "note", `the signature on line ${i + 1}`);
    if (raw.length < 5) bad(`signature line ${i + 1} holds no key id and signature`);
    return { name, keyId: new DataView(raw.buffer).getUint32(0), signature: raw.subarray(4) };
  });
  return { body: text.slice(0, split + 1), signatures };
}

/**
 * Verifies a signed note against pinned verifier keys and returns its text (with its final
 * newline). As the spec says, lines by other keys are ignored; every line by a pinned key
 * (same name and id) must verify, and there must be one.
 * @param {string} text @param {string[]} verifierKeys
 * @returns {Promise<{body: string, keyName: string, verifierKey: string}>}
 */
export async function verifyNote(text, verifierKeys) {
  if (!Array.isArray(verifierKeys) || verifierKeys.length === 0) fail("key", "no key is pinned");
  const keys = await Promise.all(verifierKeys.map(pinnedKey));
  const { body, signatures } = parseNote(text);
  const message = utf8(body);
  let signer;
  for (const s of signatures) {
    const k = keys.find((k) => k.name === s.name && k.keyId === s.keyId);
    if (k === undefined) continue;
    const ok =
      s.signature.length === 64 &&
      (await subtle().verify({ name: "Ed25519" }, k.cryptoKey, s.signature, message));
    if (!ok) fail("signature", `the signature by ${k.name} does not verify`);
    signer ??= k;
  }
  if (signer === undefined) {
    // Bounded: there may be 100 names, all chosen by whoever wrote the note.
    const seen = signatures.slice(0, 5).map((s) => `${s.name.slice(0, 64)}+${hex8(s.keyId)}`);
    return fail("signature", `no pinned key signed the note (only ${seen.join(", ")})`);
  }
  return { body, keyName: signer.name, verifierKey: signer.vkey };
}

/**
 * Parses a checkpoint body: origin, decimal size, base64 32-byte root hash, then optional
 * extension lines (ignored), each non-empty and ending in a newline.
 * @param {string} body
 * @returns {{origin: string, size: number, rootHash: Uint8Array}}
 */
export function parseCheckpoint(body) {
  if (typeof body !== "string" || !body.endsWith("\n")) fail("note", "the checkpoint is unended");
  const lines = body.slice(0, -1).split("\n");
  if (lines.length < 3) fail("note", `the checkpoint has ${lines.length} lines, not 3 or more`);
  const i = lines.findIndex((l) => l === "" || CONTROL_RE.test(l) || LONE_SURROGATE_RE.test(l));
  if (i >= 0) fail("note", `checkpoint line ${i + 1} is empty or not valid text`);
  const [origin, sizeText, rootText] = /** @type {[string, string, string]} */ (lines);
  if (!/^(?:0|[1-9][0-9]{0,15})$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    fail("note", "the checkpoint's size is not a decimal integer below 2^53");
  }
  const rootHash = fromBase64(rootText, "note", "the checkpoint's root hash");
  if (rootHash.length !== HASH_SIZE) fail("note", "the checkpoint's root hash is not 32 bytes");
  return { origin, size: Number(sizeText), rootHash };
}

// ---------------------------------------------------------------------------------
// The whole check

/**
 * Checks that a checkpoint's origin is a log of the tenant whose key signed it: genlog names a
 * tenant's key `<instance>/<tenant>` and its logs `<instance>/<tenant>/<stream>`, so a key
 * pinned for one tenant vouches for no other tenant's log (nor for a log it merely prefixes).
 * @param {string} origin @param {string} keyName @param {string} [stream] the log expected
 */
export function checkKeyOfOrigin(origin, keyName, stream) {
  const rest = origin.startsWith(`${keyName}/`) ? origin.slice(keyName.length + 1) : undefined;
  if (rest === undefined || rest.includes("/") || (stream !== undefined && rest !== stream)) {
    fail("checkpoint", `the checkpoint of ${origin} is not the ${stream ?? ""} log of ${keyName}`);
  }
}

/**
 * Checks a record against an inclusion proof end to end, as the core's
 * `checkInclusionProof` does: the checkpoint is signed by a pinned key and is the one the
 * proof names; the record says it is that entry of that origin's tenant; its own hash (never
 * the proof's word for it) is the leaf the audit path leads from to the signed root.
 * @param {any} record the record as the server sent it, parsed
 * @param {{origin: string, leafIndex: number, treeSize: number, leafHash?: string,
 *   hashes: string[], checkpoint: string}} proof
 * @param {string[]} pinnedKeys verifier keys
 * @param {{tenant?: string, id?: string}} [expected] the tenant and the record (id or seq)
 *   the user asked for
 * @returns {Promise<{origin: string, treeSize: number, rootHash: string, keyName: string,
 *   leafHash: string}>}
 */
export async function checkRecordProof(record, proof, pinnedKeys, expected = {}) {
  // The record asked for, of the tenant asked for: a valid proof of another record would
  // otherwise turn the badge green under the wrong one.
  if (expected.tenant !== undefined && record?.tenant !== expected.tenant) {
    fail("tenant", `the record is of tenant ${record?.tenant}, not of ${expected.tenant}`);
  }
  if (
    expected.id !== undefined &&
    record?.id !== expected.id &&
    String(record?.seq) !== expected.id
  ) {
    fail("record", `the server sent record ${record?.id} (#${record?.seq}) for ${expected.id}`);
  }
  const note = await verifyNote(proof?.checkpoint, pinnedKeys);
  const cp = parseCheckpoint(note.body);
  checkKeyOfOrigin(cp.origin, note.keyName, "events");
  if (cp.origin !== proof.origin || cp.size !== proof.treeSize) {
    const claim = `the proof is for ${proof.origin} at size ${proof.treeSize}`;
    fail("checkpoint", `${claim}, its checkpoint for ${cp.origin} at size ${cp.size}`);
  }
  // The path proves a leaf at leafIndex in the tree of origin: the record must say it is that
  // entry of that tenant, or a valid proof of one record could vouch for another.
  if (record?.seq !== proof.leafIndex) {
    fail("seq", `the record is entry ${record?.seq}, the proof for entry ${proof.leafIndex}`);
  }
  const parts = cp.origin.split("/"); // <instance>/<tenant>/<stream>; the instance may hold "/"
  if (parts.length < 3 || record.tenant !== parts[parts.length - 2]) {
    fail("tenant", `the record is of tenant ${record.tenant}, the checkpoint of ${cp.origin}`);
  }
  const leaf = await hashLeaf(utf8(canonicalize(record)));
  // A subject export's proofs carry no leaf hash: the record's own is the one that counts.
  if (
    proof.leafHash !== undefined &&
    !equal(leaf, fromBase64(proof.leafHash, "leaf", "the proof's leafHash"))
  ) {
    fail("leaf", "the record does not hash to the proof's leaf");
  }
  if (!Array.isArray(proof.hashes)) fail("path", "the proof has no list of hashes");
  const hashes = proof.hashes.map((h, i) => fromBase64(h, "path", `proof hash ${i}`));
  await verifyInclusion(leaf, proof.leafIndex, proof.treeSize, hashes, cp.rootHash);
  const [rootHash, leafHash] = [toBase64(cp.rootHash), toBase64(leaf)];
  return { origin: cp.origin, treeSize: cp.size, rootHash, keyName: note.keyName, leafHash };
}

const ENVELOPE_RE = /^[A-Za-z0-9_-]+$/;

/** Base64url without padding (the envelopes' encoding), strictly. @param {unknown} text */
function fromBase64Url(text, what) {
  if (typeof text !== "string" || !ENVELOPE_RE.test(text) || text.length % 4 === 1) {
    fail("revealed", `${what} is not base64url`);
  }
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return fromBase64(b64 + "=".repeat((4 - (b64.length % 4)) % 4), "revealed", what);
}

/**
 * Checks what a subject export shows decrypted against the record's committed envelope, as
 * the core's `checkSubjectExport` does: the subject's data key (base64, from the export)
 * derives the envelope key (HKDF-SHA-256, zero salt, info `genlog/v1/envelope-enc`), which
 * must open the envelope (AES-256-GCM, bound to the tenant and pseudonym) to exactly
 * `revealed`. A server cannot show a DPO values the record does not hold.
 * @param {any} record @param {unknown} revealed @param {string} dataKey
 */
export async function checkRevealed(record, revealed, dataKey) {
  const env = record?.pii;
  if (env?.alg !== "A256GCM" || env.kid !== record.actor) {
    fail("revealed", `record ${record?.seq} holds no envelope of its actor`);
  }
  const raw = fromBase64(dataKey, "revealed", "the data key");
  if (raw.length !== 32) fail("revealed", "the data key is not 32 bytes");
  const ikm = await subtle().importKey("raw", raw, "HKDF", false, ["deriveKey"]);
  const key = await subtle().deriveKey(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: new Uint8Array(32),
      info: utf8("genlog/v1/envelope-enc"),
    },
    ikm,
    { name: "AES-GCM", length: 256 },
    false,
    ["decrypt"],
  );
  const iv = fromBase64Url(env.iv, "the envelope's iv");
  const additionalData = utf8(`genlog/v1/envelope\u0000${record.tenant}\u0000${env.kid}`);
  let opened;
  try {
    const plain = await subtle().decrypt(
      { name: "AES-GCM", iv, additionalData },
      key,
      fromBase64Url(env.ct, "the envelope's ciphertext"),
    );
    opened = JSON.parse(new globalThis.TextDecoder().decode(plain));
  } catch {
    fail("revealed", `the envelope of record ${record.seq} does not open with the subject's key`);
  }
  if (canonicalize(opened) !== canonicalize(revealed ?? null)) {
    fail("revealed", `the decrypted view of record ${record.seq} is not what its envelope holds`);
  }
}
