/**
 * What every command shares: the global options, and how a command opens the data directory.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { localContext, openLog, type Genlog } from "../genlog.js";
import { BUILTIN_FOLLOWERS } from "../plugins/index.js";
import { loadConfig, type LoadedConfig } from "../config-file.js";
import { say } from "./terminal.js";
import { GenlogError, isGenlogError } from "../errors.js";
import type { PolicySet } from "../core/privacy/policy.js";
import { readBounded } from "./read-input.js";
import { RemoteLog, type CliLog } from "./remote-log.js";

/** Options every command accepts (commander's `optsWithGlobals`, plus the command's own). */
export interface GlobalOptions {
  dataDir: string;
  keysDir?: string;
  tenant: string;
  json: boolean;
  [option: string]: unknown;
}

/** One command: its positional arguments and options in, its exit status out. */
export type CommandRun = (args: string[], o: GlobalOptions, command: Command) => Promise<number>;

/**
 * How a command file hands its behaviour to the program: `bind(run)` is the commander action
 * that calls `run` with the positional arguments and every option, global ones included.
 */
export type Bind = (run: CommandRun) => (...args: unknown[]) => Promise<void>;

/**
 * Where the keys and the database are, beside the data directory, as `openLog` options:
 * `--keys-dir` (`GENLOG_KEYS_DIR`) and `--database-url` (`GENLOG_DATABASE_URL`), when given.
 */
export function storeOptions(o: GlobalOptions): { keysDir?: string; databaseUrl?: string } {
  const url = o["databaseUrl"];
  return {
    ...(typeof o.keysDir === "string" ? { keysDir: resolve(o.keysDir) } : {}),
    ...(typeof url === "string" && url !== "" ? { databaseUrl: url } : {}),
  };
}

/** A policy file is a few rules per tenant; past 1 MiB it is not one. */
const MAX_POLICY_FILE_BYTES = 1024 * 1024;

/**
 * `--policy FILE` (or `GENLOG_POLICY_FILE`) as an `openLog` option, when given: the JSON
 * file is read here and validated by `openLog`, before anything is opened.
 *
 * @throws {GenlogError} `GENLOG_E_USAGE` for a file that cannot be read; `GENLOG_E_CONFIG`
 * for one that is not JSON.
 */
export async function policyOption(o: GlobalOptions): Promise<{ policies?: PolicySet }> {
  if (typeof o.policy !== "string") return {};
  const text = await readBounded(o.policy, MAX_POLICY_FILE_BYTES, "--policy");
  try {
    return { policies: JSON.parse(text) as PolicySet };
  } catch {
    // The parser's message quotes the text, which may hold anything: not repeated.
    throw new GenlogError("GENLOG_E_CONFIG", `--policy ${o.policy}: not JSON`, {
      details: { pointer: "" },
    });
  }
}

/**
 * Opens the log for a command that only reads: the server at `--url`, else the data
 * directory, read-only. It then needs no signing key and changes no file, so an auditor can
 * run it on a copy of genlog.db that they may not write.
 */
export function openForReading(o: GlobalOptions): Promise<CliLog> {
  return remote(o) ?? openLocalForReading(o);
}

/** The data directory, read-only, for a command that has no remote form. */
export function openLocalForReading(o: GlobalOptions): Promise<Genlog> {
  localOnly(o);
  return openLog({
    dataDir: o.dataDir,
    tenant: o.tenant,
    ...storeOptions(o),
    readOnly: true,
    followerKinds: BUILTIN_FOLLOWERS,
    // Records nothing, but a tenant that requires a purpose still wants one.
    context: cliContext(o),
  });
}

/**
 * Opens the log for a command that writes (appends, or records what it does as a system
 * event): the server at `--url`, else the data directory, whose tenant must exist and where
 * the policy file applies.
 */
export function openForWriting(o: GlobalOptions): Promise<CliLog> {
  return remote(o) ?? openLocalForWriting(o);
}

/** The server of `--url` (with `--token`), or undefined without one. */
function remote(o: GlobalOptions): Promise<CliLog> | undefined {
  const url = stringOption(o, "url");
  if (url === undefined) return undefined;
  const token = stringOption(o, "token");
  if (token === undefined) {
    return Promise.reject(
      new GenlogError("GENLOG_E_USAGE", "--url needs a token: --token or GENLOG_TOKEN"),
    );
  }
  const purpose = stringOption(o, "purpose");
  return RemoteLog.open({
    url,
    token,
    tenant: o.tenant,
    ...(purpose !== undefined ? { purpose } : {}),
  });
}

/** Refuses `--url` for a command that works on a data directory only. */
export function localOnly(o: GlobalOptions): void {
  if (stringOption(o, "url") !== undefined) {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      "this command works on a data directory, not over HTTP: run it without --url (and GENLOG_URL)",
    );
  }
}

/**
 * The data directory, for a command that writes and has no remote form; with `plugins`, the
 * configuration file's plugins too (`serve`, `followers run`: the commands that run them).
 */
export async function openLocalForWriting(
  o: GlobalOptions,
  { plugins = false }: { plugins?: boolean } = {},
): Promise<Genlog> {
  localOnly(o);
  const config = plugins ? await loadConfig(stringOption(o, "config")) : undefined;
  const log = await openLog({
    dataDir: o.dataDir,
    tenant: o.tenant,
    ...storeOptions(o),
    ...(await policyOption(o)),
    create: false,
    followerKinds: BUILTIN_FOLLOWERS,
    ...(config !== undefined ? { plugins: config.plugins, critical: config.critical } : {}),
    context: cliContext(o),
  }).catch((e: unknown) => {
    // A plugin's options or a critical rule that openLog refused: named in the file.
    if (!isGenlogError(e, "GENLOG_E_CONFIG") || config?.path === undefined) throw e;
    const pointer = e.details?.["pointer"];
    if (typeof pointer !== "string") throw e;
    const message = e.message.replace(/^plugins\[\d+\]: /, "");
    throw new GenlogError("GENLOG_E_CONFIG", `${config.path}${pointer}: ${message}`, {
      cause: e,
      details: { ...e.details, file: config.path },
    });
  });
  try {
    if (config !== undefined) await addConfiguredFollowers(log, config);
  } catch (e) {
    await log.close();
    throw e;
  }
  return log;
}

/**
 * The configuration file's followers: each added when its tenant has none of that name; one
 * that exists and differs is left running as it is, and said so.
 *
 * @throws {GenlogError} `GENLOG_E_CONFIG` naming the file and the field.
 */
async function addConfiguredFollowers(log: Genlog, config: LoadedConfig): Promise<void> {
  for (const [i, f] of config.followers.entries()) {
    const pointer = `/followers/${i}`;
    const fail = (where: string, message: string, cause?: unknown) =>
      new GenlogError("GENLOG_E_CONFIG", `${config.path}${where}: ${message}`, {
        ...(cause !== undefined ? { cause } : {}),
        details: { file: config.path, pointer: where },
      });
    let secret: string | undefined;
    if (f.secretEnv !== undefined) {
      secret = process.env[f.secretEnv];
      if (secret === undefined || secret === "") {
        throw fail(`${pointer}/secretEnv`, `${f.secretEnv} is not set: the follower's secret`);
      }
    }
    const tenant = f.tenant ?? log.tenant;
    let r: Awaited<ReturnType<Genlog["ensureFollower"]>>;
    try {
      r = await log.ensureFollower({
        tenant,
        name: f.name,
        kind: f.kind,
        config: f.config ?? {},
        ...(secret !== undefined ? { secret } : {}),
        fromStart: f.fromStart === true,
      });
    } catch (e) {
      if (!isGenlogError(e, "GENLOG_E_INVALID_INPUT") && !isGenlogError(e, "GENLOG_E_NOT_FOUND")) {
        throw e;
      }
      const inner = String(e.details?.["pointer"] ?? "");
      throw fail(`${pointer}${inner}`, e.message.replace(/^\/\S*: /, ""), e);
    }
    if (r.status === "added") {
      say(`genlog: added follower ${f.name} of tenant ${tenant}, as ${config.path} says`);
    } else if (r.status === "differs") {
      say(
        `genlog: follower ${f.name} of tenant ${tenant} is not as ${config.path} says (kind or options): it runs as it is; \`genlog followers remove ${f.name} --tenant ${tenant}\`, then start again, to apply the file's`,
      );
    }
  }
}

/**
 * The request context of a local command: the OS account that runs it, as superadmin (it
 * holds the data directory and its keys), with `--purpose`. What it erases, exports or
 * administers is recorded in the tenant's access log under it; a read-only open records
 * nothing (see docs/guides/access-control.md).
 */
export function cliContext(o: GlobalOptions) {
  return localContext("cli", stringOption(o, "purpose"));
}

/** Runs `use` on a handle and closes it, whatever happens. */
export async function withLog<L extends CliLog, T>(
  opening: Promise<L>,
  use: (log: L) => Promise<T>,
) {
  const log = await opening;
  try {
    return await use(log);
  } finally {
    await log.close();
  }
}

/** A string option's value, or undefined. */
export function stringOption(o: GlobalOptions, name: string): string | undefined {
  const v = o[name];
  return typeof v === "string" ? v : undefined;
}
