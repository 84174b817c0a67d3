/**
 * The `genlog` command. Exit statuses are a contract other tools rely on:
 * 0 success, 1 verification failed, 2 bad usage or input, 3 the environment failed
 * (storage, I/O). Errors are one line on stderr; `--json` puts machine output on stdout.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { GenlogError, type ErrorCode } from "../errors.js";
import { runCommand, type GlobalOptions } from "./commands.js";

const USAGE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "GENLOG_E_INVALID_INPUT",
  "GENLOG_E_USAGE",
  "GENLOG_E_NOT_FOUND",
  "GENLOG_E_NOT_INITIALIZED",
  "GENLOG_E_ALREADY_INITIALIZED",
  "GENLOG_E_KEY",
  "GENLOG_E_MALFORMED_NOTE",
  "GENLOG_E_ID_REUSED",
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

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function buildProgram(
  run: (name: string, args: unknown[], cmd: Command) => Promise<void>,
): Command {
  const program = new Command("genlog")
    .description("A verifiable, privacy-first ledger of code-generation events.")
    .version(packageVersion())
    .addOption(
      new Option("--data-dir <dir>", "data directory")
        .env("GENLOG_DATA_DIR")
        .default("./genlog-data"),
    )
    .addOption(
      new Option("--keys-dir <dir>", "directory of the signing keys (default: DATA_DIR/keys)").env(
        "GENLOG_KEYS_DIR",
      ),
    )
    .option("--tenant <tenant>", "tenant", "default")
    .option("--json", "machine-readable output", false)
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  const action =
    (name: string) =>
    async (...args: unknown[]) =>
      run(name, args.slice(0, -1), args[args.length - 1] as Command);

  program
    .command("init")
    .description("create the data directory, database and signing key; print the verifier key")
    .option("--instance <name>", "instance name used in log origins (default: genlog.local)")
    .action(action("init"));

  program
    .command("log")
    .description("append one generation event and print the stored record")
    .argument("<type>", "kind of generation, e.g. backend, frontend, assets, model")
    .option("--user <user>", "who asked for the generation")
    .option("--sector <sector>", "business sector, e.g. health")
    .option("--status <status>", "started | succeeded | failed")
    .option("--meta <key=value>", "metadata entry (repeatable)", collect, [])
    .option("--meta-json <json>", "metadata as a JSON object")
    .option(
      "--artifact <file>",
      "file produced by the generation; its SHA-256 is recorded (repeatable)",
      collect,
      [],
    )
    .option("--occurred-at <time>", "client time of the generation (RFC 3339)")
    .option("--id <uuid>", "idempotency key: a retry with the same id returns the first record")
    .action(action("log"));

  program
    .command("query")
    .description("list records in log order, filtered")
    .option("--type <type>")
    .option("--user <user>")
    .option("--sector <sector>")
    .option("--status <status>")
    .option("--since <iso>", "records at or after this time")
    .option("--until <iso>", "records before this time")
    .option("--limit <n>", "page size (1..1000)", "100")
    .option("--cursor <cursor>", "continue after a previous page")
    .action(action("query"));

  program
    .command("checkpoint")
    .description("print the latest signed checkpoint, or the one issued at --size")
    .option("--size <n>", "tree size of the checkpoint (default: latest)")
    .action(action("checkpoint"));
  program.command("key").description("print the verifier key line").action(action("key"));

  const proof = program.command("proof").description("inclusion and consistency proofs (RFC 9162)");
  proof
    .command("inclusion")
    .argument("<id-or-seq>", "record id (UUID) or seq")
    .option("--size <n>", "tree size of the checkpoint to prove against (default: latest)")
    .action(action("proof-inclusion"));
  proof
    .command("consistency")
    .requiredOption("--from <m>", "older tree size")
    .option("--to <n>", "newer tree size (default: latest)")
    .action(action("proof-consistency"));

  program
    .command("verify")
    .description("recompute every leaf, root and signature; exit 1 if anything is wrong")
    .option("--trusted <file>", "a signed checkpoint you trust; the log must extend it")
    .option(
      "--verifier-key <key|file>",
      "check signatures with this verifier key (or the key in this file) instead of the key in the data directory",
    )
    .action(action("verify"));

  program
    .command("export")
    .description("every record exactly as committed, in log order")
    .option("--format <format>", "ndjson", "ndjson")
    .option("--out <file>", "write to a file instead of stdout")
    .action(action("export"));

  program
    .command("demo")
    .description("log a few sample generations, verify the log and prove one record")
    .action(action("demo"));

  return program;
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  let status = 0;
  const program = buildProgram(async (name, args, cmd) => {
    const globals = cmd.optsWithGlobals() as GlobalOptions;
    status = await runCommand(name, args, globals);
  });
  try {
    await program.parseAsync(argv, { from: "user" });
    return status;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === "commander.helpDisplayed" ||
        e.code === "commander.version" ||
        e.exitCode === 0
      )
        return 0;
      return 2; // commander already printed its one-line error
    }
    if (e instanceof GenlogError) {
      process.stderr.write(`genlog: ${e.message} [${e.code}]\n`);
      return exitStatusFor(e.code);
    }
    process.stderr.write(
      `genlog: unexpected failure: ${e instanceof Error ? e.message : String(e)}\n`,
    );
    return 3;
  }
}
