/**
 * Child process: opens the SQLite store at a path for writing (which migrates it) and
 * closes it; prints the schema version it found after opening.
 *
 * Usage: node --import tsx test/helpers/open-store.ts <path>
 */
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";

const store = SqliteStore.open({ path: process.argv[2]! });
process.stdout.write(`${await store.getSetting("schema_version")}\n`);
await store.close();
