/**
 * The `genlog` command as a new user meets it: every test runs the built CLI
 * (`dist/cli/main.js`) in a child process against a temporary data directory, and checks
 * exit statuses, output and what ends up on disk. Proofs and checkpoints are checked with the
 * library's verifiers and against hashes recomputed here with node:crypto.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rawDatabase } from "../helpers/raw-database.js";
import Database from "better-sqlite3";
import {
  isGenlogError,
  parseCheckpoint,
  verifyConsistency,
  verifyInclusion,
  verifyNote,
  type ConsistencyProof,
  type GenerationEventInput,
  type GenerationRecord,
  type RevealedRecord,
  type InclusionProof,
  type VerifyReport,
} from "../../src/index.js";
import { openLog, SQLITE_FILE } from "../helpers/store-under-test.js";
import { REDACTED } from "../../src/core/privacy/redactor.js";
import { RECORD_VERSION } from "../../src/core/record.js";
import { formatVerifierKey, parseVerifierKey } from "../../src/core/signed-note.js";
import {
  HAS_SCRIPT,
  REPO_ROOT,
  genlog,
  genlogWith,
  lines,
  runCli,
  runInTerminal,
  runProgram,
  type CliResult,
  type RunOptions,
} from "../helpers/run-cli.js";
import { leafHashOf, merkleTreeHash } from "../helpers/independent-merkle.js";

const ORIGIN = "genlog.local/default/events";
const VERIFIER_KEY = /^genlog\.local\/default\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const RFC3339_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const root = mkdtempSync(join(tmpdir(), "genlog-e2e-cli-"));
after(() => rmSync(root, { recursive: true, force: true }));

let dirs = 0;
/** A data directory path that does not exist yet. */
function freshDir(): string {
  return join(root, `data-${++dirs}`);
}

/** A freshly initialised data directory and its verifier key. */
async function initDir(): Promise<{ dir: string; key: string }> {
  const dir = freshDir();
  const r = await ok(genlog(dir, "init"));
  return { dir, key: r.stdout.trim() };
}

async function ok(run: Promise<CliResult>): Promise<CliResult> {
  const r = await run;
  assert.equal(r.code, 0, `expected exit 0, got ${r.code}; stderr: ${r.stderr}`);
  return r;
}

function assertOneLineError(r: CliResult, status: number): void {
  assert.equal(r.code, status, `expected exit ${status}, got ${r.code}; stderr: ${r.stderr}`);
  assert.match(
    r.stderr,
    /^[^\n]+\n$/,
    `expected one line on stderr, got ${JSON.stringify(r.stderr)}`,
  );
  assert.equal(r.stdout, "", "expected nothing on stdout");
}

/**
 * What `genlog log --json` prints: one line `{"duplicate":…,"record":…}` whose `record` is the
 * committed canonical text, verbatim. Returns that text (`line`), the record and the flag.
 */
function parseLogJson(stdout: string): {
  line: string;
  record: GenerationRecord;
  duplicate: boolean;
} {
  const out = lines(stdout);
  assert.equal(out.length, 1, `expected one line, got ${JSON.stringify(stdout)}`);
  const m = /^\{"duplicate":(true|false),"record":(\{.*\})\}$/.exec(out[0]!);
  assert.ok(m !== null, `expected {"duplicate":…,"record":…}, got ${out[0]}`);
  const parsed = JSON.parse(out[0]!) as { duplicate: boolean; record: GenerationRecord };
  assert.deepEqual(parsed.record, JSON.parse(m[2]!));
  return { line: m[2]!, record: parsed.record, duplicate: parsed.duplicate };
}

/** `genlog log ... --json`: the committed record text, the record and whether it was a retry. */
async function logJson(
  dir: string,
  ...args: string[]
): Promise<{ line: string; record: GenerationRecord; duplicate: boolean }> {
  return parseLogJson((await ok(genlog(dir, "log", ...args, "--json"))).stdout);
}

async function exportLines(dir: string): Promise<string[]> {
  const r = await ok(genlog(dir, "export", "--format", "ndjson"));
  return r.stdout === "" ? [] : lines(r.stdout);
}

async function queryJson(dir: string, ...args: string[]): Promise<GenerationRecord[]> {
  const r = await ok(genlog(dir, "query", "--json", ...args));
  const parsed = JSON.parse(r.stdout) as unknown;
  assert.ok(Array.isArray(parsed), `expected a JSON array, got ${r.stdout}`);
  return parsed as GenerationRecord[];
}

/** Number of records in a data directory, read in-process with the library. */
async function recordCount(dir: string): Promise<number> {
  const log = await openLog({ dataDir: dir, create: false });
  try {
    return (await log.query({ limit: 1000 })).records.length;
  } finally {
    await log.close();
  }
}

const b64 = (s: string): Buffer => Buffer.from(s, "base64");
const badProof = (e: unknown): boolean => isGenlogError(e, "GENLOG_E_BAD_PROOF");

/** Every file under a directory, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? filesUnder(join(dir, d.name)) : [join(dir, d.name)],
  );
}

/**
 * A data directory made in-process with the library, with these events appended one by one
 * (one checkpoint each, as `genlog log` makes them): quicker than spawning `genlog init` and
 * `genlog log` for tests about other commands. Returns the committed record texts.
 */
async function seededDir(
  events: GenerationEventInput[] = [],
  options: { instance?: string; keysDir?: string; tenants?: string[] } = {},
): Promise<{ dir: string; key: string; lines: string[] }> {
  const dir = freshDir();
  const log = await openLog({
    dataDir: dir,
    ...(options.instance !== undefined ? { instance: options.instance } : {}),
    ...(options.keysDir !== undefined ? { keysDir: options.keysDir } : {}),
  });
  try {
    for (const tenant of options.tenants ?? []) await log.openTenant(tenant);
    const committed: string[] = [];
    for (const event of events) committed.push((await log.appendWithStatus(event)).canonical);
    return { dir, key: await log.verifierKey(), lines: committed };
  } finally {
    await log.close();
  }
}

/** The one JSON error object that `--json` puts on stderr. */
function jsonError(r: CliResult): {
  code: string | null;
  message: string;
  details: Record<string, unknown>;
} {
  const out = lines(r.stderr);
  assert.equal(out.length, 1, `expected one JSON line on stderr, got ${JSON.stringify(r.stderr)}`);
  const error = JSON.parse(out[0]!) as ReturnType<typeof jsonError>;
  assert.deepEqual(Object.keys(error), ["code", "message", "details"]);
  return error;
}

/**
 * Directories other accounts may enter (the test root is private to us), for what an
 * auditor's account reads. Removed at the end, after their modes are restored.
 */
const openRoot = mkdtempSync(join(tmpdir(), "genlog-e2e-open-"));
chmodSync(openRoot, 0o755);
const lockedDirs: string[] = [];
after(() => {
  for (const d of lockedDirs) chmodSync(d, 0o755);
  rmSync(openRoot, { recursive: true, force: true });
});

/** A copy of a data directory's genlog.db alone, in a directory nobody may write. */
function auditorCopy(dir: string): string {
  const audit = mkdtempSync(join(openRoot, "audit-"));
  copyFileSync(join(dir, "genlog.db"), join(audit, "genlog.db"));
  chmodSync(join(audit, "genlog.db"), 0o444);
  chmodSync(audit, 0o555);
  lockedDirs.push(audit);
  return audit;
}

/** A directory nobody may write. */
function lockedDir(): string {
  const d = mkdtempSync(join(openRoot, "locked-"));
  chmodSync(d, 0o555);
  lockedDirs.push(d);
  return d;
}

let auditor: Promise<{ user: RunOptions; restricted: boolean }> | undefined;
/**
 * How to run the CLI as an account that cannot write what it did not create. Not root: this
 * account, since modes bind it. Root ignores modes, so then `nobody` (uid 65534), if it can
 * run the CLI from where it is; otherwise `restricted` is false and the tests can only check
 * that nothing is written, not that nothing could be.
 */
function auditorAccount(): Promise<{ user: RunOptions; restricted: boolean }> {
  auditor ??= (async () => {
    if (process.getuid?.() !== 0) return { user: {}, restricted: true };
    const nobody = { uid: 65534, gid: 65534 };
    const r = await runCli(["--version"], nobody).catch(() => undefined);
    return r?.code === 0 ? { user: nobody, restricted: true } : { user: {}, restricted: false };
  })();
  return auditor;
}

// The groups are independent (each has its own data directories) and mostly wait on child
// processes, so they run side by side.
describe("the genlog command", { concurrency: 3 }, () => {
  describe("before init", () => {
    test("genlog log exits 2 with a one-line error telling the user to run genlog init", async () => {
      const dir = freshDir();
      const r = await genlog(dir, "log", "backend");
      assertOneLineError(r, 2);
      assert.match(r.stderr, /genlog init/);
      assert.equal(existsSync(dir), false, "a failed log must not create the data directory");
    });
  });

  describe("genlog init", () => {
    test(
      "init creates the data dir, genlog.db and a 0600 key file, and prints the verifier key",
      { skip: SQLITE_FILE },
      async () => {
        const dir = freshDir();
        const r = await ok(genlog(dir, "init"));
        assert.equal(lines(r.stdout).length, 1, `expected one line on stdout, got ${r.stdout}`);
        assert.match(r.stdout.trim(), VERIFIER_KEY);
        assert.ok(statSync(dir).isDirectory());
        assert.ok(statSync(join(dir, "genlog.db")).isFile());
        const keys = readdirSync(join(dir, "keys")).sort();
        assert.deepEqual(keys, ["default.ed25519.pem", "master.key"]);
        for (const key of keys) {
          const mode = statSync(join(dir, "keys", key)).mode & 0o777;
          assert.equal(mode, 0o600, `${key} mode is ${mode.toString(8)}`);
        }
      },
    );

    test("a second init exits 0 and keeps the signing key, whose verifier key genlog key prints", async () => {
      const { dir, key } = await initDir();
      const keyFile = join(dir, "keys", "default.ed25519.pem");
      const pem = readFileSync(keyFile);
      const again = await ok(genlog(dir, "init"));
      assert.equal(again.stdout.trim(), key);
      assert.deepEqual(readFileSync(keyFile), pem, "the key file must not be rewritten");
      const printed = await ok(genlog(dir, "key"));
      assert.equal(printed.stdout, `${key}\n`);
    });

    test("checkpoint on a log with no records exits 2 with a one-line error", async () => {
      const { dir } = await initDir();
      assertOneLineError(await genlog(dir, "checkpoint"), 2);
    });
  });

  describe("genlog log", () => {
    /** A data directory shared by the tests that do not depend on what else it holds. */
    let shared: string;
    before(async () => {
      ({ dir: shared } = await initDir());
    });

    test("log --json prints {duplicate, record} with the committed record verbatim, and export prints the same bytes", async () => {
      const { dir } = await initDir();
      const r = await ok(
        genlog(dir, "log", "backend", "--user", "testuser", "--meta", "stack=Flask", "--json"),
      );
      const { line, record: rec, duplicate } = parseLogJson(r.stdout);
      assert.equal(duplicate, false);
      assert.equal(rec.v, RECORD_VERSION);
      assert.match(rec.id, UUID_V7);
      assert.equal(rec.seq, 0);
      assert.equal(rec.tenant, "default");
      assert.equal(rec.type, "backend");
      assert.match(rec.ts, RFC3339_UTC_MS);
      assert.match(rec.actor!, /^sub_[a-z2-7]{26}$/);
      assert.equal(rec.meta.stack, "Flask");
      assert.equal(rec.status, "succeeded");
      assert.deepEqual(rec.artifacts, []);
      assert.deepEqual(rec.redactions, []);

      const exported = await ok(genlog(dir, "export", "--format", "ndjson"));
      assert.equal(exported.stdout, `${line}\n`);
      assert.deepEqual(await queryJson(dir), [rec]);
    });

    test("log without --user records a null actor and empty meta", async () => {
      const { record } = await logJson(shared, "frontend");
      assert.equal(record.type, "frontend");
      assert.equal(record.actor, null);
      assert.deepEqual(record.meta, {});
    });

    test(
      "secret metadata never reaches the database files or the export, and the record lists what was redacted",
      { skip: SQLITE_FILE },
      async () => {
        // Its own directory: it reads the SQLite files, which another process closing the
        // shared directory's database could remove (-wal, -shm) between listing and reading.
        const { dir } = await initDir();
        const tag = randomBytes(6).toString("hex");
        const secrets = [`pw-${tag}`, `ak-${tag}`, `tok-${tag}`, `cs-${tag}`];
        const visible = `visible-${tag}`;
        const r = await ok(
          genlog(
            dir,
            "log",
            "backend",
            "--meta",
            `password=${secrets[0]}`,
            "--meta",
            `api_key=${secrets[1]}`,
            "--meta",
            `token=${secrets[2]}`,
            "--meta-json",
            JSON.stringify({ db: { "Client-Secret": secrets[3], host: visible } }),
            "--json",
          ),
        );
        const rec = parseLogJson(r.stdout).record;
        assert.deepEqual(rec.meta, {
          db: { "Client-Secret": REDACTED, host: visible },
          password: REDACTED,
          api_key: REDACTED,
          token: REDACTED,
        });
        assert.deepEqual(rec.redactions.map((x) => x.path).sort(), [
          "/meta/api_key",
          "/meta/db/Client-Secret",
          "/meta/password",
          "/meta/token",
        ]);
        for (const x of rec.redactions) assert.match(x.rule, /^key:/);

        const exported = await ok(genlog(dir, "export", "--format", "ndjson"));
        const queried = await ok(genlog(dir, "query", "--json"));
        const dbFiles = readdirSync(dir)
          .filter((f) => f.startsWith("genlog.db"))
          .map((f) => join(dir, f));
        assert.ok(dbFiles.includes(join(dir, "genlog.db")));
        const dbBytes = Buffer.concat(dbFiles.map((f) => readFileSync(f)));
        // Positive control: plain metadata is stored in clear, so the search below does find text.
        assert.ok(dbBytes.includes(visible), "the non-secret value should be in the database");
        for (const s of secrets) {
          for (const f of filesUnder(dir)) {
            assert.equal(readFileSync(f).includes(s), false, `secret ${s} found in ${f}`);
          }
          for (const [what, text] of [
            ["log output", r.stdout + r.stderr],
            ["export", exported.stdout],
            ["query", queried.stdout],
          ] as const) {
            assert.equal(text.includes(s), false, `secret ${s} found in ${what}`);
          }
        }
      },
    );

    test("--artifact records each file's name, sha256 digest and size", async () => {
      const files = mkdtempSync(join(root, "artifacts-"));
      const model = join(files, "model.bin");
      const empty = join(files, "empty.txt");
      const content = randomBytes(70_000);
      writeFileSync(model, content);
      writeFileSync(empty, "");
      const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
      const { record } = await logJson(shared, "model", "--artifact", model, "--artifact", empty);
      assert.deepEqual(record.artifacts, [
        { name: "model.bin", digest: sha(content), size: content.length },
        { name: "empty.txt", digest: sha(Buffer.alloc(0)), size: 0 },
      ]);
    });

    test("logging again with the same --id returns the first record with duplicate true and does not grow the log", async () => {
      const dir = shared;
      const id = randomUUID();
      const first = await logJson(dir, "backend", "--id", id, "--user", "alice");
      assert.equal(first.record.id, id);
      assert.equal(first.duplicate, false);
      const size = await recordCount(dir);
      const second = await logJson(dir, "backend", "--id", id, "--user", "alice");
      assert.equal(second.line, first.line);
      assert.equal(second.duplicate, true);
      // The same key in upper case is the same UUID; human output says it was already logged.
      const third = await ok(
        genlog(dir, "log", "backend", "--id", id.toUpperCase(), "--user", "alice"),
      );
      assert.match(third.stderr, /already logged/i);
      assert.deepEqual(JSON.parse(third.stdout), first.record);
      assert.equal(await recordCount(dir), size);
      const exported = await exportLines(dir);
      assert.equal(exported.length, size);
      assert.equal(exported.filter((l) => l === first.line).length, 1);
    });

    test("several genlog log commands run at once on one data dir all succeed at distinct seqs", async () => {
      const { dir } = await initDir();
      const runs = await Promise.all(
        ["a", "b", "c", "d"].map((user) => genlog(dir, "log", "backend", "--user", user, "--json")),
      );
      for (const r of runs) assert.equal(r.code, 0, r.stderr);
      const seqs = runs.map((r) => parseLogJson(r.stdout).record.seq);
      assert.deepEqual([...seqs].sort(), [0, 1, 2, 3]);
      const report = JSON.parse((await ok(genlog(dir, "verify", "--json"))).stdout) as VerifyReport;
      assert.equal(report.ok, true);
    });

    // One at a time: every case opens the same data directory for writing, and several CLI
    // processes at once can outlast SQLite's busy timeout on a loaded machine (GENLOG_E_BUSY,
    // seen once in CI on Node 24), which is not what these cases test.
    describe("bad input", { concurrency: 1 }, () => {
      let dir: string;
      before(async () => {
        ({ dir } = await initDir());
        await logJson(dir, "backend");
      });

      const missing = join(root, "no-such-artifact.bin");
      const cases: [string, string[]][] = [
        ['a type that is not a slug ("Bad Type")', ["Bad Type"]],
        ["an unknown --status", ["backend", "--status", "nope"]],
        ["--meta-json that is an array", ["backend", "--meta-json", "[1]"]],
        ["--meta-json that is not JSON", ["backend", "--meta-json", "{"]],
        ["--meta without '='", ["backend", "--meta", "stack"]],
        ["an --id that is not a UUID", ["backend", "--id", "not-a-uuid"]],
        ["an --artifact that does not exist", ["backend", "--artifact", missing]],
        ["an unknown flag", ["backend", "--no-such-flag"]],
      ];
      for (const [what, args] of cases) {
        test(`genlog log with ${what} exits 2 with one line on stderr and stores nothing`, async () => {
          assertOneLineError(await genlog(dir, "log", ...args), 2);
          assert.equal(await recordCount(dir), 1);
        });
      }
    });
  });

  describe("a log of six records", { concurrency: 2 }, () => {
    let dir: string;
    let key: string;
    /** What `log --json` printed, by seq. */
    const logged: { line: string; record: GenerationRecord }[] = [];
    let trustedFile: string;
    let noteAt3: string;

    before(async () => {
      ({ dir, key } = await initDir());
      const log = async (...args: string[]) => logged.push(await logJson(dir, ...args));
      await log("backend", "--user", "alice", "--sector", "health", "--meta", "stack=Flask");
      await log("frontend", "--user", "bob");
      await log("backend", "--user", "bob", "--sector", "education");
      noteAt3 = (await ok(genlog(dir, "checkpoint"))).stdout;
      trustedFile = join(root, "trusted-checkpoint-3.txt");
      writeFileSync(trustedFile, noteAt3);
      await log("model", "--user", "alice", "--sector", "health", "--status", "failed");
      await log("assets", "--user", "carol");
      await log("backend");
    });

    const seqs = (records: GenerationRecord[]) => records.map((r) => r.seq);
    const leaves = () => logged.map((l) => leafHashOf(l.line));

    test("records get consecutive seqs from 0", () => {
      assert.deepEqual(
        logged.map((l) => l.record.seq),
        [0, 1, 2, 3, 4, 5],
      );
    });

    test("export prints every record in seq order, byte for byte as log --json printed it", async () => {
      assert.deepEqual(
        await exportLines(dir),
        logged.map((l) => l.line),
      );
    });

    test("export --out writes every record to the file, one per line, in seq order", async () => {
      const file = join(root, "export.ndjson");
      const r = await ok(genlog(dir, "export", "--format", "ndjson", "--out", file));
      assert.equal(r.stdout, "");
      assert.equal(readFileSync(file, "utf8"), logged.map((l) => `${l.line}\n`).join(""));
    });

    test("query --json with no filter prints every record as a JSON array", async () => {
      assert.deepEqual(
        await queryJson(dir),
        logged.map((l) => l.record),
      );
    });

    test("query filters by type, user, sector and status, and combines filters", async () => {
      assert.deepEqual(seqs(await queryJson(dir, "--type", "backend")), [0, 2, 5]);
      assert.deepEqual(seqs(await queryJson(dir, "--user", "alice")), [0, 3]);
      assert.deepEqual(seqs(await queryJson(dir, "--sector", "health")), [0, 3]);
      assert.deepEqual(seqs(await queryJson(dir, "--status", "failed")), [3]);
      assert.deepEqual(seqs(await queryJson(dir, "--type", "backend", "--user", "bob")), [2]);
      // Stored actors are pseudonyms: --actor takes one, --reveal shows the person.
      const alice = logged[0]!.record.actor!;
      assert.deepEqual(seqs(await queryJson(dir, "--actor", alice)), [0, 3]);
      assert.deepEqual(seqs(await queryJson(dir, "--actor", "alice")), []);
      const revealed = (await queryJson(dir, "--user", "alice", "--reveal")) as RevealedRecord[];
      assert.deepEqual(
        revealed.map((r) => r.revealed),
        [
          { actor: "alice", values: {} },
          { actor: "alice", values: {} },
        ],
      );
    });

    test("query --since includes records at that time and --until excludes them", async () => {
      const all = logged.map((l) => l.record);
      const since = all[2]!.ts;
      const until = all[4]!.ts;
      const gotSince = seqs(await queryJson(dir, "--since", since));
      assert.deepEqual(gotSince, seqs(all.filter((r) => r.ts >= since)));
      assert.ok(gotSince.includes(2));
      const gotUntil = seqs(await queryJson(dir, "--until", until));
      assert.deepEqual(gotUntil, seqs(all.filter((r) => r.ts < until)));
      assert.ok(!gotUntil.includes(4));
      const gotBoth = seqs(await queryJson(dir, "--since", since, "--until", until));
      assert.deepEqual(gotBoth, seqs(all.filter((r) => r.ts >= since && r.ts < until)));
    });

    test("query without --json off a terminal prints the page as JSON and the next cursor on stderr", async () => {
      const first = await ok(genlog(dir, "query", "--limit", "4"));
      assert.deepEqual(seqs(JSON.parse(first.stdout) as GenerationRecord[]), [0, 1, 2, 3]);
      const m = /^next cursor: (\S+)\n$/.exec(first.stderr);
      assert.ok(
        m !== null,
        `expected the next cursor on stderr, got ${JSON.stringify(first.stderr)}`,
      );
      const rest = await ok(genlog(dir, "query", "--limit", "4", "--cursor", m[1]!));
      assert.deepEqual(seqs(JSON.parse(rest.stdout) as GenerationRecord[]), [4, 5]);
      assert.equal(rest.stderr, "", "the last page has no cursor");
    });

    test("query --limit that is not a whole number from 1 to 1000 exits 2 saying what was expected", async () => {
      for (const limit of ["abc", "0", "1001"]) {
        const r = await genlog(dir, "query", "--limit", limit);
        assertOneLineError(r, 2);
        assert.match(r.stderr, /--limit: expected a whole number from 1 to 1000/);
      }
    });

    test("query --since and --until take an ISO 8601 date or a date-time with an offset, and refuse anything looser", async () => {
      assert.equal((await queryJson(dir, "--since", "2000-01-01")).length, 6);
      assert.equal((await queryJson(dir, "--until", "2000-01-01T00:00:00+01:00")).length, 0);
      const last = logged[5]!.record.ts;
      assert.deepEqual(
        seqs(await queryJson(dir, "--since", last)),
        logged.filter((l) => l.record.ts >= last).map((l) => l.record.seq),
      );
      // A finer time than records carry is rounded up, as the library does: 0.1 µs after
      // the last record's time excludes it.
      assert.deepEqual(
        seqs(await queryJson(dir, "--since", last.replace(/Z$/, "1Z"))),
        logged.filter((l) => l.record.ts > last).map((l) => l.record.seq),
      );
      const refused: [string, string][] = [
        ["--since", "1"],
        ["--since", "2026-11-01T09:30Z"],
        ["--since", "2026-02-30"],
        ["--since", "2026-11-01T09:30"],
        ["--until", "2026-11-01T24:00:00Z"],
        ["--until", "yesterday"],
      ];
      for (const [option, bad] of refused) {
        const r = await genlog(dir, "query", option, bad);
        assertOneLineError(r, 2);
        assert.match(r.stderr, new RegExp(`^genlog: ${option}: expected `));
      }
    });

    test("query --limit returns the first records in seq order and --cursor continues after them", async () => {
      const first = await ok(genlog(dir, "query", "--json", "--limit", "4"));
      assert.deepEqual(seqs(JSON.parse(first.stdout) as GenerationRecord[]), [0, 1, 2, 3]);
      const cursor = /next cursor: (\S+)/.exec(first.stderr)?.[1];
      assert.ok(cursor !== undefined, `expected a next cursor on stderr, got ${first.stderr}`);
      const rest = await ok(genlog(dir, "query", "--json", "--limit", "4", "--cursor", cursor));
      assert.deepEqual(seqs(JSON.parse(rest.stdout) as GenerationRecord[]), [4, 5]);
      assert.doesNotMatch(rest.stderr, /next cursor/);
    });

    test("checkpoint prints a C2SP signed note that verifies with the key and commits to every record", async () => {
      const note = (await ok(genlog(dir, "checkpoint"))).stdout;
      const m =
        /^genlog\.local\/default\/events\n(\d+)\n([A-Za-z0-9+/]{43}=)\n\n\u2014 genlog\.local\/default ([A-Za-z0-9+/]+={0,2})\n$/.exec(
          note,
        );
      assert.ok(m !== null, `not a checkpoint note:\n${note}`);
      assert.equal(m[1], "6");
      // The signature's key id is the one in the verifier key.
      assert.equal(b64(m[3]!).subarray(0, 4).toString("hex"), key.split("+")[1]);

      const cp = parseCheckpoint(verifyNote(note, key));
      assert.equal(cp.origin, ORIGIN);
      assert.equal(cp.size, 6);
      assert.deepEqual(Buffer.from(cp.rootHash), merkleTreeHash(leaves()));
      // The note at size 3 saved earlier is still valid and commits to the first three records.
      const cp3 = parseCheckpoint(verifyNote(noteAt3, key));
      assert.equal(cp3.size, 3);
      assert.deepEqual(Buffer.from(cp3.rootHash), merkleTreeHash(leaves().slice(0, 3)));
      // A note changed by one character no longer verifies.
      assert.throws(() => verifyNote(note.replace("\n6\n", "\n7\n"), key));
    });

    test("checkpoint --size N prints the note issued at N; a size never signed exits 2", async () => {
      assert.equal((await ok(genlog(dir, "checkpoint", "--size", "3"))).stdout, noteAt3);
      const json = JSON.parse(
        (await ok(genlog(dir, "--json", "checkpoint", "--size", "3"))).stdout,
      );
      assert.equal(json.size, 3);
      assert.equal(json.note, noteAt3);
      assertOneLineError(await genlog(dir, "checkpoint", "--size", "99"), 2);
      assertOneLineError(await genlog(dir, "checkpoint", "--size", "-1"), 2);
    });

    /** Checks an inclusion proof independently of genlog's own verification. */
    function checkInclusion(proof: InclusionProof, leafIndex: number, treeSize: number): void {
      assert.deepEqual(Object.keys(proof).sort(), [
        "checkpoint",
        "hashes",
        "leafHash",
        "leafIndex",
        "origin",
        "record",
        "treeSize",
      ]);
      assert.equal(proof.origin, ORIGIN);
      assert.equal(proof.leafIndex, leafIndex);
      assert.equal(proof.treeSize, treeSize);
      const line = logged[leafIndex]!.line;
      assert.equal(proof.leafHash, leafHashOf(line).toString("base64"));
      assert.deepEqual(proof.record, JSON.parse(line));
      const cp = parseCheckpoint(verifyNote(proof.checkpoint, key));
      assert.equal(cp.origin, ORIGIN);
      assert.equal(cp.size, treeSize);
      const hashes = proof.hashes.map(b64);
      verifyInclusion(b64(proof.leafHash), leafIndex, treeSize, hashes, cp.rootHash);
      // The proof is specific: another leaf, or another position, does not verify.
      const other = leafHashOf(logged[(leafIndex + 1) % treeSize]!.line);
      assert.throws(
        () => verifyInclusion(other, leafIndex, treeSize, hashes, cp.rootHash),
        badProof,
      );
    }

    test("proof inclusion <seq> --json returns a proof that verifies against the signed checkpoint", async () => {
      const r = await ok(genlog(dir, "proof", "inclusion", "2", "--json"));
      checkInclusion(JSON.parse(r.stdout) as InclusionProof, 2, 6);
    });

    test("proof inclusion <id> --json returns the same proof as by seq", async () => {
      const bySeq = await ok(genlog(dir, "proof", "inclusion", "5", "--json"));
      const byId = await ok(genlog(dir, "proof", "inclusion", logged[5]!.record.id, "--json"));
      assert.equal(byId.stdout, bySeq.stdout);
      checkInclusion(JSON.parse(byId.stdout) as InclusionProof, 5, 6);
    });

    test("proof inclusion --size N proves against the checkpoint at size N", async () => {
      const r = await ok(genlog(dir, "proof", "inclusion", "1", "--size", "3", "--json"));
      const proof = JSON.parse(r.stdout) as InclusionProof;
      checkInclusion(proof, 1, 3);
      assert.equal(proof.checkpoint, noteAt3);
    });

    test("proof inclusion of a record outside the tree of --size exits 2", async () => {
      assertOneLineError(await genlog(dir, "proof", "inclusion", "4", "--size", "3", "--json"), 2);
    });

    test("proof consistency --from M verifies between the signed checkpoints at M and at the latest size", async () => {
      const r = await ok(genlog(dir, "proof", "consistency", "--from", "3", "--json"));
      const proof = JSON.parse(r.stdout) as ConsistencyProof;
      assert.equal(proof.origin, ORIGIN);
      assert.equal(proof.from, 3);
      assert.equal(proof.to, 6);
      const latest = parseCheckpoint(verifyNote((await ok(genlog(dir, "checkpoint"))).stdout, key));
      const older = parseCheckpoint(verifyNote(readFileSync(trustedFile, "utf8"), key));
      const hashes = proof.hashes.map(b64);
      verifyConsistency(3, 6, hashes, older.rootHash, latest.rootHash);
      assert.throws(
        () =>
          verifyConsistency(3, 6, hashes, merkleTreeHash(leaves().slice(0, 2)), latest.rootHash),
        badProof,
      );
    });

    test("proof consistency --from M --to N verifies between the roots of the first M and N records", async () => {
      const r = await ok(genlog(dir, "proof", "consistency", "--from", "2", "--to", "5", "--json"));
      const proof = JSON.parse(r.stdout) as ConsistencyProof;
      assert.equal(proof.from, 2);
      assert.equal(proof.to, 5);
      const [root2, root5] = [2, 5].map((n) => merkleTreeHash(leaves().slice(0, n)));
      verifyConsistency(2, 5, proof.hashes.map(b64), root2!, root5!);
    });

    test("verify exits 0 and its --json report says ok", async () => {
      const r = await ok(genlog(dir, "verify", "--json"));
      const report = JSON.parse(r.stdout) as VerifyReport;
      assert.equal(report.ok, true);
      assert.equal(report.origin, ORIGIN);
      assert.equal(report.entries, 6);
      assert.equal(report.verifiedSize, 6);
      assert.deepEqual(report.problems, []);
      assert.match((await ok(genlog(dir, "verify"))).stdout, /^OK/);
    });

    test("verify --trusted with a checkpoint saved earlier passes on an untampered log", async () => {
      const r = await ok(genlog(dir, "verify", "--trusted", trustedFile, "--json"));
      const report = JSON.parse(r.stdout) as VerifyReport;
      assert.equal(report.ok, true);
      assert.equal(report.trustedSize, 3);
    });
  });

  describe("tampering", () => {
    test(
      "after the database file is edited behind genlog's back, verify exits 1 and names entry 0 as modified",
      { skip: SQLITE_FILE },
      async () => {
        const { dir } = await initDir();
        const first = await logJson(dir, "backend", "--user", "testuser", "--meta", "stack=Flask");
        await logJson(dir, "frontend");
        const trusted = join(root, "tamper-trusted.txt");
        writeFileSync(trusted, (await ok(genlog(dir, "checkpoint"))).stdout);
        await ok(genlog(dir, "verify"));

        const db = rawDatabase(join(dir, "genlog.db"));
        try {
          const changed = db
            .prepare("UPDATE bodies SET record = replace(record, 'Flask', 'Django') WHERE seq = 0")
            .run();
          assert.equal(changed.changes, 1);
        } finally {
          db.close();
        }
        assert.match((await exportLines(dir))[0]!, /Django/);

        const r = await genlog(dir, "verify", "--json");
        assert.equal(r.code, 1, r.stderr);
        const report = JSON.parse(r.stdout) as VerifyReport;
        assert.equal(report.ok, false);
        assert.ok(
          report.problems.some(
            (p) => p.kind === "modified" && p.index === 0 && p.id === first.record.id,
          ),
          `expected entry 0 reported as modified, got ${JSON.stringify(report.problems)}`,
        );
        const human = await genlog(dir, "verify");
        assert.equal(human.code, 1);
        assert.match(human.stdout, /^FAILED/);
        assert.match(human.stdout, /modified: entry 0/);
        assert.equal((await genlog(dir, "verify", "--trusted", trusted)).code, 1);
      },
    );
  });

  describe("--keys-dir", () => {
    test("init, log and verify with the signing key kept outside the data directory", async () => {
      const dir = freshDir();
      const keys = join(root, `keys-${dirs}`);
      const init = await ok(genlog(dir, "--keys-dir", keys, "init"));
      assert.match(init.stderr, new RegExp(`Signing key: ${keys}/default\\.ed25519\\.pem`));
      assert.ok(existsSync(join(keys, "default.ed25519.pem")));
      assert.ok(!existsSync(join(dir, "keys")));
      await logJson(dir, "--keys-dir", keys, "backend", "--user", "alice");
      await ok(genlog(dir, "--keys-dir", keys, "verify"));
      assert.equal((await ok(genlog(dir, "--keys-dir", keys, "key"))).stdout, init.stdout);
      // Without it, log finds no key and says how to get one.
      const r = await genlog(dir, "log", "frontend");
      assertOneLineError(r, 2);
      assert.match(r.stderr, /GENLOG_E_NOT_INITIALIZED/);
    });
  });

  describe("an auditor with a copy of genlog.db and the published verifier key", () => {
    test(
      "verifies, queries and proves without the signing key; a wrong key or an edit exits 1",
      { skip: SQLITE_FILE },
      async () => {
        const { dir, key } = await initDir();
        const first = await logJson(dir, "backend", "--user", "alice", "--meta", "stack=Flask");
        await logJson(dir, "frontend");
        // The operator hands over the database only (a consistent copy, as after close).
        const copy = freshDir();
        const source = new Database(join(dir, "genlog.db"), { readonly: true });
        try {
          await source.backup(join(root, "audit.db"));
        } finally {
          source.close();
        }
        mkdirSync(copy);
        renameSync(join(root, "audit.db"), join(copy, "genlog.db"));
        const keyFile = join(root, "published-verifier-key.txt");
        writeFileSync(keyFile, `${key}\n`);

        const report = JSON.parse(
          (await ok(genlog(copy, "verify", "--json", "--verifier-key", key))).stdout,
        ) as VerifyReport;
        assert.equal(report.ok, true);
        assert.equal(report.entries, 2);
        await ok(genlog(copy, "verify", "--verifier-key", keyFile));
        assert.equal((await queryJson(copy)).length, 2);
        await ok(genlog(copy, "--json", "proof", "inclusion", "0"));
        // No key was created next to the copy (SQLite itself may add its -wal and -shm files).
        assert.ok(!existsSync(join(copy, "keys")));
        // Without a key there is nothing to check signatures with, and writing is refused.
        assertOneLineError(await genlog(copy, "verify"), 2);
        assertOneLineError(await genlog(copy, "key"), 2);

        // Another log's key does not vouch for these checkpoints.
        const { key: otherKey } = await initDir();
        const wrong = JSON.parse(
          (await genlog(copy, "verify", "--json", "--verifier-key", otherKey)).stdout,
        ) as VerifyReport;
        assert.equal(wrong.ok, false);
        assert.ok(wrong.problems.every((p) => p.kind === "forged-checkpoint"));
        // The key of another tenant is a wrong argument, not a forgery: exit 2, naming both.
        const { raw } = parseVerifierKey(key);
        const acmeKey = formatVerifierKey("genlog.local/acme", raw);
        for (const args of [["verify"], ["verify", "--state", mkdtempSync(join(root, "st-"))]]) {
          const r = await genlog(copy, ...args, "--verifier-key", acmeKey);
          assertOneLineError(r, 2);
          assert.match(
            r.stderr,
            /genlog\.local\/acme, not of this log \(genlog\.local\/default\): pass the key published for/,
          );
        }

        const db = rawDatabase(join(copy, "genlog.db"));
        try {
          db.prepare(
            "UPDATE bodies SET record = replace(record, 'Flask', 'Django') WHERE seq = 0",
          ).run();
        } finally {
          db.close();
        }
        const tampered = await genlog(copy, "verify", "--json", "--verifier-key", key);
        assert.equal(tampered.code, 1);
        const problems = (JSON.parse(tampered.stdout) as VerifyReport).problems;
        assert.ok(problems.some((p) => p.kind === "modified" && p.id === first.record.id));
      },
    );
  });

  describe("demo, help and unknown commands", () => {
    test("genlog demo --no-serve on an empty data dir exits 0 and leaves demo tenants that verify", async () => {
      const dir = freshDir();
      const run = await ok(genlog(dir, "demo", "--no-serve", "--json"));
      const { tokens } = JSON.parse(run.stdout) as { tokens: Record<string, string> };
      assert.deepEqual(Object.keys(tokens).sort(), [
        "admin",
        "auditor",
        "dpo",
        "superadmin",
        "writer",
      ]);
      for (const tenant of ["demo-health", "demo-school", "demo-shop"]) {
        const report = JSON.parse(
          (await ok(genlog(dir, "verify", "--json", "--tenant", tenant))).stdout,
        ) as VerifyReport;
        assert.equal(report.ok, true);
        assert.equal(report.entries, 100);
      }
      // Run again: the tenants are kept, new tokens are made.
      await ok(genlog(dir, "demo", "--no-serve"));
      const exported = (await ok(genlog(dir, "export", "--tenant", "demo-health"))).stdout;
      assert.equal(exported.trim().split("\n").length, 100);
      assert.ok(
        !/sk-demo-|@example\.org|postgres:\/\/app:pw/.test(exported),
        "no secret or e-mail in clear",
      );
    });

    test("genlog --help exits 0 and lists the commands", async () => {
      const r = await ok(runCli(["--help"]));
      assert.match(r.stdout, /Usage: genlog/);
      for (const cmd of [
        "init",
        "log",
        "query",
        "checkpoint",
        "proof",
        "verify",
        "export",
        "demo",
      ]) {
        assert.match(r.stdout, new RegExp(`\\n\\s+${cmd}\\b`), `--help does not list ${cmd}`);
      }
    });

    test("an unknown command exits 2 with one line on stderr", async () => {
      assertOneLineError(await genlog(freshDir(), "frobnicate"), 2);
    });

    /** The lines of one section (`Options:`, `Commands:`, …) of a help text. */
    function helpSection(help: string, title: string): string[] {
      const start = help.indexOf(`\n${title}\n`);
      if (start < 0) return [];
      const rest = help.slice(start + title.length + 2);
      const end = rest.search(/\n\S/);
      return (end < 0 ? rest : rest.slice(0, end)).split("\n");
    }

    let helps: Promise<{ path: string[]; help: string }[]> | undefined;
    /** Every command path of the program (`["proof", "inclusion"]`, …) and its help text. */
    function allHelp(): Promise<{ path: string[]; help: string }[]> {
      helps ??= collectHelp();
      return helps;
    }

    async function collectHelp(): Promise<{ path: string[]; help: string }[]> {
      const out: { path: string[]; help: string }[] = [];
      const visit = async (path: string[]) => {
        const help = (await ok(runCli([...path, "--help"]))).stdout;
        out.push({ path, help });
        const subcommands = helpSection(help, "Commands:")
          .map((l) => /^ {2}([a-z][a-z-]*)/.exec(l)?.[1])
          .filter((c): c is string => c !== undefined && c !== "help");
        for (const c of subcommands) await visit([...path, c]);
      };
      await visit([]);
      return out;
    }

    const OPTION_LINE = /^ {2}(?:-\w, )?(--[a-z][a-z-]*)/;

    test("every command's help describes each option and lists the exit statuses", async () => {
      const helps = await allHelp();
      assert.ok(helps.length >= 14, `found only ${helps.map((h) => h.path.join(" ")).join(", ")}`);
      for (const { path, help } of helps) {
        const name = `genlog ${path.join(" ")}`.trim();
        assert.match(
          help,
          /\nExit statuses:\n\s+0 .+\n\s+1 .+\n\s+2 .+\n\s+3 .+/,
          `${name} --help`,
        );
        for (const line of [
          ...helpSection(help, "Options:"),
          ...helpSection(help, "Global Options:"),
        ]) {
          if (!OPTION_LINE.test(line)) continue;
          assert.match(
            line,
            /^ {2}\S.*?\S {2,}\S/,
            `${name}: option without a description: ${line}`,
          );
        }
      }
    });

    test("docs/reference/cli.md documents every command and option of the program", async () => {
      const doc = readFileSync(join(REPO_ROOT, "docs/reference/cli.md"), "utf8");
      // "## `proof consistency --from M [--to N]`" documents "proof consistency".
      const sections = new Map<string, string>();
      for (const part of doc.split(/\n(?=## )/)) {
        const heading = /^## (.*)$/m.exec(part)?.[1] ?? "";
        const code = /^`([^`]*)`/.exec(heading)?.[1];
        const name =
          code === undefined
            ? heading
            : code
                .split(" ")
                .filter((w) => /^[a-z]/.test(w))
                .join(" ");
        sections.set(name, part);
      }
      for (const { path, help } of await allHelp()) {
        // A group (`proof`) is documented by its subcommands.
        if (path.length > 0 && helpSection(help, "Commands:").length > 0) continue;
        const title = path.length === 0 ? "Global options" : path.join(" ");
        const section = sections.get(title);
        assert.ok(section !== undefined, `cli.md has no section for ${title}`);
        for (const line of helpSection(help, "Options:")) {
          const flag = OPTION_LINE.exec(line)?.[1];
          if (flag === undefined || (flag === "--help" && path.length > 0)) continue;
          assert.ok(
            section.includes(`\`${flag}`) || section.includes(`, ${flag}`),
            `cli.md's section on ${title} does not document ${flag}`,
          );
        }
      }
    });
  });
  describe("log: idempotency and metadata input", () => {
    test("a reused --id with another payload exits 2 (GENLOG_E_ID_REUSED) and keeps the first record, which --json gives in details.record", async () => {
      const { dir } = await seededDir();
      const id = randomUUID();
      const first = await logJson(dir, "backend", "--id", id, "--user", "alice");
      const human = await genlog(dir, "log", "frontend", "--id", id, "--user", "alice");
      assertOneLineError(human, 2);
      assert.match(human.stderr, /\[GENLOG_E_ID_REUSED\]$/m);
      const json = await genlog(dir, "--json", "log", "frontend", "--id", id);
      assert.equal(json.code, 2);
      const error = jsonError(json);
      assert.equal(error.code, "GENLOG_E_ID_REUSED");
      assert.deepEqual(error.details.record, first.record);
      assert.deepEqual(await exportLines(dir), [first.line]);
    });

    test("--meta __proto__=x is stored as an own member, exactly as --meta-json stores it", async () => {
      const { dir } = await seededDir();
      const viaJson = await logJson(dir, "backend", "--meta-json", '{"__proto__":"x","a":"1"}');
      const viaMeta = await logJson(dir, "backend", "--meta", "__proto__=x", "--meta", "a=1");
      assert.match(viaJson.line, /"meta":\{"__proto__":"x","a":"1"\}/);
      assert.match(viaMeta.line, /"meta":\{"__proto__":"x","a":"1"\}/);
    });

    test("--meta-json @FILE reads the object from a file and --meta-json - from stdin", async () => {
      const { dir } = await seededDir();
      const file = join(root, "meta-input.json");
      writeFileSync(file, '{\n  "stack": "Flask",\n  "token": "t-123"\n}\n');
      const fromFile = await logJson(dir, "backend", "--meta-json", `@${file}`);
      assert.deepEqual(fromFile.record.meta, { stack: "Flask", token: REDACTED });
      const fromStdin = await ok(
        genlogWith(
          { input: '{"stack":"Django"}' },
          dir,
          "log",
          "backend",
          "--meta-json",
          "-",
          "--json",
        ),
      );
      assert.deepEqual(parseLogJson(fromStdin.stdout).record.meta, { stack: "Django" });
      const missing = await genlog(
        dir,
        "log",
        "backend",
        "--meta-json",
        `@${join(root, "nope.json")}`,
      );
      assertOneLineError(missing, 2);
      assert.equal(await recordCount(dir), 2);
    });

    test("a --meta-json parse error never echoes the input, on stderr or in the --json error", async () => {
      const { dir } = await seededDir();
      for (const json of [[], ["--json"]]) {
        const r = await genlog(
          dir,
          ...json,
          "log",
          "backend",
          "--meta-json",
          '{"password": hunter2}',
        );
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /GENLOG_E_INVALID_INPUT/);
        assert.doesNotMatch(r.stderr, /hunter2/);
      }
      const file = join(root, "secret-meta.json");
      writeFileSync(file, '{"api_key": sk-live-hunter3');
      const fromFile = await genlog(dir, "log", "backend", "--meta-json", `@${file}`);
      assertOneLineError(fromFile, 2);
      assert.doesNotMatch(fromFile.stderr, /hunter3/);
      const meta = await genlog(dir, "log", "backend", "--meta", "password:hunter4");
      assertOneLineError(meta, 2);
      assert.doesNotMatch(meta.stderr, /hunter4/);
      assert.equal(await recordCount(dir), 0);
    });
  });

  describe("inputs read from files are bounded", () => {
    let dir: string;
    before(async () => {
      ({ dir } = await seededDir([{ type: "backend" }]));
    });
    const cases: [string, string[]][] = [
      ["--trusted", ["verify", "--trusted", "/dev/zero"]],
      ["--verifier-key", ["verify", "--verifier-key", "/dev/zero"]],
      ["--meta-json", ["log", "backend", "--meta-json", "@/dev/zero"]],
    ];
    for (const [option, args] of cases) {
      test(
        `${option} reading /dev/zero stops at its bound with exit 2`,
        {
          skip: !existsSync("/dev/zero") && "no /dev/zero here",
        },
        async () => {
          const r = await genlogWith({ killAfterMs: 60_000 }, dir, ...args);
          assertOneLineError(r, 2);
          assert.match(r.stderr, new RegExp(`^genlog: ${option}: expected at most \\d+ KiB`));
        },
      );
    }

    test("a --trusted file past 64 KiB is refused by size, before it is parsed", async () => {
      const file = join(root, "huge-checkpoint.txt");
      writeFileSync(
        file,
        `${(await ok(genlog(dir, "checkpoint"))).stdout}${"x".repeat(65 * 1024)}`,
      );
      const r = await genlog(dir, "verify", "--trusted", file);
      assertOneLineError(r, 2);
      assert.match(r.stderr, /--trusted: expected at most 64 KiB/);
    });
  });

  describe("setting up a data directory", () => {
    test("init --instance with an invalid name exits 2 and creates nothing", async () => {
      const dir = freshDir();
      const r = await genlog(dir, "init", "--instance", "Bad Name");
      assertOneLineError(r, 2);
      assert.match(r.stderr, /GENLOG_E_INVALID_INPUT/);
      assert.equal(existsSync(dir), false, "nothing may be created for a refused init");
    });

    test("a --data-dir that is a file, or under one, gives one GENLOG_E_IO line and exit 3", async () => {
      const file = join(root, `plain-file-${++dirs}`);
      writeFileSync(file, "not a directory\n");
      for (const dir of [file, join(file, "sub")]) {
        const r = await genlog(dir, "init");
        assertOneLineError(r, 3);
        assert.match(r.stderr, /not a directory.*\[GENLOG_E_IO\]$/m);
      }
      assert.equal(readFileSync(file, "utf8"), "not a directory\n");
    });

    test(
      "init on a SQLite database that is not genlog's exits 3 (GENLOG_E_STORE) and leaves the file byte-identical",
      { skip: SQLITE_FILE },
      async () => {
        const dir = freshDir();
        mkdirSync(dir);
        const path = join(dir, "genlog.db");
        const db = new Database(path);
        db.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');");
        db.close();
        const before = readFileSync(path);
        const r = await genlog(dir, "init");
        assertOneLineError(r, 3);
        assert.match(r.stderr, /\[GENLOG_E_STORE\]$/m);
        assert.deepEqual(readFileSync(path), before);
        assert.deepEqual(
          readdirSync(dir),
          ["genlog.db"],
          "no key, journal or WAL file may be added",
        );
      },
    );
  });

  describe("terminal safety", () => {
    /** Clears the screen, sets the window title, returns to the line start, a C1 CSI, RLO. */
    const HOSTILE = "x\u001b[2J\u001b]0;owned\u0007\rOK: all good\u009b31m\u202eevil";
    /** Characters that must never reach a terminal raw (newline excepted). */
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
    let dir: string;
    before(async () => {
      ({ dir } = await seededDir([{ type: "backend", user: HOSTILE, meta: { note: HOSTILE } }]));
    });

    test("log and get print stored control characters escaped, and --json keeps them exact", async () => {
      const meta = JSON.stringify({ note: HOSTILE });
      const human = await ok(
        genlog(dir, "log", "frontend", "--user", HOSTILE, "--meta-json", meta),
      );
      assert.doesNotMatch(human.stdout + human.stderr, RAW_CONTROL);
      assert.ok(human.stdout.includes("\\u001b[2J"), human.stdout);
      // Escaped as JSON escapes, the human output still parses to the stored value.
      assert.equal((JSON.parse(human.stdout) as GenerationRecord).meta.note, HOSTILE);
      // The person is in the envelope: revealed, escaped the same way.
      const got = await ok(genlog(dir, "get", "0", "--reveal"));
      assert.doesNotMatch(got.stdout, RAW_CONTROL);
      const shown = JSON.parse(got.stdout) as RevealedRecord;
      assert.equal(shown.meta.note, HOSTILE);
      assert.deepEqual(shown.revealed, { actor: HOSTILE, values: {} });
      const exact = await ok(genlog(dir, "get", "0", "--json", "--reveal"));
      assert.deepEqual((JSON.parse(exact.stdout) as RevealedRecord).revealed, {
        actor: HOSTILE,
        values: {},
      });
    });

    test(
      "the query table on a terminal shows control characters escaped",
      {
        skip: !HAS_SCRIPT && "needs script(1) for a pseudo-terminal",
      },
      async () => {
        const r = await runInTerminal(["--data-dir", dir, "query", "--reveal"], {
          env: { TERM: "xterm" },
        });
        assert.equal(r.code, 0, r.stdout);
        const screen = r.stdout.replace(/\r\n/g, "\n");
        assert.match(screen, /^SEQ\s+TIME/m, "expected the table");
        assert.ok(
          screen.includes("x\\x1b[2J\\x1b]0;owned\\x07\\x0dOK: all good\\x9b31m\\u202eevil"),
        );
        assert.doesNotMatch(screen, RAW_CONTROL);
      },
    );

    test(
      "export and --json output on a terminal show control characters escaped, and exact through a pipe",
      {
        skip: !HAS_SCRIPT && "needs script(1) for a pseudo-terminal",
      },
      async () => {
        for (const args of [["export"], ["query", "--json"], ["get", "0", "--json"]]) {
          const r = await runInTerminal(["--data-dir", dir, ...args], { env: { TERM: "xterm" } });
          assert.equal(r.code, 0, r.stdout);
          const screen = r.stdout.replace(/\r\n/g, "\n");
          assert.doesNotMatch(screen, RAW_CONTROL, args.join(" "));
          assert.ok(screen.includes("\\u009b31m"), `${args.join(" ")}: ${screen}`);
          const piped = await ok(genlog(dir, ...args));
          assert.ok(piped.stdout.includes("\u009b31m"), args.join(" "));
        }
      },
    );

    test(
      "verify's FAILED lines show a tampered record's control characters escaped",
      { skip: SQLITE_FILE },
      async () => {
        const { dir: tampered } = await seededDir([{ type: "backend" }]);
        const db = rawDatabase(join(tampered, "genlog.db"));
        try {
          db.prepare("UPDATE bodies SET record = json_set(record, '$.id', ?) WHERE seq = 0").run(
            HOSTILE,
          );
        } finally {
          db.close();
        }
        const r = await genlog(tampered, "verify");
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stdout, /^FAILED: /);
        assert.ok(r.stdout.includes("\\x1b[2J"), `expected the escaped id in ${r.stdout}`);
        assert.doesNotMatch(r.stdout, RAW_CONTROL);
        assert.doesNotMatch(r.stdout, /^OK/m);
      },
    );

    test("an error message that quotes the input shows its control characters escaped", async () => {
      const r = await genlog(dir, "log", `Bad${HOSTILE}`);
      assertOneLineError(r, 2);
      assert.doesNotMatch(r.stderr, RAW_CONTROL);
      const unknown = await genlog(dir, `--bogus${HOSTILE}`);
      assertOneLineError(unknown, 2);
      assert.doesNotMatch(unknown.stderr, RAW_CONTROL);
    });
  });

  describe("write failures", () => {
    const noDevFull = !existsSync("/dev/full") && "no /dev/full here";

    test(
      "log with stdout on a full disk exits 3 with one GENLOG_E_IO line saying the record was committed",
      { skip: noDevFull },
      async () => {
        const { dir } = await seededDir();
        const full = openSync("/dev/full", "w");
        try {
          const r = await genlogWith({ stdoutFd: full }, dir, "log", "backend", "--user", "alice");
          assert.equal(r.code, 3, r.stderr);
          assert.match(
            r.stderr,
            /^genlog: cannot write to stdout: .*ENOSPC.*committed.*seq 0.*\[GENLOG_E_IO\]\n$/,
          );
          const j = await genlogWith({ stdoutFd: full }, dir, "--json", "log", "backend");
          assert.equal(j.code, 3, j.stderr);
          const error = jsonError(j);
          assert.equal(error.code, "GENLOG_E_IO");
          assert.equal(error.details.committed, true);
          assert.equal(error.details.seq, 1);
          assert.equal(await recordCount(dir), 2);
          for (const args of [["export"], ["query"], ["verify"], ["status"]]) {
            const read = await genlogWith({ stdoutFd: full }, dir, ...args);
            assert.equal(read.code, 3, `${args.join(" ")}: ${read.stderr}`);
            assert.match(read.stderr, /^genlog: cannot write to stdout: [^\n]*\[GENLOG_E_IO\]\n$/);
          }
        } finally {
          closeSync(full);
        }
      },
    );

    test("export --out into a missing directory exits 3 with one GENLOG_E_IO line", async () => {
      const { dir } = await seededDir();
      const r = await genlog(dir, "export", "--out", join(root, "no-such-dir", "x.ndjson"));
      assertOneLineError(r, 3);
      assert.match(r.stderr, /\[GENLOG_E_IO\]$/m);
    });

    test("export --out F replaces F only once complete: a failure leaves F as it was, success leaves it mode 0600", async () => {
      const { dir, lines: committed } = await seededDir([{ type: "backend" }]);
      const outDir = mkdtempSync(join(root, "export-"));
      const target = join(outDir, "records.ndjson");
      writeFileSync(target, "previous export\n", { mode: 0o644 });
      assertOneLineError(await genlog(dir, "--tenant", "nosuch", "export", "--out", target), 2);
      assert.equal(readFileSync(target, "utf8"), "previous export\n");
      const r = await ok(genlog(dir, "export", "--out", target));
      assert.match(r.stderr, /^exported 1 record to /);
      assert.equal(readFileSync(target, "utf8"), `${committed[0]}\n`);
      assert.equal(statSync(target).mode & 0o777, 0o600);
      assert.deepEqual(readdirSync(outDir), ["records.ndjson"], "no temporary file may be left");
    });
  });

  describe("--json errors", () => {
    test("with --json every error is one JSON object {code, message, details} on stderr, commander's too", async () => {
      const { dir } = await seededDir([{ type: "backend" }]);
      const cases: [string[], number, string][] = [
        [["log", "Bad Type"], 2, "GENLOG_E_INVALID_INPUT"],
        [["log", "backend", "--no-such-flag"], 2, "GENLOG_E_USAGE"],
        [["frobnicate"], 2, "GENLOG_E_USAGE"],
        [["proof", "consistency"], 2, "GENLOG_E_USAGE"],
        [["query", "--limit", "abc"], 2, "GENLOG_E_USAGE"],
        [["get", "42"], 2, "GENLOG_E_NOT_FOUND"],
        [["export", "--out", join(root, "missing-dir", "x")], 3, "GENLOG_E_IO"],
      ];
      for (const [args, status, code] of cases) {
        const r = await genlog(dir, "--json", ...args);
        assert.equal(r.code, status, `${args.join(" ")}: ${r.stderr}`);
        const error = jsonError(r);
        assert.equal(error.code, code, args.join(" "));
        assert.equal(typeof error.message, "string");
      }
      const missing = await genlog(freshDir(), "--json", "query");
      assert.equal(missing.code, 2);
      assert.equal(jsonError(missing).code, "GENLOG_E_NOT_INITIALIZED");
    });
  });

  describe("genlog get and genlog status", () => {
    test("get ID_OR_SEQ prints one record; --json prints exactly its committed bytes", async () => {
      const { dir, lines: committed } = await seededDir([
        { type: "backend", user: "alice" },
        { type: "frontend" },
      ]);
      const a = JSON.parse(committed[0]!) as GenerationRecord;
      assert.equal((await ok(genlog(dir, "get", "1", "--json"))).stdout, `${committed[1]}\n`);
      assert.equal((await ok(genlog(dir, "--json", "get", a.id))).stdout, `${committed[0]}\n`);
      const human = await ok(genlog(dir, "get", a.id.toUpperCase()));
      assert.deepEqual(JSON.parse(human.stdout), a);
      assertOneLineError(await genlog(dir, "get", "2"), 2);
      assertOneLineError(await genlog(dir, "get", randomUUID()), 2);
    });

    test(
      "status shows the instance, every tenant's log with size, checkpoint and verifier key, the database, keys dir and schema version",
      { skip: SQLITE_FILE },
      async () => {
        const keys = join(root, `status-keys-${dirs}`);
        const { dir, key } = await seededDir([{ type: "backend" }, { type: "frontend" }], {
          instance: "genlog.example.com",
          keysDir: keys,
          tenants: ["acme"],
        });
        const acme = await ok(genlog(dir, "--keys-dir", keys, "--tenant", "acme", "key"));
        const raw = new Database(join(dir, "genlog.db"), { readonly: true });
        const version = raw
          .prepare("SELECT value FROM settings WHERE key = 'schema_version'")
          .pluck()
          .get() as string;
        const masterKeyId = raw
          .prepare("SELECT value FROM settings WHERE key = 'master_key_id'")
          .pluck()
          .get() as string;
        raw.close();
        assert.match(masterKeyId, /^[0-9a-f]{16}$/);
        const status = JSON.parse(
          (await ok(genlog(dir, "--keys-dir", keys, "--json", "status"))).stdout,
        );
        assert.deepEqual(status, {
          instance: "genlog.example.com",
          dataDir: dir,
          database: join(dir, "genlog.db"),
          keysDir: keys,
          schemaVersion: Number(version),
          masterKeyId,
          logs: [
            {
              origin: "genlog.example.com/default/events",
              tenant: "default",
              stream: "events",
              size: 2,
              checkpointSize: 2,
              verifierKey: key,
            },
            {
              origin: "genlog.example.com/acme/events",
              tenant: "acme",
              stream: "events",
              size: 0,
              checkpointSize: null,
              verifierKey: acme.stdout.trim(),
            },
          ],
        });
        const human = (await ok(genlog(dir, "--keys-dir", keys, "status"))).stdout;
        for (const text of [
          "genlog.example.com",
          join(dir, "genlog.db"),
          keys,
          `schema version ${version}`,
          `master key: ${masterKeyId}`,
          "genlog.example.com/acme/events",
          key,
        ]) {
          assert.ok(human.includes(text), `status does not show ${text}:\n${human}`);
        }
        // Without the keys, status still reads (an auditor's view): no verifier key to show.
        const bare = JSON.parse((await ok(genlog(dir, "--json", "status"))).stdout);
        assert.deepEqual(
          bare.logs.map((l: { verifierKey: unknown }) => l.verifierKey),
          [null, null],
        );
      },
    );
  });

  describe("an auditor's read-only copy", () => {
    test(
      "verify, query, get and status work on a copy the account cannot write, which stays one unchanged file",
      { skip: SQLITE_FILE },
      async () => {
        const { dir, key } = await seededDir([
          { type: "backend", user: "alice" },
          { type: "frontend" },
        ]);
        const audit = auditorCopy(dir);
        const { user, restricted } = await auditorAccount();
        const db = join(audit, "genlog.db");
        const bytes = readFileSync(db);
        if (restricted) {
          // Positive control: this account really cannot write there.
          const denied = await genlogWith(user, audit, "init");
          assert.notEqual(
            denied.code,
            0,
            "the auditor's account must not be able to write the copy",
          );
        }
        const report = JSON.parse(
          (await ok(genlogWith(user, audit, "--json", "verify", "--verifier-key", key))).stdout,
        ) as VerifyReport;
        assert.equal(report.ok, true);
        assert.equal(report.entries, 2);
        const records = JSON.parse((await ok(genlogWith(user, audit, "query", "--json"))).stdout);
        assert.equal(records.length, 2);
        await ok(genlogWith(user, audit, "get", "1"));
        await ok(genlogWith(user, audit, "status"));
        assert.deepEqual(readdirSync(audit), ["genlog.db"], "no -wal, -shm or journal may appear");
        assert.deepEqual(readFileSync(db), bytes, "the copy must not change");
      },
    );
  });

  describe("verify --state", () => {
    test("pins the verifier key on first use, saves the verified checkpoint, and verifies the next run against it", async () => {
      const { dir, key } = await seededDir([{ type: "backend" }, { type: "frontend" }]);
      const state = mkdtempSync(join(root, "state-"));
      const first = JSON.parse(
        (await ok(genlog(dir, "--json", "verify", "--state", state))).stdout,
      );
      assert.equal(first.ok, true);
      assert.equal(first.trustedSize, undefined);
      assert.deepEqual(first.state, { dir: state, verifierKey: key, firstUse: true, savedSize: 2 });
      assert.equal(readFileSync(join(state, "default.verifier.key"), "utf8"), `${key}\n`);
      const noteAt2 = (await ok(genlog(dir, "checkpoint"))).stdout;
      assert.equal(readFileSync(join(state, "default.checkpoint"), "utf8"), noteAt2);

      await logJson(dir, "model");
      const second = JSON.parse(
        (await ok(genlog(dir, "--json", "verify", "--state", state))).stdout,
      );
      assert.equal(second.trustedSize, 2);
      assert.deepEqual(second.state, {
        dir: state,
        verifierKey: key,
        firstUse: false,
        savedSize: 3,
      });
      const human = await ok(genlog(dir, "verify", "--state", state));
      assert.match(human.stdout, /^OK: /);
      assert.match(human.stderr, /Saved the checkpoint at size 3/);
      assert.deepEqual(readdirSync(state).sort(), ["default.checkpoint", "default.verifier.key"]);
    });

    test(
      "a log rolled back behind the saved checkpoint exits 1, and the saved checkpoint is kept",
      { skip: SQLITE_FILE },
      async () => {
        const { dir } = await seededDir([{ type: "a" }, { type: "b" }, { type: "c" }]);
        const state = mkdtempSync(join(root, "state-"));
        await ok(genlog(dir, "verify", "--state", state));
        const saved = readFileSync(join(state, "default.checkpoint"), "utf8");
        const db = rawDatabase(join(dir, "genlog.db"));
        try {
          db.exec("DELETE FROM entries WHERE seq = 2; DELETE FROM checkpoints WHERE size = 3;");
        } finally {
          db.close();
        }
        // Without the saved checkpoint, the shortened log looks whole.
        await ok(genlog(dir, "verify"));
        const r = await genlog(dir, "--json", "verify", "--state", state);
        assert.equal(r.code, 1, r.stderr);
        const report = JSON.parse(r.stdout) as VerifyReport;
        assert.ok(report.problems.some((p) => p.kind === "rolled-back-checkpoint"));
        assert.equal(readFileSync(join(state, "default.checkpoint"), "utf8"), saved);
      },
    );

    test("a changed verifier key exits 1 with a message naming the pinned key, and nothing is saved", async () => {
      const { dir, key } = await seededDir([{ type: "backend" }]);
      const state = mkdtempSync(join(root, "state-"));
      await ok(genlog(dir, "verify", "--state", state));
      const saved = readFileSync(join(state, "default.checkpoint"), "utf8");
      const { dir: other, key: otherKey } = await seededDir();
      const given = await genlog(dir, "verify", "--state", state, "--verifier-key", otherKey);
      assertOneLineError(given, 1);
      assert.match(given.stderr, /verifier key changed/);
      assert.ok(given.stderr.includes(key));
      // The signing key in the keys dir replaced by another one.
      copyFileSync(
        join(other, "keys", "default.ed25519.pem"),
        join(dir, "keys", "default.ed25519.pem"),
      );
      const replaced = await genlog(dir, "--json", "verify", "--state", state);
      assert.equal(replaced.code, 1);
      const error = jsonError(replaced);
      assert.equal(error.code, "GENLOG_E_BAD_SIGNATURE");
      assert.equal(error.details.pinned, key);
      assert.equal(error.details.found, otherKey);
      assert.equal(readFileSync(join(state, "default.checkpoint"), "utf8"), saved);
      assert.equal(readFileSync(join(state, "default.verifier.key"), "utf8"), `${key}\n`);
    });

    test("setup failures exit 2 or 3, never 1", { skip: SQLITE_FILE }, async () => {
      const { dir } = await seededDir([{ type: "backend" }]);
      const missing = await genlog(dir, "verify", "--state", join(root, "no-such-state"));
      assertOneLineError(missing, 2);
      const file = join(root, `state-file-${++dirs}`);
      writeFileSync(file, "");
      assertOneLineError(await genlog(dir, "verify", "--state", file), 2);
      const state = mkdtempSync(join(root, "state-"));
      assertOneLineError(await genlog(dir, "verify", "--state", state, "--trusted", file), 2);
      // The state of a log of another instance.
      const { dir: elsewhere } = await seededDir([{ type: "backend" }], {
        instance: "genlog.example.com",
      });
      await ok(genlog(elsewhere, "verify", "--state", state));
      assertOneLineError(await genlog(dir, "verify", "--state", state), 2);
      // A state directory this account cannot write.
      const { user, restricted } = await auditorAccount();
      if (restricted) {
        const locked = lockedDir();
        const copy = auditorCopy(dir);
        const r = await genlogWith(user, copy, "verify", "--state", locked);
        assertOneLineError(r, 3);
        assert.match(r.stderr, /GENLOG_E_IO/);
      }
    });
  });

  describe("the guide's cron verification", () => {
    const noNpx =
      spawnSync("npx", ["--version"], { stdio: "ignore" }).status !== 0 && "no npx here";

    test(
      "the script in getting-started.md runs from $HOME with genlog installed as a dependency: exit 0 when intact, 1 after tampering",
      { skip: SQLITE_FILE || noNpx },
      async () => {
        const guide = readFileSync(join(REPO_ROOT, "docs/guides/getting-started.md"), "utf8");
        const script = [...guide.matchAll(/```sh\n([\s\S]*?)```/g)]
          .map((m) => m[1]!)
          .find((s) => s.startsWith("#!/bin/sh") && s.includes("verify --state"));
        assert.ok(script !== undefined, "the guide has no cron script using verify --state");
        const home = mkdtempSync(join(root, "home-"));
        const app = mkdtempSync(join(root, "app-"));
        writeFileSync(
          join(app, "package.json"),
          JSON.stringify({ name: "my-service", private: true, dependencies: { genlog: "*" } }),
        );
        mkdirSync(join(app, "node_modules", ".bin"), { recursive: true });
        symlinkSync(REPO_ROOT, join(app, "node_modules", "genlog"), "dir");
        // What `npm install` makes of genlog's "bin": an executable `genlog` running the CLI.
        writeFileSync(
          join(app, "node_modules", ".bin", "genlog"),
          `#!/bin/sh\nexec "${process.execPath}" "${join(app, "node_modules", "genlog", "dist", "cli", "main.js")}" "$@"\n`,
          { mode: 0o755 },
        );
        const scriptFile = join(home, "verify-genlog.sh");
        writeFileSync(scriptFile, script, { mode: 0o755 });

        const { dir, key } = await seededDir([{ type: "backend" }]);
        const state = join(home, "genlog-audit");
        mkdirSync(state, { mode: 0o700 });
        // The first run, by hand, pins the key the operator published.
        await ok(genlog(dir, "verify", "--state", state, "--verifier-key", key));
        await logJson(dir, "frontend");
        const env = {
          HOME: home,
          APP: app,
          DATA: dir,
          STATE: state,
          npm_config_update_notifier: "false",
        };
        const run = () => runProgram("/bin/sh", [scriptFile], { cwd: home, env });
        const intact = await run();
        assert.equal(intact.code, 0, intact.stderr);
        const report = JSON.parse(readFileSync(join(state, "default.report.json"), "utf8"));
        assert.equal(report.ok, true);
        assert.equal(report.trustedSize, 1);
        assert.equal(report.verifiedSize, 2);

        const db = rawDatabase(join(dir, "genlog.db"));
        try {
          db.prepare(
            "UPDATE bodies SET record = replace(record, 'frontend', 'backend') WHERE seq = 1",
          ).run();
        } finally {
          db.close();
        }
        const tampered = await run();
        assert.equal(tampered.code, 1, tampered.stderr);
        const failed = JSON.parse(readFileSync(join(state, "default.report.json"), "utf8"));
        assert.equal(failed.ok, false);
      },
    );
  });

  describe(
    "on a terminal",
    { skip: (!HAS_SCRIPT && "needs script(1) for a pseudo-terminal") || SQLITE_FILE },
    () => {
      let intact: string;
      let tampered: string;
      before(async () => {
        ({ dir: intact } = await seededDir([{ type: "backend" }]));
        ({ dir: tampered } = await seededDir([{ type: "backend", meta: { stack: "Flask" } }]));
        const db = rawDatabase(join(tampered, "genlog.db"));
        try {
          db.prepare("UPDATE bodies SET record = replace(record, 'Flask', 'Django')").run();
        } finally {
          db.close();
        }
      });
      const screen = (r: CliResult) => r.stdout.replace(/\r\n/g, "\n");

      test("verify draws a progress bar on stderr and clears it when done", async () => {
        const r = await runInTerminal(["--data-dir", intact, "verify"], {
          env: { TERM: "xterm-256color" },
        });
        assert.equal(r.code, 0, r.stdout);
        const out = screen(r);
        const bar = out.lastIndexOf("verifying [");
        assert.ok(bar >= 0, `expected a progress bar in ${JSON.stringify(out)}`);
        const rest = out.slice(bar);
        // The bar's own line is erased (not left behind with a newline) before the report.
        const clear = rest.indexOf("\u001b[2K");
        assert.ok(clear >= 0, `the bar is not cleared: ${JSON.stringify(rest)}`);
        assert.ok(!rest.slice(0, clear).includes("\n"), "the bar must not be left on a line");
        assert.ok(clear < rest.indexOf("OK"), "the bar must be cleared before the report");
      });

      test("on a colour terminal a failed verify is shown in red", async () => {
        const r = await runInTerminal(["--data-dir", tampered, "verify"], {
          env: { TERM: "xterm-256color" },
        });
        assert.equal(r.code, 1, r.stdout);
        // eslint-disable-next-line no-control-regex -- matching escape sequences is the point
        assert.match(screen(r), /\u001b\[31m(?:\u001b\[1m)?FAILED/);
      });

      test("NO_COLOR turns colours off", async () => {
        const r = await runInTerminal(["--data-dir", tampered, "verify"], {
          env: { TERM: "xterm-256color", NO_COLOR: "1" },
        });
        assert.equal(r.code, 1, r.stdout);
        assert.match(screen(r), /FAILED: /);
        for (const colour of ["\u001b[31m", "\u001b[32m"]) {
          assert.ok(!screen(r).includes(colour), "NO_COLOR: no colour may be set");
        }
      });

      test("with TERM=dumb nothing but text is written: no progress bar, no colour, no escape sequence", async () => {
        for (const dir of [intact, tampered]) {
          const r = await runInTerminal(["--data-dir", dir, "verify"], { env: { TERM: "dumb" } });
          assert.ok(
            !screen(r).includes("\u001b"),
            `escape sequence in ${JSON.stringify(screen(r))}`,
          );
          assert.doesNotMatch(screen(r), /verifying/);
        }
      });

      test("off a terminal verify writes nothing to stderr", async () => {
        const r = await ok(genlog(intact, "verify"));
        assert.equal(r.stderr, "");
      });
    },
  );
});
