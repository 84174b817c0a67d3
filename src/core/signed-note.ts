/**
 * C2SP signed-note (https://c2sp.org/signed-note) with Ed25519 signatures: strict
 * parsing and formatting of notes, key ids, verifier (and signer) key strings, and
 * signing/verification with `node:crypto`.
 *
 * Everything a note carries is attacker-controlled, so every parse failure is a
 * typed {@link GenlogError} (`GENLOG_E_MALFORMED_NOTE`, `GENLOG_E_KEY`,
 * `GENLOG_E_BAD_SIGNATURE`), never a raw `TypeError`.
 */

import {
  KeyObject,
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
} from "node:crypto";
import { GenlogError } from "../errors.js";

/** Signature type identifier byte of Ed25519 in key ids and verifier keys. */
export const SIGNED_NOTE_ED25519_TYPE = 0x01;

/**
 * Most signature lines we accept in one note. The spec requires at least 16 and
 * suggests a limit; 100 is what the Go reference (golang.org/x/mod/sumdb/note) uses.
 */
export const SIGNED_NOTE_MAX_SIGNATURES = 100;

/**
 * Largest note (in UTF-16 code units, about bytes for ASCII) we parse. 100
 * post-quantum signatures of ~5 kB fit; it bounds work on hostile input.
 */
export const SIGNED_NOTE_MAX_LENGTH = 1 << 20;

/** Prefix of every signature line: em dash (U+2014) and a space. */
export const SIGNED_NOTE_SIGNATURE_PREFIX = "\u2014 ";

const ED25519_PUBLIC_KEY_SIZE = 32;
const ED25519_SIGNATURE_SIZE = 64;
// DER headers that turn raw Ed25519 keys into SPKI / PKCS#8 (RFC 8410) for node:crypto.
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SIGNER_KEY_PREFIX = "PRIVATE+KEY+";

/** One signature line of a note. */
export interface NoteSignature {
  /** Key name; non-empty, no Unicode spaces, no `+`. */
  readonly name: string;
  /** The 32-bit key id, as an unsigned integer. */
  readonly keyId: number;
  /** The signature bytes after the key id. */
  readonly signature: Uint8Array;
}

/** A parsed (not yet verified) signed note. */
export interface SignedNote {
  /** The signed text, including its final newline. */
  readonly body: string;
  /** The signature lines in order (at least one). */
  readonly signatures: readonly NoteSignature[];
}

/** An Ed25519 note verifier, as parsed from a verifier key string. */
export interface NoteVerifier {
  /** Key name, matched against signature lines. */
  readonly name: string;
  /** Key id, matched against signature lines. */
  readonly keyId: number;
  /** The Ed25519 public key for `crypto.verify`. */
  readonly publicKey: KeyObject;
  /** The raw 32-byte Ed25519 public key. */
  readonly raw: Uint8Array;
}

/** An Ed25519 note signer, as parsed from a signer key string. */
export interface NoteSigner {
  /** Key name used on signature lines. */
  readonly name: string;
  /** Key id used on signature lines. */
  readonly keyId: number;
  /** The Ed25519 private key. */
  readonly privateKey: KeyObject;
  /** The matching verifier key string. */
  readonly verifierKey: string;
}

function malformed(message: string, rule?: string): GenlogError {
  return new GenlogError(
    "GENLOG_E_MALFORMED_NOTE",
    message,
    rule === undefined ? {} : { details: { rule } },
  );
}

function keyError(message: string, cause?: unknown): GenlogError {
  return new GenlogError("GENLOG_E_KEY", message, cause === undefined ? {} : { cause });
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  return typeof v;
}

// Strict standard base64 (RFC 4648 §4) with padding. Node's decoder is lenient
// (skips junk, accepts missing padding), so we check the alphabet and shape first
// and the canonical form (zero trailing bits) after.
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes canonical standard base64, or returns undefined. */
export function decodeBase64Strict(s: string): Buffer | undefined {
  if (!BASE64_RE.test(s)) return undefined;
  const out = Buffer.from(s, "base64");
  return out.toString("base64") === s ? out : undefined;
}

// Control characters the spec forbids: everything below U+0020 except newline.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_RE = /[\u0000-\u0009\u000b-\u001f]/;
// A lone UTF-16 surrogate cannot be encoded as UTF-8.
const LONE_SURROGATE_RE = /\p{Cs}/u;
const WHITE_SPACE_RE = /\p{White_Space}/u;

/** Why `text` is not acceptable note text (UTF-8, no control characters), if it is not. */
function textProblem(text: string): string | undefined {
  const c = CONTROL_RE.exec(text);
  if (c !== null) {
    const code = c[0].charCodeAt(0).toString(16).padStart(4, "0");
    return `expected no control characters other than newline, got U+${code} at offset ${c.index}`;
  }
  const s = LONE_SURROGATE_RE.exec(text);
  if (s !== null) return `expected valid UTF-8 text, got a lone surrogate at offset ${s.index}`;
  return undefined;
}

/**
 * True when `name` is a valid key name: non-empty, well-formed, and containing
 * neither Unicode spaces nor `+`.
 */
export function isValidKeyName(name: unknown): name is string {
  return (
    typeof name === "string" &&
    name.length > 0 &&
    !name.includes("+") &&
    !WHITE_SPACE_RE.test(name) &&
    textProblem(name) === undefined
  );
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Parses a signed note strictly per C2SP signed-note: valid UTF-8 without control
 * characters other than newline; a non-empty text ending in a newline; a blank
 * line (the last one in the note); then 1 to {@link SIGNED_NOTE_MAX_SIGNATURES}
 * lines `— <name> <base64(4-byte key id || signature)>`, each ending in a newline.
 * Signatures are not verified here (see {@link verifyNote}).
 *
 * @param text the note, as a string or as UTF-8 bytes.
 * @throws GenlogError GENLOG_E_MALFORMED_NOTE naming the first problem found.
 */
export function parseSignedNote(text: string | Uint8Array): SignedNote {
  if (text instanceof Uint8Array) {
    if (text.length > SIGNED_NOTE_MAX_LENGTH * 3) {
      throw malformed(`expected at most ${SIGNED_NOTE_MAX_LENGTH} bytes, got ${text.length}`);
    }
    try {
      text = utf8.decode(text);
    } catch {
      throw malformed("expected valid UTF-8, got invalid byte sequences", "utf8");
    }
  }
  if (typeof text !== "string") throw malformed(`expected note text, got ${describe(text)}`);
  if (text.length > SIGNED_NOTE_MAX_LENGTH) {
    throw malformed(`expected at most ${SIGNED_NOTE_MAX_LENGTH} characters, got ${text.length}`);
  }
  const problem = textProblem(text);
  if (problem !== undefined) throw malformed(problem, "charset");
  if (!text.endsWith("\n")) {
    throw malformed("expected the note to end with a newline, got none", "final-newline");
  }
  // The text is separated from the signatures by the last blank line.
  const split = text.lastIndexOf("\n\n");
  if (split < 0) {
    throw malformed("expected a blank line between text and signatures, got none", "separator");
  }
  const body = text.slice(0, split + 1);
  const block = text.slice(split + 2);
  if (block.length === 0) {
    throw malformed("expected at least one signature line, got none", "signatures");
  }
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > SIGNED_NOTE_MAX_SIGNATURES) {
    throw malformed(
      `expected at most ${SIGNED_NOTE_MAX_SIGNATURES} signature lines, got ${lines.length}`,
      "signature-count",
    );
  }
  const signatures = lines.map((line, i) => parseSignatureLine(line, i + 1));
  return { body, signatures };
}

function parseSignatureLine(line: string, n: number): NoteSignature {
  if (!line.startsWith(SIGNED_NOTE_SIGNATURE_PREFIX)) {
    throw malformed(
      `expected signature line ${n} to start with "— " (U+2014, space), got ${JSON.stringify(line.slice(0, 8))}`,
      "signature-line",
    );
  }
  const rest = line.slice(SIGNED_NOTE_SIGNATURE_PREFIX.length);
  const space = rest.indexOf(" ");
  if (space < 0) {
    throw malformed(
      `expected "— <name> <signature>" on signature line ${n}, got no signature`,
      "signature-line",
    );
  }
  const name = rest.slice(0, space);
  const b64 = rest.slice(space + 1);
  if (!isValidKeyName(name)) {
    throw malformed(
      `expected a key name without spaces or "+" on signature line ${n}, got ${JSON.stringify(name)}`,
      "key-name",
    );
  }
  const raw = decodeBase64Strict(b64);
  if (raw === undefined) {
    throw malformed(
      `expected canonical base64 on signature line ${n}, got ${JSON.stringify(b64.slice(0, 16))}`,
      "base64",
    );
  }
  if (raw.length < 5) {
    throw malformed(
      `expected a 4-byte key id and a signature on signature line ${n}, got ${raw.length} bytes`,
      "signature-length",
    );
  }
  return { name, keyId: raw.readUInt32BE(0), signature: raw.subarray(4) };
}

function requireBody(body: unknown): string {
  if (typeof body !== "string") {
    throw new GenlogError("GENLOG_E_USAGE", `expected note text, got ${describe(body)}`);
  }
  if (body.length === 0 || !body.endsWith("\n")) {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      `expected non-empty note text ending in a newline, got ${JSON.stringify(body.slice(-16))}`,
    );
  }
  const problem = textProblem(body);
  if (problem !== undefined) throw new GenlogError("GENLOG_E_USAGE", problem);
  return body;
}

function isUint32(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/**
 * Formats a signed note: the body, a blank line, then one signature line per
 * signature. The result always parses back with {@link parseSignedNote}.
 *
 * @throws GenlogError GENLOG_E_USAGE for a body or signature the format cannot hold.
 */
export function formatSignedNote(body: string, signatures: readonly NoteSignature[]): string {
  requireBody(body);
  if (
    !Array.isArray(signatures) ||
    signatures.length === 0 ||
    signatures.length > SIGNED_NOTE_MAX_SIGNATURES
  ) {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      `expected 1 to ${SIGNED_NOTE_MAX_SIGNATURES} signatures, got ${Array.isArray(signatures) ? signatures.length : describe(signatures)}`,
    );
  }
  let out = body + "\n";
  for (const s of signatures) {
    if (!isValidKeyName(s.name)) {
      throw new GenlogError(
        "GENLOG_E_USAGE",
        `expected a key name without spaces or "+", got ${JSON.stringify(s.name)}`,
      );
    }
    if (!isUint32(s.keyId)) {
      throw new GenlogError("GENLOG_E_USAGE", `expected a uint32 key id, got ${String(s.keyId)}`);
    }
    if (!(s.signature instanceof Uint8Array) || s.signature.length === 0) {
      throw new GenlogError(
        "GENLOG_E_USAGE",
        `expected non-empty signature bytes, got ${describe(s.signature)}`,
      );
    }
    const raw = Buffer.alloc(4 + s.signature.length);
    raw.writeUInt32BE(s.keyId, 0);
    raw.set(s.signature, 4);
    out += `${SIGNED_NOTE_SIGNATURE_PREFIX}${s.name} ${raw.toString("base64")}\n`;
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Keys

function requireEd25519(key: unknown, type?: "private" | "public"): KeyObject {
  if (!(key instanceof KeyObject)) {
    throw keyError(`expected an Ed25519 KeyObject, got ${describe(key)}`);
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw keyError(`expected an Ed25519 key, got ${key.asymmetricKeyType ?? key.type}`);
  }
  if (type !== undefined && key.type !== type) {
    throw keyError(`expected an Ed25519 ${type} key, got a ${key.type} key`);
  }
  return key;
}

function requireKeyName(name: unknown): string {
  if (!isValidKeyName(name)) {
    throw keyError(
      `expected a non-empty key name without spaces or "+", got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

function requireRawPublicKey(raw: unknown): Uint8Array {
  if (!(raw instanceof Uint8Array) || raw.length !== ED25519_PUBLIC_KEY_SIZE) {
    throw keyError(
      `expected a ${ED25519_PUBLIC_KEY_SIZE}-byte Ed25519 public key, got ${describe(raw)}`,
    );
  }
  return raw;
}

/**
 * The raw 32-byte (RFC 8032) public key of an Ed25519 key; a private key gives its
 * public half.
 *
 * @throws GenlogError GENLOG_E_KEY if `key` is not an Ed25519 KeyObject.
 */
export function ed25519RawPublicKey(key: KeyObject): Buffer {
  requireEd25519(key);
  const pub = key.type === "private" ? createPublicKey(key) : key;
  const x = pub.export({ format: "jwk" }).x;
  const raw = typeof x === "string" ? Buffer.from(x, "base64url") : undefined;
  if (raw?.length !== ED25519_PUBLIC_KEY_SIZE) {
    throw keyError(`expected a ${ED25519_PUBLIC_KEY_SIZE}-byte public key, got ${describe(raw)}`);
  }
  return raw;
}

/**
 * An Ed25519 public KeyObject from its raw 32 bytes.
 *
 * @throws GenlogError GENLOG_E_KEY if the bytes are not a usable public key.
 */
export function ed25519PublicKeyFromRaw(raw: Uint8Array): KeyObject {
  requireRawPublicKey(raw);
  try {
    return createPublicKey({
      key: Buffer.concat([SPKI_ED25519_PREFIX, raw]),
      format: "der",
      type: "spki",
    });
  } catch (e) {
    throw keyError("expected a valid Ed25519 public key, got bytes node:crypto rejects", e);
  }
}

/**
 * The spec's recommended Ed25519 key id: the first 4 bytes, big-endian, of
 * `SHA-256(name || "\n" || 0x01 || publicKey)`.
 */
export function ed25519KeyId(name: string, publicKey: Uint8Array): number {
  requireKeyName(name);
  requireRawPublicKey(publicKey);
  return createHash("sha256")
    .update(name, "utf8")
    .update(Buffer.from([0x0a, SIGNED_NOTE_ED25519_TYPE]))
    .update(publicKey)
    .digest()
    .readUInt32BE(0);
}

function hex8(id: number): string {
  return id.toString(16).padStart(8, "0");
}

/**
 * Formats a verifier key string `<name>+<8 hex key id>+<base64(0x01 || publicKey)>`,
 * as used by the Go note package, Tessera and witnesses.
 */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  const id = ed25519KeyId(name, publicKey);
  const key = Buffer.concat([Buffer.from([SIGNED_NOTE_ED25519_TYPE]), publicKey]);
  return `${name}+${hex8(id)}+${key.toString("base64")}`;
}

/**
 * Parses a verifier key string (see {@link formatVerifierKey}) and checks that its
 * key id matches its name and key.
 *
 * @throws GenlogError GENLOG_E_KEY for a malformed string, a signature type other
 *   than Ed25519, a key of the wrong length, or a key id mismatch.
 */
export function parseVerifierKey(vkey: string): NoteVerifier {
  if (typeof vkey !== "string") throw keyError(`expected a verifier key, got ${describe(vkey)}`);
  const [name, idHex, keyB64] = splitKey(vkey, "verifier key", "<name>+<hex id>+<base64 key>");
  const key = decodeBase64Strict(keyB64);
  if (key === undefined || key.length === 0) {
    throw keyError(
      `expected base64 key material in the verifier key, got ${JSON.stringify(keyB64)}`,
    );
  }
  if (key[0] !== SIGNED_NOTE_ED25519_TYPE) {
    throw keyError(
      `expected signature type 0x01 (Ed25519) in the verifier key, got 0x${(key[0] as number).toString(16).padStart(2, "0")}`,
    );
  }
  const raw = key.subarray(1);
  if (raw.length !== ED25519_PUBLIC_KEY_SIZE) {
    throw keyError(
      `expected a ${ED25519_PUBLIC_KEY_SIZE}-byte Ed25519 public key in the verifier key, got ${raw.length} bytes`,
    );
  }
  const keyId = parseKeyId(idHex, name, raw);
  return { name, keyId, publicKey: ed25519PublicKeyFromRaw(raw), raw };
}

function splitKey(s: string, what: string, shape: string): [string, string, string] {
  // Names cannot contain "+", base64 can: split on the first two only.
  const a = s.indexOf("+");
  const b = a < 0 ? -1 : s.indexOf("+", a + 1);
  if (b < 0) throw keyError(`expected a ${what} of the form ${shape}, got too few "+" parts`);
  const name = s.slice(0, a);
  requireKeyName(name);
  return [name, s.slice(a + 1, b), s.slice(b + 1)];
}

function parseKeyId(idHex: string, name: string, raw: Uint8Array): number {
  if (!/^[0-9a-fA-F]{8}$/.test(idHex)) {
    throw keyError(`expected an 8-digit hex key id, got ${JSON.stringify(idHex)}`);
  }
  const keyId = Number.parseInt(idHex, 16);
  const want = ed25519KeyId(name, raw);
  if (keyId !== want) {
    throw keyError(`expected key id ${hex8(want)} for this name and key, got ${hex8(keyId)}`);
  }
  return keyId;
}

/** The verifier for a name and an Ed25519 key (private or public). */
export function noteVerifierFromKey(name: string, key: KeyObject): NoteVerifier {
  requireKeyName(name);
  const raw = ed25519RawPublicKey(key);
  return { name, keyId: ed25519KeyId(name, raw), publicKey: ed25519PublicKeyFromRaw(raw), raw };
}

/**
 * Formats a signer key string `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`,
 * the Go note package's format, for interoperability with its tools. It holds the
 * private key: treat it as a secret.
 */
export function formatSignerKey(name: string, privateKey: KeyObject): string {
  requireKeyName(name);
  requireEd25519(privateKey, "private");
  const d = privateKey.export({ format: "jwk" }).d;
  const seed = typeof d === "string" ? Buffer.from(d, "base64url") : Buffer.alloc(0);
  if (seed.length !== 32) throw keyError(`expected a 32-byte Ed25519 seed, got ${seed.length}`);
  const id = ed25519KeyId(name, ed25519RawPublicKey(privateKey));
  const key = Buffer.concat([Buffer.from([SIGNED_NOTE_ED25519_TYPE]), seed]);
  return `${SIGNER_KEY_PREFIX}${name}+${hex8(id)}+${key.toString("base64")}`;
}

/**
 * Parses a signer key string (see {@link formatSignerKey}).
 *
 * @throws GenlogError GENLOG_E_KEY for anything malformed, without echoing key bytes.
 */
export function parseSignerKey(skey: string): NoteSigner {
  if (typeof skey !== "string" || !skey.startsWith(SIGNER_KEY_PREFIX)) {
    throw keyError(`expected a signer key starting with "${SIGNER_KEY_PREFIX}"`);
  }
  const [name, idHex, keyB64] = splitKey(
    skey.slice(SIGNER_KEY_PREFIX.length),
    "signer key",
    "PRIVATE+KEY+<name>+<hex id>+<base64 key>",
  );
  const key = decodeBase64Strict(keyB64);
  if (key?.length !== 33 || key[0] !== SIGNED_NOTE_ED25519_TYPE) {
    throw keyError("expected base64(0x01 || 32-byte seed) in the signer key, got something else");
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519_PREFIX, key.subarray(1)]),
      format: "der",
      type: "pkcs8",
    });
  } catch (e) {
    throw keyError("expected a valid Ed25519 seed in the signer key", e);
  }
  const raw = ed25519RawPublicKey(privateKey);
  const keyId = parseKeyId(idHex, name, raw);
  return { name, keyId, privateKey, verifierKey: formatVerifierKey(name, raw) };
}

// ---------------------------------------------------------------------------------
// Sign and verify

/**
 * Signs `body` with an Ed25519 key under `name` and returns the full note text.
 *
 * @throws GenlogError GENLOG_E_KEY for a bad name or key, GENLOG_E_USAGE for a body
 *   a note cannot carry.
 */
export function signNote(body: string, name: string, privateKey: KeyObject): string {
  requireBody(body);
  requireKeyName(name);
  requireEd25519(privateKey, "private");
  const keyId = ed25519KeyId(name, ed25519RawPublicKey(privateKey));
  const signature = cryptoSign(null, Buffer.from(body, "utf8"), privateKey);
  return formatSignedNote(body, [{ name, keyId, signature }]);
}

/**
 * Verifies a signed note against one trusted key and returns its body.
 *
 * Per the spec, signature lines whose name and key id do not both match the key are
 * ignored; every line that does match must verify, and at least one must exist.
 *
 * @param verifier a parsed verifier or a verifier key string.
 * @throws GenlogError GENLOG_E_MALFORMED_NOTE for a malformed note, GENLOG_E_KEY for
 *   a malformed verifier key, GENLOG_E_BAD_SIGNATURE otherwise.
 */
export function verifyNote(text: string | Uint8Array, verifier: NoteVerifier | string): string {
  const v = typeof verifier === "string" ? parseVerifierKey(verifier) : verifier;
  if (typeof v !== "object" || v === null || !(v.publicKey instanceof KeyObject)) {
    throw keyError(`expected a note verifier, got ${describe(v)}`);
  }
  const note = parseSignedNote(text);
  const message = Buffer.from(note.body, "utf8");
  let verified = 0;
  for (const s of note.signatures) {
    if (s.name !== v.name || s.keyId !== v.keyId) continue;
    const ok =
      s.signature.length === ED25519_SIGNATURE_SIZE &&
      cryptoVerify(null, message, v.publicKey, s.signature);
    if (!ok) {
      throw new GenlogError(
        "GENLOG_E_BAD_SIGNATURE",
        `expected a valid signature from ${v.name}+${hex8(v.keyId)}, got one that does not verify`,
        { details: { name: v.name, keyId: hex8(v.keyId) } },
      );
    }
    verified++;
  }
  if (verified === 0) {
    // Bounded: names are attacker-chosen and there may be 100 of them.
    const seen = note.signatures
      .slice(0, 5)
      .map((s) => `${s.name.slice(0, 64)}+${hex8(s.keyId)}`)
      .join(", ");
    throw new GenlogError(
      "GENLOG_E_BAD_SIGNATURE",
      `expected a signature from ${v.name}+${hex8(v.keyId)}, got only ${seen}`,
      { details: { name: v.name, keyId: hex8(v.keyId) } },
    );
  }
  return note.body;
}
