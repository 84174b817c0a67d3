/**
 * Commits append batches for {@link SqliteStore} on its own thread and connection, so that
 * the main thread can seal the next batch meanwhile. It answers only once the transaction
 * is committed and synced (`synchronous=FULL`), which is what the writer's ack waits for.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { GenlogError } from "../../errors.js";
import {
  configureWriter,
  prepareAppend,
  type AppendReply,
  type AppendRequest,
} from "./sqlite-store.js";

const db = new Database((workerData as { path: string }).path, { fileMustExist: true });
configureWriter(db);
const append = prepareAppend(db);

parentPort!.on("message", (m: AppendRequest) => {
  let reply: AppendReply;
  try {
    append(m.batch);
    reply = { id: m.id };
  } catch (e) {
    reply =
      e instanceof GenlogError
        ? { id: m.id, error: { code: e.code, message: e.message, details: e.details } }
        : { id: m.id, error: { code: "GENLOG_E_STORE", message: String(e), details: {} } };
  }
  parentPort!.postMessage(reply);
});
