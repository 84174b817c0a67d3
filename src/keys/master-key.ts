/**
 * The master key: 32 random bytes that wrap every tenant's key, read from `GENLOG_MASTER_KEY` (base64) or from `master.key` in the keys directory
 * (created by `genlog init`, mode 0600, beside the signing keys).
 *
 * The database records the key's id the first time it is used, so that a data directory
 * never silently gets a new master key: values hashed under the old one would stop joining,
 * and (once envelopes land) its subjects' data would be lost. A missing or different key is
 * refused with the id expected.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { GenlogError } from "../errors.js";
import { assertTenant } from "../core/event-schema.js";
import type { KeyPurpose } from "./key-store.js";
import { readSecretFile, writeNewSecretFile } from "./file-keys.js";

/** File name of the master key in the keys directory. */
export const MASTER_KEY_FILE = "master.key";
/** The environment variable that holds the master key (base64 of 32 bytes) instead of a file. */
export const MASTER_KEY_ENV = "GENLOG_MASTER_KEY";
/** Settings key of the master key's id, recorded at first use. */
export const MASTER_KEY_ID_SETTING = "master_key_id";

/** Where a master key came from, for messages. */
export type MasterKeySource = { kind: "env" } | { kind: "file"; path: string };

/**
 * The master key held in memory. It encrypts nothing but the tenants' keys: each tenant has
 * a random key of its own, stored wrapped under a key-encryption key derived from the master
 * key (AES-256-GCM, the instance and tenant as additional data). Rotating the master key
 * re-wraps those few rows; every key below them, and everything committed, stays the same.
 */
export class MasterKey {
  readonly keyId: string;
  readonly #kek: Buffer;
  readonly #instance: string;

  constructor(master: Uint8Array, instance: string) {
    if (master.length !== 32) throw new Error("a master key is 32 bytes");
    const m = Buffer.from(master);
    this.keyId = derive(m, "genlog/v1/key-id").subarray(0, 8).toString("hex");
    this.#kek = derive(m, `genlog/v1/tenant-kek/${instance}`);
    m.fill(0);
    this.#instance = instance;
  }

  /** A tenant key wrapped for storage: IV (12 bytes), ciphertext, tag (16 bytes). */
  wrap(tenant: string, tenantKey: Uint8Array): Buffer {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", this.#kek, iv);
    c.setAAD(this.#aad(tenant));
    return Buffer.concat([iv, c.update(tenantKey), c.final(), c.getAuthTag()]);
  }

  /**
   * A tenant key from its wrapped form.
   *
   * @throws {GenlogError} `GENLOG_E_KEY` when it was wrapped under another master key, or
   * changed.
   */
  unwrap(tenant: string, wrapped: Uint8Array): Buffer {
    try {
      const w = Buffer.from(wrapped);
      if (w.length !== 12 + 32 + 16) throw new Error("not a wrapped key");
      const d = createDecipheriv("aes-256-gcm", this.#kek, w.subarray(0, 12));
      d.setAAD(this.#aad(tenant));
      d.setAuthTag(w.subarray(w.length - 16));
      return Buffer.concat([d.update(w.subarray(12, w.length - 16)), d.final()]);
    } catch (cause) {
      throw new GenlogError(
        "GENLOG_E_KEY",
        `the key of tenant ${tenant} does not open with master key ${this.keyId}: it was wrapped under another master key, or changed`,
        { cause, details: { tenant, masterKeyId: this.keyId } },
      );
    }
  }

  #aad(tenant: string): Buffer {
    return Buffer.from(`genlog/v1/tenant-key\u0000${this.#instance}\u0000${assertTenant(tenant)}`);
  }
}

/** A tenant's key for `purpose`, derived from the tenant key (HKDF-SHA-256). */
export function purposeKey(tenantKey: Uint8Array, purpose: KeyPurpose): Buffer {
  return derive(Buffer.from(tenantKey), `genlog/v1/${purpose}`);
}

/** A new master key, base64, as the key file and `GENLOG_MASTER_KEY` hold it. */
export function newMasterKeyText(): string {
  return randomBytes(32).toString("base64");
}

function derive(master: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync("sha256", master, Buffer.alloc(0), info, 32));
}

/** Path of the master key file in a keys directory. */
export function masterKeyPath(keysDir: string): string {
  return join(keysDir, MASTER_KEY_FILE);
}

/**
 * Reads the master key: from `GENLOG_MASTER_KEY` when set, else from the keys directory,
 * creating the file when `create` is true and there is none. Returns the key and where it
 * came from.
 *
 * @throws {GenlogError} `GENLOG_E_CONFIG` for a `GENLOG_MASTER_KEY` that is not base64 of
 * 32 bytes; `GENLOG_E_KEY` for a file that is unsafe or malformed; `GENLOG_E_NOT_INITIALIZED`
 * when there is no key and `create` is false.
 */
export function loadMasterKey(
  keysDir: string,
  create: boolean,
): { key: Buffer; source: MasterKeySource } {
  const env = process.env[MASTER_KEY_ENV];
  if (env !== undefined && env !== "") {
    return {
      key: parseMasterKey(env, `${MASTER_KEY_ENV}`, "GENLOG_E_CONFIG"),
      source: { kind: "env" },
    };
  }
  const path = masterKeyPath(keysDir);
  if (create && !existsSync(path)) {
    try {
      writeNewSecretFile(path, `${newMasterKeyText()}\n`, "master key");
    } catch (e) {
      // Another process created it first: read theirs.
      if (!(e instanceof GenlogError && e.code === "GENLOG_E_ALREADY_INITIALIZED")) throw e;
    }
  }
  const text = readSecretFile(path, "master key").toString("utf8");
  return {
    key: parseMasterKey(text, `master key ${path}`, "GENLOG_E_KEY"),
    source: { kind: "file", path },
  };
}

/**
 * Checks `GENLOG_MASTER_KEY` when it is set, before anything is created: a malformed one must
 * leave no file behind.
 *
 * @throws {GenlogError} `GENLOG_E_CONFIG`.
 */
export function checkMasterKeyEnv(): void {
  const env = process.env[MASTER_KEY_ENV];
  if (env !== undefined && env !== "")
    parseMasterKey(env, MASTER_KEY_ENV, "GENLOG_E_CONFIG").fill(0);
}

/** True when the master key comes from `GENLOG_MASTER_KEY` rather than a file. */
export function masterKeyFromEnv(): boolean {
  return (process.env[MASTER_KEY_ENV] ?? "") !== "";
}

export function parseMasterKey(
  text: string,
  what: string,
  code: "GENLOG_E_CONFIG" | "GENLOG_E_KEY",
): Buffer {
  const b64 = text.trim();
  const key = /^[A-Za-z0-9+/]{43}=$/.test(b64) ? Buffer.from(b64, "base64") : undefined;
  if (key === undefined || key.length !== 32) {
    throw new GenlogError(
      code,
      `${what}: expected the base64 of 32 bytes (44 characters, such as \`openssl rand -base64 32\` prints)`,
    );
  }
  return key;
}

/** Says where a master key came from, for messages. */
export function describeSource(source: MasterKeySource): string {
  return source.kind === "env" ? MASTER_KEY_ENV : source.path;
}
