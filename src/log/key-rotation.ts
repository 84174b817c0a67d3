/**
 * A log's signing-key history as its own records state it (see `core/key-schedule.ts`), and
 * where a rotation's next key waits while the rotation is under way.
 */
import { join } from "node:path";
import {
  KEY_ROTATION_TYPE,
  KeySchedule,
  rotationOf,
  type KeyEpoch,
  type KeyRotation,
} from "../core/key-schedule.js";
import { assertTenant } from "../core/event-schema.js";
import { parseCheckpoint } from "../core/checkpoint.js";
import { verifyNote } from "../core/signed-note.js";
import type { LogRef, LogStore } from "../store/log-store.js";

/** More rotations than any log will see; a query needs a bound. */
const MAX_ROTATIONS = 100_000;

/** What a log's rotation records say, once each is checked against its checkpoint. */
export interface RecordedRotations {
  /** Rotations vouched for: the checkpoint at `seq + 1` is this log's and both keys signed it. */
  vouched: KeyRotation[];
  /** Rotation records no such checkpoint vouches for: they change no key. */
  unvouched: KeyRotation[];
}

/**
 * The rotations recorded in a log, in seq order. A rotation counts only once the log holds,
 * at `seq + 1`, a checkpoint of its own origin and size that both the old and the new key
 * signed: the old key vouches for the new one. A record anyone could write with the database
 * (naming a key of their own) is otherwise just a record, and changes no key. A store that
 * cannot say gives none.
 */
export async function rotationsOf(store: LogStore, ref: LogRef): Promise<RecordedRotations> {
  const out: RecordedRotations = { vouched: [], unvouched: [] };
  let rows;
  try {
    rows = await store.query(ref.logId, { type: KEY_ROTATION_TYPE, limit: MAX_ROTATIONS });
  } catch {
    // A damaged store: verify reports the damage; the log is judged with the pinned key alone.
    return out;
  }
  for (const row of rows) {
    const r = rotationOf(row.canonical, row.seq);
    if (r === undefined) continue;
    ((await isVouched(store, ref, r)) ? out.vouched : out.unvouched).push(r);
  }
  return out;
}

async function isVouched(store: LogStore, ref: LogRef, r: KeyRotation): Promise<boolean> {
  try {
    const cp = await store.checkpointAt(ref.logId, r.seq + 1);
    if (cp === undefined) return false;
    const body = parseCheckpoint(verifyNote(cp.note, r.previous));
    verifyNote(cp.note, r.next);
    return body.origin === ref.origin && body.size === r.seq + 1;
  } catch {
    return false;
  }
}

/**
 * The keys of a log, followed from `pinned` (see {@link KeySchedule.follow}).
 *
 * @throws {GenlogError} `GENLOG_E_KEY` when `pinned` is not a verifier key line.
 */
export async function keyScheduleOf(
  store: LogStore,
  ref: LogRef,
  pinned: string,
): Promise<KeySchedule> {
  // Checked first: a malformed key is the caller's mistake whatever the log holds.
  const single = KeySchedule.single(pinned);
  const { vouched } = await rotationsOf(store, ref);
  return vouched.length === 0 ? single : KeySchedule.follow(pinned, vouched);
}

/**
 * Where the next key of a tenant waits during a rotation: a directory of its own, so that no
 * tenant's name can make it collide with another tenant's key file.
 */
export function rotatingKeyPath(keysDir: string, tenant: string): string {
  return join(keysDir, "rotating", `${assertTenant(tenant)}.ed25519.pem`);
}

/** What `Genlog.rotateKey` did. */
export interface KeyRotationResult {
  tenant: string;
  /** Verifier key lines of the old and the new key. */
  previous: string;
  next: string;
  /**
   * Each log the rotation was recorded in now: its origin, the seq of the rotation record and
   * the size of the checkpoint both keys signed. A log rotated by an earlier, interrupted run
   * is not listed.
   */
  logs: { origin: string; seq: number; checkpointSize: number }[];
}

/** A tenant's published keys (`Genlog.keyInfo`, `GET /v1/tenants/{tenant}/key`). */
export interface KeyInfo {
  tenant: string;
  /** The origin of its events log. */
  origin: string;
  /** The verifier key line of the key that signs now. */
  verifierKey: string;
  /**
   * Every key that signed the events log and the checkpoint sizes it signs, oldest first
   * (one until the key is rotated; `to` is null for the key in use).
   */
  keys: KeyEpoch[];
}
