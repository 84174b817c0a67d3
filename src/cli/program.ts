/**
 * The `genlog` command. Exit statuses are a contract other tools rely on:
 * 0 success, 1 verification failed, 2 bad usage or input, 3 the environment failed
 * (storage, I/O). Errors are one line on stderr, `genlog: <message> [<code>]`, or with
 * `--json` one JSON object `{code, message, details}`; data goes to stdout.
 */
import { Command, CommanderError, Option } from "commander";
import { GenlogError, type ErrorCode } from "../errors.js";
import type { Bind, GlobalOptions } from "./context.js";
import { defineDemoCommand } from "./demo-command.js";
import { defineLogCommand } from "./log-command.js";
import { defineProofCommands } from "./proof-commands.js";
import { defineReadCommands } from "./read-commands.js";
import { defineSetupCommands } from "./setup-commands.js";
import { defineReportCommands, defineSubjectCommands } from "./subject-commands.js";
import { defineRetentionCommands } from "./retention-commands.js";
import { defineTenantCommands } from "./tenant-commands.js";
import {
  describeErrno,
  escapeForTerminal,
  escapeJsonForTerminal,
  isReaderGone,
} from "./terminal.js";
import { defineVerifyCommand } from "./verify-command.js";
import { packageVersion } from "../version.js";
import { defineTokenCommands } from "./token-commands.js";
import { defineFollowerCommands } from "./follower-commands.js";
import { defineServeCommand } from "./serve-command.js";

const USAGE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "GENLOG_E_INVALID_INPUT",
  "GENLOG_E_USAGE",
  "GENLOG_E_CONFIG",
  "GENLOG_E_NOT_FOUND",
  "GENLOG_E_NOT_INITIALIZED",
  "GENLOG_E_ALREADY_INITIALIZED",
  "GENLOG_E_KEY",
  "GENLOG_E_MALFORMED_NOTE",
  "GENLOG_E_ID_REUSED",
  "GENLOG_E_HELD",
  "GENLOG_E_EXISTS",
  "GENLOG_E_UNAUTHENTICATED",
  "GENLOG_E_FORBIDDEN",
]);
const VERIFY_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "GENLOG_E_BAD_SIGNATURE",
  "GENLOG_E_BAD_PROOF",
  "GENLOG_E_INCONSISTENT",
]);

/** The exit status for an error code. */
export function exitStatusFor(code: ErrorCode): number {
  if (USAGE_CODES.has(code)) return 2;
  if (VERIFY_CODES.has(code)) return 1;
  return 3;
}

/** Shown at the end of every help text. */
export const EXIT_STATUS_HELP = `
Exit statuses:
  0  success (for verify: the log is intact)
  1  verification failed: tampering, a bad signature or proof, a changed verifier key
  2  bad usage or input: unknown option, invalid value, nothing found, not initialised
  3  the environment failed: storage, files, disk full, permissions, unexpected errors

Errors are one line on stderr, "genlog: <message> [<code>]", or with --json one JSON
object {"code", "message", "details"}. Codes: docs/reference/errors.md.`;

/** The program with every command; `bind` turns a command's behaviour into its action. */
export function buildProgram(bind: Bind, options: { quiet?: boolean } = {}): Command {
  const program = new Command("genlog")
    .description("A verifiable, privacy-first ledger of code-generation events.")
    .version(packageVersion())
    .addOption(
      new Option("--data-dir <dir>", "data directory: the database, and keys/ unless --keys-dir")
        .env("GENLOG_DATA_DIR")
        .default("./genlog-data"),
    )
    .addOption(
      new Option(
        "--keys-dir <dir>",
        "directory of the signing keys (default: DATA_DIR/keys); keep it apart from the database",
      ).env("GENLOG_KEYS_DIR"),
    )
    .addOption(
      new Option(
        "--database-url <url>",
        "a PostgreSQL database for the logs instead of DATA_DIR/genlog.db (postgres://user:password@host:port/database); keys and follower files stay in DATA_DIR",
      ).env("GENLOG_DATABASE_URL"),
    )
    .addOption(
      new Option(
        "--policy <file>",
        "privacy policies, JSON: a default and one per tenant (docs/guides/privacy.md); default: the strict preset",
      ).env("GENLOG_POLICY_FILE"),
    )
    .addOption(
      new Option(
        "--config <file>",
        "plugins and critical rules, genlog.config.json or .mjs (docs/guides/plugins.md), read by serve and followers run; default: one of those in the current directory",
      ).env("GENLOG_CONFIG"),
    )
    .option("--tenant <tenant>", "tenant whose log is used", "default")
    .addOption(
      new Option(
        "--url <url>",
        "call this genlog server instead of opening a data directory (remote mode)",
      ).env("GENLOG_URL"),
    )
    .addOption(
      new Option(
        "--token <token>",
        "the API token or JWT of remote mode (prefer GENLOG_TOKEN: a flag shows in ps)",
      ).env("GENLOG_TOKEN"),
    )
    .addOption(
      new Option(
        "--purpose <text>",
        "why you access the log (recorded with what you erase, export or administer)",
      ).env("GENLOG_PURPOSE"),
    )
    .option("--json", "machine-readable output on stdout, and errors as JSON on stderr", false)
    .showHelpAfterError(false)
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      // Errors are printed by `main`, in the one format of the program.
      outputError: () => undefined,
      writeErr: (s) => {
        if (options.quiet !== true) process.stderr.write(s);
      },
    });

  defineSetupCommands(program, bind);
  defineLogCommand(program, bind);
  defineReadCommands(program, bind);
  defineProofCommands(program, bind);
  defineVerifyCommand(program, bind);
  defineSubjectCommands(program, bind);
  defineReportCommands(program, bind);
  defineRetentionCommands(program, bind);
  defineTenantCommands(program, bind);
  defineTokenCommands(program, bind);
  defineFollowerCommands(program, bind);
  defineServeCommand(program, bind);
  defineDemoCommand(program, bind);

  const addExitStatuses = (cmd: Command): void => {
    cmd.addHelpText("after", EXIT_STATUS_HELP);
    cmd.commands.forEach(addExitStatuses);
  };
  addExitStatuses(program);
  return program;
}

/** True when `--json` is among the options (before a `--` that ends them). */
function asksForJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes("--json");
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit status. */
/** Environment variables that name a directory; an empty one counts as unset. */
const PATH_VARIABLES = ["GENLOG_DATA_DIR", "GENLOG_KEYS_DIR"] as const;

export async function main(argv: string[]): Promise<number> {
  const json = asksForJson(argv);
  // `GENLOG_KEYS_DIR=` is unset, not "the current directory" (where a key would land).
  for (const name of PATH_VARIABLES) if (process.env[name] === "") delete process.env[name];
  let status = 0;
  const bind: Bind =
    (run) =>
    async (...args: unknown[]) => {
      // commander passes the declared arguments, then the command's options, then the command.
      const cmd = args[args.length - 1] as Command;
      const positional = args.slice(0, -2).map(String);
      status = await run(positional, cmd.optsWithGlobals() as GlobalOptions, cmd);
    };
  // With --json, stderr carries only the JSON error object, not commander's help.
  const program = buildProgram(bind, { quiet: json });
  try {
    await program.parseAsync(argv, { from: "user" });
    return status;
  } catch (e) {
    return reportFailure(e, json);
  }
}

/** Prints a failure in the program's one format and returns its exit status. */
function reportFailure(e: unknown, json: boolean): number {
  if (e instanceof CommanderError) {
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.exitCode === 0)
      return 0;
    return printError(usageError(e), json);
  }
  const error = toGenlogError(e);
  if (error === undefined) {
    // Not one of ours: a bug. Still one line, and the environment's status, not "tampered".
    const message = `unexpected failure: ${e instanceof Error ? e.message : String(e)}`;
    if (json) writeJsonError({ code: null, message, details: {} });
    else process.stderr.write(`genlog: ${escapeForTerminal(message)}\n`);
    return 3;
  }
  // A reader that went away (`genlog export | head`) is not a failure of ours.
  if (isReaderGone(error)) return 0;
  return printError(error, json);
}

function printError(error: GenlogError, json: boolean): number {
  if (json) writeJsonError(error.toJSON());
  else process.stderr.write(`genlog: ${escapeForTerminal(error.message)} [${error.code}]\n`);
  return exitStatusFor(error.code);
}

function writeJsonError(error: { code: string | null; message: string; details: object }): void {
  process.stderr.write(`${escapeJsonForTerminal(JSON.stringify(error))}\n`);
}

/** A commander parse error as `GENLOG_E_USAGE`, on one line. */
function usageError(e: CommanderError): GenlogError {
  const message =
    e.code === "commander.help"
      ? "expected a command: see genlog --help"
      : e.message.replace(/^error: /, "").replace(/\s*\n\s*/g, " ");
  return new GenlogError("GENLOG_E_USAGE", message, { details: { reason: e.code } });
}

/**
 * A GenlogError, or a system error (disk, permissions) turned into `GENLOG_E_IO`; undefined
 * for anything else.
 */
function toGenlogError(e: unknown): GenlogError | undefined {
  if (e instanceof GenlogError) return e;
  const errno = e as NodeJS.ErrnoException;
  if (e instanceof Error && typeof errno.code === "string" && typeof errno.syscall === "string") {
    const path = typeof errno.path === "string" ? ` ${errno.path}` : "";
    return new GenlogError(
      "GENLOG_E_IO",
      `${errno.syscall}${path} failed: ${describeErrno(errno.code)} (${errno.code})`,
      { cause: e, details: { errno: errno.code, ...(path !== "" ? { path: errno.path } : {}) } },
    );
  }
  return undefined;
}
