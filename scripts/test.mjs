// Runs every `*.test.ts` under test/ with Node's test runner (Node 20 has no --test globs).
// Extra arguments are passed to `node --test`, e.g. `npm test -- --test-name-pattern=verify`.
//
// The PostgreSQL tests run against GENLOG_TEST_DATABASE_URL; when it is unset and the server
// binaries are installed (Debian's `postgresql`), a throwaway server is started for the run
// (scripts/postgres.mjs). Without either they are skipped, unless GENLOG_TEST_POSTGRES=required
// (as in CI), which makes that an error. GENLOG_TEST_POSTGRES=off skips them whatever is
// installed (CI's runs on other Node versions: the driver is JavaScript, tested once).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { postgresBin, startPostgres } from "./postgres.mjs";

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return d.name === "vectors" ? [] : find(p);
    return d.name.endsWith(".test.ts") ? [p] : [];
  });
}

let postgres;
if (process.env.GENLOG_TEST_POSTGRES === "off") {
  delete process.env.GENLOG_TEST_DATABASE_URL;
} else if (!process.env.GENLOG_TEST_DATABASE_URL) {
  if (postgresBin() !== undefined) {
    postgres = await startPostgres();
    process.env.GENLOG_TEST_DATABASE_URL = postgres.url;
  } else if (process.env.GENLOG_TEST_POSTGRES === "required") {
    process.stderr.write(
      "GENLOG_TEST_POSTGRES=required but no PostgreSQL: install it (apt-get install postgresql) or set GENLOG_TEST_DATABASE_URL\n",
    );
    process.exit(1);
  }
}
process.stdout.write(
  `# PostgreSQL tests: ${process.env.GENLOG_TEST_DATABASE_URL ? (postgres ? "on a throwaway server" : "on GENLOG_TEST_DATABASE_URL") : process.env.GENLOG_TEST_POSTGRES === "off" ? "skipped (GENLOG_TEST_POSTGRES=off)" : "skipped (no server)"}\n`,
);

// GENLOG_TEST_DOCS=off leaves out the tests of the docs' examples (CI's runs on other Node
// versions: they test the docs, which the first run did).
const docs = new Set(["test/docs.test.ts", "test/docs-shell.test.ts"]);
const files = find("test")
  .filter((f) => process.env.GENLOG_TEST_DOCS !== "off" || !docs.has(f))
  .sort();
if (process.env.GENLOG_TEST_DOCS === "off")
  process.stdout.write("# docs tests: skipped (GENLOG_TEST_DOCS=off)\n");
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
// Run without blocking, so that a SIGINT or SIGTERM to this process still stops the
// throwaway server (and removes its directory) before it exits.
const child = spawn(process.execPath, args, { stdio: "inherit" });
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => child.kill(sig));
}
const [status, signal] = await once(child, "exit");
await postgres?.stop();
process.exit(status ?? (signal ? 1 : 0));
