/**
 * Which key signs which checkpoints of a log whose signing key was rotated.
 *
 * A rotation is a record of the log itself (`genlog.key-rotation`, members `previous` and
 * `next`, both verifier key lines) committed alone in a batch whose checkpoint both keys
 * sign: the old key vouches for the change, the new one proves it is held. Before that
 * checkpoint only the old key signs; after it, only the new one. So a log whose record at seq
 * `s` rotates K0 to K1 has its checkpoints of size ≤ s+1 signed by K0, those of size ≥ s+1
 * by K1, and the one at s+1 by both.
 *
 * The schedule is built from the rotation records as stored, before they are proven: a
 * record that was edited names a key that did not sign the checkpoints around it, so those
 * checkpoints fail here and the record fails its root, and `verify` reports both. Trust
 * starts from one key the caller pins (any key of the chain, old or new) and follows the
 * chain both ways; a key the chain does not hold verifies nothing but its own signatures.
 */
import { GenlogError } from "../errors.js";
import { parseCheckpoint } from "./checkpoint.js";
import { parseSignedNote, parseVerifierKey, verifyNote, type NoteVerifier } from "./signed-note.js";

/** The type of the record that rotates a log's signing key. */
export const KEY_ROTATION_TYPE = "genlog.key-rotation";

/** A rotation as its record states it. */
export interface KeyRotation {
  /** The seq of the rotation record; its batch's checkpoint is at `seq + 1`. */
  seq: number;
  /** The verifier key line of the key that signed until then. */
  previous: string;
  /** The verifier key line of the key that signs from then on. */
  next: string;
}

/** One key and the checkpoint sizes it signs, both ends included (`to` null: still in use). */
export interface KeyEpoch {
  verifierKey: string;
  from: number;
  to: number | null;
}

/**
 * The rotation a stored record states, or undefined when it is not a readable rotation record
 * (the entry audit reports what is wrong with it).
 */
export function rotationOf(canonical: string, seq: number): KeyRotation | undefined {
  try {
    const r = JSON.parse(canonical) as { type?: unknown; meta?: Record<string, unknown> };
    const previous = r.meta?.["previous"];
    const next = r.meta?.["next"];
    if (r.type !== KEY_ROTATION_TYPE || typeof previous !== "string" || typeof next !== "string")
      return undefined;
    return { seq, previous, next };
  } catch {
    return undefined;
  }
}

interface Epoch extends KeyEpoch {
  verifier: NoteVerifier;
}

/** The keys of one log over its history. */
export class KeySchedule {
  readonly #epochs: readonly Epoch[];

  private constructor(epochs: Epoch[]) {
    this.#epochs = epochs;
  }

  /** A log signed by one key all along. @throws {GenlogError} `GENLOG_E_KEY` for a bad line. */
  static single(verifierKey: string): KeySchedule {
    return new KeySchedule([
      { verifierKey, from: 0, to: null, verifier: parseVerifierKey(verifierKey) },
    ]);
  }

  /**
   * The schedule that `pinned` belongs to, given the log's rotations in seq order. The chain
   * is followed from its first key for as long as each rotation starts from the key the one
   * before ended on; the segment that holds `pinned` is the schedule. A key outside it gets a
   * schedule of its own, under which checkpoints by any other key do not verify.
   *
   * @throws {GenlogError} `GENLOG_E_KEY` when `pinned` is not a verifier key line.
   */
  static follow(pinned: string, rotations: readonly KeyRotation[]): KeySchedule {
    const segments: Epoch[][] = [];
    let current: Epoch[] = [];
    for (const r of [...rotations].sort((a, b) => a.seq - b.seq)) {
      const boundary = r.seq + 1;
      const last = current.at(-1);
      let previous: NoteVerifier;
      let next: NoteVerifier;
      try {
        previous = parseVerifierKey(r.previous);
        next = parseVerifierKey(r.next);
      } catch {
        continue; // an unreadable line: the record's own audit reports it
      }
      if (last === undefined || last.verifierKey !== r.previous) {
        if (current.length > 0) segments.push(current);
        current = [{ verifierKey: r.previous, from: 0, to: null, verifier: previous }];
      }
      current.at(-1)!.to = boundary;
      current.push({ verifierKey: r.next, from: boundary, to: null, verifier: next });
    }
    if (current.length > 0) segments.push(current);
    const verifier = parseVerifierKey(pinned);
    const holding = segments.find((s) => s.some((e) => sameKey(e.verifier, verifier)));
    if (holding === undefined)
      return new KeySchedule([{ verifierKey: pinned, from: 0, to: null, verifier }]);
    return new KeySchedule(holding);
  }

  /** The keys and the sizes each signs, oldest first. */
  get epochs(): KeyEpoch[] {
    return this.#epochs.map(({ verifierKey, from, to }) => ({ verifierKey, from, to }));
  }

  /** The keys that must all sign a checkpoint of `size`: one, or two at a rotation. */
  keysFor(size: number): NoteVerifier[] {
    return this.#epochs
      .filter((e) => size >= e.from && (e.to === null || size <= e.to))
      .map((e) => e.verifier);
  }

  /**
   * Verifies a checkpoint note with the keys of the size it states and returns its body.
   *
   * @throws {GenlogError} `GENLOG_E_MALFORMED_NOTE` for a malformed note or body,
   *   `GENLOG_E_BAD_SIGNATURE` when a key of its size did not sign it.
   */
  verify(note: string | Uint8Array): string {
    // The size read before the signature only chooses the keys; all of them must sign it.
    const { size } = parseCheckpoint(parseSignedNote(note).body);
    const keys = this.keysFor(size);
    if (keys.length === 0) {
      throw new GenlogError("GENLOG_E_BAD_SIGNATURE", `no key signs size ${size}`);
    }
    let body = "";
    for (const key of keys) body = verifyNote(note, key);
    return body;
  }
}

function sameKey(a: NoteVerifier, b: NoteVerifier): boolean {
  return a.name === b.name && a.keyId === b.keyId && Buffer.from(a.raw).equals(Buffer.from(b.raw));
}
