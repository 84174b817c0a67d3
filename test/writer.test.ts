import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { GenlogError } from "../src/errors.js";
import { LogWriter } from "../src/log/writer.js";
import { ed25519Signer } from "../src/keys/file-keys.js";
import { prepareRecord } from "../src/core/record.js";
import { keyNameStages } from "./helpers/stages.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import type { AppendBatch, LogStore } from "../src/store/log-store.js";
import { rawDatabase } from "./helpers/raw-database.js";
import { tempDir } from "./helpers/temp-dir.js";

const stages = keyNameStages();

/**
 * A real SQLite store whose next commit lands but whose answer is lost, as when the thread
 * that committed dies before it can reply.
 */
function losingNextAnswer(store: SqliteStore): LogStore {
  let lose = true;
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "appendBatch") {
        return async (logId: number, batch: AppendBatch) => {
          await target.appendBatch(logId, batch);
          if (lose) {
            lose = false;
            throw new GenlogError("GENLOG_E_COMMIT_UNKNOWN", "the committing thread died");
          }
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** A new SQLite store with tenant a's events log, and a signer for it. */
async function newLog() {
  const store = SqliteStore.open({ path: join(tempDir(), "genlog.db") });
  const ref = (await store.openLogRef(
    { origin: "t/a/events", tenant: "a", stream: "events" },
    true,
  ))!;
  return { store, ref, signer: ed25519Signer("t/a", generateKeyPairSync("ed25519").privateKey) };
}

test("a commit whose answer was lost is settled by reading back: it landed, so the append succeeds once", async () => {
  const { store, ref, signer } = await newLog();
  const writer = await LogWriter.open({ store: losingNextAnswer(store), ref, signer });
  const first = await writer.append(prepareRecord({ type: "backend" }, "a", stages), false);
  const second = await writer.append(prepareRecord({ type: "frontend" }, "a", stages), false);
  assert.deepEqual([first.record.seq, second.record.seq], [0, 1]);
  assert.equal((await store.logState(ref.logId)).size, 2);
  assert.deepEqual(await store.countEntries(ref.logId), { size: 2, entries: 2 });
  await store.close();
});

/**
 * A real SQLite store cut off as a database server is by a restart: the next commit is lost
 * before it lands (its outcome unknown to the caller), and from then on every call fails
 * until the store is back.
 */
function cutAtNextCommit(store: SqliteStore): { store: LogStore; back: () => void } {
  let armed = true;
  let cut = false;
  const proxy = new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (prop === "appendBatch" && armed) {
          armed = false;
          cut = true;
          return Promise.reject(new GenlogError("GENLOG_E_COMMIT_UNKNOWN", "connection lost"));
        }
        if (cut) return Promise.reject(new GenlogError("GENLOG_E_STORE", "cannot reach it"));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, back: () => (cut = false) };
}

test("a commit lost while the store cannot be read back leaves the writer on the store's tree, not on the batch it sealed", async () => {
  const { store, ref, signer } = await newLog();
  const writer = await LogWriter.open({ store, ref, signer });
  const append = (w: LogWriter) => w.append(prepareRecord({ type: "backend" }, "a", stages), false);
  for (let i = 0; i < 5; i++) assert.equal((await append(writer)).record.seq, i);

  const db = cutAtNextCommit(store);
  const cutOff = await LogWriter.open({ store: db.store, ref, signer });
  await assert.rejects(append(cutOff), (e: unknown) => e instanceof GenlogError);
  await assert.rejects(append(cutOff), (e: unknown) => e instanceof GenlogError);
  db.back();
  // The next append extends what the store holds (five records), not the lost batch, whose
  // nodes a consistency proof would look for in vain.
  assert.equal((await append(cutOff)).record.seq, 5);
  assert.deepEqual(await store.countEntries(ref.logId), { size: 6, entries: 6 });
  await store.close();
});

test("a writer refuses a log whose last record was edited, so a forged time is never signed into later ones", async () => {
  const path = join(tempDir(), "genlog.db");
  const signer = ed25519Signer("t/a", generateKeyPairSync("ed25519").privateKey);
  const store = SqliteStore.open({ path });
  const ref = (await store.openLogRef(
    { origin: "t/a/events", tenant: "a", stream: "events" },
    true,
  ))!;
  const writer = await LogWriter.open({ store, ref, signer });
  for (let i = 0; i < 5; i++) {
    await writer.append(prepareRecord({ type: "backend" }, "a", stages), false);
  }
  await store.close();

  // The attacker moves the last record's time into the future and leaves its leaf hash.
  const db = rawDatabase(path);
  try {
    const { record } = db.prepare("SELECT record FROM bodies WHERE seq = 4").get() as {
      record: string;
    };
    const forged = record.replace(/"ts":"[^"]+"/, '"ts":"2999-01-01T00:00:00.000Z"');
    assert.notEqual(forged, record);
    db.prepare("UPDATE bodies SET record = ? WHERE seq = 4").run(forged);
  } finally {
    db.close();
  }

  const again = SqliteStore.open({ path });
  try {
    await assert.rejects(LogWriter.open({ store: again, ref, signer }), (e: unknown) => {
      assert.ok(e instanceof GenlogError);
      assert.equal(e.code, "GENLOG_E_INCONSISTENT");
      assert.match(e.message, /last record .* \(seq 4\)/);
      return true;
    });
    assert.equal((await again.logState(ref.logId)).size, 5);
  } finally {
    await again.close();
  }
});
