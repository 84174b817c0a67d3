/**
 * Keys cannot be replaced by accident: `genlog init` and `genlog log` on a log whose signing
 * key is not where they look refuse, say which key signed the log and where it was looked
 * for, and create no new key. Runs the built CLI in a child process.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI_PATH, REPO_ROOT, childEnv, genlog, type CliResult } from "../helpers/run-cli.js";
import { storeEnvOf } from "../helpers/store-under-test.js";

const root = mkdtempSync(join(tmpdir(), "genlog-e2e-keys-"));
after(() => rmSync(root, { recursive: true, force: true }));

async function ok(run: Promise<CliResult>): Promise<CliResult> {
  const r = await run;
  assert.equal(r.code, 0, `expected exit 0, got ${r.code}; stderr: ${r.stderr}`);
  return r;
}

/** `<name>+<hex id>`: how a signature line names its key. */
function keyIdOf(verifierKey: string): string {
  return verifierKey.trim().split("+").slice(0, 2).join("+");
}

function assertRefusedNaming(r: CliResult, keyId: string, keysDir: string): void {
  assert.equal(r.code, 2, `expected exit 2, got ${r.code}; stderr: ${r.stderr}`);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^genlog: [^\n]+\[GENLOG_E_NOT_INITIALIZED\]\n$/);
  assert.ok(r.stderr.includes(keyId), `the key ${keyId} is not named: ${r.stderr}`);
  assert.ok(r.stderr.includes(keysDir), `the keys dir ${keysDir} is not named: ${r.stderr}`);
  assert.match(r.stderr, /--keys-dir/);
  assert.match(r.stderr, /GENLOG_KEYS_DIR/);
}

test("rm -rf DATA/keys; genlog init on a log with entries refuses and creates no key", async () => {
  const dir = join(root, "lost-keys");
  const key = (await ok(genlog(dir, "init"))).stdout;
  for (let i = 0; i < 3; i++) await ok(genlog(dir, "log", "backend"));
  const keysDir = join(dir, "keys");
  const backup = join(root, "lost-keys-backup");
  renameSync(keysDir, backup);

  for (const args of [["init"], ["log", "frontend"]]) {
    assertRefusedNaming(await genlog(dir, ...args), keyIdOf(key), keysDir);
    assert.equal(existsSync(join(keysDir, "default.ed25519.pem")), false);
  }

  // Pointed at where the key now is, genlog signs on; nothing was appended meanwhile.
  await ok(genlog(dir, "--keys-dir", backup, "log", "frontend"));
  assert.equal((await ok(genlog(dir, "--keys-dir", backup, "key"))).stdout, key);
  const report = await ok(genlog(dir, "verify", "--verifier-key", key.trim(), "--json"));
  assert.equal((JSON.parse(report.stdout) as { entries: number }).entries, 4);
});

test("after init --keys-dir K, init without it names K and creates nothing; GENLOG_KEYS_DIR works", async () => {
  const dir = join(root, "keys-elsewhere");
  const keys = join(root, "keys-elsewhere-K");
  const key = (await ok(genlog(dir, "--keys-dir", keys, "init"))).stdout;

  const r = await genlog(dir, "init");
  assertRefusedNaming(r, keyIdOf(key), join(dir, "keys"));
  assert.ok(r.stderr.includes(`created in ${keys}`), r.stderr);
  assert.equal(existsSync(join(dir, "keys")), false);

  const env = { ...childEnv(), ...(await storeEnvOf(dir)), GENLOG_KEYS_DIR: keys };
  const run = spawnSync(process.execPath, [CLI_PATH, "--data-dir", dir, "log", "backend"], {
    cwd: REPO_ROOT,
    env,
    encoding: "utf8",
  });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(readFileSync(join(keys, "default.ed25519.pem"), "utf8").length > 0, true);
});

test("init with a keys dir that is a file fails in one line and leaves no keyless database", async () => {
  const dir = join(root, "keys-dir-is-a-file");
  const keysFile = join(root, "not-a-dir");
  writeFileSync(keysFile, "x");
  const r = await genlog(dir, "init", "--keys-dir", keysFile);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /^genlog: cannot use \S+ as the keys directory: [^\n]+\[GENLOG_E_IO\]\n$/);
  assert.equal(existsSync(join(dir, "genlog.db")), false);
});

test("init with a separate keys dir says to pass it to later commands", async () => {
  const dir = join(root, "keys-apart");
  const keys = join(root, "keys-apart-keys");
  const r = await ok(genlog(dir, "init", "--keys-dir", keys));
  assert.ok(r.stderr.includes(`--keys-dir ${keys}`), r.stderr);
  assert.ok(r.stderr.includes(`GENLOG_KEYS_DIR=${keys}`), r.stderr);
});

test("an empty GENLOG_DATA_DIR or GENLOG_KEYS_DIR counts as unset, never as the working directory", async () => {
  const cwd = join(root, "empty-env-cwd");
  mkdirSync(cwd);
  const run = spawnSync(process.execPath, [CLI_PATH, "init"], {
    cwd,
    env: {
      ...childEnv(),
      ...(await storeEnvOf(join(cwd, "genlog-data"))),
      GENLOG_DATA_DIR: "",
      GENLOG_KEYS_DIR: "",
    },
    encoding: "utf8",
  });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(readdirSync(cwd), ["genlog-data"]);
  assert.ok(existsSync(join(cwd, "genlog-data", "keys", "default.ed25519.pem")));
});

test("a key file others can read blocks the commands that use it, not a verify given the verifier key", async () => {
  const dir = join(root, "open-key");
  const key = (await ok(genlog(dir, "init"))).stdout.trim();
  await ok(genlog(dir, "log", "backend"));
  const keyFile = join(dir, "keys", "default.ed25519.pem");
  chmodSync(keyFile, 0o644);

  for (const args of [["log", "frontend"], ["verify"]]) {
    const r = await genlog(dir, ...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /has mode 644, expected 600.*\[GENLOG_E_KEY\]\n$/);
  }
  const report = await ok(genlog(dir, "verify", "--verifier-key", key, "--json"));
  assert.equal((JSON.parse(report.stdout) as { ok: boolean }).ok, true);
});

test("genlog keys rotate: prints the new key, verify follows it from the old one, verify --state re-pins, key lists both", async () => {
  const dir = join(root, "rotate");
  const oldKey = (await ok(genlog(dir, "init"))).stdout.trim();
  await ok(genlog(dir, "log", "backend"));
  const state = mkdtempSync(join(root, "rotate-state-"));
  await ok(genlog(dir, "verify", "--state", state));

  const noReason = await genlog(dir, "keys", "rotate");
  assert.equal(noReason.code, 2, noReason.stderr);
  assert.match(noReason.stderr, /--reason.*\[GENLOG_E_USAGE\]\n$/);

  const rotated = JSON.parse(
    (await ok(genlog(dir, "--json", "keys", "rotate", "--reason", "yearly rotation"))).stdout,
  ) as { previous: string; next: string; logs: { origin: string }[] };
  assert.equal(rotated.previous, oldKey);
  assert.notEqual(rotated.next, oldKey);
  // The CLI reads through a read-only handle, which records no access: no access log yet.
  assert.deepEqual(
    rotated.logs.map((l) => l.origin),
    ["genlog.local/default/events"],
  );
  await ok(genlog(dir, "log", "frontend"));

  const key = await ok(genlog(dir, "key"));
  assert.equal(key.stdout.trim(), rotated.next);
  assert.ok(key.stderr.includes(oldKey), key.stderr);

  const fromOld = JSON.parse(
    (await ok(genlog(dir, "--json", "verify", "--verifier-key", oldKey))).stdout,
  ) as { ok: boolean; keys: { verifierKey: string }[] };
  assert.equal(fromOld.ok, true);
  assert.deepEqual(
    fromOld.keys.map((k) => k.verifierKey),
    [oldKey, rotated.next],
  );

  const followed = JSON.parse(
    (await ok(genlog(dir, "--json", "verify", "--state", state))).stdout,
  ) as { ok: boolean; state: { verifierKey: string; rotatedFrom: string } };
  assert.equal(followed.state.verifierKey, rotated.next);
  assert.equal(followed.state.rotatedFrom, oldKey);
  assert.equal(readFileSync(join(state, "default.verifier.key"), "utf8"), `${rotated.next}\n`);
  await ok(genlog(dir, "verify", "--state", state));
});
