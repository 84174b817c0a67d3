/**
 * Three `genlog serve` processes on loopback over one PostgreSQL database, appends sent to all
 * three by a load generator: one node killed with SIGKILL mid-load and started again, then the
 * database itself restarted mid-load. Every event answered 2xx is in the log exactly once, the
 * seqs are contiguous, and verify passes. The server is a throwaway of this test's own (it is
 * restarted), started from the same binaries as the suite's.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { openLog } from "../../src/index.js";
import { GenlogClient } from "../../src/client/index.js";
import { postgresBin, startPostgres } from "../../scripts/postgres.mjs";
import { tempDir } from "../helpers/temp-dir.js";
import { CLI_PATH, childEnv, runCli } from "../helpers/run-cli.js";

const skip =
  process.env["GENLOG_TEST_POSTGRES"] === "off"
    ? "GENLOG_TEST_POSTGRES=off"
    : postgresBin() === undefined && process.env["GENLOG_TEST_POSTGRES"] !== "required"
      ? "no PostgreSQL server binaries"
      : false;

interface Node {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: () => string;
}

async function startNode(env: NodeJS.ProcessEnv): Promise<Node> {
  const child = spawn(process.execPath, [CLI_PATH, "serve", "--port", "0", "--json"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", () => reject(new Error(`serve exited: ${stderr}`)));
  });
  return { url: (JSON.parse(first) as { url: string }).url, child, exited, stderr: () => stderr };
}

test(
  "three nodes over one PostgreSQL database: a node killed, then the database restarted, mid-load; nothing acknowledged is lost or doubled",
  { skip, timeout: 240_000 },
  async (t) => {
    const pg = await startPostgres();
    t.after(() => pg.stop());
    const keysDir = tempDir();
    const base = { ...childEnv(), GENLOG_DATABASE_URL: pg.url, GENLOG_KEYS_DIR: keysDir };
    const envOf = (i: number) => ({ ...base, GENLOG_DATA_DIR: tempDir(`genlog-node${i}-`) });
    const envs = [envOf(0), envOf(1), envOf(2)];
    assert.equal((await runCli(["init"], { env: envs[0] })).code, 0);
    const created = await runCli(["token", "create", "--role", "writer", "--json"], {
      env: envs[0],
    });
    const token = (JSON.parse(created.stdout) as { token: string }).token;
    const nodes = await Promise.all(envs.map((env) => startNode(env)));
    t.after(() => {
      for (const n of nodes) n.child.kill("SIGKILL");
    });

    const acked = new Map<string, number>();
    let stop = false;
    let refused = 0;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const node = nodes[(w + i) % nodes.length]!;
        const client = new GenlogClient({ url: node.url, token });
        try {
          const r = await client.append("default", {
            type: "backend",
            id: crypto.randomUUID(),
            meta: { w, i },
          });
          acked.set(r.id, r.seq);
        } catch {
          // Not acknowledged (the node is dead, the database away): it may or may not be stored.
          refused++;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    const until = async (n: number) => {
      while (acked.size < n) await new Promise((r) => setTimeout(r, 5));
    };
    const workers = Array.from({ length: 12 }, (_, w) => worker(w));
    try {
      await until(300);
      // A node dies without a word, mid-commit for all we know, and comes back.
      nodes[1]!.child.kill("SIGKILL");
      await nodes[1]!.exited;
      await until(acked.size + 200);
      nodes[1] = await startNode(envs[1]!);
      await until(acked.size + 200);
      // The database goes away under every node, and comes back.
      await pg.restart();
      await until(acked.size + 300);
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    for (const n of nodes) {
      n.child.kill("SIGTERM");
      assert.equal(await n.exited, 0, `each node stops cleanly: ${n.stderr()}`);
    }
    assert.ok(refused > 0, "the outages were felt by the clients");

    const log = await openLog({
      dataDir: envs[0]!.GENLOG_DATA_DIR,
      databaseUrl: pg.url,
      keysDir,
      create: false,
    });
    try {
      const seen = new Map<string, number>();
      let expected = 0;
      for await (const line of log.exportCanonical()) {
        const r = JSON.parse(line) as { id: string; seq: number };
        assert.equal(r.seq, expected++, "seqs are contiguous");
        assert.ok(!seen.has(r.id), `record ${r.id} once`);
        seen.set(r.id, r.seq);
      }
      assert.equal(expected, await log.size());
      for (const [id, seq] of acked) {
        assert.equal(seen.get(id), seq, `acknowledged ${id} is at seq ${seq}`);
      }
      const report = await log.verify();
      assert.equal(report.ok, true, JSON.stringify(report.problems));
    } finally {
      await log.close();
    }
  },
);
