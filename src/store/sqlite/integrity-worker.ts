/**
 * Runs SQLite's `PRAGMA integrity_check` on its own thread and read-only connection: it reads
 * every page and checks every index against its table, which at a million entries takes as
 * long as verify's own pass, so the two run side by side.
 */
import { parentPort, workerData } from "node:worker_threads";
import { openReadOnly } from "./connection.js";
import { schemaDeviations } from "./schema.js";

/** The worker's input. */
export interface IntegrityRequest {
  path: string;
  /** Most messages integrity_check reports. */
  limit: number;
}

/** The worker's answer: one sentence per finding, or why the check could not run. */
export type IntegrityReply = { findings: string[] } | { error: string; code?: string };

if (parentPort !== null) {
  const { path, limit } = workerData as IntegrityRequest;
  let reply: IntegrityReply;
  try {
    const db = openReadOnly(path);
    try {
      const findings = schemaDeviations(db).map((d) => `the schema was changed: ${d}`);
      const rows = db.pragma(`integrity_check(${limit})`, { simple: false }) as {
        integrity_check: string;
      }[];
      for (const r of rows) {
        if (r.integrity_check !== "ok")
          findings.push(`SQLite integrity check: ${r.integrity_check}`);
      }
      reply = { findings };
    } finally {
      db.close();
    }
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    reply = {
      error: e instanceof Error ? e.message : String(e),
      ...(typeof code === "string" ? { code } : {}),
    };
  }
  parentPort.postMessage(reply);
}
