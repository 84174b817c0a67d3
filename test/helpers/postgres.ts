/**
 * The PostgreSQL server the tests run against: `GENLOG_TEST_DATABASE_URL`, which
 * `scripts/test.mjs` sets to a throwaway server it starts (or the one CI gives). Each store
 * gets a new database of its own on it.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

/** The server's URL, or undefined when the tests run without PostgreSQL. */
export const POSTGRES_URL = process.env.GENLOG_TEST_DATABASE_URL || undefined;

/** Why PostgreSQL tests are skipped, or false when they run. */
export const SKIP_POSTGRES: string | false =
  POSTGRES_URL === undefined
    ? "no PostgreSQL server (GENLOG_TEST_DATABASE_URL unset; scripts/test.mjs starts one when the binaries are installed)"
    : false;

/** Creates an empty database on the test server; returns its URL. */
export async function freshDatabase(): Promise<string> {
  if (POSTGRES_URL === undefined) throw new Error(String(SKIP_POSTGRES));
  const name = `genlog_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.toString();
}
