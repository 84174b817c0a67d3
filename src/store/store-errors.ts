/**
 * The refusals of the store contract that every driver raises alike (see `AppendBatch` and
 * `StoreEffect` in log-store.ts): one wording and one set of details, whatever the database.
 */
import { GenlogError } from "../errors.js";

/** The log moved on since the batch was sealed: another writer appended first. */
export function batchConflict(first: number, size: number): GenlogError {
  return new GenlogError(
    "GENLOG_E_CONFLICT",
    `batch starts at seq ${first} after another checkpoint than the log's latest (size ${size}): another writer appended first`,
    { details: { expected: first, actual: size } },
  );
}

/** The stored entries do not end at the log's size: someone removed or added rows. */
export function entriesOutOfStep(logId: number, size: number, last: number | null): GenlogError {
  return new GenlogError(
    "GENLOG_E_INCONSISTENT",
    `log ${logId} should hold ${size} entries but its last stored entry is ${last ?? "none"}: entries were removed or added outside genlog; nothing was appended, run \`genlog verify\``,
    { details: { size, lastSeq: last } },
  );
}

function heldTarget(tenant: string, subject: string): string {
  return subject === "" ? `tenant ${tenant}` : `subject ${subject} of tenant ${tenant}`;
}

/** An erasure or a purge refused by a legal hold on the tenant (`""`) or a subject. */
export function heldError(
  tenant: string,
  subject: string,
  refused: "erase" | "purge",
): GenlogError {
  const why =
    refused === "erase"
      ? "is under a legal hold: nothing was erased"
      : `is under a legal hold${subject === "" ? "" : " and has records in the range"}: nothing was purged`;
  return new GenlogError(
    "GENLOG_E_HELD",
    `${heldTarget(tenant, subject)} ${why}; release the hold first (\`genlog hold release\`)`,
    { details: { tenant, subject } },
  );
}

export function alreadyErased(tenant: string, pseudonyms: string[]): GenlogError {
  return new GenlogError(
    "GENLOG_E_NOT_FOUND",
    `subject ${pseudonyms.join(", ")} of tenant ${tenant} was already erased`,
    { details: { tenant, pseudonyms } },
  );
}

export function purgeRace(logId: number): GenlogError {
  return new GenlogError(
    "GENLOG_E_CONFLICT",
    `another purge of log ${logId} ran meanwhile: nothing was purged, run it again`,
  );
}

export function purgeMismatch(
  fromSeq: number,
  toSeq: number,
  deleted: number,
  expected: number,
): GenlogError {
  return new GenlogError(
    "GENLOG_E_INCONSISTENT",
    `the purge of entries ${fromSeq}..${toSeq - 1} would delete ${deleted} records, not the ${expected} expected: records were removed outside genlog; nothing was purged, run \`genlog verify\``,
    { details: { fromSeq, toSeq, deleted, expected } },
  );
}

export function alreadyHeld(tenant: string, subject: string): GenlogError {
  return new GenlogError(
    "GENLOG_E_HELD",
    `${heldTarget(tenant, subject)} is already under a legal hold`,
    { details: { tenant, subject } },
  );
}

export function notHeld(tenant: string, subject: string): GenlogError {
  return new GenlogError(
    "GENLOG_E_NOT_FOUND",
    `${heldTarget(tenant, subject)} is not under a legal hold`,
    { details: { tenant, subject } },
  );
}
