// A throwaway PostgreSQL server for the tests and benchmarks: a new cluster in a temporary
// directory, on loopback and a free port, trust authentication for its one user, removed when
// stopped. Uses the server binaries of Debian's `postgresql` package (or any on PATH); as root
// it runs them as the `postgres` user, since PostgreSQL refuses to run as root.
//
//   node scripts/postgres.mjs          starts one, prints its URL, stops on Ctrl-C
//   import { startPostgres } from "./postgres.mjs"
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, chownSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { setTimeout } from "node:timers";

/** The directory of the PostgreSQL server binaries, or undefined when none is installed. */
export function postgresBin() {
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => existsSync(join(debian, v, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return join(debian, versions[0], "bin");
  }
  const found = spawnSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" });
  const path = found.stdout.trim();
  return found.status === 0 && path !== "" ? join(path, "..") : undefined;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts a new cluster; resolves once it accepts connections. Returns its URL (database
 * `postgres`, user `genlog`, no password), `stop()`, which shuts it down and deletes it, and
 * `restart()`, which shuts it down and starts it again on the same data.
 */
export async function startPostgres() {
  const bin = postgresBin();
  if (bin === undefined) {
    throw new Error("no PostgreSQL server binaries found (apt-get install postgresql)");
  }
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), "genlog-pg-"));
  const data = join(dir, "data");
  const as = (cmd, args) =>
    root ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
  if (root) {
    const pg = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
    const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
    chownSync(dir, Number(pg.stdout), Number(gid.stdout));
  }
  const init = spawnSync(
    ...as(join(bin, "initdb"), [
      "-D",
      data,
      "-U",
      "genlog",
      "-A",
      "trust",
      "-E",
      "UTF8",
      "--no-sync",
      "--locale=C.UTF-8",
    ]),
    { encoding: "utf8" },
  );
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  }
  const port = await freePort();
  let server;
  let log = "";
  let exited;
  // Starts the server on the cluster's directory and port; resolves once it accepts connections.
  const start = async () => {
    server = spawn(
      ...as(join(bin, "postgres"), [
        "-D",
        data,
        "-p",
        String(port),
        "-k",
        dir,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "max_connections=200",
      ]),
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    server.stderr.on("data", (c) => {
      log = (log + c.toString()).slice(-4000);
    });
    const current = server;
    exited = new Promise((r) => current.once("exit", r));
    for (let i = 0; ; i++) {
      const ready = spawnSync(join(bin, "pg_isready"), ["-h", "127.0.0.1", "-p", String(port)]);
      if (ready.status === 0) return;
      if (server.exitCode !== null || i > 300) throw new Error(`PostgreSQL did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  // Fast shutdown: open transactions are rolled back, connections cut, then it exits. The
  // signal goes to the postmaster itself (its pid file): runuser does not pass SIGINT on.
  const halt = async () => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    let pid = server.pid;
    try {
      pid = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
    } catch {
      // Not written yet: the process we started is the one to stop.
    }
    process.kill(pid, "SIGINT");
    await exited;
  };
  const url = `postgres://genlog@127.0.0.1:${port}/postgres`;
  const stop = async () => {
    await halt();
    rmSync(dir, { recursive: true, force: true });
  };
  /** Stops the server and starts it again on the same data and port (tests of outages). */
  const restart = async () => {
    await halt();
    await start();
  };
  try {
    await start();
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, port, stop, restart };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const pg = await startPostgres();
  process.stdout.write(`${pg.url}\n`);
  const done = () => void pg.stop().then(() => process.exit(0));
  process.on("SIGINT", done);
  process.on("SIGTERM", done);
}
