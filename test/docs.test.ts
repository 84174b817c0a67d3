/**
 * Docs that cannot rot: the README's TypeScript snippets run against the built package, and
 * the error table lists exactly the codes the code throws.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ERROR_CODES } from "../src/errors.js";
import { tempDir } from "./helpers/temp-dir.js";

const root = fileURLToPath(new URL("..", import.meta.url));

function snippets(file: string, lang: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  const re = new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g");
  return [...text.matchAll(re)].map((m) => m[1]!);
}

for (const file of ["README.md", "README.fr.md"]) {
  const blocks = snippets(file, "ts");
  test(`${file} has TypeScript examples`, () => {
    assert.ok(blocks.length > 0);
  });
  blocks.forEach((code, i) => {
    test(`${file} example ${i + 1} runs against the built package`, () => {
      const dir = tempDir("genlog-readme-");
      mkdirSync(join(dir, "node_modules"));
      symlinkSync(root, join(dir, "node_modules", "genlog"), "dir");
      writeFileSync(join(dir, "package.json"), '{"type":"module"}');
      writeFileSync(join(dir, "example.ts"), code);
      // Resolved from here: the temp dir has only the genlog package in its node_modules.
      const tsx = import.meta.resolve("tsx");
      const run = spawnSync(process.execPath, ["--import", tsx, "example.ts"], {
        cwd: dir,
        encoding: "utf8",
        env: { ...process.env, GENLOG_DATA_DIR: join(dir, "genlog-data") },
      });
      assert.equal(run.status, 0, `example failed:\n${code}\n--- stderr:\n${run.stderr}`);
    });
  });
}

test("the error reference lists exactly the error codes of the code", () => {
  const text = readFileSync(join(root, "docs/reference/errors.md"), "utf8");
  const documented = [...text.matchAll(/^\|\s*`(GENLOG_E_[A-Z_]+)`/gm)].map((m) => m[1]);
  assert.deepEqual([...new Set(documented)].sort(), Object.keys(ERROR_CODES).sort());
});
