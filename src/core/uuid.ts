/**
 * UUIDv7 record ids (RFC 9562 §5.7): a 48-bit Unix millisecond timestamp, the version 7,
 * 74 random bits and the variant `10`.
 *
 * Generated on the append hot path, so the random bits come from a pool refilled 4 KiB at
 * a time by `crypto.randomFillSync`, and the text is written into a scratch buffer and
 * decoded once: one string allocation per id. Ids sort by their millisecond, which keeps
 * the id index append-only; within one millisecond their order is random, which RFC 9562
 * allows (§6.2 makes monotonicity optional): the log's `seq` is what orders records.
 */
import { randomFillSync } from "node:crypto";

const POOL = Buffer.alloc(4096);
let poolAt = POOL.length;
/** Random bytes per id: 12 bits of rand_a, 62 of rand_b, 6 spare. */
const RANDOM_BYTES = 10;

const HEX = Buffer.from("0123456789abcdef", "latin1");
/** The 36 characters of an id, rewritten for each one. */
const TEXT = Buffer.from("00000000-0000-7000-8000-000000000000", "latin1");

let lastMs = -1;

/** A new UUIDv7 for the time `ms` (now by default), in lower-case canonical form. */
export function uuidv7(ms: number = Date.now()): string {
  if (ms !== lastMs) {
    if (!Number.isSafeInteger(ms) || ms < 0 || ms > 0xffff_ffff_ffff) {
      throw new RangeError(`a UUIDv7 timestamp is 48 bits of milliseconds, got ${ms}`);
    }
    // unix_ts_ms: hex digits 0-7 and 9-12 (position 8 is a dash).
    let t = ms;
    for (let i = 12; i >= 0; i--) {
      if (i === 8) continue;
      TEXT[i] = HEX[t % 16]!;
      t = Math.floor(t / 16);
    }
    lastMs = ms;
  }
  if (poolAt + RANDOM_BYTES > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  const r = poolAt;
  poolAt += RANDOM_BYTES;
  // rand_a: positions 15-17 (14 stays "7", the version).
  TEXT[15] = HEX[POOL[r]! >> 4]!;
  TEXT[16] = HEX[POOL[r]! & 15]!;
  TEXT[17] = HEX[POOL[r + 1]! >> 4]!;
  // The variant 10 and two random bits at position 19, then rand_b: 20-22 and 24-35.
  TEXT[19] = HEX[8 | (POOL[r + 1]! & 3)]!;
  let nibble = 0;
  for (let at = 20; at < 36; at++) {
    if (at === 23) continue; // the dash
    const b = POOL[r + 2 + (nibble >> 1)]!;
    TEXT[at] = HEX[nibble & 1 ? b & 15 : b >> 4]!;
    nibble++;
  }
  return TEXT.toString("latin1", 0, 36);
}
