/**
 * Docs that cannot rot: the TypeScript examples of the READMEs and of the library reference
 * run against the built package, the library reference names every export, and the error
 * table lists exactly the codes the code throws. (The shell steps: docs-shell.test.ts.)
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ERROR_CODES } from "../src/errors.js";
import { codeBlocks } from "./helpers/markdown-blocks.js";
import { tempDir } from "./helpers/temp-dir.js";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The ```ts blocks of a page that are programs (they import genlog), not declarations. */
function examples(file: string): { code: string; line: number }[] {
  return codeBlocks(join(root, file))
    .filter((b) => b.lang === "ts" && b.lines.some((l) => /from "genlog";$/.test(l)))
    .map((b) => ({ code: b.lines.join("\n"), line: b.line }));
}

/** Runs a program in a fresh ESM package whose only dependency is this genlog. */
function runExample(code: string): Promise<{ status: number | null; stderr: string }> {
  const dir = tempDir("genlog-example-");
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(root, join(dir, "node_modules", "genlog"), "dir");
  writeFileSync(join(dir, "package.json"), '{"type":"module"}');
  writeFileSync(join(dir, "example.ts"), code);
  // Resolved from here: the temp dir has only the genlog package in its node_modules.
  const tsx = import.meta.resolve("tsx");
  const env = { ...process.env };
  delete env.GENLOG_DATA_DIR;
  delete env.GENLOG_KEYS_DIR;
  const child = spawn(process.execPath, ["--import", tsx, "example.ts"], {
    cwd: dir,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stderr }));
  });
}

for (const file of ["README.md", "README.fr.md", "docs/reference/library.md"]) {
  const blocks = examples(file);
  describe(`${file}'s TypeScript examples`, { concurrency: true }, () => {
    test(`${file} has TypeScript examples`, () => {
      assert.ok(blocks.length > 0);
    });
    for (const { code, line } of blocks) {
      test(`${file}:${line} runs against the built package`, async () => {
        const run = await runExample(code);
        assert.equal(run.status, 0, `example failed:\n${code}\n--- stderr:\n${run.stderr}`);
      });
    }
  });
}

test("the library reference names every export of the package", () => {
  const index = readFileSync(join(root, "src/index.ts"), "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  const names = [...index.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)].flatMap((m) =>
    m[1]!
      .split(",")
      .map((n) => n.trim().replace(/^type\s+/, ""))
      .filter((n) => n !== "")
      .map((n) => n.split(/\s+as\s+/).pop()!),
  );
  // And what index.ts declares itself (`export function openLog`).
  for (const m of index.matchAll(/export\s+(?:async\s+)?(?:function|const|class)\s+(\w+)/g)) {
    names.push(m[1]!);
  }
  assert.ok(names.includes("openLog") && names.includes("SqliteStoreOptions"), "parsed index.ts");
  const doc = readFileSync(join(root, "docs/reference/library.md"), "utf8");
  // Named in code: `openLog(options?)`, `SqliteStore.open`, `type ProblemKind = …`.
  const named = new Set([...doc.matchAll(/`[^`]+`|```[\s\S]*?```/g)].join("\n").match(/\w+/g));
  assert.deepEqual(
    names.filter((n) => !named.has(n)),
    [],
    "exported from src/index.ts but not named in docs/reference/library.md",
  );
});

test("the error reference lists exactly the error codes of the code", () => {
  const text = readFileSync(join(root, "docs/reference/errors.md"), "utf8");
  const documented = [...text.matchAll(/^\|\s*`(GENLOG_E_[A-Z_]+)`/gm)].map((m) => m[1]);
  assert.deepEqual([...new Set(documented)].sort(), Object.keys(ERROR_CODES).sort());
});
