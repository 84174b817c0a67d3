/**
 * A tenant's signer, loaded so that a log never gets a new key by accident. A key is created
 * only for a tenant that has none anywhere: not in the keys directory, not recorded in the
 * database, not named by a checkpoint. A missing key file, or one that is not the key the
 * log expects, is refused with where the key was looked for and which key that is, because
 * a new key would make every checkpoint already published unverifiable.
 *
 * The database records each tenant's verifier key (and the keys directory it was created
 * in) when the key is first used, so that the expected key is known before the first
 * checkpoint. That record only says which key to look for; it is never a trust anchor:
 * `verify` trusts the key file or the key its caller pins, never the database.
 */
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { GenlogError } from "../errors.js";
import { parseSignedNote } from "../core/signed-note.js";
import { createKeyFile, ed25519Signer, keyPath, readKeyFile } from "../keys/file-keys.js";
import type { Signer } from "../keys/signer.js";
import type { LogRef, LogStore } from "../store/log-store.js";

/** Settings key of the verifier key recorded for a tenant. */
export function verifierKeySetting(tenant: string): string {
  return `verifier_key:${tenant}`;
}

/** Settings key of the keys directory a tenant's key was created in (a hint for messages). */
export function keysDirSetting(tenant: string): string {
  return `keys_dir:${tenant}`;
}

/** Options of {@link openTenantSigner}. */
export interface TenantSignerOptions {
  store: LogStore;
  /** Instance name; the key name is `<instance>/<tenant>`. */
  instance: string;
  tenant: string;
  /** The keys directory in use. */
  keysDir: string;
  /** The tenant's events log, when it exists. */
  ref: LogRef | undefined;
  /** Create the key when the tenant has none anywhere. */
  create: boolean;
  /** A signer kept outside the keys directory (a KMS): used instead of the key file. */
  external?: Signer;
}

/** The key a tenant's log expects, and how genlog knows. */
interface ExpectedKey {
  /**
   * `<name>+<8 hex key id>` of each key that signed the latest checkpoint (two at a key
   * rotation: the old and the new), or undefined when it cannot be read.
   */
  ids: string[] | undefined;
  /** The whole verifier key line, when recorded. */
  verifierKey: string | undefined;
  /** Why this key: e.g. `it signed the latest checkpoint of <origin> (size 20)`. */
  because: string;
  /** The keys directory the key was created in, when recorded. */
  createdIn: string | undefined;
  /** The size of the latest checkpoint, when the key is known from it. */
  checkpointSize: number | undefined;
}

/**
 * The tenant's signer: its key file, created when the tenant has no key anywhere and
 * `create` is true. Records the verifier key in the database on first use. Returns
 * undefined when there is no key and none may be created.
 *
 * @throws {GenlogError} `GENLOG_E_NOT_INITIALIZED` when the log expects a key (its
 *   checkpoints or the recorded verifier key name one) and the keys directory has no key file
 *   for the tenant: like a missing database, a path to check, and the message says which
 *   key and where; `GENLOG_E_KEY` when the key file is another key, unreadable or unsafe.
 */
export async function openTenantSigner(o: TenantSignerOptions): Promise<Signer | undefined> {
  const name = `${o.instance}/${o.tenant}`;
  const path =
    o.external === undefined ? keyPath(o.keysDir, o.tenant) : "given to openLog (signer)";
  const recorded = await o.store.getSetting(verifierKeySetting(o.tenant));
  const expected = await expectedKey(o, name, recorded);
  if (o.external === undefined && !existsSync(path)) {
    if (expected !== undefined) throw missingKey(o, path, expected);
    if (!o.create) return undefined;
    try {
      createKeyFile(path);
    } catch (e) {
      // Another process created it first: use theirs.
      if (!(e instanceof GenlogError && e.code === "GENLOG_E_ALREADY_INITIALIZED")) throw e;
    }
  }
  const signer = o.external ?? ed25519Signer(name, readKeyFile(path));
  const found = keyIdOf(signer.verifierKey);
  if (expected !== undefined) {
    // A checkpoint names its signer by key id; without one, the recorded line says it all.
    // A checkpoint that names no key is left to the writer and `verify` to report.
    const matches =
      expected.checkpointSize === undefined
        ? expected.verifierKey === signer.verifierKey
        : expected.ids === undefined || expected.ids.includes(found);
    if (!matches) throw otherKey(o, path, expected, found);
  }
  if (recorded === undefined) {
    // First use of this key for the tenant (or a database from before the record existed).
    // Of two processes that created different keys at once, the first record wins.
    const inForce = await o.store.initSetting(verifierKeySetting(o.tenant), signer.verifierKey);
    if (inForce !== signer.verifierKey) {
      const recorded: ExpectedKey = {
        ids: [keyIdOf(inForce)],
        verifierKey: inForce,
        because: "another process recorded it for this tenant just now",
        createdIn: await o.store.getSetting(keysDirSetting(o.tenant)),
        checkpointSize: undefined,
      };
      throw otherKey(o, path, recorded, found);
    }
    await o.store.initSetting(keysDirSetting(o.tenant), o.keysDir);
  }
  return signer;
}

/**
 * The key the tenant's log expects: the signer of its latest checkpoint, else the verifier
 * key recorded when the key was created; undefined for a tenant that never had a key.
 */
async function expectedKey(
  o: TenantSignerOptions,
  name: string,
  verifierKey: string | undefined,
): Promise<ExpectedKey | undefined> {
  const createdIn = await o.store.getSetting(keysDirSetting(o.tenant));
  const latest = o.ref === undefined ? undefined : (await o.store.logState(o.ref.logId)).latest;
  if (latest !== undefined) {
    const because = `it signed the latest checkpoint of ${o.ref!.origin} (size ${latest.size})`;
    let ids: string[] | undefined;
    try {
      ids = parseSignedNote(latest.note)
        .signatures.filter((s) => s.name === name)
        .map((s) => `${s.name}+${s.keyId.toString(16).padStart(8, "0")}`);
      if (ids.length === 0) ids = undefined;
    } catch {
      // A note that does not parse names no key; the writer and `verify` report it.
    }
    // The recorded line is shown only when it is a key that signed.
    const line =
      verifierKey !== undefined && ids?.includes(keyIdOf(verifierKey)) === true
        ? verifierKey
        : undefined;
    return { ids, verifierKey: line, because, createdIn, checkpointSize: latest.size };
  }
  if (verifierKey === undefined) return undefined;
  return {
    ids: [keyIdOf(verifierKey)],
    verifierKey,
    because: `it was recorded for tenant "${o.tenant}" when its key was created (the log has no checkpoint yet)`,
    createdIn,
    checkpointSize: undefined,
  };
}

/** `<name>+<hex id>`: the first two fields of a verifier key line. */
function keyIdOf(verifierKey: string): string {
  return verifierKey.split("+").slice(0, 2).join("+");
}

/** How to point genlog at the right keys directory, in words. */
function howToPoint(o: TenantSignerOptions, path: string, expected: ExpectedKey): string {
  const file = basename(path);
  const where =
    expected.createdIn !== undefined && expected.createdIn !== o.keysDir
      ? ` The key was created in ${expected.createdIn}.`
      : "";
  return `${where} Point genlog at the directory that holds ${file}: --keys-dir DIR or GENLOG_KEYS_DIR=DIR (openLog({ keysDir })), or restore the file from a backup.`;
}

function describeExpected(expected: ExpectedKey): string {
  return expected.ids === undefined
    ? `the key that signed it (its latest checkpoint, size ${expected.checkpointSize}, cannot be read: run \`genlog verify\`)`
    : `key ${expected.ids.join(" or ")} (${expected.because})`;
}

function missingKey(o: TenantSignerOptions, path: string, expected: ExpectedKey): GenlogError {
  return new GenlogError(
    "GENLOG_E_NOT_INITIALIZED",
    `no signing key for tenant "${o.tenant}" in ${o.keysDir}: expected ${path} to hold ${describeExpected(expected)}, got no file. A new key was not created: it could not continue this log, whose checkpoints and published verifier key name the old one.${howToPoint(o, path, expected)}`,
    { details: keyDetails(o, path, expected, undefined) },
  );
}

function otherKey(
  o: TenantSignerOptions,
  path: string,
  expected: ExpectedKey,
  found: string,
): GenlogError {
  return new GenlogError(
    "GENLOG_E_KEY",
    `the signing key ${path} is not the key of tenant "${o.tenant}": expected ${describeExpected(expected)}, got key ${found}.${howToPoint(o, path, expected)} If no key was replaced, the log may have been re-signed by someone else: run \`genlog verify\` with the verifier key you published.`,
    { details: keyDetails(o, path, expected, found) },
  );
}

function keyDetails(
  o: TenantSignerOptions,
  path: string,
  expected: ExpectedKey,
  found: string | undefined,
): Record<string, unknown> {
  return {
    tenant: o.tenant,
    keysDir: o.keysDir,
    keyPath: path,
    expectedKey: expected.ids?.join(" ") ?? null,
    ...(expected.verifierKey !== undefined ? { expectedVerifierKey: expected.verifierKey } : {}),
    ...(expected.createdIn !== undefined ? { createdIn: expected.createdIn } : {}),
    ...(found !== undefined ? { foundKey: found } : {}),
  };
}
