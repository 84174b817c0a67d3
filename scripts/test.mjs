// Runs every `*.test.ts` under test/ with Node's test runner (Node 20 has no --test globs).
// Extra arguments are passed to `node --test`, e.g. `npm test -- --test-name-pattern=verify`.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return d.name === "vectors" ? [] : find(p);
    return d.name.endsWith(".test.ts") ? [p] : [];
  });
}

const files = find("test").sort();
// Which Node runs the tests: CI runs them on several (scripts/ci-node-matrix.sh checks this line).
process.stdout.write(`# genlog tests: node ${process.version} ${process.execPath}\n`);
const args = [
  "--import",
  "tsx",
  "--test",
  "--test-concurrency=2",
  ...process.argv.slice(2),
  ...files,
];
const { status, signal } = spawnSync(process.execPath, args, { stdio: "inherit" });
process.exit(status ?? (signal ? 1 : 0));
