/**
 * Signing keys on local disk: one Ed25519 key per tenant, PKCS#8 PEM, file mode 0600. A key
 * file readable by group or others is refused, because whoever holds the key can sign a
 * rewritten history (DESIGN.md §7).
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { GenlogError } from "../errors.js";
import { assertTenant } from "../core/event-schema.js";
import { ed25519RawPublicKey, formatVerifierKey, signNote } from "../core/signed-note.js";
import type { Signer } from "./signer.js";

/** Path of a tenant's key file in a data directory. */
export function keyPath(keysDir: string, tenant: string): string {
  // The tenant is a slug, so the path cannot leave the keys directory.
  return join(keysDir, `${assertTenant(tenant)}.ed25519.pem`);
}

/** The keys directory when none is configured: `keys/` inside the data directory. */
export function defaultKeysDir(dataDir: string): string {
  return join(dataDir, "keys");
}

/**
 * Creates a new Ed25519 key file with mode 0600; never overwrites one.
 *
 * @throws {GenlogError} `GENLOG_E_ALREADY_INITIALIZED` when the file exists.
 */
export function createKeyFile(path: string): void {
  const { privateKey } = generateKeyPairSync("ed25519");
  const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  writeNewSecretFile(path, pem, "signing key");
}

/**
 * Writes a new file of key material with mode 0600 (its directory 0700); never overwrites
 * one. The content is written to a temporary file, synced, then linked into place, so a
 * crash or a concurrent reader never sees an empty or partial key, and of two racing
 * creators exactly one wins.
 *
 * @throws {GenlogError} `GENLOG_E_ALREADY_INITIALIZED` when the file exists; `GENLOG_E_KEY`
 * when it cannot be written.
 */
export function writeNewSecretFile(path: string, content: string, what: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(path)) {
    throw new GenlogError(
      "GENLOG_E_ALREADY_INITIALIZED",
      `${what} ${path} already exists; kept it`,
    );
  }
  const temp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const fd = openSync(temp, "wx", 0o600);
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // link() fails if the target exists: of two racing creators exactly one wins.
    linkSync(temp, path);
    syncDirectory(dir);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "EEXIST") {
      throw new GenlogError(
        "GENLOG_E_ALREADY_INITIALIZED",
        `${what} ${path} already exists; kept it`,
        {
          cause,
        },
      );
    }
    throw new GenlogError("GENLOG_E_KEY", `cannot create ${what} ${path}: ${String(cause)}`, {
      cause,
    });
  } finally {
    rmSync(temp, { force: true });
  }
}

/**
 * Reads a file of key material, refusing one that group or others can read.
 *
 * @throws {GenlogError} `GENLOG_E_NOT_INITIALIZED` when missing, `GENLOG_E_KEY` when unsafe.
 */
export function readSecretFile(path: string, what: string): Buffer {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (cause) {
    throw new GenlogError(
      "GENLOG_E_NOT_INITIALIZED",
      `no ${what} at ${path}: run \`genlog init\``,
      {
        cause,
      },
    );
  }
  if (process.platform !== "win32" && (mode & 0o077) !== 0) {
    throw new GenlogError(
      "GENLOG_E_KEY",
      `${what} ${path} has mode ${(mode & 0o777).toString(8)}, expected 600: run \`chmod 600 ${path}\``,
    );
  }
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new GenlogError("GENLOG_E_KEY", `cannot read ${what} ${path}: ${String(cause)}`, {
      cause,
    });
  }
}

/**
 * Puts the key file `from` in the place of `to` in one step (rename), replacing the key
 * there, and makes that durable. Both must be in the same file system (one keys directory).
 *
 * @throws {GenlogError} `GENLOG_E_CONFLICT` when `from` is gone (another process moved it
 *   first); `GENLOG_E_KEY` when it cannot be moved or is not a usable key.
 */
export function replaceKeyFile(from: string, to: string): void {
  if (!existsSync(from)) {
    throw new GenlogError(
      "GENLOG_E_CONFLICT",
      `the new key ${from} is gone: another process finished this rotation first (\`genlog key\` shows the key in use)`,
    );
  }
  readKeyFile(from); // never put an unusable or too open file in place
  try {
    renameSync(from, to);
  } catch (cause) {
    throw new GenlogError(
      "GENLOG_E_KEY",
      `cannot move the new key ${from} to ${to}: ${(cause as Error).message}`,
      { cause },
    );
  }
  syncDirectory(dirname(to));
  syncDirectory(dirname(from));
}

/** Makes a rename or link in `dir` durable. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a private key file, refusing one that others can read.
 *
 * @throws {GenlogError} `GENLOG_E_NOT_INITIALIZED` when missing, `GENLOG_E_KEY` when unsafe or malformed.
 */
export function readKeyFile(path: string): KeyObject {
  const pem = readSecretFile(path, "signing key");
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== "ed25519") {
      throw new Error(`expected an ed25519 key, got ${key.asymmetricKeyType ?? "unknown"}`);
    }
    return key;
  } catch (cause) {
    throw new GenlogError(
      "GENLOG_E_KEY",
      `signing key ${path} is not a PKCS#8 Ed25519 PEM: ${String(cause)}`,
      {
        cause,
      },
    );
  }
}

/** A signer whose key is at hand (a key file): it signs at once. */
export interface FileSigner extends Signer {
  sign(body: string): string;
}

/** A {@link Signer} over an Ed25519 private key. */
export function ed25519Signer(name: string, privateKey: KeyObject): FileSigner {
  const verifierKey = formatVerifierKey(name, ed25519RawPublicKey(privateKey));
  return { name, verifierKey, sign: (body: string) => signNote(body, name, privateKey) };
}
