/**
 * genlog: a verifiable, privacy-first ledger of code-generation events.
 *
 * @example
 * import { openLog } from "genlog";
 * const log = await openLog({ dataDir: "./genlog-data" });
 * await log.logGenerationEvent("backend", { user: "alice", meta: { stack: "Flask" } });
 */
import { openLog as openLogWith, type OpenLogOptions } from "./genlog.js";
import type { Genlog } from "./genlog.js";
import { BUILTIN_FOLLOWERS } from "./plugins/index.js";

/**
 * Opens (and by default creates) a genlog data directory, with the built-in kinds of follower
 * (`webhook`, `siem`, `file-sink`, `report`, `ipfs`) unless `followerKinds` says otherwise. See the options and errors of
 * {@link OpenLogOptions}.
 *
 * @example
 * const log = await openLog({ dataDir: "./genlog-data" });
 * const rec = await log.logGenerationEvent("backend", { user: "alice", meta: { stack: "Flask" } });
 * await log.close();
 */
export function openLog(options: OpenLogOptions = {}): Promise<Genlog> {
  return openLogWith({ followerKinds: BUILTIN_FOLLOWERS, ...options });
}

export {
  migrateDataDir,
  migrateToPostgres,
  type PostgresMigration,
  Genlog,
  DEFAULT_DATA_DIR,
  DEFAULT_INSTANCE,
  DEFAULT_TENANT,
  type OpenLogOptions,
  type GenerationFields,
  type GenerationEventInput,
  type QueryOptions,
  type QueryPage,
  type HookEvents,
  type GenlogStatus,
  type LogStatus,
  type EraseOptions,
  type ErasureResult,
  type HoldOptions,
  type LegalHold,
  type PurgeOptions,
  type PurgeResult,
  type Retention,
  type TenantInfo,
  type LastVerify,
  type TenantPolicies,
  type FollowerInfo,
  type FollowerSummary,
  type AddFollowerOptions,
} from "./genlog.js";
export {
  FollowerRunner,
  type FollowerKind,
  type Delivery,
  type DeliveryOutcome,
  type RetryOptions,
  type PassResult,
  type NetworkPolicy,
  type PeriodDelivery,
  type PeriodReports,
  type CarExport,
} from "./log/followers.js";
export * from "./plugins/index.js";
export {
  definePlugin,
  isCritical,
  PLUGIN_EVENTS,
  type Plugin,
  type PluginDefinition,
  type PluginContext,
  type PluginEvent,
  type PluginEventName,
  type RecordEvent,
  type CheckpointEvent,
  type CriticalRule,
  type StandardSchemaV1,
} from "./log/plugins.js";
export {
  loadConfig,
  CONFIG_FILES,
  type LoadedConfig,
  type ConfiguredFollower,
} from "./config-file.js";
export { localContext } from "./genlog.js";
export {
  ROLES,
  PERMISSIONS,
  ALL_TENANTS,
  authorize,
  type AccessContext,
  type Role,
  type Permission,
  type Decision,
} from "./core/access.js";
export {
  ACCESS_TYPE,
  type AccessReport,
  type AccessAnomaly,
  type PrincipalAccess,
} from "./log/access-log.js";
export type { GdprReport } from "./log/gdpr-report.js";
export type { GenerationReport, GenerationCounts } from "./log/generation-report.js";
export { SYSTEM_TYPES } from "./log/system-events.js";
export type { MasterKeyRotation } from "./log/tenant-keys.js";
export type { KeyInfo, KeyRotationResult } from "./log/key-rotation.js";
export type { KeyEpoch } from "./core/key-schedule.js";
export { checkCar, CAR_FORMAT, UNIXFS, type CarManifest, type CarCheck } from "./log/car-export.js";
export {
  checkArchive,
  ARCHIVE_FORMAT,
  type ArchiveManifest,
  type ArchiveCheck,
} from "./log/archive.js";
export {
  checkSubjectExport,
  SUBJECT_EXPORT_FORMAT,
  type SubjectExport,
  type SubjectExportItem,
  type SubjectExportCheck,
} from "./core/subject-export.js";
export { GenlogError, isGenlogError, ERROR_CODES, type ErrorCode } from "./errors.js";
export type { GenerationRecord, Artifact } from "./core/record.js";
export type { Revealed, RevealedRecord } from "./log/subjects.js";
export type { Envelope } from "./core/privacy/envelope.js";
export type { Redaction } from "./core/privacy/redactor.js";
export {
  validatePolicySet,
  PRESETS,
  POLICY_ACTIONS,
  type PolicyInput,
  type PolicySet,
  type PolicyAction,
  type PresetName,
} from "./core/privacy/policy.js";
export { PII_DETECTORS, EXTRA_SECRET_DETECTORS } from "./core/privacy/detectors.js";
export {
  GenerationEventSchema,
  generationEventJsonSchema,
  EVENT_LIMITS,
  type GenerationEvent,
} from "./core/event-schema.js";
export type { AppendResult } from "./log/writer.js";
export {
  verifyLog,
  type VerifyOptions,
  type VerifyReport,
  type VerifyProblem,
  type ProblemKind,
} from "./log/verify.js";
export { SqliteStore, type SqliteStoreOptions } from "./store/sqlite/sqlite-store.js";
export { PostgresStore, type PostgresStoreOptions } from "./store/postgres/postgres-store.js";
export type { CopyReport } from "./store/postgres/copy-from-sqlite.js";
export type {
  LogStore,
  LogRef,
  StoredEntry,
  StoredCheckpoint,
  QueryFilter,
} from "./store/log-store.js";
export { canonicalize } from "./core/jcs.js";
export { checkInclusionProof, type InclusionProof, type ConsistencyProof } from "./core/proofs.js";
export {
  hashLeaf,
  hashChildren,
  rootFromLeafHashes,
  verifyInclusion,
  verifyConsistency,
} from "./core/merkle.js";
export {
  formatCheckpoint,
  parseCheckpoint,
  type Checkpoint,
  type ParsedCheckpoint,
} from "./core/checkpoint.js";
export {
  parseSignedNote,
  verifyNote,
  formatVerifierKey,
  parseVerifierKey,
  formatSignedNote,
  ed25519KeyId,
  type NoteSignature,
} from "./core/signed-note.js";
export type { Signer } from "./keys/signer.js";
