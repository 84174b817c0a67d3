/**
 * Opens the key store of a data directory: the master key from `GENLOG_MASTER_KEY` or the
 * keys directory, checked against the id the database recorded when it was first used. A
 * master key is created only when there is none anywhere (no variable, no file, no id
 * recorded): a new key for a database that used another would make every value hashed
 * under the old one stop joining, silently.
 */
import { existsSync, renameSync, rmSync } from "node:fs";
import { GenlogError } from "../errors.js";
import { randomBytes } from "node:crypto";
import {
  MASTER_KEY_ENV,
  MASTER_KEY_ID_SETTING,
  MasterKey,
  describeSource,
  loadMasterKey,
  masterKeyPath,
  newMasterKeyText,
  parseMasterKey,
  purposeKey,
} from "../keys/master-key.js";
import { readSecretFile, syncDirectory, writeNewSecretFile } from "../keys/file-keys.js";
import type { KeyPurpose, KeyStore } from "../keys/key-store.js";
import type { LogStore } from "../store/log-store.js";

/** Options of {@link openKeyStore}. */
export interface OpenKeyStoreOptions {
  store: LogStore;
  keysDir: string;
  instance: string;
  /** For messages. */
  dataDir: string;
  /** A read-only handle: never creates a key nor records its id. */
  readOnly?: boolean;
}

/**
 * The data directory's key store.
 *
 * @throws {GenlogError} `GENLOG_E_NOT_INITIALIZED` when the database recorded a master key
 * that is not there; `GENLOG_E_KEY` when the key there is another one, or unusable;
 * `GENLOG_E_CONFIG` for a malformed `GENLOG_MASTER_KEY`.
 */
export async function openKeyStore(options: OpenKeyStoreOptions): Promise<KeyStore> {
  const { store, keysDir } = options;
  const recorded = await store.getSetting(MASTER_KEY_ID_SETTING);
  const fromEnv = (process.env[MASTER_KEY_ENV] ?? "") !== "";
  if (recorded !== undefined && !fromEnv && !options.readOnly) {
    finishRotation(keysDir, recorded, options.instance);
  }
  if (recorded !== undefined && !fromEnv && !existsSync(masterKeyPath(keysDir))) {
    throw new GenlogError(
      "GENLOG_E_NOT_INITIALIZED",
      `no master key at ${masterKeyPath(keysDir)}, and ${options.dataDir} was used with master key ${recorded}: restore that key file, point --keys-dir (or GENLOG_KEYS_DIR) at the directory that holds it, or set ${MASTER_KEY_ENV}; a new key would not match what was hashed with the old one`,
      { details: { expectedKey: recorded, keysDir } },
    );
  }
  const readOnly = options.readOnly === true;
  const { key, source } = loadMasterKey(keysDir, recorded === undefined && !readOnly);
  const master = new MasterKey(key, options.instance);
  key.fill(0);
  const keyStore = new StoredTenantKeys(master, store, readOnly);
  const inForce = readOnly
    ? (recorded ?? keyStore.keyId)
    : await store.initSetting(MASTER_KEY_ID_SETTING, keyStore.keyId);
  if (inForce !== keyStore.keyId && source.kind === "file") {
    // A rotation stopped before its rename, seen by a read-only handle (which renames
    // nothing): the key the database uses is the one beside the file.
    const next = nextMasterKeyPath(keysDir);
    if (existsSync(next)) {
      const bytes = parseMasterKey(
        readSecretFile(next, "master key").toString("utf8"),
        `master key ${next}`,
        "GENLOG_E_KEY",
      );
      const nextMaster = new MasterKey(bytes, options.instance);
      bytes.fill(0);
      if (nextMaster.keyId === inForce) return new StoredTenantKeys(nextMaster, store, readOnly);
    }
  }
  if (inForce !== keyStore.keyId) {
    throw new GenlogError(
      "GENLOG_E_KEY",
      `the master key in ${describeSource(source)} (id ${keyStore.keyId}) is not the one ${options.dataDir} was used with (id ${inForce}): use that key`,
      { details: { expected: inForce, actual: keyStore.keyId } },
    );
  }
  return keyStore;
}

/**
 * Each tenant's keys: a random tenant key, created at the tenant's first use and stored
 * wrapped under the master key, from which each purpose's key is derived.
 */
class StoredTenantKeys implements KeyStore {
  readonly master: MasterKey;
  readonly #store: LogStore;
  readonly #readOnly: boolean;
  readonly #tenants = new Map<string, Promise<Buffer>>();

  constructor(master: MasterKey, store: LogStore, readOnly: boolean) {
    this.master = master;
    this.#store = store;
    this.#readOnly = readOnly;
  }

  get keyId(): string {
    return this.master.keyId;
  }

  async tenantKey(tenant: string, purpose: KeyPurpose): Promise<Uint8Array> {
    let key = this.#tenants.get(tenant);
    if (key === undefined) {
      key = this.#load(tenant);
      this.#tenants.set(tenant, key);
      key.catch(() => this.#tenants.delete(tenant));
    }
    return purposeKey(await key, purpose);
  }

  async #load(tenant: string): Promise<Buffer> {
    let wrapped = await this.#store.getTenantKey(tenant);
    if (wrapped === undefined) {
      if (this.#readOnly) {
        throw new GenlogError(
          "GENLOG_E_NOT_FOUND",
          `tenant ${tenant} has no key yet: nothing of it was ever encrypted`,
          { details: { tenant } },
        );
      }
      const fresh = randomBytes(32);
      // Another process may create it first: the one stored is the one used.
      wrapped = await this.#store.initTenantKey(
        tenant,
        this.master.wrap(tenant, fresh),
        this.master.keyId,
      );
      fresh.fill(0);
    }
    return this.master.unwrap(tenant, wrapped);
  }
}

/** Where a rotation keeps the new master key until the database uses it. */
export function nextMasterKeyPath(keysDir: string): string {
  return `${masterKeyPath(keysDir)}.next`;
}

/**
 * Completes a rotation that stopped between its commit and the renaming of the key file:
 * the database already uses the key in `master.key.next`.
 */
function finishRotation(keysDir: string, recorded: string, instance: string): void {
  const next = nextMasterKeyPath(keysDir);
  if (!existsSync(next)) return;
  const key = parseMasterKey(
    readSecretFile(next, "master key").toString("utf8"),
    `master key ${next}`,
    "GENLOG_E_KEY",
  );
  const id = new MasterKey(key, instance).keyId;
  key.fill(0);
  if (id === recorded) {
    renameSync(next, masterKeyPath(keysDir));
    syncDirectory(keysDir);
  }
}

/** What {@link rotateMasterKey} did. */
export interface MasterKeyRotation {
  /** Ids of the old and new master keys. */
  from: string;
  to: string;
  /** Tenant keys re-wrapped. */
  tenants: number;
  /** Where the new key is: the key file, or (for GENLOG_MASTER_KEY) nowhere but the caller's hands. */
  keyFile: string | null;
}

/**
 * Rotates the master key: every tenant key is re-wrapped under the new one and the database
 * records the new id, in one transaction; nothing committed changes (records, envelopes,
 * pseudonyms, lookups, keyed hashes), because every key below the tenant keys stays the same.
 * With a key file, the new key is written beside it first (`master.key.next`, synced) and
 * renamed over it once the database uses it, so that a crash at any point leaves a key that
 * opens the data (the next open finishes an interrupted rename). With `GENLOG_MASTER_KEY`,
 * `newKey` (base64 of 32 bytes) is required and the caller must put it in the variable.
 *
 * @throws {GenlogError} `GENLOG_E_USAGE` for `GENLOG_MASTER_KEY` without `newKey`, or a
 * `newKey` that is the current key; `GENLOG_E_CONFIG` for a malformed `newKey`;
 * `GENLOG_E_CONFLICT` when a tenant was added meanwhile (nothing changed, run it again).
 */
export async function rotateMasterKey(
  options: OpenKeyStoreOptions & { newKey?: string },
): Promise<MasterKeyRotation> {
  const { store, keysDir, instance } = options;
  const current = await openKeyStore(options);
  const fromEnv = (process.env[MASTER_KEY_ENV] ?? "") !== "";
  if (fromEnv && options.newKey === undefined) {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      `the master key comes from ${MASTER_KEY_ENV}: give the new one (base64 of 32 bytes, e.g. \`openssl rand -base64 32\`) in GENLOG_NEW_MASTER_KEY, then put it in ${MASTER_KEY_ENV}`,
    );
  }
  const text = options.newKey ?? newMasterKeyText();
  const newBytes = parseMasterKey(text, "the new master key", "GENLOG_E_CONFIG");
  const next = new MasterKey(newBytes, instance);
  newBytes.fill(0);
  if (next.keyId === current.keyId) {
    throw new GenlogError("GENLOG_E_USAGE", "the new master key is the current one");
  }
  const old = (current as StoredTenantKeys).master;
  const nextPath = nextMasterKeyPath(keysDir);
  if (!fromEnv) {
    rmSync(nextPath, { force: true }); // a rotation that never committed left it
    writeNewSecretFile(nextPath, `${text}\n`, "new master key");
  }
  const rewrapped = new Map<string, Uint8Array>();
  for (const [tenant, wrapped] of await store.listTenantKeys()) {
    const key = old.unwrap(tenant, wrapped);
    rewrapped.set(tenant, next.wrap(tenant, key));
    key.fill(0);
  }
  try {
    await store.rewrapTenantKeys({ keyId: old.keyId }, { keyId: next.keyId }, rewrapped);
  } catch (e) {
    if (!fromEnv) rmSync(nextPath, { force: true });
    throw e;
  }
  if (!fromEnv) {
    renameSync(nextPath, masterKeyPath(keysDir));
    syncDirectory(keysDir);
  }
  return {
    from: old.keyId,
    to: next.keyId,
    tenants: rewrapped.size,
    keyFile: fromEnv ? null : masterKeyPath(keysDir),
  };
}
