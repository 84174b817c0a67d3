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
import type { LogRef, LogStore } from "../store/log-store.js";

/** More rotations than any log will see; a query needs a bound. */
const MAX_ROTATIONS = 100_000;

/** The rotations recorded in a log, in seq order. A store that cannot say gives none. */
export async function rotationsOf(store: LogStore, ref: LogRef): Promise<KeyRotation[]> {
  let rows;
  try {
    rows = await store.query(ref.logId, { type: KEY_ROTATION_TYPE, limit: MAX_ROTATIONS });
  } catch {
    // A damaged store: verify reports the damage; the log is judged with the pinned key alone.
    return [];
  }
  const out: KeyRotation[] = [];
  for (const row of rows) {
    const r = rotationOf(row.canonical, row.seq);
    if (r !== undefined) out.push(r);
  }
  return out;
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
  const rotations = await rotationsOf(store, ref);
  return rotations.length === 0 ? single : KeySchedule.follow(pinned, rotations);
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
