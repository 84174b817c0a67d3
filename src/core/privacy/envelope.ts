/**
 * Subjects and envelopes (DESIGN.md §1, protect): the primitives of crypto-shredding.
 *
 * - A subject is a person the log speaks of (an event's actor). It gets a random pseudonym
 *   (`sub_` and 26 base32 characters, 128 random bits) that the record carries instead of the
 *   person's id, and a random 256-bit data key.
 * - The person's id is found again through a lookup value, a keyed HMAC of the id under the
 *   tenant's lookup key: whoever reads the database without the master key cannot test a
 *   guess.
 * - The data key is kept wrapped (AES-256-GCM) under the tenant's wrapping key. Erasing the
 *   subject deletes the wrapped key and the lookup value: the pseudonym links to no one and
 *   the envelopes cannot be opened, while every leaf, which commits to ciphertext, still
 *   verifies.
 * - An envelope is a deterministic AEAD of `{actor, values}` under keys derived from the data
 *   key: AES-256-GCM whose IV is synthetic (an HMAC of the additional data and the plaintext
 *   under a second derived key, as in SIV, RFC 5297), with the tenant and pseudonym as
 *   additional data. The same content gives the same bytes, so an idempotent retry gives the
 *   same record and a subject's records without encrypted values share one envelope (made
 *   once, not per record: the pseudonym already links them); two different contents never
 *   share an IV. The leaf binds each envelope to its record: moving one changes the leaf.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { base32 } from "../base32.js";

/** The envelope a record carries in `pii`. */
export interface Envelope {
  /** Always `A256GCM`. */
  alg: "A256GCM";
  /** The subject's pseudonym: which data key opens it. */
  kid: string;
  /** base64url of the 12-byte IV. */
  iv: string;
  /** base64url of the ciphertext followed by the 16-byte tag. */
  ct: string;
}

/** What an envelope holds once opened. */
export interface EnvelopeContent {
  /** The actor's id as the caller gave it. */
  actor: string;
  /** Values the policy encrypted, by JSON Pointer into the record (`/meta/email`). */
  values: Record<string, unknown>;
}

const PSEUDONYM = /^sub_[a-z2-7]{26}$/;

/** A new random pseudonym, `sub_` and 26 base32 characters (128 bits). */
export function newPseudonym(): string {
  return `sub_${base32(randomBytes(16))}`;
}

/** True for a string shaped like a pseudonym. */
export function isPseudonym(v: unknown): v is string {
  return typeof v === "string" && PSEUDONYM.test(v);
}

/** A new random data key (32 bytes). */
export function newDataKey(): Buffer {
  return randomBytes(32);
}

/** The lookup value of a person's id under the tenant's lookup key. */
export function lookupOf(lookupKey: Uint8Array, actor: string): Buffer {
  return createHmac("sha256", lookupKey)
    .update("genlog/v1/lookup\u0000")
    .update(actor, "utf8")
    .digest();
}

/** Wraps a data key under the tenant's wrapping key: IV (12) || ciphertext (32) || tag (16). */
export function wrapDataKey(wrapKey: Uint8Array, dataKey: Uint8Array, pseudonym: string): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", wrapKey, iv);
  c.setAAD(Buffer.from(`genlog/v1/wrap\u0000${pseudonym}`, "utf8"));
  return Buffer.concat([iv, c.update(dataKey), c.final(), c.getAuthTag()]);
}

/**
 * Unwraps a data key. Throws when the wrapped key was made under another wrapping key, for
 * another pseudonym, or changed.
 */
export function unwrapDataKey(wrapKey: Uint8Array, wrapped: Uint8Array, pseudonym: string): Buffer {
  if (wrapped.length !== 60)
    throw new Error(`a wrapped data key is 60 bytes, got ${wrapped.length}`);
  const d = createDecipheriv("aes-256-gcm", wrapKey, wrapped.subarray(0, 12));
  d.setAAD(Buffer.from(`genlog/v1/wrap\u0000${pseudonym}`, "utf8"));
  d.setAuthTag(wrapped.subarray(44, 60));
  return Buffer.concat([d.update(wrapped.subarray(12, 44)), d.final()]);
}

/** The keys an envelope is made with, derived once per subject from its data key. */
export interface EnvelopeKeys {
  /** AES-256-GCM key. */
  enc: Buffer;
  /** HMAC-SHA-256 key of the synthetic IV. */
  iv: Buffer;
}

/**
 * The envelope keys of a data key (HKDF-SHA-256, RFC 5869, no salt, 32 bytes each). Written
 * out with HMAC: one extract shared by both keys, then one expand block each (the output is
 * one hash long), the same bytes as `hkdfSync` at a third of its cost, paid once per subject
 * met.
 */
export function envelopeKeys(dataKey: Uint8Array): EnvelopeKeys {
  // Extract: PRK = HMAC(salt, IKM), the salt being HashLen zero bytes when none is given.
  const prk = createHmac("sha256", NO_SALT).update(dataKey).digest();
  // Expand, first and only block: T(1) = HMAC(PRK, info || 0x01).
  const expand = (info: Buffer) => createHmac("sha256", prk).update(info).digest();
  const keys = { enc: expand(ENC_INFO), iv: expand(IV_INFO) };
  prk.fill(0);
  return keys;
}

const NO_SALT = Buffer.alloc(32);
const ENC_INFO = Buffer.from("genlog/v1/envelope-enc\u0001", "utf8");
const IV_INFO = Buffer.from("genlog/v1/envelope-iv\u0001", "utf8");

/** Where an envelope belongs: its additional authenticated data. */
export interface EnvelopeBinding {
  tenant: string;
  /** The subject's pseudonym. */
  pseudonym: string;
}

function aad(b: EnvelopeBinding): Buffer {
  return Buffer.from(`genlog/v1/envelope\u0000${b.tenant}\u0000${b.pseudonym}`, "utf8");
}

/** Encrypts `content` for the subject `binding` (deterministic: same content, same envelope). */
export function sealEnvelope(
  keys: EnvelopeKeys,
  binding: EnvelopeBinding,
  content: EnvelopeContent,
): Envelope {
  const plaintext = Buffer.from(JSON.stringify(content), "utf8");
  const data = aad(binding);
  const iv = createHmac("sha256", keys.iv).update(data).update(plaintext).digest().subarray(0, 12);
  const c = createCipheriv("aes-256-gcm", keys.enc, iv);
  c.setAAD(data);
  const ct = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  // Members in RFC 8785 order: a record's text can then be written by JSON.stringify.
  return {
    alg: "A256GCM",
    ct: ct.toString("base64url"),
    iv: iv.toString("base64url"),
    kid: binding.pseudonym,
  };
}

/**
 * Opens an envelope with its subject's keys.
 *
 * @throws Error when the keys are not the envelope's, or the envelope, its binding or its
 * ciphertext was changed.
 */
export function openEnvelope(
  keys: EnvelopeKeys,
  binding: EnvelopeBinding,
  envelope: Envelope,
): EnvelopeContent {
  const iv = Buffer.from(envelope.iv, "base64url");
  const ct = Buffer.from(envelope.ct, "base64url");
  if (iv.length !== 12 || ct.length < 16) throw new Error("malformed envelope");
  const d = createDecipheriv("aes-256-gcm", keys.enc, iv);
  d.setAAD(aad(binding));
  d.setAuthTag(ct.subarray(ct.length - 16));
  const plaintext = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
  return JSON.parse(plaintext.toString("utf8")) as EnvelopeContent;
}

/** True for a value shaped like an {@link Envelope}. */
export function isEnvelope(v: unknown): v is Envelope {
  if (typeof v !== "object" || v === null) return false;
  const e = v as Record<string, unknown>;
  return (
    e.alg === "A256GCM" &&
    isPseudonym(e.kid) &&
    typeof e.iv === "string" &&
    typeof e.ct === "string"
  );
}
