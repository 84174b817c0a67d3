/**
 * Runs the built `genlog` command (`dist/cli/main.js`, made by `npm run build`) in a child
 * process, the way a user would, and collects its exit status and output.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { storeEnv } from "./store-under-test.js";

/** Root of the repository. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The built CLI entry point. */
export const CLI_PATH = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

/** What one run of the CLI did. */
export interface CliResult {
  /** Exit status, or null when killed by a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment for child processes: no data or keys dir, no test-runner context. */
export function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.GENLOG_DATA_DIR;
  delete env.GENLOG_KEYS_DIR;
  delete env.NODE_TEST_CONTEXT;
  // Colour and terminal behaviour are decided per test, not inherited from whoever runs it.
  // Node's hasColors() also reads CI: CI=true alone (as CI runs .ci/run) means 2 colours.
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  delete env.NODE_DISABLE_COLORS;
  delete env.CI;
  return env;
}

/** How to run the CLI, beyond its arguments. */
export interface RunOptions {
  /** Text for stdin (default: stdin is closed). */
  input?: string;
  /** A file descriptor to use as stdout instead of a pipe (e.g. one open on /dev/full). */
  stdoutFd?: number;
  /** Run as this user and group (the test must run as root to switch). */
  uid?: number;
  gid?: number;
  /** Extra environment variables; `undefined` removes one. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /**
   * Kill the child after this long (default 120 s): a safety net so that a regression that
   * makes the CLI read forever fails the test instead of hanging the suite. Not a timing check.
   */
  killAfterMs?: number;
}

/** Runs `node dist/cli/main.js ...args`, on the store under test (store-under-test.ts). */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return runProgram(process.execPath, [CLI_PATH, ...args], options, args);
}

/**
 * Runs any program with the CLI's test environment and collects what it did; given the
 * arguments of the `genlog` it runs, on the store under test of their data directory.
 */
export async function runProgram(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
  cliArgs?: readonly string[],
): Promise<CliResult> {
  if (!existsSync(CLI_PATH)) {
    throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first (npm test does)`);
  }
  const env = childEnv();
  const store =
    cliArgs === undefined
      ? {}
      : await storeEnv(cliArgs, options.env ?? {}, options.cwd ?? REPO_ROOT);
  for (const [k, v] of Object.entries({ ...store, ...options.env })) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env,
      stdio: [options.input === undefined ? "ignore" : "pipe", options.stdoutFd ?? "pipe", "pipe"],
      ...(options.uid !== undefined ? { uid: options.uid } : {}),
      ...(options.gid !== undefined ? { gid: options.gid } : {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    if (options.input !== undefined) child.stdin!.end(options.input);
    const timer = setTimeout(() => child.kill("SIGKILL"), options.killAfterMs ?? 120_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `genlog --data-dir <dataDir> ...args`. */
export function genlog(dataDir: string, ...args: string[]): Promise<CliResult> {
  return runCli(["--data-dir", dataDir, ...args]);
}

/** Runs `genlog --data-dir <dataDir> ...args` with {@link RunOptions}. */
export function genlogWith(
  options: RunOptions,
  dataDir: string,
  ...args: string[]
): Promise<CliResult> {
  return runCli(["--data-dir", dataDir, ...args], options);
}

/** The lines of a text, without the final newline. */
export function lines(text: string): string[] {
  return text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
}

/** Whether util-linux `script` is there to give the CLI a pseudo-terminal. */
export const HAS_SCRIPT = spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs the CLI on a pseudo-terminal (through `script`), as a person at a terminal would:
 * stdout and stderr are the terminal, merged in `stdout`, with CRLF line ends. `env` should
 * set TERM.
 */
export function runInTerminal(
  args: readonly string[],
  options: RunOptions = {},
): Promise<CliResult> {
  const command = [process.execPath, CLI_PATH, ...args].map(shellQuote).join(" ");
  return runProgram("script", ["-q", "-e", "-c", command, "/dev/null"], options, args);
}
