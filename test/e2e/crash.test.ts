/**
 * Crash safety: a child process appends as fast as it can with many appends in flight and
 * prints each ack; the test kills it with SIGKILL at some point, then opens the log with the
 * library and checks that every acknowledged record is there at its acknowledged seq, that the
 * whole log verifies, and that the log still accepts appends.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type GenerationRecord } from "../../src/index.js";
import { openLog } from "../helpers/store-under-test.js";
import { REPO_ROOT, childEnv } from "../helpers/run-cli.js";

const APPENDER = fileURLToPath(new URL("../helpers/crash-appender.ts", import.meta.url));

const root = mkdtempSync(join(tmpdir(), "genlog-e2e-crash-"));
const live = new Set<ChildProcess>();
after(() => {
  for (const child of live) child.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

interface Ack {
  id: string;
  seq: number;
}

interface AppenderRun {
  ready: boolean;
  acks: Ack[];
  /** Lines that were neither `ready` nor an ack. */
  other: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Runs the appender on `dataDir` and sends it SIGKILL as soon as it has printed `ready` and at
 * least `killAfter` acks; resolves once it is gone and its stdout is fully read.
 */
function appendUntilKilled(
  dataDir: string,
  killAfter: number,
  inFlight: number,
): Promise<AppenderRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", APPENDER, dataDir, String(inFlight)],
      {
        cwd: REPO_ROOT,
        env: childEnv(),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    live.add(child);
    const run: AppenderRun = {
      ready: false,
      acks: [],
      other: [],
      code: null,
      signal: null,
      stderr: "",
    };
    let partial = "";
    let killed = false;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop()!;
      for (const line of parts) {
        const m = /^([0-9a-f-]{36}) (\d+)$/.exec(line);
        if (m !== null) run.acks.push({ id: m[1]!, seq: Number(m[2]) });
        else if (line === "ready") run.ready = true;
        else run.other.push(line);
      }
      if (!killed && run.ready && run.acks.length >= killAfter) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => (run.stderr += s));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      live.delete(child);
      // A line cut short by the kill was never a complete ack; it is ignored.
      resolve({ ...run, code, signal });
    });
  });
}

const runs = [
  { when: "right after startup", killAfter: 0, inFlight: 256 },
  { when: "after 50 acks", killAfter: 50, inFlight: 16 },
  { when: "after 500 acks", killAfter: 500, inFlight: 256 },
  { when: "after 3000 acks", killAfter: 3000, inFlight: 512 },
  { when: "after 200 acks made one at a time", killAfter: 200, inFlight: 1 },
];

for (const { when, killAfter, inFlight } of runs) {
  test(`every append acked before a SIGKILL ${when} survives, the log verifies and accepts new appends`, async (t) => {
    const dataDir = join(root, `kill-after-${killAfter}`);
    // Create the data directory, database and signing key first (the key is made on first
    // use of the tenant), so that the child only appends.
    const init = await openLog({ dataDir });
    await init.verifierKey();
    await init.close();

    const run = await appendUntilKilled(dataDir, killAfter, inFlight);
    assert.equal(
      run.signal,
      "SIGKILL",
      `the appender exited on its own (code ${run.code}); stderr: ${run.stderr}`,
    );
    assert.ok(run.ready, "the appender never opened the log");
    assert.deepEqual(run.other, [], "unexpected lines on the appender's stdout");
    assert.ok(run.acks.length >= killAfter, `only ${run.acks.length} acks before the kill`);
    assert.equal(
      new Set(run.acks.map((a) => a.seq)).size,
      run.acks.length,
      "a seq was acked twice",
    );

    const log = await openLog({ dataDir, create: false });
    try {
      const committed = new Map<string, number>();
      let index = 0;
      for await (const line of log.exportCanonical()) {
        const record = JSON.parse(line) as GenerationRecord;
        assert.equal(record.seq, index++, "exported records are not at consecutive seqs");
        committed.set(record.id, record.seq);
      }
      t.diagnostic(`${run.acks.length} appends acked before the kill, ${committed.size} committed`);
      const lost = run.acks.filter((a) => committed.get(a.id) !== a.seq);
      assert.deepEqual(
        lost.slice(0, 5),
        [],
        `${lost.length} of ${run.acks.length} acked records are missing or moved`,
      );

      const report = await log.verify();
      assert.equal(report.ok, true, JSON.stringify(report.problems.slice(0, 5)));
      assert.equal(report.entries, committed.size);
      assert.equal(report.verifiedSize, committed.size);

      const size = await log.size();
      assert.equal(size, committed.size);
      const after = await log.append({ type: "after-crash", user: "recovery" });
      assert.equal(after.seq, size);
      const again = await log.verify();
      assert.equal(again.ok, true, JSON.stringify(again.problems.slice(0, 5)));
      assert.equal(again.entries, size + 1);
      assert.equal(again.verifiedSize, size + 1);
    } finally {
      await log.close();
    }
  });
}
