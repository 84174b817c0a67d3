/**
 * Child process of the store conformance suite: appends one-entry batches to log `logId`
 * of the store at `location` without pause, until killed. Prints `appending` once started.
 * The entries are the suite's shape (`{"seq":n}`); only sizes and checkpoints matter here.
 *
 * Usage: node --import tsx test/helpers/store-appender.ts <sqlite|postgres> <location> <logId>
 */
import { createHash } from "node:crypto";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import type { LogStore } from "../../src/store/log-store.js";

const [driver, location, logIdArg] = process.argv.slice(2);
if (
  (driver !== "sqlite" && driver !== "postgres") ||
  location === undefined ||
  logIdArg === undefined
) {
  process.stderr.write("usage: store-appender.ts sqlite|postgres <location> <logId>\n");
  process.exit(64);
}
const logId = Number(logIdArg);
const store: LogStore =
  driver === "sqlite"
    ? SqliteStore.open({ path: location })
    : await PostgresStore.connect({ url: location });
let announced = false;
for (;;) {
  const { size, latest } = await store.logState(logId);
  const seq = size;
  await store.appendBatch(logId, {
    entries: [
      {
        seq,
        id: `00000000-0000-7000-8000-${String(seq).padStart(12, "0")}`,
        ts: new Date(Date.UTC(2026, 0, 1) + seq).toISOString(),
        type: "backend",
        actor: null,
        sector: null,
        status: "succeeded",
        canonical: JSON.stringify({ seq }),
        leafHash: createHash("sha256").update(`leaf ${seq}`).digest(),
        nodes: Buffer.alloc(0),
      },
    ],
    checkpoint: { size: seq + 1, note: `cp ${seq + 1}` },
    previous: latest,
  });
  if (!announced) {
    process.stdout.write("appending\n");
    announced = true;
  }
}
