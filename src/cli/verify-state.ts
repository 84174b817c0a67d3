/**
 * The state of `genlog verify --state DIR`, a verification that runs unattended (cron). Per
 * tenant, DIR keeps two files:
 *
 * - `<tenant>.verifier.key`: the verifier key pinned on first use. Every later run checks
 *   signatures with it, so a replaced signing key is found instead of trusted.
 * - `<tenant>.checkpoint`: the latest checkpoint verified, the `--trusted` checkpoint of the
 *   next run, so that a rollback or a rewritten history is found.
 *
 * Nothing is written unless verification passed. A missing or unusable DIR is a setup
 * failure (exit 2 or 3), never exit 1, which means the log itself failed.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, open, rename, stat, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { GenlogError, isGenlogError } from "../errors.js";
import { parseCheckpoint } from "../core/checkpoint.js";
import { parseSignedNote, parseVerifierKey, verifyNote } from "../core/signed-note.js";
import type { Genlog } from "../genlog.js";
import type { VerifyReport } from "../log/verify.js";
import { MAX_NOTE_BYTES, readBounded } from "./read-input.js";
import { describeErrno } from "./terminal.js";

/** What a run verifies with, decided from the state directory before verifying. */
export interface VerifyPlan {
  verifierKey: string;
  /** The checkpoint saved by the last successful run, if any. */
  trusted: string | undefined;
  /** True when no key was pinned yet: this run pins `verifierKey` if it passes. */
  firstUse: boolean;
  /**
   * The key the keys dir holds when it is not the pinned one: the log must then show a
   * rotation chain from the pinned key to it, or the run fails.
   */
  keysDirKey?: string;
}

/** What {@link VerifyState.save} wrote, for the report. */
export interface SavedState {
  dir: string;
  verifierKey: string;
  firstUse: boolean;
  /** The key pinned before this run, when the run followed a key rotation away from it. */
  rotatedFrom?: string;
  /** Size of the checkpoint saved for the next run; null for a log without checkpoints. */
  savedSize: number | null;
}

/** A state directory of `verify --state`. */
export class VerifyState {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * Checks that DIR exists and that this account can read and write it. It is not created:
   * a mistyped path would otherwise pin a key afresh on every run and check nothing.
   */
  static async open(dir: string): Promise<VerifyState> {
    const path = resolve(dir);
    let isDir: boolean;
    try {
      isDir = (await stat(path)).isDirectory();
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? "";
      if (code === "ENOENT" || code === "ENOTDIR") {
        throw new GenlogError(
          "GENLOG_E_USAGE",
          `--state: ${path} does not exist; create it once (mkdir -m 700 ${path}): it keeps the pinned verifier key and the last verified checkpoint`,
          { cause, details: { path } },
        );
      }
      throw stateIoError(cause, `cannot use ${path}`, path);
    }
    if (!isDir) {
      throw new GenlogError(
        "GENLOG_E_USAGE",
        `--state: expected a directory, got the file ${path}`,
        {
          details: { path },
        },
      );
    }
    try {
      await access(path, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (cause) {
      throw stateIoError(cause, `this account cannot read and write ${path}`, path);
    }
    return new VerifyState(path);
  }

  keyFile(tenant: string): string {
    return join(this.dir, `${tenant}.verifier.key`);
  }

  checkpointFile(tenant: string): string {
    return join(this.dir, `${tenant}.checkpoint`);
  }

  /**
   * The key and trusted checkpoint of this run.
   *
   * @throws {GenlogError} `GENLOG_E_BAD_SIGNATURE` when the key given with `--verifier-key` is
   *   not the pinned key (the keys dir's may differ: {@link save} then needs a rotation chain);
   *   `GENLOG_E_USAGE` when the state belongs to another log; `GENLOG_E_NOT_INITIALIZED` on
   *   first use without a key to pin.
   */
  async plan(log: Genlog, givenKey: string | undefined): Promise<VerifyPlan> {
    const tenant = log.tenant;
    const keyFile = this.keyFile(tenant);
    const pinned = await this.#read(keyFile);
    const expectedName = `${log.instance}/${tenant}`;
    let verifierKey: string;
    if (pinned !== undefined) {
      verifierKey = firstLine(pinned);
      this.#checkKeyName(verifierKey, expectedName, keyFile);
      if (givenKey !== undefined && givenKey !== verifierKey) {
        throw keyChanged(keyFile, verifierKey, givenKey, "--verifier-key gives");
      }
      const current = await log.verifierKey().catch((e: unknown) => {
        // An auditor's copy has no key: the signatures alone will tell.
        if (isGenlogError(e, "GENLOG_E_NOT_INITIALIZED")) return undefined;
        throw e;
      });
      if (current !== undefined && current !== verifierKey) {
        // A rotation recorded in the log leads there, or {@link save} refuses it.
        return {
          verifierKey,
          trusted: await this.#trusted(log, tenant),
          firstUse: false,
          keysDirKey: current,
        };
      }
    } else {
      if (givenKey !== undefined) verifierKey = givenKey;
      else {
        try {
          verifierKey = await log.verifierKey();
        } catch (e) {
          if (!isGenlogError(e, "GENLOG_E_NOT_INITIALIZED")) throw e;
          throw new GenlogError(
            "GENLOG_E_NOT_INITIALIZED",
            `--state: no verifier key is pinned in ${this.dir} yet and ${log.dataDir} has none: pass the key its operator published with --verifier-key on the first run`,
            { cause: e },
          );
        }
      }
      this.#checkKeyName(verifierKey, expectedName, "--verifier-key");
    }
    return {
      verifierKey,
      trusted: await this.#trusted(log, tenant),
      firstUse: pinned === undefined,
    };
  }

  async #trusted(log: Genlog, tenant: string): Promise<string | undefined> {
    const checkpointFile = this.checkpointFile(tenant);
    const trusted = await this.#read(checkpointFile);
    if (trusted !== undefined) assertCheckpointOf(trusted, log.origin(), checkpointFile);
    return trusted;
  }

  /**
   * Whether the keys dir's key, when it is not the pinned one, is where the log's rotations
   * lead from it; throws the "key changed" error when it is not (the key was replaced without
   * a rotation recorded in the log).
   */
  checkKeysDir(report: VerifyReport, plan: VerifyPlan, tenant: string): void {
    if (plan.keysDirKey === undefined) return;
    if (report.keys?.at(-1)?.verifierKey === plan.keysDirKey) return;
    throw keyChanged(this.keyFile(tenant), plan.verifierKey, plan.keysDirKey, "the keys dir holds");
  }

  /**
   * After a passing run: saves the checkpoint that was verified (checked again with the
   * pinned key, so only what was verified is ever trusted next time) and, on first use, pins
   * the key. Each file is replaced whole (temporary file, then rename).
   */
  async save(log: Genlog, report: VerifyReport, plan: VerifyPlan): Promise<SavedState> {
    let savedSize: number | null = null;
    // After a rotation the verified checkpoint is the latest key's, and that key is pinned
    // next: the log's own signed rotation records led there from the pinned one.
    const key = report.keys?.at(-1)?.verifierKey ?? plan.verifierKey;
    if (report.verifiedSize > 0) {
      const note = await log.checkpointAt(report.verifiedSize);
      const cp = parseCheckpoint(verifyNote(note, key));
      if (
        cp.size !== report.verifiedSize ||
        Buffer.from(cp.rootHash).toString("base64") !== report.root
      ) {
        throw new GenlogError(
          "GENLOG_E_INCONSISTENT",
          `the checkpoint at size ${report.verifiedSize} changed during verification; nothing was saved, run again`,
        );
      }
      await this.#write(this.checkpointFile(log.tenant), note);
      savedSize = cp.size;
    }
    const rotated = key !== plan.verifierKey;
    if (plan.firstUse || rotated) await this.#write(this.keyFile(log.tenant), `${key}\n`);
    return {
      dir: this.dir,
      verifierKey: key,
      firstUse: plan.firstUse,
      ...(rotated ? { rotatedFrom: plan.verifierKey } : {}),
      savedSize,
    };
  }

  #checkKeyName(key: string, expected: string, where: string): void {
    const name = parseVerifierKey(key).name;
    if (name !== expected) {
      throw new GenlogError(
        "GENLOG_E_USAGE",
        `${where} is the verifier key of ${name}, not of this log (${expected}): ${where === "--verifier-key" ? `pass the key published for ${expected}` : "use one --state directory per data directory"}`,
        { details: { expected, actual: name } },
      );
    }
  }

  /** A state file's text, or undefined when there is none yet. */
  async #read(path: string): Promise<string | undefined> {
    try {
      await stat(path);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw stateIoError(cause, `cannot read ${path}`, path);
    }
    try {
      return await readBounded(path, MAX_NOTE_BYTES, "--state");
    } catch (e) {
      // A state file that cannot be read is a broken setup, whatever the reason.
      if (isGenlogError(e, "GENLOG_E_USAGE")) {
        throw new GenlogError("GENLOG_E_IO", e.message, { cause: e, details: e.details });
      }
      throw e;
    }
  }

  async #write(path: string, text: string): Promise<void> {
    const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      const file = await open(temp, "wx", 0o600);
      try {
        await file.writeFile(text);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, path);
    } catch (cause) {
      await unlink(temp).catch(() => undefined);
      throw stateIoError(cause, `the log verified, but ${path} could not be written`, path);
    }
  }
}

/** The first line of a key file, trimmed (a key file may end with a newline or CRLF). */
export function firstLine(text: string): string {
  return text.split("\n")[0]!.trim();
}

/**
 * Checks that a trusted checkpoint names this log. Another tenant's checkpoint is signed by
 * another key, so the signature check would call it forged (exit 1); it is a wrong argument.
 *
 * @throws {GenlogError} `GENLOG_E_USAGE`; `GENLOG_E_MALFORMED_NOTE` for a text that is no
 *   checkpoint at all.
 */
export function assertCheckpointOf(note: string, origin: string, where: string): void {
  const cp = parseCheckpoint(parseSignedNote(note).body);
  if (cp.origin !== origin) {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      `${where} is a checkpoint of ${cp.origin}, not of ${origin}: pass a checkpoint of this log (or the --tenant it belongs to)`,
      { details: { expected: origin, actual: cp.origin } },
    );
  }
}

function keyChanged(keyFile: string, pinned: string, other: string, source: string): GenlogError {
  return new GenlogError(
    "GENLOG_E_BAD_SIGNATURE",
    `the verifier key changed: ${keyFile} pinned ${pinned} on first use, but ${source} ${other}. If the signing key was replaced on purpose, confirm the new key with whoever publishes it, then delete ${keyFile} to pin it`,
    { details: { pinned, found: other, keyFile } },
  );
}

function stateIoError(cause: unknown, what: string, path: string): GenlogError {
  const code = (cause as NodeJS.ErrnoException).code ?? "";
  return new GenlogError(
    "GENLOG_E_IO",
    `--state: ${what}: ${describeErrno(code)}${code === "" ? "" : ` (${code})`}`,
    { cause, details: { path, ...(code === "" ? {} : { errno: code }) } },
  );
}
