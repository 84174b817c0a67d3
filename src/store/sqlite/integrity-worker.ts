/**
 * Runs SQLite's `PRAGMA integrity_check` on its own thread and read-only connection: it reads
 * every page and checks every index against its table, which at a million entries takes as
 * long as verify's own pass, so the two run side by side.
 */
import { parentPort, workerData } from "node:worker_threads";
import { openReadOnly } from "./connection.js";
import { schemaDeviations } from "./schema.js";
import type { StoreDamage } from "../log-store.js";

/** The worker's input. */
export interface IntegrityRequest {
  path: string;
  /** Most messages integrity_check reports. */
  limit: number;
}

/** The worker's answer: the findings, or why the check could not run. */
export type IntegrityReply = { findings: StoreDamage[] } | { error: string };

if (parentPort !== null) {
  const { path, limit } = workerData as IntegrityRequest;
  let reply: IntegrityReply;
  try {
    const db = openReadOnly(path);
    try {
      const findings: StoreDamage[] = schemaDeviations(db).map((d) => ({
        message: `the schema was changed: ${d}`,
        entriesAffected: false,
      }));
      const rows = db.pragma(`integrity_check(${limit})`, { simple: false }) as {
        integrity_check: string;
      }[];
      const messages = rows.flatMap((r) => r.integrity_check.split("\n"));
      if (!(messages.length === 1 && messages[0] === "ok")) {
        findings.push(...describeDamage(messages, treeNames(db)));
      }
      reply = { findings };
    } finally {
      db.close();
    }
  } catch (e) {
    reply = { error: e instanceof Error ? e.message : String(e) };
  }
  parentPort.postMessage(reply);
}

/** The table or index each b-tree root page belongs to, as SQLite's messages number them. */
function treeNames(db: ReturnType<typeof openReadOnly>): Map<number, string> {
  const rows = db
    .prepare("SELECT type, name, rootpage FROM sqlite_master WHERE rootpage > 0")
    .all() as { type: string; name: string; rootpage: number }[];
  return new Map(rows.map((r) => [r.rootpage, `${r.type} ${r.name}`]));
}

/**
 * SQLite's integrity messages as findings: one per damaged page of a named table or index
 * (a damaged page yields one message per cell), one per index with rows missing from it.
 */
export function describeDamage(messages: string[], trees: Map<number, string>): StoreDamage[] {
  const byPage = new Map<string, { owner: string; first: string; count: number }>();
  const missing = new Map<string, { first: string; count: number }>();
  const other: string[] = [];
  for (const m of messages) {
    if (m === "" || m === "ok" || /^\*\*\* in database \w+ \*\*\*$/.test(m)) continue;
    const cell = /^Tree (\d+) page (\d+)(?: cell \d+)?: (.*)$/.exec(m);
    const row = /^row (\d+) missing from index (\S+)$/.exec(m);
    if (cell !== null) {
      const owner = trees.get(Number(cell[1])) ?? `b-tree ${cell[1]}`;
      const key = `${owner}, page ${cell[2]}`;
      const seen = byPage.get(key);
      if (seen === undefined) byPage.set(key, { owner, first: cell[3]!, count: 1 });
      else seen.count++;
    } else if (row !== null) {
      const seen = missing.get(row[2]!);
      if (seen === undefined) missing.set(row[2]!, { first: row[1]!, count: 1 });
      else seen.count++;
    } else if (!other.includes(m)) other.push(m);
  }
  const more = (n: number) => (n > 1 ? ` (and ${n - 1} more messages)` : "");
  return [
    ...[...byPage].map(([where, { owner, first, count }]) => ({
      message: `damaged page: ${where}: ${first}${more(count)}`,
      entriesAffected: owner === "table bodies" || owner === "table tree",
    })),
    ...[...missing].map(([index, { first, count }]) => ({
      message: `index ${index} lacks ${count} row${count > 1 ? "s" : ""} of its table (first: row ${first}): queries through it miss records`,
      entriesAffected: false,
    })),
    // Anything else (a malformed image, pages never used) may be where rows were lost.
    ...other.map((m) => ({ message: `damaged database: ${m}`, entriesAffected: true })),
  ];
}
