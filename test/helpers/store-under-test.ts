/**
 * The store the end-to-end tests of the library, CLI and server run on. By default each data
 * directory keeps its logs in its own `genlog.db`; with `GENLOG_TEST_STORE=postgres` (and
 * `GENLOG_TEST_DATABASE_URL`, which scripts/test.mjs sets), in a PostgreSQL database of its
 * own instead, named after the directory, so that a CLI child and the test itself, given the
 * same directory, reach the same database. The tests then run unchanged on both stores:
 * scripts/test.mjs runs them so on one of CI's Node versions.
 */
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import pg from "pg";
import { openLog as openLogOn, type Genlog, type OpenLogOptions } from "../../src/index.js";

/** True when the store-agnostic tests run on PostgreSQL. */
export const ON_POSTGRES = process.env["GENLOG_TEST_STORE"] === "postgres";

const SERVER = process.env["GENLOG_TEST_DATABASE_URL"] || undefined;
if (ON_POSTGRES && SERVER === undefined) {
  throw new Error("GENLOG_TEST_STORE=postgres needs GENLOG_TEST_DATABASE_URL (npm test sets it)");
}

const made = new Map<string, Promise<string>>();

/**
 * The PostgreSQL database of a data directory (created on first use), or undefined on SQLite.
 */
export async function databaseUrlFor(dataDir: string): Promise<string | undefined> {
  if (!ON_POSTGRES) return undefined;
  const dir = resolve(dataDir);
  let url = made.get(dir);
  if (url === undefined) {
    url = createDatabase(
      `genlog_dir_${createHash("sha256").update(dir).digest("hex").slice(0, 20)}`,
    );
    made.set(dir, url);
  }
  return url;
}

async function createDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: SERVER });
  await admin.connect();
  try {
    const found = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount === 0) {
      await admin.query(`CREATE DATABASE ${name}`).catch((e: { code?: string }) => {
        if (e.code !== "42P04") throw e; // made meanwhile by another test process
      });
    }
  } finally {
    await admin.end();
  }
  const url = new URL(SERVER!);
  url.pathname = `/${name}`;
  return url.toString();
}

/** `openLog`, on the store under test for its data directory (unless `databaseUrl` is given). */
export async function openLog(options: OpenLogOptions = {}): Promise<Genlog> {
  if (!ON_POSTGRES || options.databaseUrl !== undefined) return openLogOn(options);
  const dataDir = options.dataDir ?? process.env["GENLOG_DATA_DIR"] ?? "./genlog-data";
  return openLogOn({ ...options, databaseUrl: (await databaseUrlFor(dataDir))! });
}

/**
 * The environment a `genlog` child needs to reach the store under test of the data directory
 * its arguments or environment name (none on SQLite, or when the test set one itself).
 */
export async function storeEnv(
  args: readonly string[],
  env: Record<string, string | undefined>,
  cwd: string,
): Promise<Record<string, string>> {
  if (!ON_POSTGRES || "GENLOG_DATABASE_URL" in env || args.includes("--database-url")) return {};
  let dataDir = env["GENLOG_DATA_DIR"] || "./genlog-data";
  const i = args.indexOf("--data-dir");
  if (i >= 0 && args[i + 1] !== undefined) dataDir = args[i + 1]!;
  const eq = args.find((a) => a.startsWith("--data-dir="));
  if (eq !== undefined) dataDir = eq.slice("--data-dir=".length);
  return { GENLOG_DATABASE_URL: (await databaseUrlFor(resolve(cwd, dataDir)))! };
}

/** The environment a `genlog` child given `dataDir` needs to reach its store under test. */
export async function storeEnvOf(dataDir: string): Promise<Record<string, string>> {
  const url = await databaseUrlFor(dataDir);
  return url === undefined ? {} : { GENLOG_DATABASE_URL: url };
}

/**
 * Why a test of the SQLite file itself (its bytes, pages, locks, raw rows) is skipped on
 * PostgreSQL, or false on SQLite. test/postgres.test.ts attacks PostgreSQL's rows.
 */
export const SQLITE_FILE: string | false = ON_POSTGRES
  ? "works on the SQLite file itself (GENLOG_TEST_STORE=postgres)"
  : false;

/**
 * Runs one statement on the store of a data directory, behind genlog's back: `genlog.db`, or
 * its PostgreSQL database (`?` placeholders become `$1`, `$2`…).
 */
export async function execSql(dataDir: string, sql: string, params: unknown[] = []): Promise<void> {
  const url = await databaseUrlFor(dataDir);
  if (url === undefined) {
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(join(dataDir, "genlog.db"));
    try {
      db.prepare(sql).run(...params);
    } finally {
      db.close();
    }
    return;
  }
  let n = 0;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(
      sql.replace(/\?/g, () => `$${++n}`),
      params,
    );
  } finally {
    await c.end();
  }
}
