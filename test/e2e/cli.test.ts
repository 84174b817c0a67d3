/**
 * The `genlog` command as a new user meets it: every test runs the built CLI
 * (`dist/cli/main.js`) in a child process against a temporary data directory, and checks
 * exit statuses, output and what ends up on disk. Proofs and checkpoints are checked with the
 * library's verifiers and against hashes recomputed here with node:crypto.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rawDatabase } from "../helpers/raw-database.js";
import Database from "better-sqlite3";
import {
  isGenlogError,
  openLog,
  parseCheckpoint,
  verifyConsistency,
  verifyInclusion,
  verifyNote,
  type ConsistencyProof,
  type GenerationRecord,
  type InclusionProof,
  type VerifyReport,
} from "../../src/index.js";
import { REDACTED } from "../../src/core/redact.js";
import { genlog, lines, runCli, type CliResult } from "../helpers/run-cli.js";
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

/** `genlog log ... --json`: the one line printed and the record it holds. */
async function logJson(
  dir: string,
  ...args: string[]
): Promise<{ line: string; record: GenerationRecord }> {
  const r = await ok(genlog(dir, "log", ...args, "--json"));
  const out = lines(r.stdout);
  assert.equal(out.length, 1, `expected one line, got ${JSON.stringify(r.stdout)}`);
  return { line: out[0]!, record: JSON.parse(out[0]!) as GenerationRecord };
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
    test("init creates the data dir, genlog.db and a 0600 key file, and prints the verifier key", async () => {
      const dir = freshDir();
      const r = await ok(genlog(dir, "init"));
      assert.equal(lines(r.stdout).length, 1, `expected one line on stdout, got ${r.stdout}`);
      assert.match(r.stdout.trim(), VERIFIER_KEY);
      assert.ok(statSync(dir).isDirectory());
      assert.ok(statSync(join(dir, "genlog.db")).isFile());
      const keys = readdirSync(join(dir, "keys"));
      assert.equal(keys.length, 1, `expected one key file, got ${keys.join(", ")}`);
      const mode = statSync(join(dir, "keys", keys[0]!)).mode & 0o777;
      assert.equal(mode, 0o600, `key file mode is ${mode.toString(8)}`);
    });

    test("a second init exits 0 and keeps the signing key, whose verifier key genlog key prints", async () => {
      const { dir, key } = await initDir();
      const keyFile = join(dir, "keys", readdirSync(join(dir, "keys"))[0]!);
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

    test("log --json prints exactly the committed record, and export prints the same bytes", async () => {
      const { dir } = await initDir();
      const r = await ok(
        genlog(dir, "log", "backend", "--user", "testuser", "--meta", "stack=Flask", "--json"),
      );
      const out = lines(r.stdout);
      assert.equal(out.length, 1);
      const rec = JSON.parse(out[0]!) as GenerationRecord;
      assert.equal(rec.v, 1);
      assert.match(rec.id, UUID_V7);
      assert.equal(rec.seq, 0);
      assert.equal(rec.tenant, "default");
      assert.equal(rec.type, "backend");
      assert.match(rec.ts, RFC3339_UTC_MS);
      assert.equal(rec.actor, "testuser");
      assert.equal(rec.meta.stack, "Flask");
      assert.equal(rec.status, "succeeded");
      assert.deepEqual(rec.artifacts, []);
      assert.deepEqual(rec.redactions, []);

      const exported = await ok(genlog(dir, "export", "--format", "ndjson"));
      assert.equal(exported.stdout, r.stdout);
      assert.deepEqual(await queryJson(dir), [rec]);
    });

    test("log without --user records a null actor and empty meta", async () => {
      const { record } = await logJson(shared, "frontend");
      assert.equal(record.type, "frontend");
      assert.equal(record.actor, null);
      assert.deepEqual(record.meta, {});
    });

    test("secret metadata never reaches the database files or the export, and the record lists what was redacted", async () => {
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
      const rec = JSON.parse(r.stdout) as GenerationRecord;
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
    });

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

    test("logging again with the same --id returns the first record and does not grow the log", async () => {
      const dir = shared;
      const id = randomUUID();
      const first = await logJson(dir, "backend", "--id", id, "--user", "alice");
      assert.equal(first.record.id, id);
      const size = await recordCount(dir);
      const second = await logJson(dir, "backend", "--id", id, "--user", "alice");
      assert.equal(second.line, first.line);
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
      const seqs = runs.map((r) => (JSON.parse(r.stdout) as GenerationRecord).seq);
      assert.deepEqual([...seqs].sort(), [0, 1, 2, 3]);
      const report = JSON.parse((await ok(genlog(dir, "verify", "--json"))).stdout) as VerifyReport;
      assert.equal(report.ok, true);
    });

    describe("bad input", () => {
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
    test("after the database file is edited behind genlog's back, verify exits 1 and names entry 0 as modified", async () => {
      const { dir } = await initDir();
      const first = await logJson(dir, "backend", "--user", "testuser", "--meta", "stack=Flask");
      await logJson(dir, "frontend");
      const trusted = join(root, "tamper-trusted.txt");
      writeFileSync(trusted, (await ok(genlog(dir, "checkpoint"))).stdout);
      await ok(genlog(dir, "verify"));

      const db = rawDatabase(join(dir, "genlog.db"));
      try {
        const changed = db
          .prepare("UPDATE entries SET record = replace(record, 'Flask', 'Django') WHERE seq = 0")
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
    });
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
    test("verifies, queries and proves without the signing key; a wrong key or an edit exits 1", async () => {
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

      const db = rawDatabase(join(copy, "genlog.db"));
      try {
        db.prepare(
          "UPDATE entries SET record = replace(record, 'Flask', 'Django') WHERE seq = 0",
        ).run();
      } finally {
        db.close();
      }
      const tampered = await genlog(copy, "verify", "--json", "--verifier-key", key);
      assert.equal(tampered.code, 1);
      const problems = (JSON.parse(tampered.stdout) as VerifyReport).problems;
      assert.ok(problems.some((p) => p.kind === "modified" && p.id === first.record.id));
    });
  });

  describe("demo, help and unknown commands", () => {
    test("genlog demo on an empty data dir exits 0 and leaves a log that verifies", async () => {
      const dir = freshDir();
      await ok(genlog(dir, "demo"));
      const report = JSON.parse((await ok(genlog(dir, "verify", "--json"))).stdout) as VerifyReport;
      assert.equal(report.ok, true);
      assert.ok(report.entries > 0);
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
  });
});
