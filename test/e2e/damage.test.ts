/**
 * A damaged database file, as a failing disk or a bad copy leaves it: bytes overwritten in
 * pages that SQLite's own integrity check reports. `verify` names what is damaged and which
 * entries cannot be read, checks everything else, and never crashes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openLog } from "../helpers/store-under-test.js";
import { runCli } from "../helpers/run-cli.js";
import { tempDir } from "../helpers/temp-dir.js";

/** A closed log of `n` records, and the leaf pages of its bodies table. */
async function makeLog(n: number): Promise<{ dir: string; pages: number[]; pageSize: number }> {
  const dir = tempDir();
  const log = await openLog({ dataDir: dir });
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      log.append({ type: "backend", user: `u${i % 7}`, meta: { i, pad: "x".repeat(200) } }),
    ),
  );
  await log.close();
  const db = new Database(join(dir, "genlog.db"), { readonly: true });
  try {
    const pages = db
      .prepare(
        "SELECT pageno FROM dbstat WHERE name = 'bodies' AND pagetype = 'leaf' ORDER BY pageno",
      )
      .pluck()
      .all() as number[];
    return { dir, pages, pageSize: db.pragma("page_size", { simple: true }) as number };
  } finally {
    db.close();
  }
}

/** Overwrites the cell pointer array of each page (numbered from 1, after its 8-byte header) with garbage. */
function damage(dir: string, pages: number[], pageSize: number): void {
  const fd = openSync(join(dir, "genlog.db"), "r+");
  try {
    for (const p of pages) writeSync(fd, Buffer.alloc(300, 0x5a), 0, 300, (p - 1) * pageSize + 8);
  } finally {
    closeSync(fd);
  }
}

test("three damaged pages are reported as store damage with the entries they held, never a crash", async () => {
  const { dir, pages, pageSize } = await makeLog(600);
  assert.ok(pages.length >= 10, `expected many leaf pages, got ${pages.length}`);
  const hit = [pages[2]!, pages[Math.floor(pages.length / 2)]!, pages[pages.length - 3]!];
  damage(dir, hit, pageSize);

  const log = await openLog({ dataDir: dir, readOnly: true });
  const report = await log.verify();
  await log.close();
  assert.equal(report.ok, false);
  assert.ok(
    report.problems.every((p) => p.kind === "store-damaged"),
    JSON.stringify(report.problems),
  );
  // SQLite names each damaged page; verify names the entries it could not read, in runs.
  for (const p of hit) {
    assert.ok(
      report.problems.some((x) => x.message.includes(`table bodies, page ${p}:`)),
      `page ${p}`,
    );
  }
  const runs = report.problems.filter((p) => p.index !== undefined);
  assert.equal(runs.length, 3, JSON.stringify(runs));
  // Everything outside the damaged pages was read and checked.
  assert.ok(report.entries > 500 && report.entries < 600, String(report.entries));

  const cli = await runCli(["verify", "--data-dir", dir]);
  assert.equal(cli.code, 1, cli.stderr);
  assert.doesNotMatch(cli.stderr, /unexpected failure/);
  assert.match(cli.stdout, /store-damaged/);

  const json = await runCli(["verify", "--data-dir", dir, "--json"]);
  assert.equal(json.code, 1, json.stderr);
  const parsed = JSON.parse(json.stdout) as { ok: boolean; problems: unknown[] };
  assert.equal(parsed.problems.length, report.problems.length);
});

test("a damaged index page is store damage, and every record still verifies", async () => {
  const { dir, pageSize } = await makeLog(600);
  const db = new Database(join(dir, "genlog.db"), { readonly: true });
  const [indexPage] = db
    .prepare("SELECT pageno FROM dbstat WHERE name = 'bodies_type' AND pagetype = 'leaf' LIMIT 1")
    .pluck()
    .all() as number[];
  db.close();
  damage(dir, [indexPage!], pageSize);
  const log = await openLog({ dataDir: dir, readOnly: true });
  const report = await log.verify();
  await log.close();
  assert.equal(report.verifiedSize, 600);
  assert.equal(report.entries, 600);
  assert.ok(report.problems.length > 0);
  assert.ok(report.problems.every((p) => p.kind === "store-damaged" && p.index === undefined));
  assert.ok(report.problems.some((p) => p.message.includes("index bodies_type")));
});

test("a store too damaged to find the log in still gives a report, not a crash", async () => {
  const { dir, pageSize } = await makeLog(20);
  const db = new Database(join(dir, "genlog.db"), { readonly: true });
  const logsPage = db
    .prepare("SELECT rootpage FROM sqlite_master WHERE name = 'logs'")
    .pluck()
    .get() as number;
  db.close();
  // The page's header: SQLite can no longer read the table of logs at all.
  const fd = openSync(join(dir, "genlog.db"), "r+");
  writeSync(fd, Buffer.alloc(12, 0xff), 0, 12, (logsPage - 1) * pageSize);
  closeSync(fd);
  const log = await openLog({ dataDir: dir, readOnly: true });
  const report = await log.verify();
  await log.close();
  assert.equal(report.ok, false);
  assert.match(report.problems[0]!.message, /could not be read/);
  assert.ok(report.problems.every((p) => p.kind === "store-damaged"));
  const cli = await runCli(["verify", "--data-dir", dir]);
  assert.equal(cli.code, 1, cli.stderr);
  assert.doesNotMatch(cli.stderr, /unexpected failure/);
});

test("a database whose schema page is damaged fails verification, exit 1, and is never a crash", async () => {
  const { dir } = await makeLog(5);
  // Page 1 past the file header: the schema table SQLite reads first.
  const fd = openSync(join(dir, "genlog.db"), "r+");
  writeSync(fd, Buffer.alloc(8, 0xff), 0, 8, 100);
  closeSync(fd);
  const cli = await runCli(["verify", "--data-dir", dir]);
  assert.equal(cli.code, 1, cli.stderr);
  assert.match(
    cli.stdout,
    /^FAILED: .*\n {2}store-damaged: database: the database cannot be opened/,
  );
  const json = await runCli(["verify", "--data-dir", dir, "--json"]);
  assert.equal(json.code, 1);
  assert.equal(
    (JSON.parse(json.stdout) as { problems: { kind: string }[] }).problems[0]!.kind,
    "store-damaged",
  );
});

test("a database whose header was overwritten fails verification, exit 1; other commands exit 3", async () => {
  const { dir } = await makeLog(5);
  const fd = openSync(join(dir, "genlog.db"), "r+");
  writeSync(fd, Buffer.alloc(100, 0), 0, 100, 0);
  closeSync(fd);
  const cli = await runCli(["verify", "--data-dir", dir]);
  assert.equal(cli.code, 1, cli.stderr);
  assert.match(cli.stdout, /store-damaged: .*is not a SQLite database: its header is damaged/);
  const query = await runCli(["query", "--data-dir", dir]);
  assert.equal(query.code, 3, query.stderr);
  assert.match(query.stderr, /is not a SQLite database.*\[GENLOG_E_CORRUPT\]\n$/);
});
