/**
 * The audit rules: what must hold of every stored entry and checkpoint for a reader to be
 * able to trust what the store serves. `verify` applies them in its streaming pass and in
 * its full analysis alike; this is the one place they are written.
 *
 * A store keeps, beside each record's committed text, copies that readers rely on without
 * re-reading the text: the leaf hash and interior Merkle nodes (proofs), and the members
 * queries and lookups use (id, ts, type, actor, sector, status). Each copy must equal what
 * is recomputed from the committed text, or a proof fails for an intact record, a query
 * misses a record, or a lookup by id finds nothing and an idempotent retry logs twice.
 */
import { parseCheckpoint, type ParsedCheckpoint } from "./checkpoint.js";
import { KeySchedule } from "./key-schedule.js";
import { hashLeaf } from "./merkle.js";
import { parseSignedNote, verifyNote, type NoteVerifier } from "./signed-note.js";

/** A stored entry as the rules see it (a store's row, whatever the driver). */
export interface AuditableEntry {
  /** The position the store keeps it at. */
  seq: number;
  id: string;
  ts: string;
  type: string;
  actor: string | null;
  sector: string | null;
  status: string;
  /** The exact committed record text: what the leaf hashes. */
  canonical: string;
  leafHash: Uint8Array;
  /**
   * Hashes of the perfect subtrees this leaf completes, levels 1..k in order, 32 bytes each
   * (empty when it completes none).
   */
  nodes: Uint8Array;
}

/** The members a store copies beside the record for queries and lookups. */
export const INDEXED_MEMBERS = ["id", "ts", "type", "actor", "sector", "status"] as const;

/** A stored copy that disagrees with the record it was taken from. */
export interface IndexMismatch {
  /** The member (or `tenant`, which the store keeps per log). */
  field: (typeof INDEXED_MEMBERS)[number] | "tenant";
  stored: unknown;
  record: unknown;
}

/** What the rules find in one entry, read on its own. */
export interface EntryAudit {
  /** The leaf hash recomputed from the committed text (RFC 9162: SHA-256(0x00 || text)). */
  leaf: Buffer;
  /** False when the committed text is not a JSON object (it cannot be a record). */
  readable: boolean;
  /** `seq` and `id` as the record states them, when it does. */
  claimedSeq: number | undefined;
  claimedId: string | undefined;
  /** Whether the stored leaf hash equals the recomputed one. */
  leafMatches: boolean;
  /** Stored copies of record members that differ from the record (do not modify). */
  mismatches: readonly IndexMismatch[];
}

const NO_MISMATCHES: IndexMismatch[] = [];

/**
 * Applies the per-entry rules: the leaf is recomputed from the committed text, and every
 * member copied for queries must equal the record's own, as must the log's tenant.
 */
export function auditEntry(entry: AuditableEntry, tenant: string): EntryAudit {
  const leaf = hashLeaf(Buffer.from(entry.canonical, "utf8"));
  const leafMatches = leaf.equals(entry.leafHash);
  let record: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(entry.canonical);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      record = parsed as Record<string, unknown>;
    }
  } catch {
    // Not JSON: unreadable, reported by the caller.
  }
  if (record === undefined) {
    return {
      leaf,
      readable: false,
      claimedSeq: undefined,
      claimedId: undefined,
      leafMatches,
      mismatches: NO_MISMATCHES,
    };
  }
  // Allocated only when something differs: verify runs this on every entry of the log.
  let mismatches = NO_MISMATCHES;
  const differs = (m: IndexMismatch) => {
    if (mismatches === NO_MISMATCHES) mismatches = [];
    mismatches.push(m);
  };
  for (const field of INDEXED_MEMBERS) {
    const value = record[field] ?? null;
    if (entry[field] !== value) differs({ field, stored: entry[field], record: value });
  }
  if (record.tenant !== tenant) {
    differs({ field: "tenant", stored: tenant, record: record.tenant ?? null });
  }
  return {
    leaf,
    readable: true,
    claimedSeq: Number.isSafeInteger(record.seq) ? (record.seq as number) : undefined,
    claimedId: typeof record.id === "string" ? record.id : undefined,
    leafMatches,
    mismatches,
  };
}

/** True when nothing is wrong with the entry on its own, at position `seq`. */
export function entryIsSound(audit: EntryAudit, seq: number): boolean {
  return (
    audit.readable && audit.leafMatches && audit.claimedSeq === seq && audit.mismatches.length === 0
  );
}

/**
 * Whether the interior nodes stored with an entry equal those recomputed when its leaf was
 * appended to the tree of the leaves before it (`computed`, from `MerkleFrontier`).
 */
export function nodesMatch(stored: Uint8Array, computed: Uint8Array): boolean {
  const view = Buffer.isBuffer(stored)
    ? stored
    : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  return view.equals(computed);
}

/** A stored checkpoint row: the size it is filed under and its signed note. */
export interface AuditableCheckpoint {
  size: number;
  note: string;
}

/** What the rules say of one stored checkpoint. */
export type CheckpointAudit =
  | { kind: "valid"; checkpoint: ParsedCheckpoint }
  /** It does not verify with the log's key, or is for another log. */
  | { kind: "forged"; reason: string }
  /** A valid note filed under another size than the one it signs (proofs would use it). */
  | { kind: "misfiled"; signedSize: number };

/**
 * Applies the checkpoint rules: signed by the log's key (the keys of its size, when the key
 * was rotated), for the log's origin, and filed
 * under the size it states. Without a verifier (a reader that holds no key) the signature is
 * left unchecked and the other rules still apply.
 */
export function auditCheckpoint(
  c: AuditableCheckpoint,
  verifier: NoteVerifier | KeySchedule | undefined,
  origin: string,
): CheckpointAudit {
  let cp: ParsedCheckpoint;
  try {
    const body =
      verifier === undefined
        ? parseSignedNote(c.note).body
        : verifier instanceof KeySchedule
          ? verifier.verify(c.note)
          : verifyNote(c.note, verifier);
    cp = parseCheckpoint(body);
  } catch (e) {
    return { kind: "forged", reason: (e as Error).message };
  }
  if (cp.origin !== origin) return { kind: "forged", reason: `origin is ${cp.origin}` };
  if (cp.size !== c.size) return { kind: "misfiled", signedSize: cp.size };
  return { kind: "valid", checkpoint: cp };
}

/** The type of genlog's purge events (see `log/system-events.ts`). */
export const PURGE_TYPE = "genlog.purge";

/** What one committed purge event states: the range it deleted, and the seqs it kept. */
export interface PurgeCover {
  /** The purge event's own seq. */
  seq: number;
  fromSeq: number;
  toSeq: number;
  /** Genlog's own events in the range, whose bodies the purge kept. */
  kept: ReadonlySet<number>;
}

/**
 * The purge a committed record states, or undefined when it is not a well-formed purge event
 * of a range before it (then it covers nothing).
 */
export function purgeCoverOf(canonical: string, seq: number): PurgeCover | undefined {
  let r: unknown;
  try {
    r = JSON.parse(canonical);
  } catch {
    return undefined;
  }
  const rec = r as { v?: unknown; type?: unknown; actor?: unknown; meta?: Record<string, unknown> };
  // Version 2 on: types `genlog.` were open to callers before (a record of 0.1.0 that claims
  // to be a purge explains nothing).
  if (rec.type !== PURGE_TYPE || typeof rec.v !== "number" || rec.v < 2 || rec.actor !== null) {
    return undefined;
  }
  if (typeof rec.meta !== "object" || rec.meta === null) return undefined;
  const { fromSeq, toSeq, kept, purged } = rec.meta;
  const isSeq = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!isSeq(fromSeq) || !isSeq(toSeq) || fromSeq >= toSeq || toSeq > seq) return undefined;
  if (!Array.isArray(kept) || !kept.every((k) => isSeq(k) && k >= fromSeq && k < toSeq)) {
    return undefined;
  }
  const keptSet = new Set(kept);
  if (keptSet.size !== kept.length || purged !== toSeq - fromSeq - kept.length) return undefined;
  return { seq, fromSeq, toSeq, kept: keptSet };
}

/**
 * The rule for a missing body: a position of the tree may have no record only where a
 * committed purge event covers it (in its range, not one of the events it kept). Anywhere
 * else the record was deleted outside genlog. Verify reads the log in order and meets a
 * purge event after the range it covers, so it notes missing bodies as it goes and judges
 * them at the end.
 */
export class PurgeCovers {
  readonly #covers: PurgeCover[] = [];
  /** Runs of positions without a body, [from, to), in order. */
  readonly #missing: [number, number][] = [];

  /** Notes a committed purge event. */
  add(cover: PurgeCover): void {
    this.#covers.push(cover);
  }

  /** Notes a position without a body (positions come in increasing order). */
  missing(seq: number): void {
    const last = this.#missing[this.#missing.length - 1];
    if (last !== undefined && last[1] === seq) last[1] = seq + 1;
    else this.#missing.push([seq, seq + 1]);
  }

  /**
   * The purges that count: in the order of their events, each must start where the one
   * before ended (the first at 0), as genlog's purges do; one that does not explains nothing.
   */
  #chain(): PurgeCover[] {
    const chain: PurgeCover[] = [];
    let next = 0;
    for (const c of [...this.#covers].sort((a, b) => a.seq - b.seq)) {
      if (c.fromSeq !== next) continue;
      chain.push(c);
      next = c.toSeq;
    }
    return chain;
  }

  /**
   * The missing bodies no purge explains, as runs [from, to), and how many were purged. One
   * walk over the missing positions and the purges, both in order.
   */
  judge(): { purged: number; unexplained: [number, number][] } {
    const chain = this.#chain();
    let purged = 0;
    const unexplained: [number, number][] = [];
    let i = 0;
    for (const [from, to] of this.#missing) {
      for (let seq = from; seq < to; seq++) {
        while (i < chain.length && chain[i]!.toSeq <= seq) i++;
        const c = chain[i];
        if (c !== undefined && seq >= c.fromSeq && !c.kept.has(seq)) purged++;
        else {
          const last = unexplained[unexplained.length - 1];
          if (last !== undefined && last[1] === seq) last[1] = seq + 1;
          else unexplained.push([seq, seq + 1]);
        }
      }
    }
    return { purged, unexplained };
  }

  /** The ranges purged, in order, as [fromSeq, toSeq). */
  ranges(): [number, number][] {
    return this.#chain().map((c): [number, number] => [c.fromSeq, c.toSeq]);
  }

  /** How many purges count (see the chain rule). */
  get size(): number {
    return this.#chain().length;
  }

  /** Where the purges stop: the next purge starts here. */
  end(): number {
    return this.#chain().at(-1)?.toSeq ?? 0;
  }
}
