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
import { existsSync, readdirSync } from "node:fs";
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

// GENLOG_TEST_STORE=postgres runs the tests of the library, CLI and server with every data
// directory's logs in a PostgreSQL database of its own (test/helpers/store-under-test.ts),
// leaving out the tests of the SQLite file itself (SQLITE_ONLY).
const onPostgres = process.env.GENLOG_TEST_STORE === "postgres";
if (onPostgres && process.env.GENLOG_TEST_POSTGRES === "off") {
  process.stderr.write(
    "GENLOG_TEST_STORE=postgres needs PostgreSQL: unset GENLOG_TEST_POSTGRES=off\n",
  );
  process.exit(1);
}
if (onPostgres) process.env.GENLOG_TEST_POSTGRES = "required";

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
// Tests of the SQLite file: its bytes, pages, locks, schema and migrations, attacks on its
// rows, residency in region files, scans of the data directory's files. (Single tests of the
// file in the other files skip themselves: SQLITE_FILE in test/helpers/store-under-test.ts.)
// test/postgres.test.ts attacks PostgreSQL's rows and checks its residency.
const SQLITE_ONLY = new Set([
  "test/sqlite-store.test.ts",
  "test/migration.test.ts",
  "test/verify.test.ts",
  "test/key-rotation.test.ts",
  "test/file-sink.test.ts",
  "test/e2e/tamper.test.ts",
  "test/e2e/damage.test.ts",
  "test/e2e/locks.test.ts",
  "test/e2e/residency.test.ts",
  "test/e2e/privacy.test.ts",
]);
const files = find("test")
  .filter((f) => process.env.GENLOG_TEST_DOCS !== "off" || !docs.has(f))
  .filter((f) => !onPostgres || !SQLITE_ONLY.has(f))
  .sort();
process.stdout.write(
  `# store under test: ${onPostgres ? "PostgreSQL, a database per data directory (GENLOG_TEST_STORE=postgres)" : "SQLite"}\n`,
);
if (process.env.GENLOG_TEST_DOCS === "off")
  process.stdout.write("# docs tests: skipped (GENLOG_TEST_DOCS=off)\n");
// The console's tests drive Chromium (test/helpers/browser.ts): GENLOG_TEST_BROWSER=off skips
// them, =required (CI) fails without it; by default they run when it is installed.
const chromium = process.env.GENLOG_TEST_CHROMIUM ?? "/usr/bin/chromium";
process.stdout.write(
  `# browser tests: ${process.env.GENLOG_TEST_BROWSER === "off" ? "skipped (GENLOG_TEST_BROWSER=off)" : existsSync(chromium) ? `Chromium at ${chromium}` : `skipped (no Chromium at ${chromium}: apt-get install chromium)`}\n`,
);
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
