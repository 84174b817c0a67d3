/**
 * Commits append transactions for {@link SqliteStore} on its own thread and connection, so
 * that the main thread can seal the next batches meanwhile. It answers only once the
 * transaction is committed and synced (`synchronous=FULL`), which is what the writer's ack
 * waits for.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { GenlogError } from "../../errors.js";
import {
  errorData,
  prepareAppend,
  type BatchOutcomes,
  type PackedBatch,
} from "./append-transaction.js";
import { closeWriter, configureWriter } from "./connection.js";

/** A message to the append worker. */
export interface AppendRequest {
  id: number;
  batches: PackedBatch[];
}

/** Asks the worker to close its connection (after the commits before it) and stop. */
export interface CloseRequest {
  close: true;
}

/** The worker's answer: per-batch outcomes, or why the whole transaction failed. */
export type AppendReply =
  { id: number; outcomes: BatchOutcomes } | { id: number; error: ReturnType<typeof errorData> };

const { path } = workerData as { path: string };
if (parentPort !== null) {
  const db = new Database(path, { fileMustExist: true });
  configureWriter(db);
  const append = prepareAppend(db, path);
  const port = parentPort;
  port.on("message", (m: AppendRequest | CloseRequest) => {
    if ("close" in m) {
      closeWriter(db);
      port.close();
      return;
    }
    let reply: AppendReply;
    try {
      reply = { id: m.id, outcomes: append(m.batches) };
    } catch (e) {
      const err =
        e instanceof GenlogError ? e : new GenlogError("GENLOG_E_STORE", String(e), { cause: e });
      reply = { id: m.id, error: errorData(err) };
    }
    port.postMessage(reply);
  });
}
