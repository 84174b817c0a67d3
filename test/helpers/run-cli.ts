/**
 * Runs the built `genlog` command (`dist/cli/main.js`, made by `npm run build`) in a child
 * process, the way a user would, and collects its exit status and output.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

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
  return env;
}

/** Runs `node dist/cli/main.js ...args`. */
export function runCli(args: readonly string[]): Promise<CliResult> {
  if (!existsSync(CLI_PATH)) {
    throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first (npm test does)`);
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], {
      cwd: REPO_ROOT,
      env: childEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs `genlog --data-dir <dataDir> ...args`. */
export function genlog(dataDir: string, ...args: string[]): Promise<CliResult> {
  return runCli(["--data-dir", dataDir, ...args]);
}

/** The lines of a text, without the final newline. */
export function lines(text: string): string[] {
  return text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
}
