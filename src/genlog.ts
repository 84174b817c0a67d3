/**
 * The library's front door: `openLog` wires the default preset (SQLite file, local Ed25519
 * keys, a master key for tenant keys, each tenant's privacy policy, pseudonyms and
 * envelopes) and returns a {@link Genlog} that routes each event to its tenant's log and
 * pipeline.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { userInfo } from "node:os";
import { pino, type Logger } from "pino";
import { GenlogError, isGenlogError } from "./errors.js";
import {
  ALL_TENANTS,
  authorize,
  checkContext,
  forbidden,
  isRole,
  mayGrant,
  type AccessContext,
  type Permission,
} from "./core/access.js";
import {
  TokenChecker,
  isTokenId,
  newToken,
  tokenInfo,
  type NewToken,
  type TokenInfo,
  type TokenOptions,
} from "./log/tokens.js";
import {
  ACCESS_STREAM,
  purposeSetting,
  accessEvent,
  accessStages,
  accessReport,
  type Access,
  type AccessRecordContext,
  type AccessReport,
} from "./log/access-log.js";
import {
  SLUG_PATTERN,
  STATUSES,
  assertTenant,
  describeValue,
  validateEvent,
  type GenerationEvent,
  SYSTEM_TYPE_PREFIX,
} from "./core/event-schema.js";
import { rfc3339ToEpochMs } from "./core/rfc3339.js";
import {
  parseStoredRecord,
  prepareEvent,
  type GenerationRecord,
  type PreparedRecord,
} from "./core/record.js";
import {
  policyOf,
  validatePolicySet,
  type PolicyInput,
  type PolicySet,
} from "./core/privacy/policy.js";
import { KEY_NAMES_ONLY, openPipeline, type TenantPipeline } from "./log/pipeline.js";
import { piiDetectors, scanText } from "./core/privacy/detectors.js";
import type { CountryCode } from "libphonenumber-js";
import { TenantSubjects, type RevealedRecord } from "./log/subjects.js";
import { openKeyStore, rotateMasterKey, type MasterKeyRotation } from "./log/tenant-keys.js";
import { writeArchive, type ArchiveManifest } from "./log/archive.js";
import { Anonymiser } from "./core/privacy/anonymise.js";
import { gdprReport, type GdprReport } from "./log/gdpr-report.js";
import { generationReport, type GenerationReport } from "./log/generation-report.js";
import {
  AI_ACT_MINIMUM_DAYS,
  checkRetentionDays,
  planPurge,
  purgeCutoff,
  retentionOf,
  retentionSetting,
  type PurgeRange,
} from "./log/retention.js";
import {
  SUBJECT_EXPORT_FORMAT,
  type SubjectExport,
  type SubjectExportItem,
} from "./core/subject-export.js";
import {
  SYSTEM_TYPES,
  checkReason,
  checkSelector,
  systemEvent,
  type SubjectSelector,
} from "./log/system-events.js";
import { MASTER_KEY_ID_SETTING, checkMasterKeyEnv } from "./keys/master-key.js";
import type { KeyStore } from "./keys/key-store.js";
import { parseCheckpoint, type ParsedCheckpoint } from "./core/checkpoint.js";
import { parseSignedNote, parseVerifierKey, verifyNote } from "./core/signed-note.js";
import type { KeySchedule } from "./core/key-schedule.js";
import {
  keyScheduleOf,
  rotatingKeyPath,
  type KeyInfo,
  type KeyRotationResult,
} from "./log/key-rotation.js";
import {
  assembleProof,
  hashLeafText,
  planConsistencyProof,
  planInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from "./core/merkle.js";
import { auditCheckpoint } from "./core/audit.js";
import type { ConsistencyProof, InclusionProof } from "./core/proofs.js";
import {
  LogWriter,
  isKeyChanged,
  checkMaxBatch,
  readStoredNodes,
  type AppendResult,
  type CommittedBatch,
} from "./log/writer.js";
import { openTenantSigner, verifierKeySetting } from "./log/tenant-signer.js";
import { SqliteStore } from "./store/sqlite/sqlite-store.js";
import { PostgresStore, redact as redactUrl } from "./store/postgres/postgres-store.js";
import { copySqliteToPostgres, type CopyReport } from "./store/postgres/copy-from-sqlite.js";
import type {
  StoredCheckpoint,
  StoredEntry,
  LogRef,
  LogStore,
  QueryFilter,
  StoreEffect,
} from "./store/log-store.js";
import {
  createKeyFile,
  defaultKeysDir,
  ed25519Signer,
  keyPath,
  readKeyFile,
  replaceKeyFile,
} from "./keys/file-keys.js";
import type { Signer } from "./keys/signer.js";
import type { CarManifest } from "./log/car-export.js";
import {
  FOLLOWER_NAME,
  FollowerRunner,
  followerEnd,
  networkPolicyFromEnv,
  sealSecret,
  type FollowerKind,
  type NetworkPolicy,
  type PeriodReports,
  type CarExport,
  type RetryOptions,
} from "./log/followers.js";
import {
  activatePlugin,
  checkCriticalRules,
  type ActivePlugin,
  type CriticalRule,
  type Plugin,
} from "./log/plugins.js";
import {
  verifyLog,
  verifyUnreadableLog,
  type VerifyOptions,
  type VerifyReport,
} from "./log/verify.js";

/** Default data directory, relative to the working directory. */
export const DEFAULT_DATA_DIR = "./genlog-data";
/** Default tenant. */
export const DEFAULT_TENANT = "default";
/** Default instance name, the first part of every origin. */
export const DEFAULT_INSTANCE = "genlog.local";

/** Options of {@link openLog}. */
export interface OpenLogOptions {
  /** Directory of the database and keys; default `$GENLOG_DATA_DIR` or `./genlog-data`. */
  dataDir?: string;
  /** Tenant used when an event or call names none; default `default`. */
  tenant?: string;
  /**
   * Directory of the tenants' signing keys; default `$GENLOG_KEYS_DIR`, else `keys/` in the
   * data directory. Keep it elsewhere (other owner, other backups) so that whoever can write
   * the database cannot also sign.
   */
  keysDir?: string;
  /**
   * A PostgreSQL database to keep the logs in instead of `<dataDir>/genlog.db`
   * (`postgres://user:password@host:port/database`); default `$GENLOG_DATABASE_URL`. Several
   * processes, on several machines, may open the same one: see docs/guides/deployment.md.
   * The data directory still holds the keys (by default) and the followers' files.
   */
  databaseUrl?: string;
  /**
   * The PostgreSQL database of each residency region, by region
   * (`{ eu: "postgres://…@db.eu.example/genlog" }`); for a region not given here,
   * `$GENLOG_DATABASE_URL_<REGION>` (the region upper-cased, every character but a letter or a
   * digit made `_`: `eu-west` → `GENLOG_DATABASE_URL_EU_WEST`). A region without one keeps its
   * tenants in `<regionDir>/genlog.db`, which is refused when the home database is
   * PostgreSQL: every node must reach the same region database.
   */
  regionDatabaseUrls?: Readonly<Record<string, string>>;
  /**
   * The signer of a tenant's checkpoints when its key is kept outside the keys directory (a
   * KMS, an HSM, a signing service shared by every node): called once per tenant this handle
   * loads; undefined leaves that tenant to its key file. Its `name` must be
   * `<instance>/<tenant>`, and `sign` may answer asynchronously (once per committed batch).
   * See docs/guides/deployment.md.
   */
  signer?: (tenant: string) => Signer | undefined | Promise<Signer | undefined>;
  /** Create the data directory, database and keys when missing; default true. */
  create?: boolean;
  /** Instance name in origins (`<instance>/<tenant>/events`); fixed when the store is created. */
  instance?: string;
  /** Where hook errors and warnings go; default pino at level `warn` on stderr. */
  logger?: Logger;
  /** Most records per transaction; default 4096. */
  maxBatch?: number;
  /**
   * Privacy policies: a default and one per tenant (see docs/guides/privacy.md). Validated
   * before anything is opened; a tenant without one gets the default, else the strict
   * preset (or its events' sector preset).
   */
  policies?: PolicySet;
  /** @internal see {@link KEY_NAMES_ONLY}. */
  [KEY_NAMES_ONLY]?: boolean;
  /**
   * The kinds of follower this handle can add and run (see docs/guides/plugins.md). The
   * package's `openLog` gives the built-in ones (`webhook`); default here none.
   */
  followerKinds?: readonly FollowerKind[];
  /**
   * Where followers may connect. Default: public addresses over https only, unless
   * `GENLOG_FOLLOWERS_ALLOW_PRIVATE=true` also allows private and loopback addresses and http
   * (see docs/guides/plugins.md).
   */
  followerNetwork?: NetworkPolicy;
  /**
   * Where followers that write files (`file-sink`) keep them, one directory per tenant and
   * follower; default `$GENLOG_FOLLOWERS_DIR`, else `followers/` in the data directory.
   */
  followerFilesDir?: string;
  /**
   * Plugins to run in every tenant, as followers named `plugin-<name>` (see
   * docs/guides/plugins.md): their options are checked and their `setup` runs when the log
   * opens, so a mistake stops the process before anything is handed over. A tenant's plugin
   * follower is added the first time a handle that lists the plugin loads the tenant or runs
   * its followers; it starts with the records committed from then on.
   */
  plugins?: readonly { plugin: Plugin; options?: unknown }[];
  /** Rules that make a generation `critical` for plugins, beside `meta.critical: true`. */
  critical?: readonly CriticalRule[];
  /**
   * Open an existing database for reading only (verify, query, proofs, export), e.g. an
   * auditor's copy: the SQLite file is opened read-only, no signing key is needed or
   * created, and appends fail with `GENLOG_E_USAGE`. Default false.
   */
  readOnly?: boolean;
  /**
   * Who calls through this handle (see {@link Genlog.as}); default the local operator:
   * `local:<os user>`, superadmin, every tenant, via `library`. Every read, export, proof,
   * erasure and administrative call is recorded in the tenant's access log under it.
   */
  context?: AccessContext;
}

/** The fields of the seed API `logGenerationEvent(type, fields)`. */
export interface GenerationFields {
  user?: string | null;
  actor?: string | null;
  tenant?: string;
  sector?: string | null;
  status?: "started" | "succeeded" | "failed";
  meta?: Record<string, unknown>;
  artifacts?: { name: string; digest: string; size: number }[];
  occurredAt?: string;
  id?: string;
}

/** A full event for {@link Genlog.append}. */
export type GenerationEventInput = GenerationFields & { type: string };

/** Query filters plus paging. */
export interface QueryOptions extends Partial<Omit<QueryFilter, "afterSeq" | "limit">> {
  tenant?: string;
  /**
   * A person's id as appended (`user`/`actor`): their records are found through the keyed
   * lookup of their pseudonyms (`actor` filters by pseudonym). For callers allowed to name
   * subjects; needs the master key. Nothing is found once the person is erased.
   */
  user?: string;
  /** Page size, 1..1000; default 100. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

/** What a data directory holds, as {@link Genlog.status} reports it. */
export interface GenlogStatus {
  instance: string;
  dataDir: string;
  /** Path of the SQLite database file, or the PostgreSQL URL (without its password). */
  database: string;
  keysDir: string;
  /** `settings.schema_version` of the database; null when it records none. */
  schemaVersion: number | null;
  /**
   * Id of the master key the database was used with (`master.key` in the keys dir, or
   * `GENLOG_MASTER_KEY`); null before the first tenant opened. Not secret.
   */
  masterKeyId: string | null;
  /** Every log of every tenant, in the order they were created. */
  logs: LogStatus[];
}

/** One log in a {@link GenlogStatus}. */
export interface LogStatus {
  origin: string;
  tenant: string;
  stream: string;
  /** Entries appended so far. */
  size: number;
  /** Tree size of the latest signed checkpoint; null before the first append. */
  checkpointSize: number | null;
  /** The verifier key of the tenant's signing key in the keys dir; null when there is none. */
  verifierKey: string | null;
}

/** One page of query results. */
export interface QueryPage {
  records: GenerationRecord[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** Options of {@link Genlog.eraseSubject}. */
export interface EraseOptions {
  /** The person's id as the platform sent it (`user`/`actor`); or give `pseudonym`. */
  subject?: string;
  /** A pseudonym (`sub_…`) as records carry it; or give `subject`. */
  pseudonym?: string;
  /** Why, e.g. "GDPR Art. 17 request #1234": kept in the erasure event (redacted like meta). */
  reason: string;
  tenant?: string;
}

/** What {@link Genlog.eraseSubject} did. */
export interface ErasureResult {
  tenant: string;
  /** The pseudonyms whose keys and lookup values were destroyed. */
  pseudonyms: string[];
  /** The `genlog.erasure` system event, committed with the deletion. */
  record: GenerationRecord;
  /**
   * True when the write-ahead log was emptied too, so no copy of the deleted rows is left on
   * disk; false when readers in other processes kept it from being emptied (the next erasure,
   * or the last writer's close, empties it).
   */
  scrubbed: boolean;
}

/** Options of {@link Genlog.setHold} and {@link Genlog.releaseHold}: no subject for the whole tenant. */
export interface HoldOptions {
  subject?: string;
  pseudonym?: string;
  reason: string;
  tenant?: string;
}

/** A legal hold in force. */
export interface LegalHold {
  tenant: string;
  /** `tenant`: nothing of the tenant may be erased or purged; `subject`: that subject. */
  scope: "tenant" | "subject";
  /** The subject's pseudonym; null for a tenant hold. */
  pseudonym: string | null;
  /** The system event that set it: its seq, time and reason (as stored, redacted). */
  seq: number;
  since: string;
  reason: unknown;
}

/** Options of {@link Genlog.purge}. */
export interface PurgeOptions {
  /** Purge records older than this (RFC 3339); default: now minus the tenant's retention. */
  before?: string;
  /** Say what would be purged, purge nothing. */
  dryRun?: boolean;
  tenant?: string;
}

/** What {@link Genlog.purge} did (or, dry, would do). */
export interface PurgeResult {
  tenant: string;
  /** Records with a `ts` before this lose their bodies. */
  cutoff: string;
  dryRun: boolean;
  /** The ranges purged, each with the seq of its `genlog.purge` event (absent when dry). */
  ranges: (PurgeRange & { seq?: number })[];
  /** Bodies deleted in all. */
  purged: number;
  /** Bytes given back to the file system (when the freed pages were a quarter of it or more). */
  freedBytes: number;
}

/** A tenant's retention. */
export interface Retention {
  tenant: string;
  days: number;
  /** True when the tenant set none and the default applies. */
  isDefault: boolean;
  /** Records older than this are due for purge now. */
  cutoff: string;
}

/** The policies a tenant is under ({@link Genlog.policies}). */
/** A follower as listed (its secret is never shown). */
export interface FollowerInfo {
  tenant: string;
  name: string;
  kind: string;
  /** What it does, in one line (`POST https://… types backend`). */
  target: string;
  config: unknown;
  /**
   * The seq of the next record it will hand over; for a periodic kind (`report`, `ipfs`), the
   * number of the next period to hand over (it starts at `cursor × periodMs`, Unix time).
   */
  cursor: number;
  /** A periodic kind's period, in ms; null for a kind that hands over records. */
  periodMs: number | null;
  /** Committed records it has not handed over or passed over yet. */
  behind: number;
  /** Failed tries of the record at `cursor`, and when the next one is due (null: now). */
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  /** Why it stopped (its endpoint answered 410), or null while it runs. */
  disabled: string | null;
  /** Records it gave up on, by seq; `due` ones are handed over again at its next pass. */
  deadLetters: {
    seq: number;
    id: string;
    attempts: number;
    error: string;
    at: string;
    due: boolean;
  }[];
  created: string;
}

/** Every tenant's followers in figures ({@link Genlog.followerSummary}). */
export interface FollowerSummary {
  followers: number;
  /** Records committed that followers have not handed over yet, in all. */
  behind: number;
  /** Followers waiting to try a record again. */
  retrying: number;
  /** Followers a 410 stopped. */
  disabled: number;
  deadLetters: number;
}

/** Options of {@link Genlog.addFollower}. */
export interface AddFollowerOptions {
  tenant?: string;
  /** Lower-case letters, digits and dashes; unique in the tenant. */
  name: string;
  /** A kind the handle knows (`webhook`). */
  kind: string;
  /** The kind's options (a webhook's `{url, types?, sectors?}`). */
  config: unknown;
  /** The kind's secret (a webhook's `whsec_…`): stored sealed under the tenant's key. */
  secret?: string;
  /** Hand over the records already in the log too; default false (from the next one on). */
  fromStart?: boolean;
}

export interface TenantPolicies {
  tenant: string;
  /**
   * The privacy policy in force, as configured: the tenant's, else the data directory's
   * default; null when none is configured (the `strict` preset, or a stricter sector preset
   * chosen by each event's sector).
   */
  privacy: PolicyInput | null;
  /** Where `privacy` comes from. */
  privacySource: "tenant" | "default" | "built-in";
  /** Whether every access must declare a purpose ({@link Genlog.setPurposeRequired}). */
  purposeRequired: boolean;
  retention: Retention;
}

/** A tenant as `tenants()` and `tenant()` describe it. */
export interface TenantInfo {
  tenant: string;
  /** Its region, or null for one living in the home database (created by an append). */
  region: string | null;
  /** The database file (or PostgreSQL URL, without its password) that holds its records. */
  database: string;
  origin: string;
  size: number;
  checkpointSize: number | null;
  /**
   * When the latest checkpoint was sealed: the time of the last record it covers (a
   * checkpoint is signed in the same commit); null for an empty log or a purged record.
   */
  checkpointAt: string | null;
  /** The last verification of its events log (through any surface that could write), or null. */
  lastVerify: LastVerify | null;
  /**
   * Its retention, and when its oldest kept record falls due for purge (now, if it is past
   * due; null when it holds none): the GDPR report says the same, with counts, at the cost of
   * reading the whole log.
   */
  retention: { days: number; isDefault: boolean; nextPurge: string | null };
}

/** What the last verification of a log found, kept as a status beside it. */
export interface LastVerify {
  at: string;
  ok: boolean;
  entries: number;
  verifiedSize: number;
  problems: number;
  /** The principal who ran it. */
  by: string;
}

/** A tenant's retention and next purge, as the GDPR report computes them, from a few rows. */
async function retentionInfo(log: TenantLog): Promise<TenantInfo["retention"]> {
  const { days, isDefault } = await retentionOf(log.store, log.ref.tenant);
  // The oldest kept generation: the first body in seq order that is not a system event
  // (which a purge keeps). System events are few, so this reads a page or two.
  let oldest: string | undefined;
  let afterSeq: number | undefined;
  while (oldest === undefined) {
    const rows = await log.store.query(log.ref.logId, { limit: 100, afterSeq });
    if (rows.length === 0) break;
    oldest = rows.find((r) => !r.type.startsWith(SYSTEM_TYPE_PREFIX))?.ts;
    afterSeq = rows[rows.length - 1]!.seq;
  }
  const nextPurge =
    oldest === undefined
      ? null
      : new Date(Math.max(Date.parse(oldest) + days * 86_400_000, Date.now())).toISOString();
  return { days, isDefault, nextPurge };
}

/** A kept verification, or null when there is none or it does not parse. */
function parseLastVerify(text: string | undefined): LastVerify | null {
  if (text === undefined) return null;
  try {
    const v = JSON.parse(text) as LastVerify;
    return typeof v.at === "string" && typeof v.ok === "boolean" ? v : null;
  } catch {
    return null;
  }
}

/** The status setting that keeps a log's last verification. */
function lastVerifySetting(tenant: string, stream: string): string {
  return `status.verify.${tenant}.${stream}`;
}

/** Hook events and their payloads. */
export interface HookEvents {
  /** After a record is durable (not called again for an idempotent repeat). */
  appended: (record: GenerationRecord) => unknown;
  /** After a batch is durable, with the new signed checkpoint. */
  checkpoint: (checkpoint: { origin: string; size: number; note: string }) => unknown;
}

type HookName = keyof HookEvents;

interface TenantLog {
  ref: LogRef;
  /** The store of the tenant's region (the home database for a tenant without one). */
  store: LogStore;
  /** Absent only on a read-only handle without the tenant's (usable) key file. */
  signer: Signer | undefined;
  /** On a read-only handle, why the key file there could not be used (thrown when needed). */
  keyError?: GenlogError;
  /**
   * The keys that signed the events log, followed from the signer's (several once it was
   * rotated); read on the first proof, dropped by a rotation.
   */
  keys?: Promise<KeySchedule> | undefined;
  /** Opened on the first append; one writer per log, shared by racing appends. */
  writer: Promise<LogWriter> | undefined;
  /** The writer of the tenant's access log, opened on its first recorded access. */
  accessWriter?: Promise<LogWriter> | undefined;
  /** The tenant's redact and protect stages; absent on a read-only handle. */
  pipeline?: TenantPipeline;
  /** On a read-only handle, the tenant's subjects for the decrypted view. */
  readSubjects?: Promise<TenantSubjects>;
}

/**
 * Opens (and by default creates) a genlog data directory.
 *
 * @example
 * const log = await openLog({ dataDir: "./genlog-data" });
 * const rec = await log.logGenerationEvent("backend", { user: "alice", meta: { stack: "Flask" } });
 * await log.close();
 * @throws {GenlogError} `GENLOG_E_USAGE` for a bad `maxBatch` and `GENLOG_E_INVALID_INPUT`
 *   for a bad `instance` or `tenant`, before any file is written; `GENLOG_E_NOT_INITIALIZED`
 *   when `create` is false and nothing is there, or when the default tenant's log has a key
 *   that the keys directory does not hold (no new key is made: the message names the key and
 *   where it was looked for); `GENLOG_E_KEY` when the key file there did not sign the log.
 */
export async function openLog(options: OpenLogOptions = {}): Promise<Genlog> {
  // Every option is checked before anything is created: a bad one leaves no file behind.
  checkMaxBatch(options.maxBatch);
  if (options.instance !== undefined) assertInstance(options.instance);
  if (options.policies !== undefined) validatePolicySet(options.policies);
  if (options.readOnly !== true) checkMasterKeyEnv();
  const context = checkContext({ ...(options.context ?? localContext("library")) });
  const plugins = await activatePlugins(
    options.plugins ?? [],
    checkCriticalRules(options.critical ?? []),
  );
  const dataDir = resolve(
    pathOption(options.dataDir, "dataDir") ?? envPath("GENLOG_DATA_DIR") ?? DEFAULT_DATA_DIR,
  );
  const readOnly = options.readOnly ?? false;
  const create = !readOnly && (options.create ?? true);
  const tenant = assertTenant(options.tenant ?? DEFAULT_TENANT);
  const keysDir = resolve(
    pathOption(options.keysDir, "keysDir") ?? envPath("GENLOG_KEYS_DIR") ?? defaultKeysDir(dataDir),
  );
  const databaseUrl = databaseUrlOption(options.databaseUrl);
  for (const [region, url] of Object.entries(options.regionDatabaseUrls ?? {})) {
    assertRegion(region);
    databaseUrlOption(url, {
      env: regionUrlVariable(region),
      option: `regionDatabaseUrls/${region}`,
    });
  }
  const dbPath = join(dataDir, "genlog.db");
  if (databaseUrl === undefined && !create && !existsSync(dbPath)) {
    throw new GenlogError(
      "GENLOG_E_NOT_INITIALIZED",
      `${dataDir} has no genlog.db: run \`${initCommand(dataDir, keysDir, tenant)}\`, or point --data-dir at a genlog data directory`,
    );
  }
  if (create) {
    // For a new database, the keys dir first: one that cannot be made must not leave a
    // database behind with no key to sign it.
    makeDir(dataDir, "data directory");
    if (databaseUrl === undefined && !existsSync(dbPath)) makeDir(keysDir, "keys directory");
  }
  /** A database with no log yet: what to run. */
  const notInitialized = (location: string) =>
    new GenlogError(
      "GENLOG_E_NOT_INITIALIZED",
      `${location} holds no genlog log yet: run \`${initCommand(dataDir, keysDir, tenant)}\`${databaseUrl !== undefined ? " with this database URL" : ""}`,
      { details: { location } },
    );
  const store =
    databaseUrl === undefined
      ? SqliteStore.open({ path: dbPath, readonly: readOnly })
      : await PostgresStore.connect({ url: databaseUrl, readonly: readOnly }).catch(
          (e: unknown) => {
            throw isGenlogError(e, "GENLOG_E_NOT_INITIALIZED")
              ? notInitialized(redactUrl(databaseUrl))
              : e;
          },
        );
  try {
    // A new PostgreSQL database, as a new file: its keys directory is made first (and only
    // then: an existing log whose keys are elsewhere gets no empty one in the data directory).
    if (create && databaseUrl !== undefined && (await store.getSetting("instance")) === undefined) {
      makeDir(keysDir, "keys directory");
    }
    const wanted = options.instance ?? DEFAULT_INSTANCE;
    const instance = create
      ? await store.initSetting("instance", wanted)
      : await store.getSetting("instance");
    if (instance === undefined) throw notInitialized(store.location);
    if (options.instance !== undefined && options.instance !== instance) {
      // Origins are fixed once the first log exists; a silent rename would be a surprise.
      throw new GenlogError(
        "GENLOG_E_USAGE",
        `${dataDir} belongs to instance "${instance}", not "${options.instance}"; the instance name cannot change`,
      );
    }
    const log = new Genlog({
      store,
      dataDir,
      keysDir,
      instance,
      create,
      readOnly,
      options,
      context,
      plugins,
    });
    // The default tenant's key and log exist as soon as the directory is opened.
    if (!readOnly) await log.openTenant();
    return log;
  } catch (e) {
    await store.close();
    throw e;
  }
}

/**
 * The PostgreSQL URL to use, from the option or `GENLOG_DATABASE_URL`, or undefined for the
 * embedded SQLite file.
 *
 * @throws {GenlogError} `GENLOG_E_CONFIG` for a URL that is not `postgres://` or `postgresql://`.
 */
function databaseUrlOption(
  given: string | undefined,
  names = { env: "GENLOG_DATABASE_URL", option: "databaseUrl" },
): string | undefined {
  const url = given ?? (process.env[names.env] || undefined);
  if (url === undefined) return undefined;
  let scheme: string | undefined;
  try {
    scheme = new URL(url).protocol;
  } catch {
    scheme = undefined;
  }
  if (scheme !== "postgres:" && scheme !== "postgresql:") {
    throw new GenlogError(
      "GENLOG_E_CONFIG",
      `${given === undefined ? names.env : names.option}: expected postgres://user:password@host:port/database`,
      { details: { pointer: `/${names.option}` } },
    );
  }
  return url;
}

/** The environment variable that gives a region's PostgreSQL URL. */
function regionUrlVariable(region: string): string {
  return `GENLOG_DATABASE_URL_${region.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** Every string in a JSON value. */
function stringLeaves(v: unknown, out: string[] = []): string[] {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) for (const x of v) stringLeaves(x, out);
  else if (v !== null && typeof v === "object")
    for (const x of Object.values(v)) stringLeaves(x, out);
  return out;
}

/** What `followers list` says of a follower whose kind this handle does not know. */
function unknownKind(kind: string, config: unknown): string {
  const c = config as { plugin?: unknown; version?: unknown; events?: unknown };
  if (kind.startsWith("plugin:") && Array.isArray(c.events)) {
    return `plugin ${String(c.plugin)}@${String(c.version)} (${c.events.join(", ")}), run by the processes whose configuration lists it`;
  }
  return `(unknown kind ${kind})`;
}

/**
 * Checks the options of the plugins and runs their setup: before anything is opened.
 *
 * @throws {GenlogError} `GENLOG_E_CONFIG` naming the plugin.
 */
async function activatePlugins(
  uses: readonly { plugin: Plugin; options?: unknown }[],
  critical: readonly CriticalRule[],
): Promise<ActivePlugin[]> {
  const out: ActivePlugin[] = [];
  for (const [i, use] of uses.entries()) {
    if (use?.plugin?.genlogPlugin !== 1) {
      throw new GenlogError(
        "GENLOG_E_CONFIG",
        `plugins[${i}]: expected a plugin made with definePlugin`,
        { details: { pointer: `/plugins/${i}` } },
      );
    }
    let active: ActivePlugin;
    try {
      active = await activatePlugin(use.plugin, use.options, critical);
    } catch (e) {
      if (!isGenlogError(e, "GENLOG_E_CONFIG")) throw e;
      // Named where the configuration lists it.
      const pointer = `/plugins/${i}${String(e.details?.["pointer"] ?? "")}`;
      throw new GenlogError("GENLOG_E_CONFIG", `plugins[${i}]: ${e.message}`, {
        cause: e,
        details: { ...e.details, pointer },
      });
    }
    const twin = out.find((a) => a.followerName === active.followerName);
    if (twin !== undefined) {
      throw new GenlogError(
        "GENLOG_E_CONFIG",
        `plugins[${i}]: ${use.plugin.name} is listed twice (or its name makes the same follower name as ${twin.plugin.name})`,
        { details: { pointer: `/plugins/${i}`, plugin: use.plugin.name } },
      );
    }
    out.push(active);
  }
  return out;
}

/**
 * Brings the database of a data directory to the schema this genlog writes, in place, under
 * SQLite's write lock (as any writing open does); needs write access to the file but no key.
 * With `databaseUrl` (default `$GENLOG_DATABASE_URL`), that PostgreSQL database instead
 * (which every writing connect also migrates). Returns the schema versions before and after
 * (equal when there was nothing to do), and the database (a URL without its password).
 *
 * @example
 * const { from, to } = await migrateDataDir("./genlog-data");
 * @throws {GenlogError} `GENLOG_E_NOT_INITIALIZED` when there is no genlog.db;
 * `GENLOG_E_STORE` for a file that is not genlog's or a newer schema.
 */
export async function migrateDataDir(
  dataDir: string,
  options: { databaseUrl?: string } = {},
): Promise<{ from: number; to: number; database: string }> {
  const url = databaseUrlOption(options.databaseUrl);
  if (url !== undefined) {
    // PostgreSQL's schema is migrated by every connect, under an advisory lock.
    const store = await PostgresStore.connect({ url });
    try {
      const to = Number(await store.getSetting("schema_version"));
      return { ...(store.migrated ?? { from: to, to }), database: store.location };
    } finally {
      await store.close();
    }
  }
  const path = join(resolve(dataDir), "genlog.db");
  if (!existsSync(path)) {
    throw new GenlogError("GENLOG_E_NOT_INITIALIZED", `${resolve(dataDir)} has no genlog.db`, {
      details: { path },
    });
  }
  const store = SqliteStore.open({ path });
  try {
    const to = Number(await store.getSetting("schema_version"));
    return { ...(store.migrated ?? { from: to, to }), database: path };
  } finally {
    await store.close();
  }
}

/** What {@link migrateToPostgres} copied, and what it found of the copy. */
export interface PostgresMigration {
  /** The database copied into, without its password. */
  database: string;
  copied: CopyReport;
  /**
   * Every log of the copy: its size, whether verify passed against the file's latest
   * checkpoint of it, and whether the copy's latest checkpoint is that same signed note.
   */
  logs: { origin: string; size: number; ok: boolean; sameCheckpoint: boolean }[];
  /** True when every log verified and kept its checkpoint. */
  ok: boolean;
}

/**
 * Copies a data directory's SQLite database into an empty PostgreSQL database (after bringing
 * the file to the current schema), then verifies every log of the copy against the file's
 * latest checkpoint of it: the copy is the same log, with the same signed checkpoints, and
 * nothing is re-signed. The data directory is left as it was (its keys and follower files are
 * used from there); point the processes at the database (`databaseUrl`) once `ok` is true.
 * Stop the writers first: what they commit after the copy's snapshot is not copied.
 *
 * @example
 * const r = await migrateToPostgres({ dataDir: "./genlog-data", databaseUrl: "postgres://genlog@db/genlog" });
 * @throws {GenlogError} `GENLOG_E_NOT_INITIALIZED` without a genlog.db; `GENLOG_E_USAGE` when
 * the database already holds logs, or the file has tenants in residency regions;
 * `GENLOG_E_CONFIG` for a URL that is not PostgreSQL's; `GENLOG_E_STORE`. Nothing is written
 * to the database when the copy fails.
 */
export async function migrateToPostgres(options: {
  dataDir: string;
  databaseUrl: string;
  keysDir?: string;
}): Promise<PostgresMigration> {
  const dataDir = resolve(options.dataDir);
  const url = databaseUrlOption(options.databaseUrl)!;
  await migrateDataDir(dataDir);
  const path = join(dataDir, "genlog.db");
  const latest = new Map<string, string | undefined>();
  const file = SqliteStore.open({ path, readonly: true });
  try {
    for (const ref of await file.listLogs()) {
      latest.set(ref.origin, (await file.logState(ref.logId)).latest?.note);
    }
  } finally {
    await file.close();
  }
  const copied = await copySqliteToPostgres(path, url);
  const copy = await PostgresStore.connect({ url, readonly: true });
  const log = await openLog({
    dataDir,
    databaseUrl: url,
    readOnly: true,
    ...(options.keysDir !== undefined ? { keysDir: options.keysDir } : {}),
  }).catch(async (e: unknown) => {
    await copy.close();
    throw e;
  });
  try {
    const logs: PostgresMigration["logs"] = [];
    for (const ref of await copy.listLogs()) {
      const { size, latest: now } = await copy.logState(ref.logId);
      const trusted = latest.get(ref.origin);
      const report = await log.verify({
        tenant: ref.tenant,
        stream: ref.stream === ACCESS_STREAM ? ACCESS_STREAM : "events",
        ...(trusted !== undefined ? { trusted } : {}),
      });
      logs.push({ origin: ref.origin, size, ok: report.ok, sameCheckpoint: now?.note === trusted });
    }
    return {
      database: copy.location,
      copied,
      logs,
      ok: logs.every((l) => l.ok && l.sameCheckpoint),
    };
  } finally {
    await log.close();
    await copy.close();
  }
}

/** A genlog data directory: one log per tenant and stream. */
export class Genlog {
  /** Absolute path of the data directory. */
  readonly dataDir: string;
  /** Absolute path of the directory of the signing keys. */
  readonly keysDir: string;
  /** Instance name in origins. */
  readonly instance: string;
  /** Default tenant of this handle. */
  readonly tenant: string;
  readonly #home: LogStore;
  readonly #create: boolean;
  readonly #readOnly: boolean;
  readonly #logger: Logger;
  readonly #maxBatch: number | undefined;
  readonly #policies: PolicySet | undefined;
  readonly #keyNamesOnly: boolean;
  /** `OpenLogOptions.signer`: tenants whose key is kept elsewhere. */
  readonly #signerOf: OpenLogOptions["signer"];
  readonly #followerKinds: ReadonlyMap<string, FollowerKind>;
  readonly #plugins: readonly ActivePlugin[];
  /** Tenants whose plugin followers this handle has added or found. */
  readonly #pluginTenants: Set<string>;
  readonly #followerNetwork: NetworkPolicy;
  readonly #followerFilesDir: string;
  readonly #regionUrls: Readonly<Record<string, string>>;
  readonly #tenants: Map<string, Promise<TenantLog>>;
  /** The tenants whose writer is open, with their pipeline, for the append fast path. */
  readonly #open: Map<string, { writer: LogWriter; pipeline: TenantPipeline }>;
  /** Appends accepted while their tenant's writer was opening. */
  readonly #opening: Set<Promise<unknown>>;
  /** The databases of the regions this handle has used, by region. */
  readonly #regions: Map<string, Promise<LogStore>>;
  /** Per tenant, the last append still being prepared (see {@link #inOrder}). */
  readonly #preparing: Map<string, Promise<void>>;
  readonly #hooks: { [K in HookName]: HookEvents[K][] };
  /**
   * What a handle and its views ({@link as}) share and change: tenant keys come from the
   * master key, read when the first tenant's pipeline opens; closing closes them all.
   */
  readonly #shared: {
    keyStore: Promise<KeyStore> | undefined;
    closed: boolean;
    hookFailures: number;
    tokens?: TokenChecker;
    /** Views made by {@link authenticate}, by context: a server's clients repeat theirs. */
    views: Map<string, Genlog>;
    /** Tenants whose signing key is being rotated: one rotation at a time. */
    rotating: Set<string>;
  };
  /** Who calls through this handle: every read, export, proof and admin call is decided and logged under it. */
  readonly #context: AccessContext;
  /** True for a view made by {@link as}: it shares the handle's state and does not close it. */
  readonly #isView: boolean;

  /** @internal use {@link openLog}. */
  constructor(
    init:
      | {
          store: LogStore;
          dataDir: string;
          keysDir: string;
          instance: string;
          create: boolean;
          readOnly: boolean;
          options: OpenLogOptions;
          context: AccessContext;
          plugins: readonly ActivePlugin[];
        }
      | { parent: Genlog; context: AccessContext },
  ) {
    if ("parent" in init) {
      const p = init.parent;
      this.#home = p.#home;
      this.dataDir = p.dataDir;
      this.keysDir = p.keysDir;
      this.instance = p.instance;
      this.#create = p.#create;
      this.#readOnly = p.#readOnly;
      this.tenant = init.context.scope === ALL_TENANTS ? p.tenant : init.context.scope;
      this.#logger = p.#logger;
      this.#maxBatch = p.#maxBatch;
      this.#policies = p.#policies;
      this.#keyNamesOnly = p.#keyNamesOnly;
      this.#signerOf = p.#signerOf;
      this.#followerKinds = p.#followerKinds;
      this.#plugins = p.#plugins;
      this.#pluginTenants = p.#pluginTenants;
      this.#followerNetwork = p.#followerNetwork;
      this.#followerFilesDir = p.#followerFilesDir;
      this.#regionUrls = p.#regionUrls;
      this.#tenants = p.#tenants;
      this.#open = p.#open;
      this.#opening = p.#opening;
      this.#regions = p.#regions;
      this.#preparing = p.#preparing;
      this.#hooks = p.#hooks;
      this.#shared = p.#shared;
      this.#context = init.context;
      this.#isView = true;
      return;
    }
    this.#shared = {
      keyStore: undefined,
      closed: false,
      hookFailures: 0,
      views: new Map(),
      rotating: new Set(),
    };
    this.#context = init.context;
    this.#isView = false;
    this.#tenants = new Map();
    this.#open = new Map();
    this.#opening = new Set();
    this.#regions = new Map();
    this.#preparing = new Map();
    this.#hooks = { appended: [], checkpoint: [] };
    this.#home = init.store;
    this.dataDir = init.dataDir;
    this.keysDir = init.keysDir;
    this.instance = init.instance;
    this.#create = init.create;
    this.#readOnly = init.readOnly;
    this.tenant = assertTenant(init.options.tenant ?? DEFAULT_TENANT);
    this.#logger = init.options.logger ?? pino({ level: "warn" }, pino.destination(2));
    this.#maxBatch = init.options.maxBatch;
    this.#policies = init.options.policies;
    this.#keyNamesOnly = init.options[KEY_NAMES_ONLY] === true;
    this.#signerOf = init.options.signer;
    this.#plugins = init.plugins;
    this.#pluginTenants = new Set();
    this.#followerKinds = new Map(
      [...(init.options.followerKinds ?? []), ...init.plugins.map((p) => p.kind)].map((k) => [
        k.kind,
        k,
      ]),
    );
    this.#followerNetwork = init.options.followerNetwork ?? networkPolicyFromEnv();
    this.#followerFilesDir = resolve(
      init.options.followerFilesDir ??
        process.env["GENLOG_FOLLOWERS_DIR"] ??
        join(this.dataDir, "followers"),
    );
    this.#regionUrls = init.options.regionDatabaseUrls ?? {};
  }

  /**
   * Appends one generation event. Resolves once the record is durable and covered by a
   * signed checkpoint that was proved consistent with the previous one.
   *
   * @throws {GenlogError} (as a rejection) `GENLOG_E_INVALID_INPUT` naming the field
   * (nothing is stored); `GENLOG_E_ID_REUSED` for an `id` already used by another event (the
   * first record is kept); `GENLOG_E_USAGE` on a read-only handle, `GENLOG_E_CLOSED` on a closed one;
   * `GENLOG_E_NOT_INITIALIZED` or `GENLOG_E_KEY` when the tenant's key is missing or unusable;
   * `GENLOG_E_INCONSISTENT` when the stored log was changed outside genlog; `GENLOG_E_CONFLICT`,
   * `GENLOG_E_BUSY`, `GENLOG_E_STORE`: nothing of the batch is stored, retry with the same
   * `id`. (`GENLOG_E_COMMIT_UNKNOWN` is settled inside by reading back.)
   */
  append(event: GenerationEventInput): Promise<GenerationRecord> {
    return this.#append(event, true) as Promise<GenerationRecord>;
  }

  /** Like {@link append}, and says whether the idempotency key matched an earlier record. */
  appendWithStatus(event: GenerationEventInput): Promise<AppendResult> {
    return this.#append(event, false) as Promise<AppendResult>;
  }

  /** Both: `recordOnly` resolves with the record, else with the {@link AppendResult}. */
  #append(
    event: GenerationEventInput,
    recordOnly: boolean,
  ): Promise<AppendResult | GenerationRecord> {
    let valid: GenerationEvent;
    try {
      this.#checkWritable();
      // The common caller (the operator's own handle) is decided without a thought.
      if (this.#context.role !== "superadmin") {
        const denied = this.#appendDenied([event]);
        if (denied !== undefined) return denied;
      }
      valid = validateEvent(event);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#appendValid(valid, recordOnly);
  }

  /**
   * For a principal other than a superadmin: the refusal of appends to tenants it may not
   * append to, decided before the events are checked (a refusal is a refusal, recorded once
   * per call, however many events it carries); undefined when they may go on.
   */
  #appendDenied(events: readonly unknown[]): Promise<never> | undefined {
    if (this.#context.role === "superadmin") return undefined;
    const tenants = new Set<string>();
    for (const e of events) {
      const t: unknown =
        typeof e === "object" && e !== null ? (e as { tenant?: unknown }).tenant : undefined;
      tenants.add(typeof t === "string" ? t : this.tenant);
    }
    for (const tenant of tenants) {
      const decision = authorize(this.#context, "events.append", tenant);
      if (!decision.allowed) return this.#deny(tenant, "append", "events.append", decision);
    }
    return undefined;
  }

  /**
   * Appends several events, each as {@link appendWithStatus} does, after checking them all:
   * one bad event fails the call, named by its index (`/3/type`), and none is stored. The
   * events join the same group commits; the call resolves once every one is durable. If the
   * store fails meanwhile, some may be stored: a retry with the same `id`s returns them.
   *
   * @throws {GenlogError} as {@link append}; `GENLOG_E_INVALID_INPUT` with `details.index`.
   */
  appendBatch(events: readonly GenerationEventInput[]): Promise<AppendResult[]> {
    const valid: GenerationEvent[] = [];
    try {
      this.#checkWritable();
      if (!Array.isArray(events)) {
        throw new GenlogError(
          "GENLOG_E_INVALID_INPUT",
          `expected an array of events, got ${describeValue(events)}`,
          { details: { pointer: "", rule: "type" } },
        );
      }
      const denied = this.#appendDenied(events);
      if (denied !== undefined) return denied;
      const ids = new Map<string, number>();
      events.forEach((event, index) => {
        try {
          const v = validateEvent(event);
          // Two events of one call with one id would store the first and refuse the second.
          const id = v.id?.toLowerCase();
          if (id !== undefined) {
            const first = ids.get(id);
            if (first !== undefined) {
              throw new GenlogError(
                "GENLOG_E_INVALID_INPUT",
                `/id: the same id as event ${first} of this batch`,
                { details: { pointer: "/id", rule: "unique" } },
              );
            }
            ids.set(id, index);
          }
          valid.push(v);
        } catch (e) {
          if (!isGenlogError(e, "GENLOG_E_INVALID_INPUT")) throw e;
          const pointer = `/${index}${String(e.details.pointer ?? "")}`;
          throw new GenlogError("GENLOG_E_INVALID_INPUT", `event ${index}: ${e.message}`, {
            cause: e,
            details: { ...e.details, pointer, index },
          });
        }
      });
    } catch (e) {
      return Promise.reject(e);
    }
    // Every append settles before the call does: an error is not reported while others of
    // the batch are still committing.
    return Promise.allSettled(
      valid.map((v) => this.#appendValid(v, false) as Promise<AppendResult>),
    ).then((settled) => {
      const failed = settled.find((r) => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      return settled.map((r) => (r as PromiseFulfilledResult<AppendResult>).value);
    });
  }

  #appendValid(
    valid: GenerationEvent,
    recordOnly: boolean,
  ): Promise<AppendResult | GenerationRecord> {
    // Only the validated snapshot is used from here: `event` is never read again.
    const tenant = valid.tenant ?? this.tenant;
    // Once a tenant's writer is open, an append is one call: no await, no extra promise.
    const open = this.#open.get(tenant);
    if (open !== undefined) {
      const { writer, pipeline } = open;
      let prepared: PreparedRecord | Promise<PreparedRecord>;
      try {
        prepared = prepareEvent(valid, tenant, pipeline);
      } catch (e) {
        return Promise.reject(e);
      }
      return this.#inOrder(tenant, prepared, (p) =>
        appendPrepared(writer, pipeline, p, recordOnly),
      );
    }
    const opening = this.#appendOpening(valid, tenant, recordOnly);
    const settled = opening.then(
      () => undefined,
      () => undefined,
    );
    this.#opening.add(settled);
    void settled.then(() => this.#opening.delete(settled));
    return opening;
  }

  async #appendOpening(
    valid: GenerationEvent,
    tenant: string,
    recordOnly: boolean,
  ): Promise<AppendResult | GenerationRecord> {
    // A principal's append never creates a tenant: that is instance administration.
    const log = await this.#tenant(tenant, !this.#isView);
    const writer = await (log.writer ??= this.#openWriter(log));
    const prepared = prepareEvent(valid, log.ref.tenant, log.pipeline!);
    return this.#inOrder(tenant, prepared, (p) =>
      appendPrepared(writer, log.pipeline!, p, recordOnly),
    );
  }

  /**
   * Queues prepared records on their writer in the order `append` was called. A person met
   * for the first time takes a turn to look up (a known one none); the appends made
   * meanwhile wait behind it rather than overtake it, so that a log's order is its callers'.
   */
  #inOrder<T>(
    tenant: string,
    prepared: PreparedRecord | Promise<PreparedRecord>,
    enqueue: (p: PreparedRecord) => Promise<T>,
  ): Promise<T> {
    const ahead = this.#preparing.get(tenant);
    if (ahead === undefined && !(prepared instanceof Promise)) return enqueue(prepared);
    let appended: Promise<T> | undefined;
    const queued = Promise.all([prepared, ahead]).then(([p]) => {
      appended = enqueue(p);
    });
    const settled = queued.then(
      () => undefined,
      () => undefined,
    );
    this.#preparing.set(tenant, settled);
    void settled.then(() => {
      if (this.#preparing.get(tenant) === settled) this.#preparing.delete(tenant);
    });
    return queued.then(() => appended!);
  }

  /**
   * The seed API, kept working: `logGenerationEvent("backend", { user: "alice", meta: {...} })`.
   *
   * @example
   * await log.logGenerationEvent("frontend", { meta: { framework: "React" } });
   */
  logGenerationEvent(type: string, fields: GenerationFields = {}): Promise<GenerationRecord> {
    return this.append({ ...fields, type });
  }

  /**
   * A view of this handle that acts for another principal: every read, export, proof,
   * erasure and administrative call made through it is decided by {@link authorize} from
   * `context` and recorded in the tenant's access log (allowed or denied) before it returns;
   * appends need the `events.append` permission. Views share the handle's logs, writers and
   * keys; they cost one small object, so a server makes one per request. Closing the handle
   * closes its views.
   *
   * @example
   * const auditor = log.as({ principal: "tok_3f…", role: "auditor", scope: "acme", via: "http", purpose: "quarterly audit" });
   * await auditor.query({ type: "backend" }); // recorded in genlog.local/acme/access
   * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` naming the member of a bad context.
   */
  as(context: AccessContext): Genlog {
    this.#check();
    // A view acts for one principal: it cannot make another (a writer's view a superadmin's).
    this.#rootOnly("as");
    return new Genlog({ parent: this, context: Object.freeze(checkContext({ ...context })) });
  }

  /** The context this handle's calls are decided and recorded under (see {@link as}); frozen. */
  get context(): Readonly<AccessContext> {
    return this.#context;
  }

  /** How many hook calls threw or rejected since the handle was opened (for metrics). */
  get hookFailures(): number {
    return this.#shared.hookFailures;
  }

  /** True for a handle opened `readOnly`: it appends nothing and records no access. */
  get readOnly(): boolean {
    return this.#readOnly;
  }

  /** Refuses a call that only the handle openLog returned may make. */
  #rootOnly(what: string): void {
    if (this.#isView) {
      throw new GenlogError(
        "GENLOG_E_USAGE",
        `${what}: a view made by \`as\` acts for one principal; call it on the handle openLog returned`,
      );
    }
  }

  /**
   * Whether the store answers (for a readiness probe): one read, neither decided nor recorded.
   *
   * @throws {GenlogError} `GENLOG_E_CLOSED`, or the store's error.
   */
  async ping(): Promise<void> {
    this.#check();
    await this.#home.getSetting("schema_version");
  }

  /**
   * Runs a call on `tenant` (`*` for an instance-wide one) under this handle's context: the
   * decision comes from {@link authorize}, the access is recorded in the tenant's access log
   * (a denial too), and the result is returned only once that record is durable: if it
   * cannot be written, the call fails. A call that fails after it was allowed is recorded
   * with its error code.
   */
  async #guard<T>(
    tenant: string,
    access: Pick<Access, "operation" | "permission" | "target">,
    run: () => Promise<T>,
    count?: (result: T) => number,
  ): Promise<T> {
    this.#check();
    const decision = authorize(this.#context, access.permission, tenant);
    if (!decision.allowed) return this.#deny(tenant, access.operation, access.permission, decision);
    if (
      (this.#context.purpose ?? "").trim() === "" &&
      access.permission !== "keys.read" &&
      (await this.#purposeRequired(tenant))
    ) {
      const reason = `tenant ${tenant} requires a declared purpose (X-Genlog-Purpose, --purpose)`;
      return this.#deny(tenant, access.operation, access.permission, { reason });
    }
    let result: T;
    try {
      result = await run();
    } catch (e) {
      // The failure is what the caller hears of; a record that fails too is logged here.
      await this.#record(tenant, {
        ...access,
        error: isGenlogError(e) ? e.code : "unexpected",
      }).catch((err: unknown) =>
        this.#logger.error({ err }, "genlog could not record a failed access"),
      );
      throw e;
    }
    await this.#record(tenant, { ...access, ...(count ? { records: count(result) } : {}) });
    return result;
  }

  /** Whether a tenant's accesses must declare a purpose (false for one that does not exist). */
  async #purposeRequired(tenant: string): Promise<boolean> {
    if (tenant === ALL_TENANTS) return false;
    const log = await this.#tenant(tenant).catch(() => undefined);
    return (await log?.store.getSetting(purposeSetting(tenant))) === "true";
  }

  /**
   * Makes a tenant require (or stop requiring) a declared purpose on every access but reading
   * its verifier key: an access without one is denied, and the denial recorded. Recorded as a
   * `genlog.purpose-policy` event with the reason. Needs `tenant.admin`.
   *
   * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` (`/required`, `/reason`).
   */
  async setPurposeRequired(options: {
    required: boolean;
    reason: string;
    tenant?: string;
  }): Promise<GenerationRecord> {
    if (typeof options.required !== "boolean") {
      throw new GenlogError("GENLOG_E_INVALID_INPUT", "/required: expected true or false", {
        details: { pointer: "/required", rule: "type" },
      });
    }
    const reason = checkReason(options.reason);
    const tenant = options.tenant ?? this.tenant;
    return this.#guard(
      tenant,
      {
        operation: "setPurposeRequired",
        permission: "tenant.admin",
        target: { required: options.required },
      },
      async () => {
        const log = await this.#tenantForSystemEvent(tenant);
        return this.#appendSystemEvent(
          log,
          systemEvent(SYSTEM_TYPES.purposePolicy, { required: options.required, reason }),
          () => [
            {
              kind: "setting",
              key: purposeSetting(log.ref.tenant),
              value: String(options.required),
            },
          ],
        );
      },
    );
  }

  /** Whether a tenant requires a declared purpose (see {@link setPurposeRequired}). */
  async purposeRequired(tenant?: string): Promise<boolean> {
    const t = tenant ?? this.tenant;
    return this.#guard(t, { operation: "purposeRequired", permission: "tenant.read" }, async () => {
      await this.#tenant(t);
      return this.#purposeRequired(t);
    });
  }

  /** Records a denied call and rejects with the error {@link forbidden} gives. */
  async #deny(
    tenant: string,
    operation: string,
    permission: Permission,
    decision: { reason: string },
  ): Promise<never> {
    await this.#record(tenant, { operation, permission, denied: decision.reason });
    throw forbidden(decision, permission, tenant);
  }

  /** An export stream under {@link #guard}: decided and recorded before its first line. */
  async *#guardStream(
    tenant: string,
    access: Pick<Access, "operation" | "permission" | "target">,
    lines: () => AsyncIterable<string>,
  ): AsyncIterable<string> {
    const iterable = await this.#guard(tenant, access, async () => {
      await this.#tenant(tenant);
      return lines();
    });
    yield* iterable;
  }

  /**
   * Appends an access to a tenant's access log and waits until it is durable. An access to
   * a tenant that does not exist (or to the whole instance) is recorded in the caller's own
   * tenant, else in the handle's default one: a probe of other tenants' names leaves a
   * trace. A read-only handle (an auditor's copy) cannot write and records nothing.
   */
  async #record(
    tenant: string,
    access: Access,
    context: AccessRecordContext = this.#context,
  ): Promise<void> {
    if (this.#readOnly) return;
    const fallback = context.scope === ALL_TENANTS ? this.tenant : context.scope;
    let log: TenantLog;
    try {
      log = await this.#tenant(tenant === ALL_TENANTS ? fallback : tenant);
    } catch (e) {
      if (!isGenlogError(e, "GENLOG_E_NOT_FOUND") && !isGenlogError(e, "GENLOG_E_INVALID_INPUT"))
        throw e;
      log = await this.#tenant(fallback);
      access = { ...access, target: { ...access.target, tenant: String(tenant).slice(0, 64) } };
    }
    const writer = await (log.accessWriter ??= this.#openAccessWriter(log));
    const { event, trusted } = accessEvent(context, access);
    const prepared = prepareEvent(event, log.ref.tenant, accessStages(log.pipeline!, trusted));
    if (prepared instanceof Promise) throw new Error("an access event names no actor");
    await writer.appendRecord(prepared, false);
  }

  #openAccessWriter(log: TenantLog): Promise<LogWriter> {
    const opening = (async () => {
      const { tenant } = log.ref;
      const origin = `${this.instance}/${tenant}/${ACCESS_STREAM}`;
      const ref = await log.store.openLogRef({ origin, tenant, stream: ACCESS_STREAM }, true);
      return LogWriter.open({
        store: log.store,
        ref: ref!,
        signer: log.signer!,
        ...(this.#maxBatch !== undefined ? { maxBatch: this.#maxBatch } : {}),
        onKeyChanged: () => this.#reloadKey(log),
      });
    })();
    opening.catch((e: unknown) => {
      log.accessWriter = undefined;
      if (isKeyChanged(e)) this.#reloadKey(log);
    });
    return opening;
  }

  /** Registers a hook. Hooks run after the ack; a throwing or slow hook never affects appends. */
  on<K extends HookName>(event: K, fn: HookEvents[K]): this {
    this.#rootOnly("on");
    this.#hookList(event, fn).push(fn);
    return this;
  }

  /** Removes a hook registered with {@link on}. */
  off<K extends HookName>(event: K, fn: HookEvents[K]): this {
    this.#rootOnly("off");
    const list = this.#hookList(event, fn);
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  /**
   * Creates a tenant's signing key and log if they do not exist (when the handle may
   * create), and returns its origin.
   */
  async openTenant(tenant?: string): Promise<string> {
    this.#rootOnly("openTenant");
    return (await this.#tenant(tenant ?? this.tenant, true)).ref.origin;
  }

  /**
   * The verifier key line of a tenant's signer.
   *
   * @throws {GenlogError} `GENLOG_E_NOT_INITIALIZED` on a read-only handle whose data
   *   directory has no key for the tenant.
   */
  async verifierKey(tenant?: string): Promise<string> {
    if (this.#isView) {
      const t = tenant ?? this.tenant;
      const decision = authorize(this.#context, "keys.read", t);
      if (!decision.allowed) throw forbidden(decision, "keys.read", t);
    }
    return this.#verifierKey(tenant);
  }

  async #verifierKey(tenant?: string): Promise<string> {
    const log = await this.#tenant(tenant ?? this.tenant);
    if (log.keyError !== undefined) throw log.keyError;
    if (log.signer === undefined) {
      throw new GenlogError(
        "GENLOG_E_NOT_INITIALIZED",
        `${this.dataDir} has no key for tenant "${log.ref.tenant}": give the verifier key its operator published (\`verify --verifier-key\`, or \`verifierKey\` in the library)`,
      );
    }
    return log.signer.verifierKey;
  }

  /**
   * A tenant's origin and verifier key (with, once the key was rotated, every earlier key and
   * the checkpoint sizes each signed), as a principal of the tenant reads them (the
   * `keys.read` permission, which every role holds in its scope); {@link verifierKey} is the
   * same without a decision or a record.
   */
  async keyInfo(tenant?: string): Promise<KeyInfo> {
    const t = tenant ?? this.tenant;
    return this.#guard(t, { operation: "keyInfo", permission: "keys.read" }, async () => {
      const log = await this.#tenant(t);
      const verifierKey = await this.#verifierKey(t);
      const keys = (await this.#keysOf(log))?.epochs ?? [{ verifierKey, from: 0, to: null }];
      return { tenant: log.ref.tenant, origin: log.ref.origin, verifierKey, keys };
    });
  }

  /** The origin of a tenant's events log. */
  origin(tenant?: string): string {
    return `${this.instance}/${assertTenant(tenant ?? this.tenant)}/events`;
  }

  /** The latest signed checkpoint note, or undefined for an empty log. */
  async checkpoint(tenant?: string): Promise<string | undefined> {
    return this.#guard(
      tenant ?? this.tenant,
      { operation: "checkpoint", permission: "proofs.read" },
      async () => {
        const log = await this.#tenant(tenant ?? this.tenant);
        if ((await log.store.logState(log.ref.logId)).latest === undefined) return undefined;
        return (await this.#checkpointAt(log, undefined)).note;
      },
    );
  }

  /**
   * The signed checkpoint note issued at exactly `size` (every checkpoint is kept).
   *
   * @throws {GenlogError} `GENLOG_E_NOT_FOUND` when no checkpoint was issued at that size.
   */
  async checkpointAt(size: number, tenant?: string): Promise<string> {
    return this.#guard(
      tenant ?? this.tenant,
      { operation: "checkpointAt", permission: "proofs.read", target: { size } },
      async () => {
        checkTreeSize(size, "size");
        const log = await this.#tenant(tenant ?? this.tenant);
        return (await this.#checkpointAt(log, size)).note;
      },
    );
  }

  /**
   * Where the data directory is and what it holds: every log with its size, latest checkpoint
   * size and verifier key. Reads only; a read-only handle (an auditor's copy) can answer it.
   */
  async status(): Promise<GenlogStatus> {
    return this.#guard(
      ALL_TENANTS,
      { operation: "status", permission: "instance.admin" },
      async () => {
        this.#check();
        const version = await this.#home.getSetting("schema_version");
        const logs: LogStatus[] = [];
        const stores = [this.#home];
        for (const t of await this.#home.listTenants()) {
          const store = await this.#storeOf(t.tenant);
          if (!stores.includes(store)) stores.push(store);
        }
        for (const store of stores)
          for (const ref of await store.listLogs()) {
            const state = await store.logState(ref.logId);
            const path = keyPath(this.keysDir, ref.tenant);
            logs.push({
              origin: ref.origin,
              tenant: ref.tenant,
              stream: ref.stream,
              size: state.size,
              checkpointSize: state.latest?.size ?? null,
              verifierKey: existsSync(path)
                ? ed25519Signer(`${this.instance}/${ref.tenant}`, readKeyFile(path)).verifierKey
                : null,
            });
          }
        return {
          instance: this.instance,
          dataDir: this.dataDir,
          database: this.#home.location,
          keysDir: this.keysDir,
          schemaVersion: version === undefined ? null : Number(version),
          masterKeyId: (await this.#home.getSetting(MASTER_KEY_ID_SETTING)) ?? null,
          logs,
        };
      },
    );
  }

  /**
   * Creates a tenant, in a region when `region` is given: its records, tree, checkpoints,
   * envelopes, pseudonyms, lookups and wrapped data keys then live only in that region's
   * database, `<regionDir>/genlog.db` (default `<data-dir>/regions/<region>/`), recorded the
   * first time the region is used. The tenant's signing key is created in the keys directory,
   * and its log opened. A tenant's region never changes.
   *
   * @throws {GenlogError} `GENLOG_E_ALREADY_INITIALIZED` for a tenant that exists;
   * `GENLOG_E_INVALID_INPUT` for a name or region that is not a slug; `GENLOG_E_USAGE` on a
   * read-only handle.
   */
  async createTenant(
    tenant: string,
    options: { region?: string; regionDir?: string } = {},
  ): Promise<TenantInfo> {
    return this.#guard(
      ALL_TENANTS,
      {
        operation: "createTenant",
        permission: "instance.admin",
        target: { tenant, region: options.region ?? null },
      },
      async () => {
        this.#checkWritable();
        assertTenant(tenant);
        const region = options.region === undefined ? undefined : assertRegion(options.region);
        const origin = `${this.instance}/${tenant}/events`;
        const registered = await this.#home.getTenant(tenant);
        const inHome = await this.#home.openLogRef({ origin, tenant, stream: "events" }, false);
        // A registration whose key or log could not be made (a keys directory not writable, say)
        // is completed by creating it again in the same region.
        // Unfinished: registered, but its log was never made (the marker is set once it was). A
        // registered tenant whose log was made is never made again, even if its region's
        // database is missing (an unmounted volume): that would start a second history.
        const unfinished =
          registered !== undefined &&
          registered.region === region &&
          (await this.#home.getSetting(tenantLogMarker(tenant))) === undefined;
        if ((registered !== undefined && !unfinished) || inHome !== undefined) {
          throw new GenlogError(
            "GENLOG_E_ALREADY_INITIALIZED",
            `tenant ${tenant} exists already${registered !== undefined ? ` (region ${registered.region})` : ""}; a tenant stays where it was created`,
            { details: { tenant } },
          );
        }
        if (region !== undefined && !unfinished) {
          const url = this.#regionUrl(region);
          if (url !== undefined && options.regionDir !== undefined) {
            throw new GenlogError(
              "GENLOG_E_USAGE",
              `region ${region} is a PostgreSQL database (${regionUrlVariable(region)}): a region directory is for a SQLite one`,
              { details: { region } },
            );
          }
          // Where the region is, for `tenant list`; a URL without its password.
          const where =
            url !== undefined
              ? redactUrl(url)
              : resolve(options.regionDir ?? join(this.dataDir, "regions", region));
          await this.#home.registerTenant(tenant, region, where);
        }
        this.#tenants.delete(tenant);
        await this.#tenant(tenant, true, true);
        if (region !== undefined) await this.#home.initSetting(tenantLogMarker(tenant), origin);
        return this.#tenantInfo(tenant);
      },
    );
  }

  /** A tenant: its region, database, size. */
  async tenantInfo(tenant?: string): Promise<TenantInfo> {
    const t = tenant ?? this.tenant;
    return this.#guard(t, { operation: "tenantInfo", permission: "tenant.read" }, () =>
      this.#tenantInfo(t),
    );
  }

  async #tenantInfo(tenant: string): Promise<TenantInfo> {
    const log = await this.#tenant(tenant);
    const row = await this.#home.getTenant(log.ref.tenant);
    const state = await log.store.logState(log.ref.logId);
    const last =
      state.latest === undefined || state.latest.size === 0
        ? undefined
        : await log.store.getEntry(log.ref.logId, state.latest.size - 1);
    return {
      tenant: log.ref.tenant,
      region: row?.region ?? null,
      database: log.store.location,
      origin: log.ref.origin,
      size: state.size,
      checkpointSize: state.latest?.size ?? null,
      checkpointAt: last?.ts ?? null,
      lastVerify: parseLastVerify(
        await log.store.getSetting(lastVerifySetting(log.ref.tenant, "events")),
      ),
      retention: await retentionInfo(log),
    };
  }

  /**
   * Every tenant in this handle's scope: those of the home database, then those registered
   * in regions (a principal scoped to one tenant sees that one).
   */
  async tenants(): Promise<TenantInfo[]> {
    const scope = this.#context.scope;
    return this.#guard(
      scope,
      { operation: "tenants", permission: "tenant.read" },
      async () => {
        const out: TenantInfo[] = [];
        for (const t of await this.#tenantNames())
          if (scope === ALL_TENANTS || t === scope) out.push(await this.#tenantInfo(t));
        return out;
      },
      (list) => list.length,
    );
  }

  /** Every tenant: registered in a region, or with a log in the home database; sorted. */
  async #tenantNames(): Promise<string[]> {
    const names = new Set((await this.#home.listTenants()).map((r) => r.tenant));
    for (const ref of await this.#home.listLogs())
      if (ref.stream === "events") names.add(ref.tenant);
    return [...names].sort();
  }

  /**
   * The database of a tenant: its region's, or the home one. Only `createTenant` may create a
   * region's database: anywhere else a missing one (a volume not mounted) is refused, never
   * replaced by an empty one where the tenant's log would start again.
   */
  async #storeOf(tenant: string, createRegion = false): Promise<LogStore> {
    const row = await this.#home.getTenant(tenant);
    if (row === undefined) return this.#home;
    let opening = this.#regions.get(row.region);
    if (opening === undefined) {
      opening = this.#openRegion(row.region, row.dir, createRegion);
      this.#regions.set(row.region, opening);
      opening.catch(() => this.#regions.delete(row.region));
    }
    return opening;
  }

  async #openRegion(region: string, dir: string, create: boolean): Promise<LogStore> {
    const url = this.#regionUrl(region);
    if (url !== undefined) {
      // A region database that was lost is not made again here: the log it held is looked
      // for, and its absence refused, where the tenant is opened.
      const store = await PostgresStore.connect({ url, readonly: this.#readOnly });
      try {
        const instance = this.#readOnly
          ? await store.getSetting("instance")
          : await store.initSetting("instance", this.instance);
        if (instance !== undefined && instance !== this.instance) {
          throw new GenlogError(
            "GENLOG_E_CONFIG",
            `the database of region ${region} (${store.location}) belongs to instance "${instance}", not "${this.instance}"`,
            { details: { region } },
          );
        }
      } catch (e) {
        await store.close();
        throw e;
      }
      return store;
    }
    if (this.#home instanceof PostgresStore) {
      throw new GenlogError(
        "GENLOG_E_CONFIG",
        `region ${region} has no PostgreSQL database configured: set ${regionUrlVariable(region)} (or regionDatabaseUrls.${region}) on every node; a SQLite file per node would split its tenants' logs`,
        { details: { region, variable: regionUrlVariable(region) } },
      );
    }
    const path = join(dir, "genlog.db");
    if ((this.#readOnly || !create) && !existsSync(path)) {
      throw new GenlogError(
        "GENLOG_E_NOT_FOUND",
        `the database of region ${region} is not at ${path}: mount or restore it there`,
        { details: { region, path } },
      );
    }
    if (!this.#readOnly) makeDir(dir, `directory of region ${region}`);
    const store = SqliteStore.open({ path, readonly: this.#readOnly });
    if (!this.#readOnly) await store.initSetting("instance", this.instance);
    return store;
  }

  /** The PostgreSQL URL of a region, when it has one. */
  #regionUrl(region: string): string | undefined {
    return databaseUrlOption(this.#regionUrls[region], {
      env: regionUrlVariable(region),
      option: `regionDatabaseUrls/${region}`,
    });
  }

  /**
   * The tenant's GDPR report: subjects held and erased, erasures and subject exports (from
   * their system events), retention, records due and the next purge, purges, legal holds,
   * and redaction counts per rule and action. Reads every record once.
   */
  async gdprReport(tenant?: string): Promise<GdprReport> {
    return this.#guard(
      tenant ?? this.tenant,
      { operation: "gdprReport", permission: "reports.read" },
      async () => {
        const log = await this.#tenant(tenant ?? this.tenant);
        await idle(log);
        const { days, isDefault } = await retentionOf(log.store, log.ref.tenant);
        return gdprReport({
          store: log.store,
          ref: log.ref,
          retention: { days, isDefault, cutoff: purgeCutoff(undefined, days, Date.now()) },
        });
      },
    );
  }

  /** Number of records in a tenant's events log. */
  async size(tenant?: string): Promise<number> {
    return this.#guard(
      tenant ?? this.tenant,
      { operation: "size", permission: "tenant.read" },
      async () => {
        const log = await this.#tenant(tenant ?? this.tenant);
        return (await log.store.logState(log.ref.logId)).size;
      },
    );
  }

  /**
   * A record by id (UUID) or seq (decimal string or number).
   *
   * @throws {GenlogError} `GENLOG_E_NOT_FOUND`.
   */
  async get(idOrSeq: string | number, tenant?: string): Promise<GenerationRecord> {
    return this.#guard(
      tenant ?? this.tenant,
      { operation: "get", permission: "events.read", target: { record: String(idOrSeq) } },
      async () => {
        const log = await this.#tenant(tenant ?? this.tenant);
        const entry = await this.#entry(log, idOrSeq);
        return parseStoredRecord(entry.canonical, log.ref.origin, entry.seq);
      },
      () => 1,
    );
  }

  /**
   * One page of records matching all filters, in log order.
   *
   * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` naming the option (`/actor`, `/since`, …)
   *   when one has the wrong type or value.
   */
  async query(options: QueryOptions = {}): Promise<QueryPage> {
    return this.#guard(
      queryTenant(options, this.tenant),
      {
        operation: "query",
        // Finding a person's records by their id says who is behind a pseudonym.
        permission:
          typeof options === "object" && options !== null && options.user !== undefined
            ? "pii.read"
            : "events.read",
        target: queryTarget(options),
      },
      async () => {
        const filter = toQueryFilter(options);
        const log = await this.#tenant(options.tenant ?? this.tenant);
        const { ref } = log;
        let rows: StoredEntry[];
        if (options.user === undefined) {
          rows = await log.store.query(ref.logId, filter);
        } else {
          // A person is found through their pseudonyms (one, or two after a race; none once
          // erased): each is queried from the cursor, and the pages merged in log order.
          const pseudonyms = await (await this.#subjects(log)).pseudonymsOf(options.user);
          const pages = await Promise.all(
            pseudonyms.map((actor) => log.store.query(ref.logId, { ...filter, actor })),
          );
          rows = pages
            .flat()
            .sort((a, b) => a.seq - b.seq)
            .slice(0, filter.limit);
        }
        return pageOf(rows, ref.origin, filter.limit);
      },
      (page) => page.records.length,
    );
  }

  /**
   * Records with their personal data decrypted beside them: the actor's id and the values
   * the policy encrypted, or `{ erased: true }` for a subject that was erased. The records
   * themselves are returned unchanged (their proofs still hold). For callers allowed to
   * read personal data; needs the master key.
   *
   * @example
   * const [r] = await log.reveal((await log.query({ user: "alice" })).records);
   * r.revealed; // { actor: "alice", values: { "/meta/contact": "alice@example.org" } }
   * @throws {GenlogError} `GENLOG_E_NOT_INITIALIZED` or `GENLOG_E_KEY` when the master key is
   * missing or another; `GENLOG_E_INCONSISTENT` for an envelope changed outside genlog.
   */
  async reveal(records: readonly GenerationRecord[], tenant?: string): Promise<RevealedRecord[]> {
    return this.#guard(
      tenant ?? this.tenant,
      {
        operation: "reveal",
        permission: "pii.read",
        target: { seqs: records.slice(0, 100).map((r) => r.seq) },
      },
      async () => {
        const log = await this.#tenant(tenant ?? this.tenant);
        for (const r of records) {
          if (r.tenant !== log.ref.tenant) {
            throw new GenlogError(
              "GENLOG_E_USAGE",
              `record ${r.seq} belongs to tenant "${r.tenant}", not "${log.ref.tenant}": reveal each tenant's records with its tenant`,
            );
          }
        }
        return (await this.#subjects(log)).reveal(records);
      },
      (r) => r.length,
    );
  }

  /**
   * Erases a subject (GDPR Art. 17) by destroying their data key and lookup value, in one
   * transaction with a `genlog.erasure` system event that names only the pseudonyms and the
   * reason. Their records stay in the log, so every proof still verifies, but their
   * envelopes can no longer be opened and the person can no longer be found by id. Takes
   * the same time whatever the number of their records. Then empties the write-ahead log,
   * so that no copy of the deleted key is left in the database files.
   *
   * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` naming `/subject`, `/pseudonym` or
   * `/reason`; `GENLOG_E_NOT_FOUND` for a subject never met or already erased;
   * `GENLOG_E_HELD` under a legal hold (nothing is erased).
   */
  async eraseSubject(options: EraseOptions): Promise<ErasureResult> {
    return this.#guard(
      options.tenant ?? this.tenant,
      { operation: "eraseSubject", permission: "subjects.manage", target: subjectTarget(options) },
      async () => {
        const selector = checkSelector(options);
        const reason = checkReason(options.reason);
        const log = await this.#tenantForSystemEvent(options.tenant);
        const tenant = log.ref.tenant;
        const pseudonyms = await this.#pseudonymsOf(log, selector);
        const holds = await log.store.listHolds(tenant);
        const held = holds.find((h) => h.subject === "" || pseudonyms.includes(h.subject));
        if (held !== undefined) {
          throw new GenlogError(
            "GENLOG_E_HELD",
            `${held.subject === "" ? `tenant ${tenant}` : `subject ${held.subject} of tenant ${tenant}`} is under a legal hold: nothing was erased; release the hold first (\`genlog hold release\`)`,
            { details: { tenant, subject: held.subject } },
          );
        }
        // Forgotten before the event is queued: an append of the person from now on meets them
        // as someone new.
        log.pipeline!.protector.forget(pseudonyms);
        let record: GenerationRecord;
        try {
          record = await this.#appendSystemEvent(
            log,
            systemEvent(SYSTEM_TYPES.erasure, { pseudonyms, reason }),
            () => [{ kind: "erase", tenant, pseudonyms }],
          );
        } catch (e) {
          // Refused (a hold set meanwhile, say): the subjects are still there, and known again.
          log.pipeline!.protector.unforget(pseudonyms);
          throw e;
        }
        const scrubbed = await log.store.scrub();
        return { tenant, pseudonyms, record, scrubbed };
      },
      (r) => r.pseudonyms.length,
    );
  }

  /**
   * A subject's export (GDPR Art. 15 and 20): every record of the person, decrypted, each
   * with its inclusion proof in the tree of the latest signed checkpoint, and the data keys
   * that let a reader check the decrypted view against the committed envelopes. Check one
   * with {@link checkSubjectExport} (`genlog verify --export`). The export itself is
   * recorded as a `genlog.subject-export` system event (pseudonyms and count, nothing else).
   *
   * @throws {GenlogError} `GENLOG_E_NOT_FOUND` for a subject never met or erased;
   * `GENLOG_E_INVALID_INPUT` naming `/subject` or `/pseudonym`.
   */
  async exportSubject(options: {
    subject?: string;
    pseudonym?: string;
    tenant?: string;
  }): Promise<SubjectExport> {
    return this.#guard(
      options.tenant ?? this.tenant,
      { operation: "exportSubject", permission: "subjects.manage", target: subjectTarget(options) },
      async () => {
        const selector = checkSelector(options);
        const log = await this.#tenantForSystemEvent(options.tenant);
        const { ref } = log;
        const pseudonyms = await this.#pseudonymsOf(log, selector);
        await idle(log);
        const cp = await this.#checkpointAt(log, undefined);
        const subjects = await this.#subjects(log);
        const entries: StoredEntry[] = [];
        for (const actor of pseudonyms) {
          for (let afterSeq: number | undefined; ;) {
            const page = await log.store.query(ref.logId, {
              actor,
              limit: 1000,
              ...(afterSeq !== undefined ? { afterSeq } : {}),
            });
            for (const e of page) if (e.seq < cp.size) entries.push(e);
            if (page.length < 1000 || page[page.length - 1]!.seq >= cp.size) break;
            afterSeq = page[page.length - 1]!.seq;
          }
        }
        entries.sort((a, b) => a.seq - b.seq);
        const records = entries.map((e) => parseStoredRecord(e.canonical, ref.origin, e.seq));
        const revealed = await subjects.reveal(records);
        const items: SubjectExportItem[] = [];
        for (let i = 0; i < entries.length; i++) {
          const { hashes } = await this.#prove(log, entries[i]!, cp);
          const view = revealed[i]!.revealed;
          if (view === null || "erased" in view) continue; // erased meanwhile: nothing to export
          items.push({ record: records[i]!, proof: hashes.map(base64), revealed: view });
        }
        const doc: SubjectExport = {
          format: SUBJECT_EXPORT_FORMAT,
          exportedAt: new Date().toISOString(),
          origin: ref.origin,
          tenant: ref.tenant,
          verifierKey: await this.#verifierKey(ref.tenant),
          checkpoint: cp.note,
          subject: {
            id: "subject" in selector ? selector.subject : null,
            keys: await subjects.dataKeysOf(pseudonyms),
          },
          records: items,
        };
        await this.#appendSystemEvent(
          log,
          systemEvent(SYSTEM_TYPES.subjectExport, { pseudonyms, records: items.length }),
          () => [],
        );
        return doc;
      },
      (doc) => doc.records.length,
    );
  }

  /** A tenant's retention in days (default 365) and the cutoff it gives now. */
  async retention(tenant?: string): Promise<Retention> {
    return this.#guard(
      tenant ?? this.tenant,
      { operation: "retention", permission: "tenant.read" },
      () => this.#retention(tenant ?? this.tenant),
    );
  }

  /**
   * Every policy a tenant is under, in one answer: its privacy policy (configuration, which no
   * API call changes: a token cannot weaken what is redacted), whether accesses must declare a
   * purpose, and its retention. Needs `tenant.read`.
   */
  async policies(tenant?: string): Promise<TenantPolicies> {
    const t = tenant ?? this.tenant;
    return this.#guard(t, { operation: "policies", permission: "tenant.read" }, async () => {
      const retention = await this.#retention(t);
      const own = this.#policies?.tenants?.[retention.tenant];
      const fallback = this.#policies?.default;
      return {
        tenant: retention.tenant,
        privacy: own ?? fallback ?? null,
        privacySource:
          own !== undefined ? "tenant" : fallback !== undefined ? "default" : "built-in",
        purposeRequired: await this.#purposeRequired(retention.tenant),
        retention,
      };
    });
  }

  async #retention(tenant: string): Promise<Retention> {
    const log = await this.#tenant(tenant);
    const { ref } = log;
    const { days, isDefault } = await retentionOf(log.store, ref.tenant);
    return {
      tenant: ref.tenant,
      days,
      isDefault,
      cutoff: purgeCutoff(undefined, days, Date.now()),
    };
  }

  /**
   * Sets a tenant's retention, recorded as a `genlog.retention` event with the reason. The
   * EU AI Act asks for at least six months of logs of high-risk AI systems (Art. 19(1) and
   * 26(6)); the result says when `days` is shorter (`belowAiActMinimum`).
   *
   * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` (`/days`, `/reason`).
   */
  async setRetention(options: {
    days: number;
    reason: string;
    tenant?: string;
  }): Promise<{ record: GenerationRecord; belowAiActMinimum: boolean }> {
    return this.#guard(
      options.tenant ?? this.tenant,
      { operation: "setRetention", permission: "tenant.admin", target: { days: options.days } },
      async () => {
        const days = checkRetentionDays(options.days);
        const reason = checkReason(options.reason);
        const log = await this.#tenantForSystemEvent(options.tenant);
        const record = await this.#appendSystemEvent(
          log,
          systemEvent(SYSTEM_TYPES.retention, { days, reason }),
          () => [{ kind: "setting", key: retentionSetting(log.ref.tenant), value: String(days) }],
        );
        return { record, belowAiActMinimum: days < AI_ACT_MINIMUM_DAYS };
      },
    );
  }

  /**
   * Deletes the bodies and envelopes of records older than the cutoff (`before`, or now minus
   * the tenant's retention) and keeps the tree, so that old checkpoints and the proofs of the
   * remaining entries still verify; the freed space is reused, or given back (see reclaim). Each range of up to 10,000
   * entries is a `genlog.purge` event committed with its deletion; genlog's own events
   * (erasures, holds, purges) are kept. `verify` then reports the ranges as purged.
   *
   * @throws {GenlogError} `GENLOG_E_HELD` under a tenant hold, or when a held subject has
   * records before the cutoff (nothing is purged); `GENLOG_E_INVALID_INPUT` (`/before`).
   */
  async purge(options: PurgeOptions = {}): Promise<PurgeResult> {
    return this.#guard(
      options.tenant ?? this.tenant,
      {
        operation: "purge",
        permission: "tenant.admin",
        target: { before: options.before ?? null, dryRun: options.dryRun === true },
      },
      async () => {
        const dryRun = options.dryRun === true;
        const log = dryRun
          ? await this.#tenant(options.tenant ?? this.tenant)
          : await this.#tenantForSystemEvent(options.tenant);
        const { ref } = log;
        const cutoff = purgeCutoff(
          options.before,
          (await retentionOf(log.store, ref.tenant)).days,
          Date.now(),
        );
        await idle(log);
        const planned = await planPurge(log.store, ref, cutoff);
        const result: PurgeResult = {
          tenant: ref.tenant,
          cutoff,
          dryRun,
          ranges: [],
          purged: 0,
          freedBytes: 0,
        };
        for (const r of planned) {
          result.purged += r.purged;
          if (dryRun) {
            result.ranges.push(r);
            continue;
          }
          const record = await this.#appendSystemEvent(
            log,
            systemEvent(SYSTEM_TYPES.purge, {
              before: cutoff,
              fromSeq: r.fromSeq,
              toSeq: r.toSeq,
              purged: r.purged,
              kept: r.kept,
            }),
            (eventId) => [
              {
                kind: "purge",
                tenant: ref.tenant,
                logId: ref.logId,
                fromSeq: r.fromSeq,
                toSeq: r.toSeq,
                expected: r.purged,
                eventId,
              },
            ],
          );
          result.ranges.push({ ...r, seq: record.seq });
        }
        if (!dryRun && planned.length > 0)
          result.freedBytes = (await log.store.reclaim()).freedBytes;
        return result;
      },
      (r) => r.purged,
    );
  }

  /**
   * Writes the records before `before` (from where the last purge stopped) into the new
   * directory `out`, with the signed checkpoint and the proofs a reader needs to check them
   * with the verifier key alone (see `log/archive.ts`; `genlog verify --archive`). Run it
   * before {@link purge} with the same cutoff to keep what the purge deletes. Only reads.
   *
   * @throws {GenlogError} `GENLOG_E_USAGE` when `out` exists; `GENLOG_E_NOT_FOUND` when there
   * is nothing to archive; `GENLOG_E_INVALID_INPUT` (`/before`).
   */
  async archive(options: {
    before: string;
    out: string;
    tenant?: string;
  }): Promise<ArchiveManifest> {
    return this.#guard(
      options.tenant ?? this.tenant,
      { operation: "archive", permission: "events.read", target: { before: options.before } },
      async () => {
        const before = purgeCutoff(options.before, 0, Date.now());
        const log = await this.#tenant(options.tenant ?? this.tenant);
        await idle(log);
        const cp = await this.#checkpointAt(log, undefined);
        return writeArchive({
          store: log.store,
          ref: log.ref,
          verifierKey: await this.#verifierKey(log.ref.tenant),
          checkpoint: { size: cp.size, note: cp.note },
          before,
          dir: options.out,
        });
      },
      (m) => m.records,
    );
  }

  /**
   * Writes the tenant's events log as a content-addressed CAR file (see
   * docs/guides/sovereignty.md): the records from the start, or from a previous export's
   * checkpoint (`sinceCheckpoint`, its signed note), up to the latest checkpoint, with the
   * checkpoint, the proofs and a manifest, in a UnixFS directory whose root CID any IPFS node
   * gives for the same files. Needs `events.read`; recorded with the number of records.
   *
   * @throws {GenlogError} `GENLOG_E_USAGE` when `out` exists; `GENLOG_E_BAD_SIGNATURE` or
   * `GENLOG_E_INCONSISTENT` for a `sinceCheckpoint` that is not of this log;
   * `GENLOG_E_NOT_FOUND` when a record of the range was purged.
   */
  async exportCar(options: {
    out: string;
    sinceCheckpoint?: string;
    tenant?: string;
  }): Promise<{ root: string; manifest: CarManifest }> {
    const tenant = options.tenant ?? this.tenant;
    return this.#guard(
      tenant,
      { operation: "exportCar", permission: "events.read" },
      async () => {
        const log = await this.#tenant(tenant);
        await idle(log);
        const cp = await this.#checkpointAt(log, undefined);
        let fromSeq = 0;
        if (options.sinceCheckpoint !== undefined) {
          const keys = await this.#keysOf(log);
          const note = options.sinceCheckpoint;
          const since = parseCheckpoint(
            keys !== undefined
              ? keys.verify(note)
              : verifyNote(note, await this.#verifierKey(tenant)),
          );
          const ours =
            since.size <= cp.size
              ? await log.store.checkpointAt(log.ref.logId, since.size)
              : undefined;
          if (
            since.origin !== log.ref.origin ||
            ours === undefined ||
            !Buffer.from(parseCheckpoint(parseSignedNote(ours.note).body).rootHash).equals(
              Buffer.from(since.rootHash),
            )
          ) {
            throw new GenlogError(
              "GENLOG_E_INCONSISTENT",
              `the checkpoint to export from (${since.origin} at size ${since.size}) is not one of this log's: nothing was exported`,
              { details: { origin: since.origin, size: since.size } },
            );
          }
          fromSeq = since.size;
        }
        // The IPFS libraries load on the first CAR export, not with every handle.
        const { writeCarExport } = await import("./log/car-export.js");
        return writeCarExport({
          store: log.store,
          ref: log.ref,
          verifierKey: await this.#verifierKey(log.ref.tenant),
          checkpoint: { size: cp.size, note: cp.note },
          fromSeq,
          out: options.out,
        });
      },
      (r) => r.manifest.records,
    );
  }

  /** An `ipfs` follower's export: as {@link exportCar}, read as the operator. */
  async #followerCar(tenant: string, out: string, since?: string): Promise<CarExport | undefined> {
    const log = await this.#tenant(tenant);
    await idle(log);
    const cp = await this.#checkpointAt(log, undefined);
    let fromSeq = since === undefined ? 0 : parseCheckpoint(parseSignedNote(since).body).size;
    // Records purged since the last export cannot be exported, and would stop every period's
    // export: start at the first checkpoint past the last purged range, and say what was skipped.
    let skipped: CarExport["skipped"];
    const purgedTo = Math.max(
      fromSeq,
      ...(await log.store.listPurges(log.ref.logId)).map((p) => p.toSeq),
    );
    if (purgedTo > fromSeq) {
      let after: StoredCheckpoint | undefined;
      for await (const c of log.store.scanCheckpoints(log.ref.logId)) {
        if (c.size >= purgedTo) {
          after = c;
          break;
        }
      }
      if (after === undefined || after.size >= cp.size) return undefined;
      skipped = { fromSeq, toSeq: after.size };
      since = after.note;
      fromSeq = after.size;
    }
    if (fromSeq >= cp.size) return undefined;
    const { root, manifest } = await this.exportCar({ out, sinceCheckpoint: since, tenant });
    return { root, manifest, checkpoint: cp.note, ...(skipped !== undefined ? { skipped } : {}) };
  }

  /** Seqs in [fromSeq, toSeq) whose meta values or artifact names the detectors flag. */
  async #clearPersonalData(tenant: string, fromSeq: number, toSeq: number): Promise<number[]> {
    const log = await this.#tenant(tenant);
    const country = policyOf(this.#policies, tenant)?.defaultCountry ?? "FR";
    const detectors = piiDetectors({ defaultCountry: country as CountryCode });
    const found: number[] = [];
    for await (const e of log.store.scanEntries(log.ref.logId, fromSeq)) {
      if (e.seq >= toSeq) break;
      if (e.canonical === null) continue;
      const r = JSON.parse(e.canonical) as GenerationRecord;
      const texts = [...stringLeaves(r.meta), ...(r.artifacts ?? []).map((a) => a.name)];
      if (texts.some((t) => scanText(t, detectors).length > 0)) found.push(e.seq);
    }
    return found;
  }

  /**
   * Sets a legal hold on a subject, or on the whole tenant when no subject is given: erasure
   * (and purge) then fail with `GENLOG_E_HELD` until it is released. Recorded as a
   * `genlog.hold` system event.
   *
   * @throws {GenlogError} `GENLOG_E_HELD` when that hold is already set;
   * `GENLOG_E_NOT_FOUND` for an unknown or erased subject; `GENLOG_E_INVALID_INPUT`.
   */
  async setHold(options: HoldOptions): Promise<GenerationRecord> {
    return this.#guard(
      options.tenant ?? this.tenant,
      { operation: "setHold", permission: "subjects.manage", target: subjectTarget(options) },
      async () => {
        return this.#hold(options, "hold");
      },
    );
  }

  /** Releases a legal hold set by {@link setHold} (a `genlog.hold-release` system event). */
  async releaseHold(options: HoldOptions): Promise<GenerationRecord> {
    return this.#guard(
      options.tenant ?? this.tenant,
      { operation: "releaseHold", permission: "subjects.manage", target: subjectTarget(options) },
      async () => {
        return this.#hold(options, "release");
      },
    );
  }

  /** A tenant's legal holds in force, with the reason and time of the event that set each. */
  async holds(tenant?: string): Promise<LegalHold[]> {
    return this.#guard(
      tenant ?? this.tenant,
      { operation: "holds", permission: "tenant.read" },
      async () => {
        const log = await this.#tenant(tenant ?? this.tenant);
        const { ref } = log;
        const rows = await log.store.listHolds(ref.tenant);
        const events = await log.store.findByIds(
          ref.logId,
          rows.map((r) => r.eventId),
        );
        return rows.map((r) => {
          const e = events.get(r.eventId);
          const rec =
            e === undefined ? undefined : parseStoredRecord(e.canonical, ref.origin, e.seq);
          return {
            tenant: ref.tenant,
            scope: r.subject === "" ? "tenant" : "subject",
            pseudonym: r.subject === "" ? null : r.subject,
            seq: rec?.seq ?? -1,
            since: rec?.ts ?? "",
            reason: rec?.meta["reason"] ?? null,
          };
        });
      },
      (h) => h.length,
    );
  }

  async #hold(options: HoldOptions, kind: "hold" | "release"): Promise<GenerationRecord> {
    const whole = options.subject === undefined && options.pseudonym === undefined;
    const selector = whole ? undefined : checkSelector(options);
    const reason = checkReason(options.reason);
    const log = await this.#tenantForSystemEvent(options.tenant);
    const tenant = log.ref.tenant;
    const targets = selector === undefined ? [""] : await this.#pseudonymsOf(log, selector);
    const held = new Set((await log.store.listHolds(tenant)).map((h) => h.subject));
    for (const t of targets) {
      const what = t === "" ? `tenant ${tenant}` : `subject ${t} of tenant ${tenant}`;
      if (kind === "hold" && held.has(t)) {
        throw new GenlogError("GENLOG_E_HELD", `${what} is already under a legal hold`, {
          details: { tenant, subject: t },
        });
      }
      if (kind === "release" && !held.has(t)) {
        throw new GenlogError("GENLOG_E_NOT_FOUND", `${what} is not under a legal hold`, {
          details: { tenant, subject: t },
        });
      }
    }
    const meta = {
      scope: whole ? "tenant" : "subject",
      ...(whole ? {} : { pseudonyms: targets }),
      reason,
    };
    const type = kind === "hold" ? SYSTEM_TYPES.hold : SYSTEM_TYPES.holdRelease;
    return this.#appendSystemEvent(log, systemEvent(type, meta), (eventId) =>
      targets.map((subject) =>
        kind === "hold" ? { kind, tenant, subject, eventId } : { kind, tenant, subject },
      ),
    );
  }

  /** A tenant's log opened to append a system event to (it must exist). */
  async #tenantForSystemEvent(tenant: string | undefined): Promise<TenantLog> {
    this.#checkWritable();
    return this.#tenant(tenant ?? this.tenant);
  }

  /** Appends a system event with what it changes beside the log (given the event's id). */
  async #appendSystemEvent(
    log: TenantLog,
    event: GenerationEvent,
    effects: (eventId: string) => StoreEffect[],
  ): Promise<GenerationRecord> {
    const prepared = prepareEvent(event, log.ref.tenant, log.pipeline!);
    if (prepared instanceof Promise) throw new Error("a system event names no actor");
    const writer = await (log.writer ??= this.#openWriter(log));
    return (await writer.append(prepared, false, effects(prepared.template.id))).record;
  }

  /**
   * The stored pseudonyms a selector names: a person's (one, or two after a race), or the
   * pseudonym given if its subject is still stored.
   *
   * @throws {GenlogError} `GENLOG_E_NOT_FOUND` when there is none (never met, or erased).
   */
  async #pseudonymsOf(log: TenantLog, selector: SubjectSelector): Promise<string[]> {
    const subjects = await this.#subjects(log);
    let found: string[];
    if ("subject" in selector) found = await subjects.pseudonymsOf(selector.subject);
    else {
      const rows = await log.store.getSubjects(log.ref.tenant, [selector.pseudonym]);
      found = rows.has(selector.pseudonym) ? [selector.pseudonym] : [];
    }
    if (found.length === 0) {
      throw new GenlogError(
        "GENLOG_E_NOT_FOUND",
        "subject" in selector
          ? `tenant ${log.ref.tenant} has no subject with this id: never met, or erased`
          : `tenant ${log.ref.tenant} has no subject ${selector.pseudonym}: never met, or erased`,
        // `subject` says what is missing: over HTTP a NOT_FOUND naming only a tenant reads as
        // "no such tenant".
        { details: { tenant: log.ref.tenant, subject: "not found" } },
      );
    }
    return found;
  }

  /**
   * Rotates a tenant's signing key. A new key is made; each of the tenant's logs (`events`,
   * then `access`) records a `genlog.key-rotation` event naming the old and the new verifier
   * key, in a checkpoint that both keys sign; from then on the new key signs. The new key
   * file then replaces the old one, whose private key is gone: old checkpoints stay valid
   * under the old verifier key, which the rotation records publish, and `verify` follows the
   * chain from whichever of the keys it is given. A rotation that stopped half-way (a crash)
   * is finished by running it again. Needs `tenant.admin`.
   *
   * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` (`/reason`); `GENLOG_E_CONFLICT` when a
   *   rotation of the tenant is under way in this process; `GENLOG_E_USAGE` on a read-only
   *   handle.
   */
  async rotateKey(options: { reason: string; tenant?: string }): Promise<KeyRotationResult> {
    const reason = checkReason(options.reason);
    const tenant = options.tenant ?? this.tenant;
    return this.#guard(tenant, { operation: "rotateKey", permission: "tenant.admin" }, async () => {
      const log = await this.#tenantForSystemEvent(tenant);
      const { rotating } = this.#shared;
      if (rotating.has(log.ref.tenant)) {
        throw new GenlogError(
          "GENLOG_E_CONFLICT",
          `the signing key of tenant "${log.ref.tenant}" is being rotated already; wait for that rotation`,
          { details: { tenant: log.ref.tenant } },
        );
      }
      rotating.add(log.ref.tenant);
      try {
        return await this.#rotateKey(log, reason);
      } finally {
        rotating.delete(log.ref.tenant);
      }
    });
  }

  async #rotateKey(log: TenantLog, reason: string): Promise<KeyRotationResult> {
    const { tenant } = log.ref;
    if ((await this.#externalSigner(tenant)) !== undefined) {
      throw new GenlogError(
        "GENLOG_E_USAGE",
        `the key of tenant "${tenant}" is held by the signer given to openLog, not a key file: rotate it there, and give genlog the new signer`,
        { details: { tenant } },
      );
    }
    const previous = log.signer!.verifierKey;
    const access = await log.store.openLogRef(
      { origin: `${this.instance}/${tenant}/${ACCESS_STREAM}`, tenant, stream: ACCESS_STREAM },
      false,
    );
    const refs = access === undefined ? [log.ref] : [log.ref, access];
    const waiting = rotatingKeyPath(this.keysDir, tenant);
    const next = await this.#nextKey(log, refs, waiting);
    const logs: KeyRotationResult["logs"] = [];
    /** Writers whose rotation committed: they hold their appends until the key file moves. */
    const held: LogWriter[] = [];
    try {
      for (const ref of refs) {
        const { latest } = await log.store.logState(ref.logId);
        // Rotated by the rotation that stopped: its latest checkpoint is the new key's already.
        if (latest !== undefined && signs(next.verifierKey, latest.note)) continue;
        const writer = await (ref === log.ref
          ? (log.writer ??= this.#openWriter(log))
          : (log.accessWriter ??= this.#openAccessWriter(log)));
        // genlog's own facts are recorded as they are; the reason goes through the redactor.
        const trusted = { previous: writer.verifierKey, next: next.verifierKey };
        const prepared = prepareEvent(
          systemEvent(SYSTEM_TYPES.keyRotation, { reason }),
          tenant,
          accessStages(log.pipeline!, trusted),
        );
        if (prepared instanceof Promise) throw new Error("a system event names no actor");
        // The database's record of the tenant's key changes with the events log's rotation.
        const effects: StoreEffect[] =
          ref === log.ref
            ? [{ kind: "setting", key: verifierKeySetting(tenant), value: next.verifierKey }]
            : [];
        const { record } = await writer.rotate(prepared, next, effects);
        held.push(writer);
        logs.push({ origin: ref.origin, seq: record.seq, checkpointSize: record.seq + 1 });
      }
      // The new key takes the old one's place; the old private key is unlinked with it.
      replaceKeyFile(waiting, keyPath(this.keysDir, tenant));
    } catch (e) {
      const failure = new GenlogError(
        "GENLOG_E_KEY",
        `the signing-key rotation of tenant "${tenant}" did not finish (${(e as Error).message}); nothing was appended: run \`genlog keys rotate\` again to finish it`,
        { cause: e, details: { tenant, reason: "rotated" } },
      );
      for (const writer of held) writer.release(failure);
      this.#dropWriters(log);
      throw e;
    }
    log.signer = next;
    log.keys = undefined;
    for (const writer of held) writer.release();
    // A writer of this handle opened before an earlier, interrupted run still has the old key.
    for (const w of [log.writer, log.accessWriter]) {
      const writer = await w?.catch(() => undefined);
      if (writer !== undefined && writer.verifierKey !== next.verifierKey) {
        this.#dropWriters(log);
        break;
      }
    }
    return { tenant, previous, next: next.verifierKey, logs };
  }

  /**
   * The key a rotation moves to: the one an interrupted rotation left in `waiting` when a log
   * of the tenant already moved to it (so that it is finished with the same key), else a new
   * one. A file nothing moved to yet is stale (an earlier run that failed before committing
   * anything) and is replaced: a key that sat there is not trusted to be new.
   */
  async #nextKey(log: TenantLog, refs: LogRef[], waiting: string): Promise<Signer> {
    const name = `${this.instance}/${log.ref.tenant}`;
    if (existsSync(waiting)) {
      const left = ed25519Signer(name, readKeyFile(waiting));
      if (left.verifierKey !== log.signer!.verifierKey) {
        for (const ref of refs) {
          const { latest } = await log.store.logState(ref.logId);
          if (latest !== undefined && signs(left.verifierKey, latest.note)) return left;
        }
      }
      rmSync(waiting);
    }
    createKeyFile(waiting);
    return ed25519Signer(name, readKeyFile(waiting));
  }

  /** Forgets a tenant's writers: the next append or access opens them again from the store. */
  #dropWriters(log: TenantLog): void {
    log.writer = undefined;
    log.accessWriter = undefined;
    this.#open.delete(log.ref.tenant);
  }

  /**
   * Rotates the master key (see {@link rotateMasterKey}): every tenant key is re-wrapped
   * under a new master key in one transaction; nothing committed changes. With a key file the
   * new key replaces it; with `GENLOG_MASTER_KEY`, pass `newKey` and put it in the variable
   * afterwards. Keep the old key as long as backups made before the rotation are kept.
   *
   * @throws {GenlogError} `GENLOG_E_USAGE` on a read-only handle, or for `GENLOG_MASTER_KEY`
   * without `newKey`; `GENLOG_E_CONFLICT` when a tenant was added meanwhile.
   */
  async rotateMasterKey(options: { newKey?: string } = {}): Promise<MasterKeyRotation> {
    return this.#guard(
      ALL_TENANTS,
      { operation: "rotateMasterKey", permission: "instance.admin" },
      async () => {
        this.#checkWritable();
        const rotation = await rotateMasterKey({
          store: this.#home,
          keysDir: this.keysDir,
          instance: this.instance,
          dataDir: this.dataDir,
          ...(options.newKey !== undefined ? { newKey: options.newKey } : {}),
        });
        // The tenant keys this handle holds are unchanged; the key store is read again for the id.
        this.#shared.keyStore = undefined;
        return rotation;
      },
    );
  }

  /**
   * Every record of a tenant's log, anonymised for sharing statistics: pseudonyms and keyed
   * hash tokens replaced by ids drawn for this export only (consistent within it), envelopes
   * dropped. The lines are not the committed bytes and prove nothing.
   */
  exportAnonymised(tenant?: string): AsyncIterable<string> {
    const t = tenant ?? this.tenant;
    return this.#guardStream(t, { operation: "exportAnonymised", permission: "events.read" }, () =>
      this.#anonymisedLines(t),
    );
  }

  async *#anonymisedLines(tenant: string): AsyncIterable<string> {
    const anonymiser = new Anonymiser();
    for await (const line of this.#canonicalLines(tenant)) {
      yield JSON.stringify(anonymiser.record(JSON.parse(line) as Record<string, unknown>));
    }
  }

  /**
   * Every record of a tenant's log, exactly as committed, in log order.
   * Each yielded string is the canonical JSON its leaf hashes.
   */
  exportCanonical(tenant?: string): AsyncIterable<string> {
    const t = tenant ?? this.tenant;
    return this.#guardStream(t, { operation: "exportCanonical", permission: "events.read" }, () =>
      this.#canonicalLines(t),
    );
  }

  async *#canonicalLines(tenant: string): AsyncIterable<string> {
    const log = await this.#tenant(tenant);
    const { ref } = log;
    // A purged position has no record left to export: the export holds what remains.
    for await (const e of log.store.scanEntries(ref.logId)) {
      if (e.canonical !== null) yield e.canonical;
    }
  }

  /**
   * An inclusion proof of a record in the tree of the checkpoint at `treeSize` (default:
   * the latest checkpoint).
   *
   * @throws {GenlogError} `GENLOG_E_NOT_FOUND` when the record or a checkpoint at that size does not exist.
   */
  async inclusionProof(
    idOrSeq: string | number,
    options: { treeSize?: number; tenant?: string } = {},
  ): Promise<InclusionProof> {
    return this.#guard(
      options.tenant ?? this.tenant,
      {
        operation: "inclusionProof",
        permission: "proofs.read",
        target: { record: String(idOrSeq), treeSize: options.treeSize ?? null },
      },
      async () => {
        if (options.treeSize !== undefined) checkTreeSize(options.treeSize, "treeSize");
        const log = await this.#tenant(options.tenant ?? this.tenant);
        const { ref } = log;
        const entry = await this.#entry(log, idOrSeq);
        const cp = await this.#checkpointAt(log, options.treeSize);
        if (entry.seq >= cp.size) {
          throw new GenlogError(
            "GENLOG_E_NOT_FOUND",
            `record ${entry.seq} is not in the tree of size ${cp.size}; ask for a larger tree size`,
          );
        }
        const { leaf, hashes } = await this.#prove(log, entry, cp);
        return {
          origin: ref.origin,
          leafIndex: entry.seq,
          treeSize: cp.size,
          leafHash: leaf.toString("base64"),
          hashes: hashes.map(base64),
          checkpoint: cp.note,
          record: parseStoredRecord(entry.canonical, ref.origin, entry.seq),
        };
      },
      () => 1,
    );
  }

  /**
   * A consistency proof between the checkpoints at sizes `from` and `to` (default latest).
   *
   * @throws {GenlogError} `GENLOG_E_NOT_FOUND` when either checkpoint does not exist.
   */
  async consistencyProof(
    from: number,
    options: { to?: number; tenant?: string } = {},
  ): Promise<ConsistencyProof> {
    return this.#guard(
      options.tenant ?? this.tenant,
      {
        operation: "consistencyProof",
        permission: "proofs.read",
        target: { from, to: options.to ?? null },
      },
      async () => {
        checkTreeSize(from, "from");
        if (options.to !== undefined) checkTreeSize(options.to, "to");
        const log = await this.#tenant(options.tenant ?? this.tenant);
        const { ref } = log;
        const to = await this.#checkpointAt(log, options.to);
        const start = await this.#checkpointAt(log, from);
        if (start.size > to.size) {
          throw new GenlogError(
            "GENLOG_E_USAGE",
            `from (${start.size}) is larger than to (${to.size})`,
          );
        }
        const hashes = await this.#assemble(log, planConsistencyProof(start.size, to.size));
        try {
          const [a, b] = [start.checkpoint.rootHash, to.checkpoint.rootHash];
          verifyConsistency(start.size, to.size, hashes, a, b);
        } catch (cause) {
          throw this.#badHashes(ref, cause, `sizes ${start.size} to ${to.size}`);
        }
        return { origin: ref.origin, from: start.size, to: to.size, hashes: hashes.map(base64) };
      },
    );
  }

  /** Verifies a tenant's log end to end; see {@link verifyLog}. */
  async verify(
    options: Omit<VerifyOptions, "verifierKey"> & {
      tenant?: string;
      verifierKey?: string;
      /** The tenant's `events` log (default) or its `access` log. */
      stream?: "events" | "access";
    } = {},
  ): Promise<VerifyReport> {
    const { stream = "events", ...verifyOptions } = options;
    if (stream !== "events" && stream !== ACCESS_STREAM) {
      throw new GenlogError(
        "GENLOG_E_INVALID_INPUT",
        `stream: expected "events" or "access", got ${describeValue(stream)}`,
        { details: { pointer: "/stream", rule: "enum" } },
      );
    }
    return this.#guard(
      options.tenant ?? this.tenant,
      { operation: "verify", permission: "proofs.read", target: { stream } },
      async () => {
        const tenant = options.tenant ?? this.tenant;
        let log: TenantLog;
        try {
          log = await this.#tenant(tenant);
        } catch (e) {
          // A file too damaged to find the log in is a finding, not a failure to verify.
          if (!isGenlogError(e, "GENLOG_E_CORRUPT")) throw e;
          const store = await this.#storeOf(tenant).catch(() => this.#home);
          const report = await verifyUnreadableLog(store, this.origin(tenant), e);
          // The worst outcome of all must not leave an older "ok" standing.
          await this.#noteVerified(store, tenant, stream, report);
          return report;
        }
        if (options.verifierKey !== undefined) {
          // A key of another tenant or instance matches no signature: every checkpoint would be
          // reported forged, a false alarm for what is a wrong argument.
          const name = parseVerifierKey(options.verifierKey).name;
          const expected = `${this.instance}/${log.ref.tenant}`;
          if (name !== expected) {
            throw new GenlogError(
              "GENLOG_E_USAGE",
              `the verifier key given is the key of ${name}, not of this log (${expected}): pass the key published for ${expected}`,
              { details: { expected, actual: name } },
            );
          }
        }
        const verifierKey = options.verifierKey ?? (await this.#verifierKey(log.ref.tenant));
        let report: VerifyReport;
        if (stream === ACCESS_STREAM) {
          const ref = await this.#accessRef(log);
          await (await log.accessWriter?.catch(() => undefined))?.idle();
          report = await verifyLog(log.store, ref, { ...verifyOptions, verifierKey });
        } else {
          await idle(log);
          report = await verifyLog(log.store, log.ref, { ...verifyOptions, verifierKey });
        }
        await this.#noteVerified(log.store, log.ref.tenant, stream, report);
        return report;
      },
    );
  }

  /**
   * Keeps the outcome of a verification beside the log (a status, not a proof: the tenants'
   * list shows it), unless this handle may not write. A store that cannot take it fails
   * nothing: the report is what the caller asked for.
   */
  async #noteVerified(
    store: LogStore,
    tenant: string,
    stream: string,
    report: VerifyReport,
  ): Promise<void> {
    if (this.#readOnly) return;
    const last: LastVerify = {
      at: new Date().toISOString(),
      ok: report.ok,
      entries: report.entries,
      verifiedSize: report.verifiedSize,
      problems: report.problems.length,
      by: this.#context.principal,
    };
    await store
      .putStatus(lastVerifySetting(tenant, stream), JSON.stringify(last))
      .catch((err: unknown) =>
        this.#logger.warn({ err }, "genlog could not keep a verify's outcome"),
      );
  }

  /**
   * One page of a tenant's access log (records of type `genlog.access`, in log order): who
   * read, exported, proved, erased or administered what, when, why, allowed or denied.
   * Takes the query options `since`, `until`, `status`, `limit` and `cursor`.
   */
  async accessLog(
    options: Pick<QueryOptions, "tenant" | "since" | "until" | "status" | "limit" | "cursor"> = {},
  ): Promise<QueryPage> {
    const tenant = queryTenant(options, this.tenant);
    return this.#guard(
      tenant,
      { operation: "accessLog", permission: "reports.read", target: queryTarget(options) },
      async () => {
        const filter = toQueryFilter(options);
        const log = await this.#tenant(tenant);
        const ref = await this.#accessRef(log);
        await (await log.accessWriter?.catch(() => undefined))?.idle();
        const rows = await log.store.query(ref.logId, filter);
        return pageOf(rows, ref.origin, filter.limit);
      },
      (page) => page.records.length,
    );
  }

  /**
   * The access report of a tenant (`genlog report access`): accesses by principal, with
   * what stands out flagged (denied attempts, erasures, accesses outside working hours, a day
   * far above a principal's usual); see {@link accessReport}. Reads the whole access log.
   */
  async accessReport(
    options: { tenant?: string; since?: string; until?: string } = {},
  ): Promise<AccessReport> {
    const tenant = options.tenant ?? this.tenant;
    return this.#guard(
      tenant,
      { operation: "accessReport", permission: "reports.read", target: windowTarget(options) },
      async () => {
        const window = reportWindow(options);
        const log = await this.#tenant(tenant);
        const ref = await this.#accessRef(log);
        await (await log.accessWriter?.catch(() => undefined))?.idle();
        return accessReport(ref.tenant, ref.origin, window, records(log.store, ref));
      },
    );
  }

  /**
   * Creates an API token for a tenant (or every tenant, `scope: "*"`) and a role. The token
   * is in the result only: the store keeps its SHA-256. Needs `tenant.admin` on the tenant
   * (`instance.admin` for `*`).
   *
   * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` naming `/scope`, `/role`, `/label` or
   * `/expires`; `GENLOG_E_NOT_FOUND` for a tenant that does not exist.
   */
  async createToken(options: TokenOptions): Promise<NewToken> {
    this.#checkWritable();
    const scope = typeof options?.scope === "string" ? options.scope : this.tenant;
    const permission = scope === ALL_TENANTS ? "instance.admin" : "tenant.admin";
    const role: unknown = options?.role;
    // Decided before the options are checked: a refusal is a refusal, recorded as one.
    if (isRole(role)) {
      const grant = mayGrant(this.#context, role);
      if (!grant.allowed) return this.#deny(scope, "createToken", permission, grant);
    }
    return this.#guard(
      scope,
      { operation: "createToken", permission, target: { role: String(role).slice(0, 20) } },
      async () => {
        const { row, token } = newToken(options);
        if (row.scope !== ALL_TENANTS) await this.#tenant(row.scope);
        await this.#home.insertToken(row);
        return { ...tokenInfo(row), token };
      },
    );
  }

  /**
   * The tokens of a scope (a tenant, or `*` for the instance-wide ones; default this handle's
   * scope, where `*` lists every token), revoked ones too.
   */
  async tokens(of?: string): Promise<TokenInfo[]> {
    const scope = of ?? this.#context.scope;
    // Without a scope, a handle for every tenant lists every token.
    const all = of === undefined && scope === ALL_TENANTS;
    return this.#guard(
      scope,
      {
        operation: "tokens",
        permission: scope === ALL_TENANTS ? "instance.admin" : "tenant.admin",
      },
      async () =>
        (await this.#home.listTokens()).filter((t) => all || t.scope === scope).map(tokenInfo),
      (list) => list.length,
    );
  }

  /**
   * Revokes a token: from now on it is refused. Needs the same permission as creating it.
   * With `scope`, only a token of that scope is revoked.
   *
   * @throws {GenlogError} `GENLOG_E_NOT_FOUND` for an unknown id (or one of another scope).
   */
  async revokeToken(id: string, options: { scope?: string } = {}): Promise<TokenInfo> {
    this.#checkWritable();
    if (!isTokenId(id)) {
      throw new GenlogError(
        "GENLOG_E_INVALID_INPUT",
        `/id: expected a token id (tok_ and 26 letters a-z or digits 2-7), got ${describeValue(id)}`,
        { details: { pointer: "/id", rule: "pattern" } },
      );
    }
    const known = (await this.#home.listTokens()).find(
      (t) => t.id === id && (options.scope === undefined || t.scope === options.scope),
    );
    const scope = known?.scope ?? options.scope ?? this.#context.scope;
    if (known !== undefined && isRole(known.role)) {
      const grant = mayGrant(this.#context, known.role);
      const permission = scope === ALL_TENANTS ? "instance.admin" : "tenant.admin";
      if (!grant.allowed) return this.#deny(scope, "revokeToken", permission, grant);
    }
    return this.#guard(
      scope,
      {
        operation: "revokeToken",
        permission: scope === ALL_TENANTS ? "instance.admin" : "tenant.admin",
        target: { tokenId: id },
      },
      async () => {
        const row = known && (await this.#home.revokeToken(id, new Date().toISOString()));
        if (row === undefined) {
          throw new GenlogError("GENLOG_E_NOT_FOUND", `no token ${id}`, { details: { id } });
        }
        this.#shared.tokens?.forget(id);
        return tokenInfo(row);
      },
    );
  }

  /**
   * The view ({@link as}) of the principal a bearer token stands for: an API token made by
   * {@link createToken}. The rest of the context (`via`, `address`, `purpose`) is the
   * caller's.
   *
   * @throws {GenlogError} `GENLOG_E_UNAUTHENTICATED` for a malformed, unknown, revoked or
   * expired token (the message never repeats it).
   */
  async authenticate(
    token: string,
    context: Pick<AccessContext, "via" | "address" | "purpose" | "route">,
  ): Promise<Genlog> {
    this.#check();
    this.#rootOnly("authenticate");
    const who = await (this.#shared.tokens ??= new TokenChecker(this.#home)).check(token);
    // A view holds nothing but its frozen context, so one is made per distinct context, not
    // per request: the token itself is checked above every time.
    const key = JSON.stringify([
      who.principal,
      who.role,
      who.scope,
      context.via,
      context.address,
      context.route,
      context.purpose,
    ]);
    const views = this.#shared.views;
    let view = views.get(key);
    if (view === undefined) {
      view = this.as({ ...context, ...who });
      if (views.size >= 10_000) views.clear();
      views.set(key, view);
    }
    return view;
  }

  /**
   * Records in a tenant's access log a request refused before any principal was known (no
   * token, or one refused by {@link authenticate}), so that probing leaves a trace.
   */
  async recordUnauthenticated(
    tenant: string,
    request: {
      operation: string;
      permission: Permission;
      reason: string;
      address?: string;
      route?: string;
    },
  ): Promise<void> {
    this.#rootOnly("recordUnauthenticated");
    await this.#record(
      tenant,
      { operation: request.operation, permission: request.permission, denied: request.reason },
      {
        principal: "anonymous",
        role: null,
        scope: ALL_TENANTS,
        via: "http",
        ...(request.address !== undefined ? { address: request.address } : {}),
        ...(request.route !== undefined ? { route: request.route } : {}),
      },
    );
  }

  /**
   * The generation report of a tenant (`genlog report generation`): generations per type,
   * sector, status and day, the top actors by pseudonym, failure rates and redactions; see
   * {@link generationReport}. Reads every record kept.
   */
  async generationReport(
    options: { tenant?: string; since?: string; until?: string } = {},
  ): Promise<GenerationReport> {
    const tenant = options.tenant ?? this.tenant;
    return this.#guard(
      tenant,
      { operation: "generationReport", permission: "reports.read", target: windowTarget(options) },
      async () => {
        const window = reportWindow(options);
        const log = await this.#tenant(tenant);
        await idle(log);
        const { ref } = log;
        return generationReport(ref.tenant, ref.origin, window, records(log.store, ref));
      },
    );
  }

  /** The tenant's access log; made on its first access, so a tenant always has one once read. */
  async #accessRef(log: TenantLog): Promise<LogRef> {
    const { tenant } = log.ref;
    const origin = `${this.instance}/${tenant}/${ACCESS_STREAM}`;
    // Made on a writable handle (an access is about to be recorded in it anyway).
    const ref = await log.store.openLogRef(
      { origin, tenant, stream: ACCESS_STREAM },
      !this.#readOnly,
    );
    if (ref === undefined) {
      throw new GenlogError("GENLOG_E_NOT_FOUND", `${origin} has no record yet`, {
        details: { origin },
      });
    }
    return ref;
  }

  /** Waits for queued appends, then closes the store. Idempotent. */
  async close(): Promise<void> {
    if (this.#isView) {
      throw new GenlogError(
        "GENLOG_E_USAGE",
        "a view made by `as` shares its handle: close the handle that openLog returned",
      );
    }
    if (this.#shared.closed) return;
    this.#shared.closed = true;
    // Appends accepted before close still opening their tenant, or looking up their subject,
    // join their writer's queue first; then every writer drains.
    while (this.#opening.size > 0 || this.#preparing.size > 0) {
      await Promise.all([...this.#opening, ...this.#preparing.values()]);
    }
    for (const p of this.#tenants.values()) {
      const log = await p.catch(() => undefined);
      if (log !== undefined) await idleAll(log);
    }
    for (const region of this.#regions.values())
      await (await region.catch(() => undefined))?.close();
    await this.#home.close();
    this.#logger.flush?.();
  }

  /**
   * Adds a follower to a tenant: from then on, every committed record of its events log (from
   * the next one, or from the first with `fromStart`) is handed to it in order by whatever runs
   * the followers (`genlog serve`, `genlog followers run`). Needs `followers.add` (superadmin):
   * a follower sends every record out. The access record names the destination.
   *
   * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` naming `/name`, `/kind`, `/config/…` or
   * `/secret`; `GENLOG_E_EXISTS` when the tenant has a follower of that name.
   */
  async addFollower(options: AddFollowerOptions): Promise<FollowerInfo> {
    this.#checkWritable();
    const tenant = options?.tenant ?? this.tenant;
    return this.#guard(
      tenant,
      {
        operation: "addFollower",
        permission: "followers.add",
        target: {
          name: String(options?.name),
          kind: String(options?.kind),
          ...followerDestination(options?.config),
        },
      },
      async () => {
        const name = options.name;
        if (typeof name !== "string" || !FOLLOWER_NAME.test(name)) {
          throw new GenlogError(
            "GENLOG_E_INVALID_INPUT",
            "/name: expected 1 to 63 lower-case letters, digits and dashes",
            { details: { pointer: "/name", rule: "pattern" } },
          );
        }
        const kind = this.#followerKinds.get(options.kind);
        if (kind === undefined) {
          const known = [...this.#followerKinds.keys()].join(", ") || "none";
          throw new GenlogError(
            "GENLOG_E_INVALID_INPUT",
            `/kind: expected a kind of follower this handle knows (${known})`,
            { details: { pointer: "/kind", rule: "enum" } },
          );
        }
        const config = kind.parse(options.config, this.#followerNetwork);
        const secret = options.secret;
        if (secret === undefined) {
          if (kind.secret === "required" || kind.needsSecret?.(config) === true) {
            throw new GenlogError(
              "GENLOG_E_INVALID_INPUT",
              `/secret: a follower of kind ${kind.kind} needs one${kind.secretForm !== undefined ? `: ${kind.secretForm}` : ""}`,
              { details: { pointer: "/secret", rule: "required" } },
            );
          }
        } else if (kind.secret === "none" || typeof secret !== "string") {
          throw new GenlogError(
            "GENLOG_E_INVALID_INPUT",
            kind.secret === "none"
              ? `/secret: a follower of kind ${kind.kind} takes none`
              : "/secret: expected a string",
            { details: { pointer: "/secret", rule: "type" } },
          );
        } else {
          kind.checkSecret?.(secret);
        }
        const log = await this.#tenant(tenant);
        // A periodic kind starts with the period under way (or, from the start, the period of
        // the log's first record); a kind of records with the next record (or the first).
        const period = kind.periodMs?.(config);
        const first =
          options.fromStart === true && period !== undefined
            ? (await log.store.getEntry(log.ref.logId, 0))?.ts
            : undefined;
        const start =
          period !== undefined
            ? Math.floor((first !== undefined ? Date.parse(first) : Date.now()) / period)
            : options.fromStart === true
              ? 0
              : (await log.store.logState(log.ref.logId)).size;
        const key = await (await this.#openKeyStore()).tenantKey(log.ref.tenant, "wrap");
        await log.store.insertFollower({
          tenant: log.ref.tenant,
          name,
          id: randomBytes(16).toString("hex"),
          kind: kind.kind,
          config: JSON.stringify(config),
          secret: secret === undefined ? null : sealSecret(key, log.ref.tenant, name, secret),
          cursor: start,
          attempts: 0,
          nextAt: 0,
          lastError: null,
          disabled: null,
          created: new Date().toISOString(),
        });
        return (await this.#followerInfos(log, name))[0]!;
      },
    );
  }

  /**
   * Adds a follower unless its tenant has one of that name: what a configuration file's
   * `followers` do when `serve` or `followers run` starts. One that exists is left as it is,
   * and said to differ when its kind or options are not the ones given (remove it to apply
   * them). Its secret is set when it is added only: it is sealed, and never compared.
   */
  async ensureFollower(
    options: AddFollowerOptions,
  ): Promise<{ follower: FollowerInfo; status: "added" | "unchanged" | "differs" }> {
    const tenant = options?.tenant ?? this.tenant;
    const find = async () => (await this.followers(tenant)).find((f) => f.name === options.name);
    let follower = await find();
    if (follower === undefined) {
      try {
        return { follower: await this.addFollower(options), status: "added" };
      } catch (e) {
        // Added by another process meanwhile: compared below.
        if (!isGenlogError(e, "GENLOG_E_EXISTS")) throw e;
        follower = (await find())!;
      }
    }
    const kind = this.#followerKinds.get(options.kind);
    const same =
      follower.kind === options.kind &&
      kind !== undefined &&
      JSON.stringify(kind.parse(options.config, this.#followerNetwork)) ===
        JSON.stringify(follower.config);
    return { follower, status: same ? "unchanged" : "differs" };
  }

  /** A tenant's followers, with how far behind each is. Needs `tenant.admin`. */
  async followers(tenant?: string): Promise<FollowerInfo[]> {
    const t = tenant ?? this.tenant;
    return this.#guard(
      t,
      { operation: "followers", permission: "tenant.admin" },
      async () => this.#followerInfos(await this.#tenant(t)),
      (list) => list.length,
    );
  }

  /** Removes a follower and its dead letters. Needs `tenant.admin`. */
  async removeFollower(options: { tenant?: string; name: string }): Promise<void> {
    this.#checkWritable();
    const tenant = options?.tenant ?? this.tenant;
    await this.#guard(
      tenant,
      { operation: "removeFollower", permission: "tenant.admin", target: { name: options?.name } },
      async () => {
        const log = await this.#tenant(tenant);
        if (!(await log.store.removeFollower(log.ref.tenant, options.name))) {
          throw noFollower(log.ref.tenant, options.name);
        }
      },
    );
  }

  /**
   * Makes a follower try again now: its current record without waiting for the backoff, a
   * follower stopped by a 410 restarted, and its dead letters handed over once more. Needs
   * `tenant.admin`.
   */
  async retryFollower(options: { tenant?: string; name: string }): Promise<FollowerInfo> {
    this.#checkWritable();
    const tenant = options?.tenant ?? this.tenant;
    return this.#guard(
      tenant,
      { operation: "retryFollower", permission: "tenant.admin", target: { name: options?.name } },
      async () => {
        const log = await this.#tenant(tenant);
        const row = await this.#followerRow(log, options.name);
        await log.store.retryDeadLetters(log.ref.tenant, row.name);
        await log.store.advanceFollower(row, row.cursor, {
          cursor: row.cursor,
          attempts: row.attempts,
          nextAt: 0,
          lastError: row.lastError,
          disabled: null,
        });
        return (await this.#followerInfos(log, row.name))[0]!;
      },
    );
  }

  /**
   * Gives up on a follower's current record: it becomes a dead letter (`retry` hands it over
   * again later) and the follower goes on with the next. Needs `tenant.admin`.
   *
   * @throws {GenlogError} `GENLOG_E_CONFLICT` when the follower has caught up (nothing to
   * skip); `GENLOG_E_NOT_FOUND` when there is no such follower.
   */
  async skipFollower(options: { tenant?: string; name: string }): Promise<FollowerInfo> {
    this.#checkWritable();
    const tenant = options?.tenant ?? this.tenant;
    return this.#guard(
      tenant,
      { operation: "skipFollower", permission: "tenant.admin", target: { name: options?.name } },
      async () => {
        const log = await this.#tenant(tenant);
        const row = await this.#followerRow(log, options.name);
        const entry = await log.store.getEntry(log.ref.logId, row.cursor);
        if (entry === undefined || row.cursor >= (await log.store.logState(log.ref.logId)).size) {
          throw new GenlogError(
            "GENLOG_E_CONFLICT",
            `follower ${row.name} has caught up: there is no record to skip`,
          );
        }
        const skipped = await log.store.advanceFollower(
          row,
          row.cursor,
          { cursor: row.cursor + 1, attempts: 0, nextAt: 0, lastError: null },
          {
            tenant: log.ref.tenant,
            name: row.name,
            seq: row.cursor,
            eventId: entry.id,
            attempts: row.attempts,
            error: `skipped by ${this.#context.principal}${row.lastError === null ? "" : ` after: ${row.lastError}`}`,
            at: new Date().toISOString(),
            due: false,
          },
        );
        if (!skipped) {
          throw new GenlogError(
            "GENLOG_E_CONFLICT",
            `follower ${row.name} moved on meanwhile: list it and try again`,
          );
        }
        return (await this.#followerInfos(log, row.name))[0]!;
      },
    );
  }

  /**
   * A runner of every tenant's followers, for this handle's process: `pass()` once, or
   * `run(signal)` until stopped. It reads with the handle's stores and is woken by its commits.
   * The operator's handle only (the followers act for no principal).
   */
  followerRunner(retry?: RetryOptions): FollowerRunner {
    this.#checkWritable();
    this.#rootOnly("followerRunner");
    const runner = new FollowerRunner(
      {
        stores: async () => {
          // Tenants made since (by this process or another) get their plugin followers.
          if (this.#plugins.length > 0 && !this.#readOnly) {
            for (const tenant of await this.#tenantNames()) {
              await this.#addPluginFollowers(await this.#storeOf(tenant), tenant);
            }
          }
          const stores = new Set([this.#home]);
          const regions = new Set<string>();
          for (const r of await this.#home.listTenants()) {
            if (regions.has(r.region)) continue;
            regions.add(r.region);
            stores.add(await this.#storeOf(r.tenant));
          }
          return [...stores];
        },
        eventsLog: async (tenant) =>
          (await this.#storeOf(tenant)).openLogRef(
            { origin: `${this.instance}/${tenant}/events`, tenant, stream: "events" },
            false,
          ),
        secretKey: async (tenant) => (await this.#openKeyStore()).tenantKey(tenant, "wrap"),
        report: (tenant, since, until) => this.#periodReports(tenant, since, until),
        exportCar: (tenant, out, since) => this.#followerCar(tenant, out, since),
        clearPersonalData: (tenant, a, b) => this.#clearPersonalData(tenant, a, b),
        warn: (message, details) => this.#logger.warn(details, message),
        network: this.#followerNetwork,
        filesDir: this.#followerFilesDir,
        subscribe: (wake) => {
          this.on("checkpoint", wake);
          return () => this.off("checkpoint", wake);
        },
      },
      [...this.#followerKinds.values()],
      retry,
    );
    return runner;
  }

  /**
   * Every tenant's followers in figures, for metrics: how many, how many records they are
   * behind in all, how many wait to retry a record, how many a 410 stopped, and their dead
   * letters. The operator's handle only; no access is recorded (no record is read).
   */
  async followerSummary(): Promise<FollowerSummary> {
    this.#check();
    this.#rootOnly("followerSummary");
    const summary: FollowerSummary = {
      followers: 0,
      behind: 0,
      retrying: 0,
      disabled: 0,
      deadLetters: 0,
    };
    const stores = new Set([this.#home]);
    for (const r of await this.#home.listTenants()) stores.add(await this.#storeOf(r.tenant));
    for (const store of stores) {
      const sizes = new Map<string, number>();
      for (const row of await store.listFollowers()) {
        let size = sizes.get(row.tenant);
        if (size === undefined) {
          const ref = await store.openLogRef(
            {
              origin: `${this.instance}/${row.tenant}/events`,
              tenant: row.tenant,
              stream: "events",
            },
            false,
          );
          size = ref === undefined ? 0 : (await store.logState(ref.logId)).size;
          sizes.set(row.tenant, size);
        }
        summary.followers++;
        const kind = this.#followerKinds.get(row.kind);
        const end = followerEnd(kind, kind === undefined ? {} : JSON.parse(row.config), size);
        summary.behind += Math.max(0, end - row.cursor);
        if (row.disabled !== null) summary.disabled++;
        else if (row.attempts > 0) summary.retrying++;
        summary.deadLetters += (await store.listDeadLetters(row.tenant, row.name)).length;
      }
    }
    return summary;
  }

  /**
   * Adds the tenant's plugin followers it lacks, once per handle: from `start`, else from the
   * end of its log. Another process adding the same one first is not an error.
   */
  async #addPluginFollowers(store: LogStore, tenant: string, start?: number): Promise<void> {
    if (this.#plugins.length === 0 || this.#pluginTenants.has(tenant)) return;
    const rows = await store.listFollowers(tenant);
    for (const p of this.#plugins) {
      const row = rows.find((r) => r.name === p.followerName);
      if (row !== undefined) {
        if (row.kind !== p.kind.kind) {
          this.#logger.warn(
            { tenant, follower: p.followerName, kind: row.kind },
            `genlog: plugin ${p.plugin.name} does not run in tenant ${tenant}: a follower of another kind has its name`,
          );
        }
        continue;
      }
      let cursor = start;
      if (cursor === undefined) {
        const ref = await store.openLogRef(
          { origin: `${this.instance}/${tenant}/events`, tenant, stream: "events" },
          false,
        );
        cursor = ref === undefined ? 0 : (await store.logState(ref.logId)).size;
      }
      try {
        await store.insertFollower({
          tenant,
          name: p.followerName,
          id: randomBytes(16).toString("hex"),
          kind: p.kind.kind,
          config: JSON.stringify({
            plugin: p.plugin.name,
            version: p.plugin.version,
            events: p.events,
          }),
          secret: null,
          cursor,
          attempts: 0,
          nextAt: 0,
          lastError: null,
          disabled: null,
          created: new Date().toISOString(),
        });
      } catch (e) {
        if (!isGenlogError(e, "GENLOG_E_EXISTS")) throw e;
      }
    }
    this.#pluginTenants.add(tenant);
  }

  /** A periodic follower's reports: built by the runner, which reads as the operator. */
  async #periodReports(tenant: string, since: string, until: string): Promise<PeriodReports> {
    const log = await this.#tenant(tenant);
    const window = { since, until };
    const { ref } = log;
    const access = await log.store.openLogRef(
      { origin: `${this.instance}/${tenant}/${ACCESS_STREAM}`, tenant, stream: ACCESS_STREAM },
      false,
    );
    return {
      generations: await generationReport(ref.tenant, ref.origin, window, records(log.store, ref)),
      access: await accessReport(
        ref.tenant,
        access?.origin ?? `${this.instance}/${tenant}/${ACCESS_STREAM}`,
        window,
        access === undefined ? [] : records(log.store, access),
      ),
      checkpoint: (await log.store.logState(ref.logId)).latest?.note ?? null,
    };
  }

  async #followerRow(log: TenantLog, name: string) {
    const row = (await log.store.listFollowers(log.ref.tenant)).find((f) => f.name === name);
    if (row === undefined) throw noFollower(log.ref.tenant, name);
    return row;
  }

  async #followerInfos(log: TenantLog, only?: string): Promise<FollowerInfo[]> {
    const { size } = await log.store.logState(log.ref.logId);
    const out: FollowerInfo[] = [];
    for (const row of await log.store.listFollowers(log.ref.tenant)) {
      if (only !== undefined && row.name !== only) continue;
      const config: unknown = JSON.parse(row.config);
      const letters = await log.store.listDeadLetters(row.tenant, row.name);
      out.push({
        tenant: row.tenant,
        name: row.name,
        kind: row.kind,
        target:
          this.#followerKinds.get(row.kind)?.describe(config) ?? unknownKind(row.kind, config),
        config,
        cursor: row.cursor,
        periodMs: this.#followerKinds.get(row.kind)?.periodMs?.(config) ?? null,
        behind: Math.max(
          0,
          followerEnd(this.#followerKinds.get(row.kind), config, size) - row.cursor,
        ),
        attempts: row.attempts,
        nextAttemptAt: row.nextAt > Date.now() ? new Date(row.nextAt).toISOString() : null,
        lastError: row.lastError,
        disabled: row.disabled,
        deadLetters: letters.map((l) => ({
          seq: l.seq,
          id: l.eventId,
          attempts: l.attempts,
          error: l.error,
          at: l.at,
          due: l.due,
        })),
        created: row.created,
      });
    }
    return out;
  }

  /** The hooks of `event`: an own member only, never `constructor` or `toString`. */
  #hookList<K extends HookName>(event: K, fn: unknown): HookEvents[K][] {
    if (typeof event !== "string" || !Object.hasOwn(this.#hooks, event)) {
      throw new GenlogError(
        "GENLOG_E_USAGE",
        `unknown hook ${typeof event === "string" ? JSON.stringify(event) : describeValue(event)}; expected "appended" or "checkpoint"`,
      );
    }
    if (typeof fn !== "function") {
      throw new GenlogError(
        "GENLOG_E_USAGE",
        `hook "${event}": expected a function, got ${describeValue(fn)}`,
      );
    }
    return this.#hooks[event] as HookEvents[K][];
  }

  #check(): void {
    if (this.#shared.closed)
      throw new GenlogError("GENLOG_E_CLOSED", "this genlog handle is closed");
  }

  /** For calls that write: open, and not read-only. */
  #checkWritable(): void {
    this.#check();
    if (this.#readOnly) {
      throw new GenlogError("GENLOG_E_USAGE", `${this.dataDir} was opened read-only`);
    }
  }

  /**
   * A tenant's log. Only appends (and opening the handle) may create a tenant; reads of an
   * unknown tenant fail instead of leaving a key and an empty log behind.
   */
  #tenant(tenant: string, create = false, explicit = false): Promise<TenantLog> {
    this.#check();
    let p = this.#tenants.get(tenant);
    if (p === undefined) {
      p = this.#loadTenant(assertTenant(tenant), create, explicit);
      this.#tenants.set(tenant, p);
      p.catch(() => this.#tenants.delete(tenant));
    }
    return p;
  }

  /**
   * Loads a tenant's log and signer. `forAppend` is true for appends and `openTenant`, which
   * may create the tenant when the handle may create. A key is never created for a log that
   * already has one (see {@link openTenantSigner}).
   */
  async #loadTenant(tenant: string, forAppend: boolean, explicit = false): Promise<TenantLog> {
    const path = keyPath(this.keysDir, tenant);
    const origin = `${this.instance}/${tenant}/events`;
    const store = await this.#storeOf(tenant, explicit);
    const existing = await store.openLogRef({ origin, tenant, stream: "events" }, false);
    if (existing === undefined && store !== this.#home && !explicit) {
      // Registered in a region whose database does not hold its log: never start it again.
      throw new GenlogError(
        "GENLOG_E_NOT_FOUND",
        `tenant "${tenant}" is registered in a region whose database does not hold its log: mount or restore that database (see \`genlog tenant show ${tenant}\`)`,
        { details: { tenant } },
      );
    }
    if (this.#readOnly) {
      // The key is optional here: an auditor brings the verifier key instead. A key file
      // that is not the log's is not refused: `verify` is the judge of that.
      if (existing === undefined) {
        throw new GenlogError(
          "GENLOG_E_NOT_FOUND",
          `tenant "${tenant}" has no log in ${this.dataDir}`,
          {
            details: { tenant },
          },
        );
      }
      // An unusable key file (too open a mode, not a key) matters only to a command that needs
      // the key: one given the verifier key does not read it.
      let signer: Signer | undefined = await this.#externalSigner(tenant);
      let keyError: GenlogError | undefined;
      try {
        if (signer === undefined && existsSync(path))
          signer = ed25519Signer(`${this.instance}/${tenant}`, readKeyFile(path));
      } catch (e) {
        if (!isGenlogError(e, "GENLOG_E_KEY")) throw e;
        keyError = e;
      }
      return {
        ref: existing,
        store,
        signer,
        writer: undefined,
        ...(keyError !== undefined ? { keyError } : {}),
      };
    }
    const external = await this.#externalSigner(tenant);
    const signer = await openTenantSigner({
      store,
      instance: this.instance,
      tenant,
      keysDir: this.keysDir,
      ref: existing,
      ...(external !== undefined ? { external } : {}),
      // `createTenant` creates whatever the handle's `create` says; appends only if it allows.
      create: forAppend && (this.#create || explicit),
    });
    if (signer === undefined) {
      // No key anywhere, and this call may not create one.
      if (forAppend) {
        throw new GenlogError(
          "GENLOG_E_NOT_INITIALIZED",
          `no signing key for tenant "${tenant}" in ${this.keysDir}: run \`${initCommand(this.dataDir, this.keysDir, tenant)}\``,
          { details: { tenant, keysDir: this.keysDir } },
        );
      }
      throw new GenlogError(
        "GENLOG_E_NOT_FOUND",
        `tenant "${tenant}" has no log in ${this.dataDir}: append to it or run \`${initCommand(this.dataDir, this.keysDir, tenant)}\``,
        { details: { tenant } },
      );
    }
    // After the signer: a keys directory that is gone is reported by its signing key first.
    const pipeline = await openPipeline({
      store,
      tenant,
      policy: policyOf(this.#policies, tenant),
      keyStore: await this.#openKeyStore(),
      ...(this.#keyNamesOnly ? { keyNamesOnly: true } : {}),
    });
    const ref = existing ?? (await store.openLogRef({ origin, tenant, stream: "events" }, true));
    // A new log's plugins see it from its first record.
    await this.#addPluginFollowers(store, tenant, existing === undefined ? 0 : undefined);
    return { ref: ref!, store, signer, writer: undefined, pipeline };
  }

  /**
   * The signer `OpenLogOptions.signer` gives for a tenant, checked to be that tenant's.
   *
   * @throws {GenlogError} `GENLOG_E_CONFIG` for a signer of another name.
   */
  async #externalSigner(tenant: string): Promise<Signer | undefined> {
    const signer = await this.#signerOf?.(tenant);
    if (signer === undefined) return undefined;
    const name = `${this.instance}/${tenant}`;
    if (signer.name !== name || parseVerifierKey(signer.verifierKey).name !== name) {
      throw new GenlogError(
        "GENLOG_E_CONFIG",
        `signer: the signer given for tenant "${tenant}" is named ${JSON.stringify(signer.name)}, not ${name}`,
        { details: { pointer: "/signer", tenant } },
      );
    }
    return signer;
  }

  /** The tenant's subjects: its pipeline's, or (read-only handle) opened for reading. */
  async #subjects(log: TenantLog): Promise<TenantSubjects> {
    if (log.pipeline !== undefined) return log.pipeline.protector;
    log.readSubjects ??= this.#openKeyStore().then((keys) =>
      TenantSubjects.open(log.store, log.ref.tenant, keys),
    );
    return log.readSubjects;
  }

  #openKeyStore(): Promise<KeyStore> {
    if (this.#shared.keyStore === undefined) {
      const opening = openKeyStore({
        store: this.#home,
        keysDir: this.keysDir,
        instance: this.instance,
        dataDir: this.dataDir,
        readOnly: this.#readOnly,
      });
      this.#shared.keyStore = opening;
      // A failure (a missing key restored later) is retried by the next tenant that opens.
      opening.catch(() => (this.#shared.keyStore = undefined));
    }
    return this.#shared.keyStore;
  }

  #openWriter(log: TenantLog): Promise<LogWriter> {
    // Only appends open a writer, and a read-only handle refuses them first.
    const opening = LogWriter.open({
      store: log.store,
      ref: log.ref,
      signer: log.signer!,
      ...(this.#maxBatch !== undefined ? { maxBatch: this.#maxBatch } : {}),
      onCommit: (batch) => this.#runHooks(batch),
      onKeyChanged: () => this.#reloadKey(log),
    });
    // A failed open (e.g. a tampered log) is retried by the next append, not cached.
    opening.then(
      (writer) => {
        this.#open.set(log.ref.tenant, { writer, pipeline: log.pipeline! });
      },
      (e: unknown) => {
        log.writer = undefined;
        if (isKeyChanged(e)) this.#reloadKey(log);
      },
    );
    return opening;
  }

  /**
   * Another process rotated the tenant's key: this handle forgets the tenant, so that the next
   * call loads it again, with the key file as it is then (once that rotation has moved it in).
   */
  #reloadKey(log: TenantLog): void {
    const { tenant } = log.ref;
    const cached = this.#tenants.get(tenant);
    void cached?.then(
      (current) => {
        // Only if the cache still holds this load of the tenant, not a newer one.
        if (current !== log || this.#tenants.get(tenant) !== cached) return;
        this.#tenants.delete(tenant);
        this.#dropWriters(log);
      },
      () => undefined,
    );
  }

  #runHooks(batch: CommittedBatch): void {
    if (this.#hooks.appended.length === 0 && this.#hooks.checkpoint.length === 0) return;
    // Off the ack path: the appends of this batch are already resolved.
    setImmediate(() => {
      for (const r of batch.results) {
        if (r.duplicate) continue;
        for (const fn of this.#hooks.appended) this.#callHook("appended", () => fn(r.record));
      }
      const cp = { origin: batch.origin, size: batch.size, note: batch.checkpoint };
      for (const fn of this.#hooks.checkpoint) this.#callHook("checkpoint", () => fn(cp));
    });
  }

  #callHook(name: HookName, call: () => unknown): void {
    const report = (err: unknown) => {
      this.#shared.hookFailures++;
      this.#logger.error({ err, hook: name }, "genlog hook failed");
    };
    try {
      const out = call();
      if (out instanceof Promise) out.catch(report);
    } catch (err) {
      report(err);
    }
  }

  async #entry(log: TenantLog, idOrSeq: string | number): Promise<StoredEntry> {
    const { ref, store } = log;
    const key = String(idOrSeq);
    let entry: StoredEntry | undefined;
    if (/^\d+$/.test(key)) entry = await store.getEntry(ref.logId, Number(key));
    else entry = (await store.findByIds(ref.logId, [key.toLowerCase()])).get(key.toLowerCase());
    if (entry === undefined) {
      // A seq inside a purged range: its record is gone by retention, not unknown.
      const seq = /^\d+$/.test(key) ? Number(key) : undefined;
      const purge =
        seq === undefined
          ? undefined
          : (await store.listPurges(ref.logId)).find((p) => seq >= p.fromSeq && seq < p.toSeq);
      throw new GenlogError(
        "GENLOG_E_NOT_FOUND",
        purge !== undefined
          ? `record ${key} of ${ref.origin} was purged (retention): only its leaf remains in the tree, which still proves the entries around it`
          : `no record ${key} in ${ref.origin}`,
        { details: { key, ...(purge !== undefined ? { purged: true } : {}) } },
      );
    }
    return entry;
  }

  /** The keys that signed a tenant's events log (see {@link TenantLog.keys}). */
  #keysOf(log: TenantLog): Promise<KeySchedule | undefined> {
    if (log.signer === undefined) return Promise.resolve(undefined);
    const keys = (log.keys ??= keyScheduleOf(log.store, log.ref, log.signer.verifierKey));
    keys.catch(() => (log.keys = undefined));
    return keys;
  }

  /**
   * The checkpoint at `size` (default: the latest), checked before any proof is built on
   * it: filed under the size it signs, for this log, and signed by the tenant's key when
   * this handle has it (a read-only handle without the key checks the rest; the recipient
   * of a proof checks the signature in any case, with `checkInclusionProof`).
   */
  async #checkpointAt(
    log: TenantLog,
    size: number | undefined,
  ): Promise<{ size: number; note: string; checkpoint: ParsedCheckpoint }> {
    const { ref } = log;
    const cp =
      size === undefined
        ? (await log.store.logState(ref.logId)).latest
        : await log.store.checkpointAt(ref.logId, size);
    if (cp === undefined) {
      throw new GenlogError(
        "GENLOG_E_NOT_FOUND",
        size === undefined
          ? `${ref.origin} has no checkpoint yet: append a record first`
          : `${ref.origin} has no checkpoint at size ${size}`,
        { details: { size } },
      );
    }
    let audit = auditCheckpoint(cp, await this.#keysOf(log), ref.origin);
    if (audit.kind === "forged" && log.keys !== undefined) {
      // Another process may have rotated the key since the schedule was read: read it again.
      log.keys = undefined;
      audit = auditCheckpoint(cp, await this.#keysOf(log), ref.origin);
    }
    if (audit.kind !== "valid") {
      throw new GenlogError(
        "GENLOG_E_INCONSISTENT",
        audit.kind === "forged"
          ? `the checkpoint of ${ref.origin} at size ${cp.size} does not verify (${audit.reason}); no proof is built on it: run \`genlog verify\``
          : `the checkpoint stored for size ${cp.size} of ${ref.origin} signs size ${audit.signedSize}; no proof is built on it: run \`genlog verify\``,
        { details: { origin: ref.origin, size: cp.size } },
      );
    }
    return { ...cp, checkpoint: audit.checkpoint };
  }

  #badHashes(ref: LogRef, cause: unknown, what: string): GenlogError {
    return new GenlogError(
      "GENLOG_E_INCONSISTENT",
      `the stored hashes of ${ref.origin} do not prove ${what} against its signed checkpoint; no proof is served: run \`genlog verify\``,
      { cause, details: { origin: ref.origin } },
    );
  }

  /**
   * The inclusion proof of a stored entry in the tree of a checked checkpoint. The leaf is
   * recomputed from the record, and the path checked against the signed root before it is
   * served: stored hashes that were altered fail here, not at the recipient.
   */
  async #prove(
    log: TenantLog,
    entry: StoredEntry,
    cp: { size: number; checkpoint: ParsedCheckpoint },
  ): Promise<{ leaf: Buffer; hashes: Buffer[] }> {
    const leaf = hashLeafText(entry.canonical);
    const hashes = await this.#assemble(log, planInclusionProof(entry.seq, cp.size));
    try {
      if (!leaf.equals(entry.leafHash)) throw new Error("the stored leaf hash differs");
      verifyInclusion(leaf, entry.seq, cp.size, hashes, cp.checkpoint.rootHash);
    } catch (cause) {
      throw this.#badHashes(log.ref, cause, `record ${entry.seq} at size ${cp.size}`);
    }
    return { leaf, hashes };
  }

  async #assemble(log: TenantLog, plan: ReturnType<typeof planInclusionProof>): Promise<Buffer[]> {
    const hashes = await readStoredNodes(log.store, log.ref, plan.nodes);
    // The store returns hashes in plan order, which assembleProof takes as is.
    return assembleProof(plan, hashes).map((h) => Buffer.from(h));
  }
}

/** Whether `note` carries a valid signature by the key of `verifierKey`. */
function signs(verifierKey: string, note: string): boolean {
  try {
    verifyNote(note, verifierKey);
    return true;
  } catch {
    return false;
  }
}

function base64(h: Uint8Array): string {
  return Buffer.from(h).toString("base64");
}

async function idle(log: TenantLog): Promise<void> {
  const writer = await log.writer?.catch(() => undefined);
  await writer?.idle();
}

/** Waits for both writers of a tenant, for close. */
async function idleAll(log: TenantLog): Promise<void> {
  await idle(log);
  const access = await log.accessWriter?.catch(() => undefined);
  await access?.idle();
}

/**
 * Hands a prepared record to its writer. A record that carried its subject's new row tells
 * the subjects once it is committed, so that later records stop carrying it.
 */
function appendPrepared(
  writer: LogWriter,
  pipeline: TenantPipeline,
  prepared: PreparedRecord,
  recordOnly: boolean,
): Promise<AppendResult | GenerationRecord> {
  const subject = prepared.newSubject;
  if (subject === undefined) {
    return recordOnly
      ? writer.appendRecord(prepared, prepared.clientId)
      : writer.append(prepared, prepared.clientId);
  }
  return writer.append(prepared, prepared.clientId).then((r) => {
    if (!r.duplicate) pipeline.protector.stored(subject.pseudonym);
    return recordOnly ? r.record : r;
  });
}

/**
 * The context of the local operator: whoever runs the library or the CLI on the data
 * directory (and so holds its keys) acts as superadmin, named by their OS account.
 */
export function localContext(via: "library" | "cli", purpose?: string): AccessContext {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env["USER"] ?? "unknown";
  }
  const principal = `local:${user.replace(/[^\x21-\x7e]/g, "_").slice(0, 100) || "unknown"}`;
  return {
    principal,
    role: "superadmin",
    scope: ALL_TENANTS,
    via,
    ...(purpose !== undefined ? { purpose } : {}),
  };
}

/** The tenant a query names (checked by the query itself), else the handle's. */
function queryTenant(options: QueryOptions, fallback: string): string {
  const t: unknown =
    typeof options === "object" && options !== null
      ? (options as { tenant?: unknown }).tenant
      : undefined;
  return typeof t === "string" ? t : fallback;
}

/** The filters of a query as the access log keeps them: a person's id is not written down. */
function queryTarget(options: QueryOptions): Record<string, unknown> {
  const target: Record<string, unknown> = {};
  if (typeof options !== "object" || options === null) return target;
  for (const key of ["type", "actor", "sector", "status", "since", "until", "limit", "cursor"]) {
    const v: unknown = (options as Record<string, unknown>)[key];
    if (typeof v === "string") target[key] = v.slice(0, 200);
    else if (typeof v === "number") target[key] = v;
  }
  if (options.user !== undefined) target["user"] = "(a subject id)";
  return target;
}

/** Who an erasure, export or hold names, as the access log keeps it: a pseudonym, never an id. */
function subjectTarget(options: {
  subject?: unknown;
  pseudonym?: unknown;
}): Record<string, unknown> {
  if (typeof options.pseudonym === "string") return { pseudonym: options.pseudonym.slice(0, 64) };
  if (options.subject !== undefined) return { subject: "(a subject id)" };
  return { scope: "tenant" };
}

/** Every record a log still holds, in log order, read a page at a time. */
async function* records(store: LogStore, ref: LogRef): AsyncIterable<GenerationRecord> {
  for await (const e of store.scanEntries(ref.logId))
    if (e.canonical !== null) yield parseStoredRecord(e.canonical, ref.origin, e.seq);
}

/** A report's time window, checked (inside the guard: a refusal comes before a bad value). */
function reportWindow(options: { since?: string; until?: string }): {
  since?: string;
  until?: string;
} {
  return {
    ...(options.since !== undefined ? { since: toUtc(options.since, "/since") } : {}),
    ...(options.until !== undefined ? { until: toUtc(options.until, "/until") } : {}),
  };
}

/** A report's window as the access log keeps it: the values given, shortened. */
function windowTarget(options: { since?: unknown; until?: unknown }): Record<string, unknown> {
  const target: Record<string, unknown> = {};
  for (const key of ["since", "until"] as const) {
    const v = options[key];
    if (v !== undefined) target[key] = String(v).slice(0, 40);
  }
  return target;
}

/** A page of query results, with the cursor of the next one when the page is full. */
function pageOf(rows: StoredEntry[], origin: string, limit: number): QueryPage {
  const last = rows[rows.length - 1];
  return {
    records: rows.map((r) => parseStoredRecord(r.canonical, origin, r.seq)),
    nextCursor: rows.length === limit && last !== undefined ? encodeCursor(last.seq) : null,
  };
}

/** A tree size given by the caller: a whole number from 0, or a named INVALID_INPUT. */
function checkTreeSize(size: unknown, name: string): void {
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw new GenlogError(
      "GENLOG_E_INVALID_INPUT",
      `${name}: expected a tree size (a whole number from 0), got ${describeValue(size)}`,
      { details: { pointer: `/${name}`, rule: "minimum" } },
    );
  }
}

/** Checks every query option before the store sees it: a wrong type is a named error. */
const QUERY_OPTIONS: ReadonlySet<string> = new Set([
  "tenant",
  "type",
  "actor",
  "user",
  "sector",
  "status",
  "since",
  "until",
  "limit",
  "cursor",
]);

function toQueryFilter(options: QueryOptions): QueryFilter {
  if (typeof options !== "object" || options === null) {
    throw queryError(
      "",
      "type",
      `query options: expected an object, got ${describeValue(options)}`,
    );
  }
  // A misspelt filter (`user` for `actor`) would otherwise return every record.
  for (const key of Object.keys(options)) {
    if (!QUERY_OPTIONS.has(key)) {
      throw queryError(
        `/${key}`,
        "additionalProperties",
        `${key}: not a query option (a misspelt filter would match everything); expected ${[...QUERY_OPTIONS].join(", ")}`,
      );
    }
  }
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw queryError(
      "/limit",
      "range",
      `limit: expected an integer 1..1000, got ${describeValue(limit)}`,
    );
  }
  const filter: QueryFilter = { limit };
  for (const field of ["type", "actor", "sector", "user"] as const) {
    const value: unknown = options[field];
    if (value === undefined) continue;
    if (typeof value !== "string") {
      throw queryError(
        `/${field}`,
        "type",
        `${field}: expected a string, got ${describeValue(value)}`,
      );
    }
    // `user` is resolved to pseudonyms by the caller; the store filters by `actor`.
    if (field !== "user") filter[field] = value;
  }
  if (options.user !== undefined && options.actor !== undefined) {
    throw queryError(
      "/user",
      "exclusive",
      "user: give either `user` (a person) or `actor` (a pseudonym), not both",
    );
  }
  if (options.status !== undefined) {
    if (!STATUSES.includes(options.status)) {
      throw queryError(
        "/status",
        "enum",
        `status: expected one of ${STATUSES.join(", ")}, got ${describeValue(options.status)}`,
      );
    }
    filter.status = options.status;
  }
  if (options.since !== undefined) filter.since = toUtc(options.since, "/since");
  if (options.until !== undefined) filter.until = toUtc(options.until, "/until");
  if (options.cursor !== undefined) filter.afterSeq = decodeCursor(options.cursor);
  return filter;
}

function queryError(pointer: string, rule: string, message: string): GenlogError {
  return new GenlogError("GENLOG_E_INVALID_INPUT", message, { details: { pointer, rule } });
}

/**
 * A time bound as the store compares it (RFC 3339 UTC with milliseconds). Only RFC 3339 is
 * taken, a date-time or a date (its midnight UTC): `Date.parse` would read "1" as 2001.
 */
function toUtc(value: unknown, pointer: string): string {
  const ms = typeof value === "string" ? rfc3339ToEpochMs(value) : undefined;
  if (ms === undefined) {
    throw queryError(
      pointer,
      "format",
      `${pointer.slice(1)}: expected an RFC 3339 date-time such as 2026-11-25T10:00:00Z or a date such as 2026-11-25, got ${describeValue(value)}`,
    );
  }
  return new Date(ms).toISOString();
}

function encodeCursor(seq: number): string {
  return Buffer.from(`s:${seq}`).toString("base64url");
}

function decodeCursor(cursor: unknown): number {
  const m =
    typeof cursor === "string" && cursor.length <= 64
      ? /^s:(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString())
      : null;
  if (m === null) {
    throw new GenlogError(
      "GENLOG_E_INVALID_INPUT",
      `cursor: expected a nextCursor returned by query, got ${describeValue(cursor)}`,
      {
        details: { pointer: "/cursor", rule: "format" },
      },
    );
  }
  return Number(m[1]);
}

/**
 * A directory option: an empty string would resolve to the working directory, where no one
 * means to put a database or a signing key.
 *
 * @throws {GenlogError} `GENLOG_E_USAGE` for an empty string.
 */
function pathOption(value: string | undefined, name: string): string | undefined {
  if (value === "") {
    throw new GenlogError("GENLOG_E_USAGE", `${name}: expected a directory path, got ""`, {
      details: { pointer: `/${name}`, rule: "minLength" },
    });
  }
  return value;
}

/** A directory from the environment; set but empty counts as unset. */
function envPath(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === "" ? undefined : value;
}

/** Creates a directory of genlog's (mode 0700), or says in one line why it cannot be. */
function makeDir(path: string, what: string): void {
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const notDir = code === "EEXIST" || code === "ENOTDIR";
    throw new GenlogError(
      "GENLOG_E_IO",
      notDir
        ? `cannot use ${path} as the ${what}: it or a parent of it is a file, not a directory`
        : `cannot create the ${what} ${path}: ${(cause as Error).message}`,
      { cause, details: { path, ...(code !== undefined ? { errno: code } : {}) } },
    );
  }
}

/** The `genlog init` command that creates what this handle looks for. */
function initCommand(dataDir: string, keysDir: string, tenant: string): string {
  const keys = keysDir === defaultKeysDir(dataDir) ? "" : ` --keys-dir ${keysDir}`;
  const other = tenant === DEFAULT_TENANT ? "" : ` --tenant ${tenant}`;
  return `genlog init --data-dir ${dataDir}${keys}${other}`;
}

/** Instance names start every origin and key name: no spaces, no `+` (C2SP signed-note). */
function assertInstance(instance: unknown): string {
  if (
    typeof instance !== "string" ||
    !/^[A-Za-z0-9][A-Za-z0-9._~:-]*(\/[A-Za-z0-9._~:-]+)*$/.test(instance) ||
    instance.length > 128
  ) {
    throw new GenlogError(
      "GENLOG_E_INVALID_INPUT",
      `instance: expected a host-like name such as "genlog.example.com" (letters, digits, . _ ~ : - and /), got ${describeValue(instance)}`,
      { details: { pointer: "/instance", rule: "pattern" } },
    );
  }
  return instance;
}

/**
 * A region name, checked at the edge: a slug, like a tenant's.
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` with pointer `/region`.
 */
function assertRegion(region: unknown): string {
  if (typeof region !== "string" || !new RegExp(SLUG_PATTERN).test(region)) {
    throw new GenlogError(
      "GENLOG_E_INVALID_INPUT",
      `/region: expected a string matching ${SLUG_PATTERN}, got ${describeValue(region)}`,
      { details: { pointer: "/region", rule: "pattern" } },
    );
  }
  return region;
}

/** Settings key (home database) set once a region tenant's log was made. */
function tenantLogMarker(tenant: string): string {
  return `tenant_log:${tenant}`;
}

/**
 * Where a follower being added would send the tenant's records, for its access record: the
 * `url` of its options when it has one (every built-in kind that leaves the machine does).
 */
function followerDestination(config: unknown): { destination?: string } {
  const url = (config as { url?: unknown } | null | undefined)?.url;
  return typeof url === "string" ? { destination: url.slice(0, 2048) } : {};
}

function noFollower(tenant: string, name: unknown): GenlogError {
  return new GenlogError(
    "GENLOG_E_NOT_FOUND",
    `tenant ${tenant} has no follower named ${String(name)} (genlog followers list)`,
    { details: { tenant, name: String(name) } },
  );
}
