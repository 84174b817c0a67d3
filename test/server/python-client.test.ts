/**
 * The Python client (clients/python, standard library only) against a real server: its
 * unittest suite runs with python3 and a writer token. Skipped where python3 is missing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { runProgram } from "../helpers/run-cli.js";
import { startServer } from "../helpers/server.js";

const HAS_PYTHON = spawnSync("python3", ["--version"], { stdio: "ignore" }).status === 0;
const DIR = fileURLToPath(new URL("../../clients/python/", import.meta.url));

test(
  "the Python client's seed call and errors, against a real server",
  { skip: !HAS_PYTHON && "no python3" },
  async () => {
    const s = await startServer({ rateLimit: false });
    const before = await s.log.size("acme");
    const r = await runProgram("python3", ["-m", "unittest", "-v", "test_genlog_client"], {
      cwd: DIR,
      env: {
        GENLOG_URL: s.url,
        GENLOG_TOKEN: s.tokens.writer,
        GENLOG_TENANT: "acme",
        PYTHONDONTWRITEBYTECODE: "1",
      },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Ran 7 tests/);
    // Four records: the seed call, the secret, the id sent twice (once stored), configure's.
    assert.equal(await s.log.size("acme"), before + 4);
  },
);
