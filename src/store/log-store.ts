/**
 * The storage contract. It describes the steps of a log (append a batch with its checkpoint,
 * serve nodes for proofs, read records back), not tables, so that SQLite and PostgreSQL
 * drivers can each store them their own way and pass one conformance suite.
 */
import { GenlogError } from "../errors.js";
import type { EventStatus } from "../core/event-schema.js";
import type { AuditableEntry } from "../core/audit.js";
import type { NodeId } from "../core/merkle.js";

/** A log, named by its origin `<instance>/<tenant>/<stream>`. */
export interface LogRef {
  logId: number;
  origin: string;
  tenant: string;
  stream: string;
}

/**
 * One sealed record as the store keeps it: the committed text, its leaf hash and the
 * interior nodes it completes (see {@link AuditableEntry}). `id`, `ts`, `type`, `actor`,
 * `sector` and `status` are the record's own members, kept for lookups and queries: a
 * driver stores them as given or derives them from `canonical`, and `verify` checks every
 * one of them against it. Node (level L, index i) is kept by the leaf `(i + 1) * 2^L - 1`,
 * so any node is one point read and no separate node table exists.
 */
export interface StoredEntry extends AuditableEntry {
  status: EventStatus;
}

/**
 * A position of the tree whose record body is gone (a purge deleted it, or someone did):
 * only the leaf hash and the nodes remain, which proofs of other entries still use.
 */
export interface PurgedEntry {
  seq: number;
  canonical: null;
  leafHash: Uint8Array;
  nodes: Uint8Array;
}

/** A purge as the store keeps it: the range it may delete, and its event. */
export interface PurgeRow {
  fromSeq: number;
  toSeq: number;
  eventId: string;
}

/** The prefix of the settings {@link LogStore.putStatus} may write. */
export const STATUS_PREFIX = "status.";

/** Refuses a status key outside {@link STATUS_PREFIX} (a bug, never input). */
export function checkStatusKey(key: string): void {
  if (!key.startsWith(STATUS_PREFIX)) {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      `putStatus writes ${STATUS_PREFIX}* keys only, not ${key}`,
    );
  }
}

/** A signed checkpoint as kept: every checkpoint ever issued is retained. */
export interface StoredCheckpoint {
  size: number;
  /** The C2SP signed note. */
  note: string;
}

export type { NodeId } from "../core/merkle.js";

/** The seq of the leaf that completes node `n`: the store keeps the node in that entry. */
export function completingSeq(n: NodeId): number {
  return (n.index + 1) * 2 ** n.level - 1;
}

/** Filters of a query; all optional and combined with AND. */
export interface QueryFilter {
  type?: string;
  actor?: string;
  sector?: string;
  status?: EventStatus;
  /** Inclusive lower bound on `ts` (RFC 3339, compared as UTC). */
  since?: string;
  /** Exclusive upper bound on `ts`. */
  until?: string;
  /** Only records with `seq` greater than this (cursor pagination). */
  afterSeq?: number;
  limit: number;
}

/** An entry that a query structure of the store misrepresents ({@link LogStore.auditQueryIndexes}). */
export interface IndexFault {
  seq: number;
  /** The record member the structure indexes. */
  field: "actor";
  /** What is wrong, in one sentence. */
  message: string;
}

/** A subject as stored: its pseudonym, lookup value and wrapped data key. */
export interface SubjectRow {
  tenant: string;
  pseudonym: string;
  lookup: Uint8Array;
  wrappedKey: Uint8Array;
}

/**
 * A change a system event makes beside the log, committed in the same transaction as the
 * event's record so that neither lands without the other:
 * - `erase`: deletes the subjects' rows (data keys and lookup values) and raises the tenant's
 *   {@link LogStore.erasureCount}; refused with
 *   `GENLOG_E_HELD` under a hold on the tenant or one of them, `GENLOG_E_NOT_FOUND` when none
 *   is left to delete (erased meanwhile);
 * - `hold`: sets a legal hold on a subject (a pseudonym) or, with `subject: ""`, the whole
 *   tenant; `GENLOG_E_HELD` when one is already set there;
 * - `release`: lifts it; `GENLOG_E_NOT_FOUND` when none is set;
 * - `setting`: sets a setting (a tenant's retention, say) with the event that records why;
 * - `purge`: records the range and deletes the bodies in it (and their actor index rows),
 *   except genlog's own events; refused with `GENLOG_E_HELD` under a tenant hold or when a
 *   held subject has a record in the range, `GENLOG_E_INCONSISTENT` when it would not delete
 *   exactly `expected` bodies (some were deleted outside genlog).
 */
export type StoreEffect =
  | { kind: "erase"; tenant: string; pseudonyms: string[] }
  | {
      kind: "purge";
      tenant: string;
      logId: number;
      fromSeq: number;
      toSeq: number;
      /** Bodies it must delete: every one in the range but genlog's own events. */
      expected: number;
      eventId: string;
    }
  | { kind: "hold"; tenant: string; subject: string; eventId: string }
  | { kind: "setting"; key: string; value: string }
  | { kind: "release"; tenant: string; subject: string };

/** A tenant registered in a region, and where that region's database lives. */
export interface TenantRow {
  tenant: string;
  region: string;
  /** The region's directory (absolute), which holds its `genlog.db`. */
  dir: string;
  created: string;
}

/** A legal hold in force. */
export interface HoldRow {
  tenant: string;
  /** A pseudonym, or "" for the whole tenant. */
  subject: string;
  /** The id of the system event that set it (its reason is there). */
  eventId: string;
}

/** An API token as stored: its SHA-256, never the token itself. */
export interface TokenRow {
  /** `tok_` and 26 base32 characters: the id shown in lists and access records. */
  id: string;
  hash: Uint8Array;
  /** A tenant name, or `*` for every tenant. */
  scope: string;
  role: string;
  label: string;
  created: string;
  /** RFC 3339, or null for a token that does not expire. */
  expires: string | null;
  /** When it was revoked, or null. */
  revoked: string | null;
}

/** One finding of {@link LogStore.checkIntegrity}. */
export interface StoreDamage {
  /** What is damaged and how, in one sentence. */
  message: string;
  /**
   * True when stored entries may be unreadable or lost to the damage: a position that no
   * row holds can then not be told apart from a deleted one.
   */
  entriesAffected: boolean;
}

/**
 * A batch to commit: entries at consecutive seqs from the log's current size, the signed
 * checkpoint that covers them, and the checkpoint they extend.
 */
export interface AppendBatch {
  entries: StoredEntry[];
  checkpoint: StoredCheckpoint;
  /**
   * The log's latest checkpoint as the writer sealed on it (undefined for an empty log). The
   * store refuses the batch unless it is still the latest: a size alone could match after
   * another writer appended as many entries, and the batch's tree would then fork the log.
   */
  previous: StoredCheckpoint | undefined;
  /**
   * Subjects first met by records of this batch: stored in the same transaction (a subject
   * already there is left as it is), so that no record is durable without its key and no
   * key without a record.
   */
  subjects?: SubjectRow[];
  /**
   * What the batch's system event changes beside the log (see {@link StoreEffect}); a batch
   * that carries effects holds that one record. If an effect is refused, nothing of the
   * batch is written.
   */
  effects?: StoreEffect[];
  /**
   * A hint: the caller has more work to do while this batch commits (the next batch to
   * seal), so a driver that can commit off the caller's thread should. Without it, a driver
   * may commit in the caller's thread, which is quicker for a batch that waits alone.
   */
  overlap?: boolean;
}

/**
 * A follower as kept beside its tenant's log: what it is, its options, and where it is in the
 * tenant's events log. `cursor` is the seq of the next record to hand over; `attempts` counts
 * the failures on that record, and `nextAt` (epoch ms) is when to try it again.
 */
export interface FollowerRow extends FollowerKey {
  kind: string;
  /** The kind's options, as JSON. */
  config: string;
  /** The follower's secret, sealed under a key of its tenant (null when it has none). */
  secret: Uint8Array | null;
  cursor: number;
  attempts: number;
  nextAt: number;
  lastError: string | null;
  /** Why the follower stopped (an endpoint that answered 410), or null while it runs. */
  disabled: string | null;
  created: string;
}

/**
 * Which follower: its tenant, its name, and the id drawn when it was added (a follower removed
 * and added again under the same name is another one: a runner still busy with the first must
 * not move the second).
 */
export interface FollowerKey {
  tenant: string;
  name: string;
  id: string;
}

/** What a follower's delivery changed: written only if its cursor is still `from`. */
export interface FollowerProgress {
  cursor: number;
  attempts: number;
  nextAt: number;
  lastError: string | null;
  disabled?: string | null;
}

/** A record a follower gave up on after its retries (or was told to skip). */
export interface DeadLetterRow {
  tenant: string;
  name: string;
  seq: number;
  eventId: string;
  attempts: number;
  error: string;
  at: string;
  /** Set by `followers retry`: the follower hands it over again before going on. */
  due: boolean;
}

/**
 * A storage driver. Every method that writes MUST be atomic; `appendBatch` MUST be durable
 * (committed and synced to stable storage) before its promise resolves, because the writer
 * acknowledges the batch's appends as soon as it does.
 */
export interface LogStore {
  /** A short name of the driver, e.g. `sqlite`. */
  readonly driver: string;
  /** Where the data is, for messages: a file's path, or a URL without its password. */
  readonly location: string;

  getSetting(key: string): Promise<string | undefined>;
  /** Sets a setting only if it is absent; returns the value in force. */
  initSetting(key: string, value: string): Promise<string>;
  /**
   * Sets (or replaces) a status setting: what genlog reports but never decides on, such as
   * the last verification's result. Only keys under {@link STATUS_PREFIX}: the settings that
   * decide (the instance, the keys) are set once, by {@link initSetting}.
   */
  putStatus(key: string, value: string): Promise<void>;

  /** Returns the log with this origin, creating it when `create` is true. */
  openLogRef(ref: Omit<LogRef, "logId">, create: boolean): Promise<LogRef | undefined>;
  /** Every log, in the order they were created. */
  listLogs(): Promise<LogRef[]>;
  /**
   * The log's size (its next seq) and its latest checkpoint, read in one snapshot: the size
   * is the latest checkpoint's, which deleting entries cannot change.
   */
  logState(logId: number): Promise<{ size: number; latest: StoredCheckpoint | undefined }>;
  /**
   * The log's size and how many entries it holds, read in one snapshot (another process may
   * be appending): fewer entries than the size means some were deleted. O(n).
   */
  countEntries(logId: number): Promise<{ size: number; entries: number }>;

  /**
   * Commits a batch: its entries and its checkpoint (whose size becomes the log's size), in
   * one durable transaction. Nothing of the batch is written if anything fails. A driver MAY commit
   * batches of several logs, or several batches of one log, in one transaction (one fsync);
   * each batch still succeeds or fails on its own.
   *
   * @throws {GenlogError} `GENLOG_E_CONFLICT` when the log is no longer at `batch.previous`
   * (another writer appended first); `GENLOG_E_INCONSISTENT` when the stored entries no longer
   * end at the log's size; `GENLOG_E_COMMIT_UNKNOWN` when the committing connection died and
   * the outcome is not known (read back to resolve it); `GENLOG_E_BUSY`, `GENLOG_E_STORE`.
   */
  appendBatch(logId: number, batch: AppendBatch): Promise<void>;

  /** Committed records with these ids, by id (idempotency and lookup). */
  findByIds(logId: number, ids: readonly string[]): Promise<Map<string, StoredEntry>>;
  /** Stored perfect-subtree hashes, in the order asked. Throws NOT_FOUND for a missing node. */
  readNodes(logId: number, nodes: readonly NodeId[]): Promise<Uint8Array[]>;

  getEntry(logId: number, seq: number): Promise<StoredEntry | undefined>;
  query(logId: number, filter: QueryFilter): Promise<StoredEntry[]>;
  /**
   * Every position of the tree in seq order, from `fromSeq`, in pages (for verify and
   * export): the stored entry, or a {@link PurgedEntry} where the body is gone.
   */
  scanEntries(logId: number, fromSeq?: number): AsyncIterable<StoredEntry | PurgedEntry>;
  /** The purges committed on the log, by range (what the store lets be deleted). */
  listPurges(logId: number): Promise<PurgeRow[]>;
  /** Seqs of genlog's own events (types `genlog.…`) in [fromSeq, toSeq), which a purge keeps. */
  systemEventSeqs(logId: number, fromSeq: number, toSeq: number): Promise<number[]>;
  /**
   * After deletions: gives the space of deleted rows back to the file system when it is worth
   * a rewrite (else later appends reuse it), and empties the write-ahead log; says how much
   * was freed and whether the WAL could be emptied (readers may hold it).
   */
  reclaim(): Promise<{ freedBytes: number; scrubbed: boolean }>;

  /** Every checkpoint of the log by size (sizes only grow: the order they were issued in). */
  listCheckpoints(logId: number): Promise<StoredCheckpoint[]>;
  /** The same, read in pages: memory does not grow with the number of checkpoints. */
  scanCheckpoints(logId: number): AsyncIterable<StoredCheckpoint>;
  checkpointAt(logId: number, size: number): Promise<StoredCheckpoint | undefined>;

  /**
   * The store's own check of everything below the log's rules: damaged pages, indexes that
   * disagree with their table, a schema changed by hand (a dropped trigger or unique index).
   * One finding per damaged page, index or schema object; empty when all is well. Reads the
   * whole database. Never throws for damage: a store too damaged to check is a finding.
   */
  checkIntegrity(): Promise<StoreDamage[]>;

  /**
   * Checks the query structures the store fills itself rather than generating them from the
   * records (the SQLite driver's actor index, filled in chunks): every row must name an
   * entry with that member, within what the structure covers, and every such entry must have
   * its row, or queries would miss or misreport it. Returns up to `limit` faults, empty when
   * sound. A driver whose indexes the database maintains itself returns none.
   */
  auditQueryIndexes(logId: number, limit: number): Promise<IndexFault[]>;

  /** A tenant's subjects whose lookup value is `lookup` (usually one; two after a race). */
  findSubjects(tenant: string, lookup: Uint8Array): Promise<SubjectRow[]>;
  /** How many subjects of a tenant have their key stored. */
  countSubjects(tenant: string): Promise<number>;
  /** A tenant's subjects by pseudonym; an erased one is absent from the map. */
  getSubjects(tenant: string, pseudonyms: readonly string[]): Promise<Map<string, SubjectRow>>;
  /**
   * How many erasures of the tenant's subjects were committed: a count that every `erase`
   * effect raises in its transaction, so that a process keeping subjects in memory learns of
   * an erasure made by another with one point read, whatever the number of subjects.
   */
  erasureCount(tenant: string): Promise<number>;

  /** A tenant's key as wrapped under the master key, or undefined before its first use. */
  getTenantKey(tenant: string): Promise<Uint8Array | undefined>;
  /**
   * Stores a tenant's wrapped key unless one is there; returns the one in force. Refused
   * with `GENLOG_E_CONFLICT` unless the database's master key id is `masterKeyId` (a key
   * wrapped under a master key that was rotated away would never open again).
   */
  initTenantKey(tenant: string, wrapped: Uint8Array, masterKeyId: string): Promise<Uint8Array>;
  /**
   * Replaces every tenant key's wrapped form and the master key's id setting, in one
   * transaction, if the setting is still `from.keyId` and the tenants are exactly those of
   * `rewrapped` (else `GENLOG_E_CONFLICT`: a tenant was added meanwhile, read again).
   */
  rewrapTenantKeys(
    from: { keyId: string },
    to: { keyId: string },
    rewrapped: ReadonlyMap<string, Uint8Array>,
  ): Promise<void>;
  /** Every tenant key as wrapped, by tenant. */
  listTenantKeys(): Promise<Map<string, Uint8Array>>;

  /**
   * Registers a tenant in a region (home database only): records the region's directory
   * the first time the region is used, and returns the one in force.
   *
   * @throws {GenlogError} `GENLOG_E_ALREADY_INITIALIZED` when the tenant is registered.
   */
  registerTenant(tenant: string, region: string, dir: string): Promise<TenantRow>;
  /** A registered tenant, or undefined (a tenant created by an append lives in the home database). */
  getTenant(tenant: string): Promise<TenantRow | undefined>;
  /** Every registered tenant, by name. */
  listTenants(): Promise<TenantRow[]>;

  /** A tenant's legal holds in force. */
  listHolds(tenant: string): Promise<HoldRow[]>;

  /** Stores a new API token (home database only). */
  insertToken(row: TokenRow): Promise<void>;
  /** The token whose SHA-256 is `hash`, revoked or not, or undefined. */
  findToken(hash: Uint8Array): Promise<TokenRow | undefined>;
  /** Every token (revoked ones too), by creation time. */
  listTokens(): Promise<TokenRow[]>;
  /**
   * Marks a token revoked at `at`; returns it, or undefined for an unknown id. Revoking a
   * revoked token changes nothing and returns it as it is.
   */
  revokeToken(id: string, at: string): Promise<TokenRow | undefined>;

  /**
   * Leaves nothing deleted on disk: moves the write-ahead log into the database and empties
   * it (deleted rows are overwritten as they are deleted). Returns false when readers of
   * other connections kept part of it from being emptied; calling again later finishes.
   */
  scrub(): Promise<boolean>;

  /** Adds a follower; `GENLOG_E_EXISTS` when the tenant has one of that name. */
  insertFollower(row: FollowerRow): Promise<void>;
  /** A tenant's followers (every tenant's when omitted), by tenant and name. */
  listFollowers(tenant?: string): Promise<FollowerRow[]>;
  /** Removes a follower and its dead letters; false when there was none. */
  removeFollower(tenant: string, name: string): Promise<boolean>;
  /**
   * Moves a follower on, if it is still the same follower and its cursor is still `from`
   * (another runner may have moved it, or it was removed: then nothing is written and the
   * answer is false). With `letter`, the record it gives up on is kept as a dead letter in the
   * same transaction.
   */
  advanceFollower(
    follower: FollowerKey,
    from: number,
    progress: FollowerProgress,
    letter?: DeadLetterRow,
  ): Promise<boolean>;
  /**
   * Takes or renews a follower's lease for `owner` (one runner), for `ms` from now by the
   * database's clock, if it is free, expired, `owner`'s own, or held by `takeFrom` (a holder
   * known to be dead); returns the holder afterwards (`owner` when it got it). Runners in
   * several processes (nodes) over one database take a follower's turn only while they hold
   * its lease: a record is handed over by one node at a time, and a node that dies gives its
   * followers up when their leases expire.
   */
  claimFollower(
    follower: FollowerKey,
    owner: string,
    ms: number,
    takeFrom?: string,
  ): Promise<string | null>;
  /** Gives up every lease `owner` holds (a runner stopping): another node may take them at once. */
  releaseFollowers(owner: string): Promise<void>;
  /** A follower's dead letters, by seq. */
  listDeadLetters(tenant: string, name: string): Promise<DeadLetterRow[]>;
  /** Marks every dead letter of a follower due again; returns how many. */
  retryDeadLetters(tenant: string, name: string): Promise<number>;
  /**
   * A dead letter handed over again: removed when `delivered`, else kept (not due) with its
   * error. Nothing is written if the follower is not that one any more.
   */
  settleDeadLetter(
    follower: FollowerKey,
    seq: number,
    outcome: { delivered: true } | { delivered: false; error: string },
  ): Promise<void>;

  close(): Promise<void>;
}
