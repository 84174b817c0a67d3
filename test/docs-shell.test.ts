/**
 * The shell steps of the README, the French README and the getting-started guide run as
 * written, in order, and print what the docs show. A step that breaks, or whose output
 * drifts from the page, fails this test.
 *
 * How a page is written so that this test can run it:
 *
 * - A ```sh block whose lines start with `$ ` is a **session**. Each `$ ` line is a command (a
 *   line ending in `\` continues on the next one); the lines after it, up to the next command,
 *   are its output exactly as a terminal shows it (stdout and stderr interleaved). No output
 *   lines means the command prints nothing. Blank lines at the end of an output are ignored.
 * - Every command must exit 0. To show a failure, write `$ cmd; echo $?` so the status is
 *   part of the output.
 * - In an output, `…` stands for text left out: a line that is only `…` for any number of
 *   lines (none included), and `…` inside a line for any characters of that line. Leave out
 *   whole values (`"id":"…"`), not the end of one.
 * - Values that differ on every run are compared by shape: UUIDs, RFC 3339 times, verifier
 *   key ids (`+1f465b65+`), pseudonyms (`sub_` and 26 base32 characters), the master key id
 *   `genlog status` shows, and base64 or hex runs of 40 characters or more (hashes, keys,
 *   signatures) match any value of the same kind.
 * - All sessions of a page run in one `sh`, so `cd` and `export` carry over from one block to
 *   the next. It starts in a fresh directory that is also `$HOME`, shown as `/home/you` in
 *   outputs, where genlog is installed as a dependency (`npx genlog` runs this checkout's
 *   build, `npx tsx` the tsx of this checkout) in a CommonJS package (no `"type"`), and on a
 *   pseudo-terminal with `TERM=dumb` (tables, no colours or progress bars). `genlog` alone is
 *   not on PATH, as for a user who installed it as a dependency.
 * - `<!-- file: NAME -->` on the line before any fenced block writes the block to NAME (in
 *   the session's current directory, `~` allowed) at that point of the page, so a later step
 *   can run it (`npx tsx record.mts`).
 * - `<!-- not run: why -->` before a ```sh block leaves it out (an install from the network,
 *   a crontab line). Every other ```sh block must be a session: keep these exceptions rare.
 *
 * Needs util-linux `script(1)` for the pseudo-terminal, and npx; skipped without them. To see
 * what a page's steps print (to update a page), set GENLOG_DOCS_TRANSCRIPTS=DIR: each page's
 * steps and their real output are written to DIR/<page>.txt.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { codeBlocks, type CodeBlock } from "./helpers/markdown-blocks.js";
import { HAS_SCRIPT, REPO_ROOT, runProgram } from "./helpers/run-cli.js";
import { tempDir } from "./helpers/temp-dir.js";

const HAS_NPX = spawnSync("npx", ["--version"], { stdio: "ignore" }).status === 0;
const PAGES = ["README.md", "README.fr.md", "docs/guides/getting-started.md"];
/** How the session's home directory is shown in the docs. */
const HOME_SHOWN = "/home/you";

/** One thing the session does: run a command, or write a block to a file. */
interface Step {
  /** Where it is written: `README.md:42`. */
  where: string;
  /** Shell text run as is. */
  script: string;
  /** What is shown in the docs: the command, or the file written. */
  shown: string;
  /** Expected output lines as written in the docs (empty: prints nothing). */
  expected: string[];
}

/** The steps of one page, in order; throws for a ```sh block that is neither run nor marked. */
function stepsOf(page: string): Step[] {
  const steps: Step[] = [];
  for (const block of codeBlocks(join(REPO_ROOT, page))) {
    const where = (offset: number) => `${page}:${block.line + offset}`;
    if (block.mark?.kind === "file") {
      steps.push(fileStep(block, where(-1)));
      continue;
    }
    if (block.lang !== "sh") continue;
    if (block.mark?.kind === "not run") {
      assert.ok(block.mark.value !== "", `${where(-1)}: say why the block is not run`);
      continue;
    }
    steps.push(...sessionSteps(block, where));
  }
  return steps;
}

function fileStep(block: CodeBlock, where: string): Step {
  const name = block.mark!.value;
  const end = "GENLOG_DOCS_END_OF_FILE";
  assert.ok(!block.lines.includes(end), `${where}: the block contains ${end}`);
  // `~` and `$HOME` expand in the name; the content is written verbatim.
  const target = name.startsWith("~/") ? `"$HOME"/'${name.slice(2)}'` : `'${name}'`;
  return {
    where,
    script: `cat > ${target} <<'${end}'\n${block.lines.join("\n")}\n${end}`,
    shown: `(the block written to ${name})`,
    expected: [],
  };
}

function sessionSteps(block: CodeBlock, where: (offset: number) => string): Step[] {
  const steps: Step[] = [];
  const lines = block.lines;
  const first = lines.findIndex((l) => l.trim() !== "");
  assert.ok(
    first >= 0 && lines[first]!.startsWith("$ "),
    `${where(Math.max(first, 0))}: a sh block is a session whose first line is a \`$ \` command, or is marked <!-- not run: why -->`,
  );
  for (let i = first; i < lines.length;) {
    const start = i;
    const command = [lines[i]!.slice(2)];
    while (lines[i]!.endsWith("\\") && i + 1 < lines.length) command.push(lines[++i]!);
    i++;
    const expected: string[] = [];
    while (i < lines.length && !lines[i]!.startsWith("$ ")) expected.push(lines[i++]!);
    while (expected.length > 0 && expected[expected.length - 1]!.trim() === "") expected.pop();
    const text = command.join("\n");
    steps.push({ where: where(start), script: text, shown: `$ ${text}`, expected });
  }
  return steps;
}

/** Separates the steps' outputs in the session's output: ␞<exit status>␞. */
const MARKER = "\u001e";

function sessionScript(steps: Step[]): string {
  return steps
    .map(
      (s) =>
        `${s.script}\n__genlog_docs_status=$?\nprintf '${MARKER}%s${MARKER}\\n' "$__genlog_docs_status"\n`,
    )
    .join("");
}

/** A fresh home directory where genlog (and tsx) are installed as dependencies. */
function sessionHome(): string {
  const home = tempDir("genlog-docs-shell-");
  writeFileSync(
    join(home, "package.json"),
    `${JSON.stringify({ name: "my-service", private: true, dependencies: { genlog: "*" } }, null, 2)}\n`,
  );
  const bin = join(home, "node_modules", ".bin");
  mkdirSync(bin, { recursive: true });
  symlinkSync(REPO_ROOT, join(home, "node_modules", "genlog"), "dir");
  symlinkSync(join(REPO_ROOT, "node_modules", "tsx"), join(home, "node_modules", "tsx"), "dir");
  // genlog's "bin" as npm links it: so a build that leaves dist/cli/main.js without its exec
  // bit (which npx in a clone relies on too) fails here.
  symlinkSync(join("..", "genlog", "dist", "cli", "main.js"), join(bin, "genlog"));
  writeFileSync(
    join(bin, "tsx"),
    `#!/bin/sh\nexec "${process.execPath}" "${join(home, "node_modules", "tsx", "dist", "cli.mjs")}" "$@"\n`,
    { mode: 0o755 },
  );
  return home;
}

/** The environment of the session: its home, a dumb terminal, nothing of the npm that runs us. */
function sessionEnv(home: string): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const k of Object.keys(process.env)) {
    if (/^npm_/i.test(k) || k === "INIT_CWD") env[k] = undefined;
  }
  return {
    ...env,
    HOME: home,
    SHELL: "/bin/sh",
    TERM: "dumb",
    TZ: "UTC",
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
  };
}

/** The text with the values that differ between runs replaced by their kind. */
function normalise(text: string): string {
  return text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "<uuid>")
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/g, "<time>")
    .replace(/\+[0-9a-f]{8}\+/g, "+<keyid>+")
    .replace(/\bsub_[a-z2-7]{26}\b/g, "<pseudonym>")
    .replace(/master key: [0-9a-f]{16}/g, "master key: <keyid>")
    .replace(/[A-Za-z0-9+/]{40,}={0,2}/g, "<hash>");
}

function lineMatcher(expected: string): RegExp {
  const parts = expected.split("…").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join(".*")}$`);
}

/** Whether `actual` lines match `expected` lines, where a line `…` stands for any lines. */
function matches(expected: string[], actual: string[]): boolean {
  const matchers = expected.map((l) => (l === "…" ? null : lineMatcher(l)));
  const memo = new Map<string, boolean>();
  const go = (e: number, a: number): boolean => {
    const key = `${e},${a}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r: boolean;
    if (e === matchers.length) r = a === actual.length;
    else if (matchers[e] === null) {
      r = false;
      for (let k = a; k <= actual.length && !r; k++) r = go(e + 1, k);
    } else r = a < actual.length && matchers[e]!.test(actual[a]!) && go(e + 1, a + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

function outputLines(text: string): string[] {
  const lines = text.split("\n").map((l) => l.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

function indent(lines: string[]): string {
  return lines.length === 0 ? "    (nothing)" : lines.map((l) => `    ${l}`).join("\n");
}

describe("the docs' shell steps", { concurrency: true }, () => {
  for (const page of PAGES) {
    test(
      `${page}: every shell step runs in order and prints what the page shows`,
      {
        skip: (!HAS_SCRIPT && "needs script(1) for a pseudo-terminal") || (!HAS_NPX && "needs npx"),
      },
      async () => {
        const steps = stepsOf(page);
        assert.ok(steps.length > 0, `${page} has no shell session`);
        const home = sessionHome();
        const scriptFile = join(home, ".docs-session.sh");
        writeFileSync(scriptFile, sessionScript(steps));
        const run = await runProgram(
          "script",
          ["-q", "-e", "-c", `sh ${scriptFile}`, "/dev/null"],
          // A whole page of commands, each a new Node process: on a loaded 2-core machine the
          // getting-started page has taken over 120 s. The bound only stops a hung session.
          { cwd: home, env: sessionEnv(home), killAfterMs: 600_000 },
        );
        let text = run.stdout.replace(/\r\n/g, "\n");
        for (const dir of new Set([realpathSync(home), home]))
          text = text.split(dir).join(HOME_SHOWN);
        const outputs = text.split(new RegExp(`${MARKER}(\\d+)${MARKER}\\n`));
        const failures: string[] = [];
        const transcript: string[] = [];
        steps.forEach((step, i) => {
          const output = outputs[2 * i];
          const status = outputs[2 * i + 1];
          if (output === undefined || status === undefined) {
            failures.push(`${step.where}: the session stopped before ${step.shown}`);
            return;
          }
          const actual = outputLines(output);
          transcript.push(`${step.where}\n${step.shown}\n${actual.join("\n")}\n[exit ${status}]\n`);
          const ok =
            status === "0" &&
            matches(
              step.expected.map((l) => normalise(l.trimEnd())),
              actual.map(normalise),
            );
          if (!ok) {
            failures.push(
              `${step.where}: ${step.shown}\n  exit status: ${status}${status === "0" ? "" : " (write `; echo $?` to show a failure)"}\n  the page shows:\n${indent(step.expected)}\n  it printed:\n${indent(actual)}`,
            );
          }
        });
        const transcripts = process.env.GENLOG_DOCS_TRANSCRIPTS;
        if (transcripts) {
          mkdirSync(transcripts, { recursive: true });
          writeFileSync(
            join(transcripts, `${page.replace(/\//g, "_")}.txt`),
            transcript.join("\n"),
          );
        }
        const rest = outputs.slice(2 * steps.length).join("");
        if (rest.trim() !== "") failures.push(`after the last step: ${rest}`);
        assert.equal(failures.length, 0, `\n${failures.join("\n\n")}`);
      },
    );
  }
});
