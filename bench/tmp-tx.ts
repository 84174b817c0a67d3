import { join } from "node:path";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { prepareAppend, packBatch } from "../src/store/sqlite/append-transaction.js";
import Database from "better-sqlite3";
import { withTempDir, makeEvent } from "./common.js";
import { hash } from "node:crypto";
const N = 50000, B = Number(process.argv[2] ?? 128);
await withTempDir("s", async (dir) => {
  const path = join(dir, "x.db");
  const store = SqliteStore.open({ path });
  const ref = (await store.openLogRef({ origin: "i/t/events", tenant: "t", stream: "events" }, true))!;
  await store.close();
  const db = new Database(path);
  db.pragma("journal_mode = WAL"); db.pragma("synchronous = FULL"); if (process.env.NOCK) db.pragma("wal_autocheckpoint = 0");
  const append = prepareAppend(db, path);
  const texts = Array.from({length: N}, (_, i) => JSON.stringify({ ...makeEvent(i), id: `0190-${i}`, seq: i, ts: new Date().toISOString(), actor: "u"+(i%50), sector: "health", status: "succeeded", tenant: "default", v: 1 }));
  let prev: { size: number; note: string } | undefined;
  const t0 = performance.now();
  for (let s = 0; s < N; s += B) {
    const entries = [];
    for (let i = s; i < Math.min(N, s + B); i++) entries.push({ seq: i, id: "", ts: "", type: "", actor: null, sector: null, status: "succeeded" as const, canonical: texts[i]!, leafHash: hash("sha256", texts[i]!, "buffer"), nodes: Buffer.alloc(0) });
    const cp = { size: s + entries.length, note: `note ${s + entries.length}` + "x".repeat(150) };
    const out = append([packBatch(ref.logId, { entries, checkpoint: cp, previous: prev })]);
    if (out[0] !== null) throw new Error(JSON.stringify(out[0]));
    prev = cp;
  }
  const t = performance.now() - t0;
  console.log("genlog tx batch", B, "rows/s", Math.round(N / (t / 1000)));
  db.close();
});
