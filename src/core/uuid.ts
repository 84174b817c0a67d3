/**
 * UUIDv7 record ids (RFC 9562 §5.7): a 48-bit Unix millisecond timestamp, the version 7,
 * 74 random bits and the variant `10`.
 *
 * Generated on the append hot path, so built from `crypto.randomUUID()`, whose random bits
 * Node draws from a cached entropy pool: its first twelve hex digits are replaced by the
 * timestamp and its version digit by `7` (its variant bits are already `10`). Ids sort by
 * their millisecond, which keeps the id index append-only; within one millisecond their
 * order is random, which RFC 9562 allows (§6.2 makes monotonicity optional): the log's
 * `seq` is what orders records.
 */
import { randomUUID } from "node:crypto";

let lastMs = -1;
let prefix = "";

/** A new UUIDv7 for the time `ms` (now by default), in lower-case canonical form. */
export function uuidv7(ms: number = Date.now()): string {
  if (ms !== lastMs) {
    if (!Number.isSafeInteger(ms) || ms < 0 || ms > 0xffff_ffff_ffff) {
      throw new RangeError(`a UUIDv7 timestamp is 48 bits of milliseconds, got ${ms}`);
    }
    const hex = ms.toString(16).padStart(12, "0");
    prefix = `${hex.slice(0, 8)}-${hex.slice(8)}-7`;
    lastMs = ms;
  }
  // randomUUID(): xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx; keep what follows the version digit.
  return prefix + randomUUID().slice(15);
}
