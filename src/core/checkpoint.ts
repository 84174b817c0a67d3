/**
 * C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the signed-note body that
 * commits a log to its tree head, `origin`, `size` and `rootHash`, plus optional
 * opaque extension lines.
 */

import type { KeyObject } from "node:crypto";
import { GenlogError } from "../errors.js";
import { decodeBase64Strict, signNote, verifyNote } from "./signed-note.js";
import type { NoteVerifier } from "./signed-note.js";

/** Size of a checkpoint root hash (SHA-256). */
export const CHECKPOINT_ROOT_HASH_SIZE = 32;

/** A checkpoint to format or sign. */
export interface Checkpoint {
  /** The log's unique identity, e.g. `example.com/log`. */
  readonly origin: string;
  /** Number of leaves in the tree. */
  readonly size: number;
  /** RFC 9162 root hash of the tree at `size` (32 bytes). */
  readonly rootHash: Uint8Array;
  /** Optional opaque, non-empty extension lines (NOT RECOMMENDED by the spec). */
  readonly extensions?: readonly string[];
}

/** A parsed checkpoint. */
export interface ParsedCheckpoint {
  /** The log's identity (first line). */
  readonly origin: string;
  /** Tree size (second line). */
  readonly size: number;
  /** Root hash (third line), 32 bytes. */
  readonly rootHash: Buffer;
  /** Extension lines, possibly none. */
  readonly extensions: string[];
}

// Lines may not contain control characters (signed-note forbids them) or newlines.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_RE = /[\u0000-\u001f]/;
const SIZE_RE = /^(?:0|[1-9][0-9]{0,15})$/;

function usage(message: string): GenlogError {
  return new GenlogError("GENLOG_E_USAGE", message);
}

function malformed(message: string, rule: string): GenlogError {
  return new GenlogError("GENLOG_E_MALFORMED_NOTE", message, { details: { rule } });
}

function isLine(s: unknown): boolean {
  return typeof s === "string" && s.length > 0 && !CONTROL_RE.test(s) && !/\p{Cs}/u.test(s);
}

/**
 * Formats a checkpoint body: origin, decimal size, base64 root hash, then any
 * extension lines, each ending in a newline.
 *
 * @throws GenlogError GENLOG_E_USAGE for a value the format cannot hold.
 */
export function formatCheckpoint(cp: Checkpoint): string {
  if (!isLine(cp.origin)) {
    throw usage(
      `expected a non-empty single-line origin, got ${JSON.stringify(String(cp.origin))}`,
    );
  }
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) {
    throw usage(`expected the size to be a non-negative safe integer, got ${String(cp.size)}`);
  }
  if (!(cp.rootHash instanceof Uint8Array) || cp.rootHash.length !== CHECKPOINT_ROOT_HASH_SIZE) {
    throw usage(
      `expected a ${CHECKPOINT_ROOT_HASH_SIZE}-byte root hash, got ${cp.rootHash instanceof Uint8Array ? `${cp.rootHash.length} bytes` : typeof cp.rootHash}`,
    );
  }
  const extensions = cp.extensions ?? [];
  for (const [i, ext] of extensions.entries()) {
    if (!isLine(ext)) {
      throw usage(
        `expected extension line ${i} to be a non-empty single line, got ${JSON.stringify(String(ext))}`,
      );
    }
  }
  const root = Buffer.from(cp.rootHash.buffer, cp.rootHash.byteOffset, cp.rootHash.byteLength);
  return [cp.origin, String(cp.size), root.toString("base64"), ...extensions]
    .map((l) => l + "\n")
    .join("");
}

/**
 * Parses a checkpoint body strictly: at least three non-empty lines, each ending in
 * a newline; a decimal size without leading zeros that fits a safe integer; a
 * canonical base64 32-byte root hash.
 *
 * @throws GenlogError GENLOG_E_MALFORMED_NOTE naming the first problem found.
 */
export function parseCheckpoint(body: string): ParsedCheckpoint {
  if (typeof body !== "string") {
    throw malformed(
      `expected checkpoint text, got ${body === null ? "null" : typeof body}`,
      "type",
    );
  }
  if (!body.endsWith("\n")) {
    throw malformed("expected the checkpoint to end with a newline, got none", "final-newline");
  }
  const lines = body.slice(0, -1).split("\n");
  if (lines.length < 3) {
    throw malformed(`expected at least 3 checkpoint lines, got ${lines.length}`, "line-count");
  }
  for (const [i, line] of lines.entries()) {
    if (!isLine(line)) {
      throw malformed(
        `expected checkpoint line ${i + 1} to be non-empty without control characters, got ${JSON.stringify(line.slice(0, 32))}`,
        "line",
      );
    }
  }
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string];
  if (!SIZE_RE.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw malformed(
      `expected a decimal tree size without leading zeros up to 2^53-1, got ${JSON.stringify(sizeText.slice(0, 32))}`,
      "size",
    );
  }
  const rootHash = decodeBase64Strict(rootText);
  if (rootHash?.length !== CHECKPOINT_ROOT_HASH_SIZE) {
    throw malformed(
      `expected a base64 ${CHECKPOINT_ROOT_HASH_SIZE}-byte root hash, got ${JSON.stringify(rootText.slice(0, 64))}`,
      "root-hash",
    );
  }
  return { origin, size: Number(sizeText), rootHash, extensions };
}

/**
 * Formats and signs a checkpoint; returns the full signed-note text. The spec says
 * the key name SHOULD equal the origin, so `name` defaults to it.
 */
export function signCheckpoint(
  cp: Checkpoint,
  name: string | undefined,
  privateKey: KeyObject,
): string {
  return signNote(formatCheckpoint(cp), name ?? cp.origin, privateKey);
}

/**
 * Verifies a signed checkpoint note, parses its body and checks its origin.
 *
 * @param expectedOrigin when given, the checkpoint must be for this log.
 * @throws GenlogError GENLOG_E_MALFORMED_NOTE, GENLOG_E_KEY or
 *   GENLOG_E_BAD_SIGNATURE from {@link verifyNote}; GENLOG_E_MALFORMED_NOTE for a bad
 *   body; GENLOG_E_BAD_SIGNATURE (rule `origin`) when it is signed for another origin.
 */
export function openCheckpoint(
  noteText: string | Uint8Array,
  verifier: NoteVerifier | string,
  expectedOrigin?: string,
): ParsedCheckpoint {
  const cp = parseCheckpoint(verifyNote(noteText, verifier));
  if (expectedOrigin !== undefined && cp.origin !== expectedOrigin) {
    // A valid signature over another log's checkpoint vouches for nothing here.
    throw new GenlogError(
      "GENLOG_E_BAD_SIGNATURE",
      `expected a checkpoint for origin ${JSON.stringify(expectedOrigin)}, got ${JSON.stringify(cp.origin.slice(0, 128))}`,
      { details: { rule: "origin" } },
    );
  }
  return cp;
}
