/**
 * Opens the key store of a data directory: the master key from `GENLOG_MASTER_KEY` or the
 * keys directory, checked against the id the database recorded when it was first used. A
 * master key is created only when there is none anywhere (no variable, no file, no id
 * recorded): a new key for a database that used another would make every value hashed
 * under the old one stop joining, silently.
 */
import { existsSync } from "node:fs";
import { GenlogError } from "../errors.js";
import {
  MASTER_KEY_ENV,
  MASTER_KEY_ID_SETTING,
  MasterKeyStore,
  describeSource,
  loadMasterKey,
  masterKeyPath,
} from "../keys/master-key.js";
import type { KeyStore } from "../keys/key-store.js";
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
  if (recorded !== undefined && !fromEnv && !existsSync(masterKeyPath(keysDir))) {
    throw new GenlogError(
      "GENLOG_E_NOT_INITIALIZED",
      `no master key at ${masterKeyPath(keysDir)}, and ${options.dataDir} was used with master key ${recorded}: restore that key file, point --keys-dir (or GENLOG_KEYS_DIR) at the directory that holds it, or set ${MASTER_KEY_ENV}; a new key would not match what was hashed with the old one`,
      { details: { expectedKey: recorded, keysDir } },
    );
  }
  const readOnly = options.readOnly === true;
  const { key, source } = loadMasterKey(keysDir, recorded === undefined && !readOnly);
  const keyStore = new MasterKeyStore(key, options.instance);
  key.fill(0);
  const inForce = readOnly
    ? (recorded ?? keyStore.keyId)
    : await store.initSetting(MASTER_KEY_ID_SETTING, keyStore.keyId);
  if (inForce !== keyStore.keyId) {
    throw new GenlogError(
      "GENLOG_E_KEY",
      `the master key in ${describeSource(source)} (id ${keyStore.keyId}) is not the one ${options.dataDir} was used with (id ${inForce}): use that key`,
      { details: { expected: inForce, actual: keyStore.keyId } },
    );
  }
  return keyStore;
}
