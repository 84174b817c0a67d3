/**
 * CAR exports, checked by tools that are not ours: `ipfs-car` (the reference packer) reads our
 * CAR, gives the same root, unpacks the same files, and packs them back to the same root; two
 * exports of the same range are the same bytes; a flipped byte anywhere, a record changed and
 * re-packed by an attacker, or an export that does not continue the previous one are refused.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkCar, type Genlog } from "../src/index.js";
import { openLog } from "./helpers/store-under-test.js";
import { REPO_ROOT, runCli } from "./helpers/run-cli.js";
import { tempDir } from "./helpers/temp-dir.js";

const IPFS_CAR = join(REPO_ROOT, "node_modules/.bin/ipfs-car");

function ipfsCar(...args: string[]): string {
  return execFileSync(IPFS_CAR, args, { encoding: "utf8" }).trim();
}

async function filledLog(n: number): Promise<{ dir: string; log: Genlog }> {
  const dir = tempDir();
  const log = await openLog({ dataDir: dir });
  for (let i = 0; i < n; i++) {
    await log.logGenerationEvent(i % 3 === 0 ? "ai-model" : "backend", {
      user: `user${i % 5}@example.com`,
      sector: "health",
      meta: { i, note: i === 4 ? "key AKIA2OGYBAH6STMMNXNN leaked" : "ok" },
    });
  }
  return { dir, log };
}

test("a CAR export is what ipfs-car reads: same root, same files, packed back to the same root; two exports are the same bytes", async (t) => {
  const { dir, log } = await filledLog(40);
  t.after(() => log.close());
  const a = await log.exportCar({ out: join(dir, "a.car") });
  const b = await log.exportCar({ out: join(dir, "b.car") });
  assert.equal(a.root, b.root);
  assert.ok(readFileSync(join(dir, "a.car")).equals(readFileSync(join(dir, "b.car"))));
  assert.equal(a.manifest.records, 40);
  assert.equal(a.manifest.fromSeq, 0);
  assert.equal(a.manifest.treeSize, 40);

  assert.equal(ipfsCar("roots", join(dir, "a.car")), a.root);
  const unpacked = join(dir, "unpacked");
  ipfsCar("unpack", join(dir, "a.car"), "--output", unpacked);
  assert.deepEqual(readdirSync(unpacked).sort(), [
    "checkpoint",
    "manifest.json",
    "proofs.json",
    "records.ndjson",
  ]);
  const lines: string[] = [];
  for await (const line of log.exportCanonical()) lines.push(line);
  assert.equal(readFileSync(join(unpacked, "records.ndjson"), "utf8"), `${lines.join("\n")}\n`);
  assert.equal(readFileSync(join(unpacked, "checkpoint"), "utf8"), await log.checkpoint());
  assert.ok(
    !readFileSync(join(unpacked, "records.ndjson"), "utf8").includes("AKIA2OGYBAH6STMMNXNN"),
  );
  assert.ok(!readFileSync(join(unpacked, "records.ndjson"), "utf8").includes("@example.com"));
  ipfsCar("pack", unpacked, "--output", join(dir, "repacked.car"));
  assert.equal(ipfsCar("roots", join(dir, "repacked.car")), a.root, "same files, same root");

  const check = await checkCar(readFileSync(join(dir, "a.car")), {
    verifierKey: await log.verifierKey(),
  });
  assert.deepEqual(check.problems, []);
  assert.equal(check.ok, true);
  assert.equal(check.root, a.root);
});

test("a flipped byte anywhere in the CAR is refused", async (t) => {
  const { dir, log } = await filledLog(12);
  t.after(() => log.close());
  await log.exportCar({ out: join(dir, "x.car") });
  const key = await log.verifierKey();
  const good = readFileSync(join(dir, "x.car"));
  // Every 97th byte, and the last one: header, block prefixes, CIDs and contents.
  const positions = [
    ...Array.from({ length: Math.floor(good.length / 97) }, (_, i) => i * 97),
    good.length - 1,
  ];
  for (const at of positions) {
    const bad = Buffer.from(good);
    bad[at] = bad[at]! ^ 0x01;
    let refused: boolean;
    try {
      refused = !(await checkCar(bad, { verifierKey: key })).ok;
    } catch {
      refused = true; // a header that no longer decodes
    }
    assert.ok(refused, `flipped byte ${at} of ${good.length} went unnoticed`);
  }
});

test("an attacker who changes a record and re-packs the CAR gets valid blocks, and a refusal naming the record", async (t) => {
  const { dir, log } = await filledLog(10);
  t.after(() => log.close());
  await log.exportCar({ out: join(dir, "orig.car") });
  const files = join(dir, "files");
  ipfsCar("unpack", join(dir, "orig.car"), "--output", files);
  const records = readFileSync(join(files, "records.ndjson"), "utf8").split("\n");
  records[6] = records[6]!.replace('"status":"succeeded"', '"status":"failed"');
  writeFileSync(join(files, "records.ndjson"), records.join("\n"));
  // The manifest is edited too, so that its digests match the changed file.
  const manifest = JSON.parse(readFileSync(join(files, "manifest.json"), "utf8")) as {
    files: { name: string; cid: string; sha256: string; bytes: number }[];
  };
  const body = readFileSync(join(files, "records.ndjson"));
  const entry = manifest.files.find((f) => f.name === "records.ndjson")!;
  entry.sha256 = (await import("node:crypto")).createHash("sha256").update(body).digest("hex");
  entry.bytes = body.length;
  mkdirSync(join(dir, "tmp"));
  writeFileSync(join(dir, "tmp", "records.ndjson"), body);
  ipfsCar("pack", join(dir, "tmp", "records.ndjson"), "--no-wrap", "--output", join(dir, "r.car"));
  entry.cid = ipfsCar("roots", join(dir, "r.car"));
  writeFileSync(join(files, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  ipfsCar("pack", files, "--output", join(dir, "forged.car"));
  const check = await checkCar(readFileSync(join(dir, "forged.car")), {
    verifierKey: await log.verifierKey(),
  });
  assert.equal(check.ok, false);
  assert.match(
    check.problems.map((p) => p.message).join("\n"),
    /do not give the signed root of size 10/,
  );
});

test("an export since a checkpoint holds what follows it, continues it, and is refused against another", async (t) => {
  const { dir, log } = await filledLog(9);
  t.after(() => log.close());
  const first = await log.exportCar({ out: join(dir, "1.car") });
  const since = await log.checkpoint();
  for (let i = 0; i < 7; i++) await log.logGenerationEvent("frontend", { meta: { i } });
  const second = await log.exportCar({ out: join(dir, "2.car"), sinceCheckpoint: since });
  assert.notEqual(second.root, first.root);
  assert.equal(second.manifest.fromSeq, 9);
  assert.equal(second.manifest.records, 7);
  const key = await log.verifierKey();
  const ok = await checkCar(readFileSync(join(dir, "2.car")), {
    verifierKey: key,
    previous: since,
  });
  assert.deepEqual(ok.problems, []);
  // Another log's checkpoint of the same size is not the one this export continues.
  const other = await filledLog(9);
  t.after(() => other.log.close());
  const foreign = await checkCar(readFileSync(join(dir, "2.car")), {
    verifierKey: key,
    previous: await other.log.checkpoint(),
  });
  assert.match(foreign.problems.map((p) => p.message).join("\n"), /does not continue/);
  await assert.rejects(
    log.exportCar({ out: join(dir, "3.car"), sinceCheckpoint: await other.log.checkpoint() }),
    /GENLOG_E_BAD_SIGNATURE|signature|not one of this log/,
  );
});

test("genlog export --format car and genlog verify --car, as a user runs them", async () => {
  const { dir, log } = await filledLog(5);
  const key = await log.verifierKey();
  await log.close();
  const env = { env: { GENLOG_DATA_DIR: dir } };
  const out = join(dir, "log.car");
  const exported = await runCli(["export", "--format", "car", "--out", out], env);
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(
    exported.stderr,
    /exported 5 records \(entries 0 to 4, signed checkpoint of size 5\) to .*; root CID bafy/,
  );
  const verified = await runCli(["verify", "--car", out, "--verifier-key", key], env);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(
    verified.stdout,
    /^OK: CAR bafy\S+ of genlog\.local\/default\/events: 5 records \(entries 0 to 4\)/,
  );
  const again = await runCli(["export", "--format", "car", "--out", out], env);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /exists/);
  const bytes = readFileSync(out);
  bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
  writeFileSync(join(dir, "bad.car"), bytes);
  const refused = await runCli(
    ["verify", "--car", join(dir, "bad.car"), "--verifier-key", key],
    env,
  );
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /^FAILED: CAR /);
});
