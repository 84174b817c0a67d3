/** What the figures were measured on. */
import { createRequire } from "node:module";
import { cpus, loadavg, release, tmpdir, totalmem, type as osType } from "node:os";
import Database from "better-sqlite3";

/** Machine and runtime facts printed above the table and saved with the results. */
export interface MachineInfo {
  node: string;
  v8: string;
  os: string;
  arch: string;
  cpuModel: string;
  cpuCount: number;
  memoryGiB: number;
  sqlite: string;
  betterSqlite3: string;
  pino: string;
  tmpdir: string;
  /** 1-minute load average when the run started; other work on the machine skews figures. */
  loadAvg: number;
}

function packageVersion(name: string): string {
  const require = createRequire(import.meta.url);
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** Collects {@link MachineInfo}. */
export function machineInfo(): MachineInfo {
  const db = new Database(":memory:");
  const sqlite = (db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v;
  db.close();
  const list = cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    os: `${osType()} ${release()}`,
    arch: process.arch,
    cpuModel: list[0]?.model.trim() ?? "unknown",
    cpuCount: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    sqlite,
    betterSqlite3: packageVersion("better-sqlite3"),
    pino: packageVersion("pino"),
    tmpdir: tmpdir(),
    loadAvg: Math.round(loadavg()[0]! * 100) / 100,
  };
}
