/**
 * genlog on a real PostgreSQL server (the store contract itself is in
 * test/conformance/log-store.test.ts): the library end to end, two handles over one database
 * appending to one log as two nodes would, and attacks with raw SQL on the tables.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { connect, createServer as createNetServer, type AddressInfo } from "node:net";
import { GenlogError, migrateToPostgres, openLog, type Genlog } from "../src/index.js";
import { hashLeaf, verifyInclusion } from "../src/core/merkle.js";
import { parseCheckpoint } from "../src/core/checkpoint.js";
import { verifyNote } from "../src/core/signed-note.js";
import { PostgresStore } from "../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import type { StoredCheckpoint } from "../src/store/log-store.js";
import { runCli } from "./helpers/run-cli.js";
import { freshDatabase, SKIP_POSTGRES } from "./helpers/postgres.js";
import { tempDir } from "./helpers/temp-dir.js";

const skip = SKIP_POSTGRES;

async function sql(url: string, text: string, args: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(text, args);
  } finally {
    await c.end();
  }
}

function isCode(code: string) {
  return (e: unknown) => e instanceof GenlogError && e.code === code;
}

test(
  "the library on PostgreSQL: appends, queries, proofs, erasure, holds, purge, verify",
  { skip },
  async () => {
    const databaseUrl = await freshDatabase();
    const log = await openLog({ dataDir: tempDir(), databaseUrl });
    try {
      const seed = await log.logGenerationEvent("backend", {
        user: "alice",
        meta: { stack: "Flask" },
      });
      assert.equal(seed.seq, 0);
      for (let i = 0; i < 40; i++) {
        await log.append({ type: i % 2 ? "frontend" : "backend", user: `u${i % 3}`, meta: { i } });
      }
      // Queries: by type, by actor (the pseudonym records carry), with paging.
      const fronts = await log.query({ type: "frontend", limit: 100 });
      assert.equal(fronts.records.length, 20);
      const alice = await log.query({ actor: seed.actor!, limit: 10 });
      assert.deepEqual(
        alice.records.map((r) => r.id),
        [seed.id],
      );
      // A proof of the seed event against the latest signed checkpoint.
      const key = await log.verifierKey();
      const p = await log.inclusionProof(seed.id);
      const cp = parseCheckpoint(verifyNote(p.checkpoint, key));
      assert.equal(
        Buffer.from(p.leafHash, "base64").toString("hex"),
        hashLeaf(Buffer.from(JSON.stringify(p.record))).toString("hex"),
      );
      verifyInclusion(
        Buffer.from(p.leafHash, "base64"),
        p.leafIndex,
        p.treeSize,
        p.hashes.map((h) => Buffer.from(h, "base64")),
        cp.rootHash,
      );
      // A hold stops the erasure; released, the erasure goes through and proofs still verify.
      const before = (await log.reveal([await log.get(seed.id)]))[0]!.revealed;
      assert.equal(before !== null && "actor" in before ? before.actor : undefined, "alice");
      await log.setHold({ subject: "alice", reason: "litigation #7" });
      await assert.rejects(
        log.eraseSubject({ subject: "alice", reason: "Art. 17" }),
        isCode("GENLOG_E_HELD"),
      );
      await log.releaseHold({ subject: "alice", reason: "closed" });
      const erased = await log.eraseSubject({ subject: "alice", reason: "Art. 17" });
      assert.deepEqual(erased.pseudonyms, [seed.actor]);
      assert.deepEqual((await log.reveal([await log.get(seed.id)]))[0]!.revealed, {
        erased: true,
      });
      // Retention: everything before now is purged, genlog's own events kept.
      await log.setRetention({ days: 1, reason: "test" });
      const purged = await log.purge({ before: new Date().toISOString() });
      assert.equal(purged.purged, 41);
      await assert.rejects(log.get(seed.id), isCode("GENLOG_E_NOT_FOUND"));
      const report = await log.verify();
      assert.ok(report.ok, JSON.stringify(report.problems));
      assert.equal(report.purged?.entries, 41);
    } finally {
      await log.close();
    }
  },
);

test(
  "two nodes over one database append to one log: contiguous seqs, one tree, verify passes",
  { skip },
  async () => {
    const databaseUrl = await freshDatabase();
    const keysDir = tempDir();
    const a = await openLog({ dataDir: tempDir(), keysDir, databaseUrl });
    const b = await openLog({ dataDir: tempDir(), keysDir, databaseUrl });
    try {
      const burst = (log: Genlog, node: string) =>
        Promise.all(
          Array.from({ length: 150 }, (_, i) => log.append({ type: "backend", meta: { node, i } })),
        );
      const [fromA, fromB] = await Promise.all([burst(a, "a"), burst(b, "b")]);
      const seqs = [...fromA, ...fromB].map((r) => r.seq).sort((x, y) => x - y);
      assert.deepEqual(
        seqs,
        Array.from({ length: 300 }, (_, i) => i),
      );
      assert.equal(await a.size(), 300);
      assert.equal(await b.size(), 300);
      // Each node reads what the other acknowledged, and both verify the same tree.
      for (const r of fromB.slice(0, 5)) assert.equal((await a.get(r.id)).seq, r.seq);
      const [va, vb] = [await a.verify(), await b.verify()];
      assert.ok(va.ok && vb.ok, JSON.stringify([...va.problems, ...vb.problems]));
      assert.equal(va.root, vb.root);
      assert.equal(await a.checkpoint(), await b.checkpoint());
    } finally {
      await a.close();
      await b.close();
    }
  },
);

test(
  "raw SQL cannot rewrite or drop what genlog committed; with the guards dropped, verify names the entry",
  { skip },
  async () => {
    const databaseUrl = await freshDatabase();
    const dataDir = tempDir();
    let log = await openLog({ dataDir, databaseUrl });
    const records = [];
    for (let i = 0; i < 5; i++) records.push(await log.append({ type: "backend", meta: { i } }));
    await log.close();

    for (const attack of [
      "UPDATE bodies SET record = replace(record, '\"i\":2', '\"i\":9') WHERE seq = 2",
      "DELETE FROM bodies WHERE seq = 1",
      "UPDATE tree SET leaf_hash = leaf_hash WHERE seq = 0",
      "DELETE FROM tree WHERE seq = 4",
      "DELETE FROM checkpoints",
      "TRUNCATE bodies",
    ]) {
      await assert.rejects(sql(databaseUrl, attack), /genlog: /, attack);
    }

    // An owner of the database can drop a guard: genlog then refuses to write there.
    await sql(databaseUrl, "ALTER TABLE bodies DISABLE TRIGGER bodies_unchanged");
    await assert.rejects(openLog({ dataDir, databaseUrl }), (e: unknown) => {
      return (
        isCode("GENLOG_E_INCONSISTENT")(e) &&
        /bodies_unchanged is disabled/.test((e as Error).message)
      );
    });
    // What was changed meanwhile, with the guard put back, verify finds by itself.
    await sql(
      databaseUrl,
      "UPDATE bodies SET record = replace(record, '\"i\":2', '\"i\":9') WHERE seq = 2",
    );
    await sql(databaseUrl, "ALTER TABLE bodies ENABLE TRIGGER bodies_unchanged");
    log = await openLog({ dataDir, databaseUrl });
    try {
      const report = await log.verify();
      assert.equal(report.ok, false);
      assert.deepEqual(
        report.problems.map((p) => [p.kind, p.index]),
        [["modified", 2]],
      );
      assert.equal(report.problems[0]!.id, records[2]!.id);
    } finally {
      await log.close();
    }
  },
);

test(
  "a schema of another program is refused and left as it was; nodes starting together migrate once",
  { skip },
  async () => {
    const foreign = await freshDatabase();
    await sql(foreign, "CREATE TABLE invoices (id int PRIMARY KEY)");
    await assert.rejects(PostgresStore.connect({ url: foreign }), (e: unknown) => {
      return isCode("GENLOG_E_STORE")(e) && /invoices/.test((e as Error).message);
    });
    const tables = await sql(
      foreign,
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    );
    assert.deepEqual(
      tables.rows.map((r: { tablename: string }) => r.tablename),
      ["invoices"],
    );

    const url = await freshDatabase();
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => PostgresStore.connect({ url })),
    );
    try {
      assert.equal(await stores[0]!.getSetting("schema_version"), "1");
      for (const s of stores) assert.deepEqual(await s.checkIntegrity(), []);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  },
);

test("a password in the database URL never appears in messages", { skip }, async () => {
  const url = new URL(await freshDatabase());
  url.password = "s3cret-Passw0rd";
  url.port = "1"; // nothing listens there
  await assert.rejects(
    openLog({ dataDir: tempDir(), databaseUrl: url.toString() }),
    (e: unknown) => {
      assert.ok(e instanceof GenlogError);
      assert.doesNotMatch(`${e.message} ${JSON.stringify(e.details)}`, /s3cret/);
      return true;
    },
  );
});

test(
  "migrate --to copies a SQLite data directory into PostgreSQL: the same checkpoints, verify passes, appends go on",
  { skip },
  async () => {
    const dataDir = tempDir();
    const log = await openLog({ dataDir });
    const old = [];
    for (let i = 0; i < 6; i++)
      old.push(await log.append({ type: "backend", user: `u${i % 2}`, meta: { i } }));
    await new Promise((r) => setTimeout(r, 20));
    const cutoff = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await log.append({ type: "frontend", user: "keep" });
    await log.createToken({ scope: "default", role: "auditor" });
    await log.setRetention({ days: 1, reason: "test" });
    await log.purge({ before: cutoff }); // positions without a body
    await log.eraseSubject({ subject: "keep", reason: "Art. 17" });
    await log.setHold({ subject: "u1", reason: "case 3" });
    await log.close();
    const file = SqliteStore.open({ path: join(dataDir, "genlog.db"), readonly: true });
    const before = new Map<string, StoredCheckpoint[]>();
    for (const ref of await file.listLogs())
      before.set(ref.origin, await file.listCheckpoints(ref.logId));
    await file.close();

    // From the CLI, as an operator would.
    const databaseUrl = await freshDatabase();
    const run = await runCli(["--data-dir", dataDir, "migrate", "--to", databaseUrl]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /OK: genlog\.local\/default\/events: \d+ entries, verified, same latest checkpoint/,
    );
    assert.match(run.stdout, /OK: genlog\.local\/default\/access/);
    // `migrate` on the database itself: nothing to do, and it says where it looked.
    const schema = await runCli(["--database-url", databaseUrl, "--json", "migrate"]);
    assert.equal(schema.code, 0, schema.stderr);
    const reported = JSON.parse(schema.stdout) as { database: string; from: number; to: number };
    assert.deepEqual([reported.from, reported.to], [1, 1]);
    assert.equal(reported.database, databaseUrl);

    // Every checkpoint ever signed is there, as signed.
    const copy = await PostgresStore.connect({ url: databaseUrl, readonly: true });
    for (const ref of await copy.listLogs()) {
      assert.deepEqual(await copy.listCheckpoints(ref.logId), before.get(ref.origin), ref.origin);
    }
    await copy.close();
    const again = await openLog({ dataDir, databaseUrl });
    try {
      assert.equal((await again.holds()).length, 1);
      await assert.rejects(again.get(old[0]!.id), isCode("GENLOG_E_NOT_FOUND")); // purged
      const next = await again.append({ type: "backend", meta: { after: true } });
      assert.equal(next.seq, (await again.size()) - 1);
      const report = await again.verify();
      assert.ok(report.ok, JSON.stringify(report.problems));
      assert.ok((report.purged?.entries ?? 0) > 0);
    } finally {
      await again.close();
    }
    // A database that holds logs is never merged into.
    await assert.rejects(migrateToPostgres({ dataDir, databaseUrl }), isCode("GENLOG_E_USAGE"));
  },
);

test(
  "two nodes running the same webhook follower hand each record over once: the lease decides who",
  { skip },
  async () => {
    const got: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        got.push(req.headers["webhook-id"] as string);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
    const databaseUrl = await freshDatabase();
    const keysDir = tempDir();
    const local = { followerNetwork: { allowPrivate: true }, keysDir, databaseUrl };
    const a = await openLog({ dataDir: tempDir(), ...local });
    const b = await openLog({ dataDir: tempDir(), ...local });
    // A third node that does not run webhooks (say, an older version): it must not hold one.
    const c = await openLog({ dataDir: tempDir(), ...local, followerKinds: [] });
    const stop = new AbortController();
    try {
      await a.addFollower({
        name: "hook",
        kind: "webhook",
        config: { url },
        secret: `whsec_${randomBytes(32).toString("base64")}`,
      });
      // Both nodes run their followers, as two `genlog serve` would.
      const start = (log: Genlog) =>
        log.followerRunner({ baseDelayMs: 1, maxDelayMs: 4, leaseMs: 2000 }).run(stop.signal, 20);
      // The node that cannot run webhooks starts first, and has had rounds before the others.
      const runs = [start(c)];
      await new Promise((r) => setTimeout(r, 200));
      runs.push(start(a), start(b));
      const records = [];
      for (let i = 0; i < 60; i++) {
        records.push(await (i % 2 ? a : b).append({ type: "backend", meta: { i } }));
      }
      for (let i = 0; i < 500 && got.length < records.length; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      stop.abort();
      await Promise.all(runs);
      assert.deepEqual(
        [...got].sort(),
        records.map((r) => r.id).sort(),
        "every record once, by one node or the other",
      );
    } finally {
      stop.abort();
      server.close();
      await a.close();
      await b.close();
      await c.close();
    }
  },
);

test(
  "connections the server cuts between two statements of a transaction fail that call, never the process",
  { skip },
  async () => {
    const databaseUrl = await freshDatabase();
    const log = await openLog({ dataDir: tempDir(), databaseUrl });
    const acked = new Map<string, number>();
    let failed = 0;
    let killed = 0;
    try {
      let stop = false;
      // What a restart or a failover does to every open session, many times over (of this
      // test's database only: other tests share the server).
      const killer = (async () => {
        while (!stop) {
          const r = await sql(
            databaseUrl,
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'genlog' AND datname = current_database() AND pid <> pg_backend_pid()",
          );
          killed += (r.rows[0] as { n: number }).n;
          await new Promise((r) => setTimeout(r, 3));
        }
      })();
      const appender = async (w: number) => {
        for (let i = 0; i < 60; i++) {
          try {
            const r = await log.append({ type: "backend", meta: { w, i } });
            acked.set(r.id, r.seq);
          } catch (e) {
            assert.ok(e instanceof GenlogError, String(e));
            failed++;
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, w) => appender(w)));
      stop = true;
      await killer;
      assert.ok(
        killed > 0 && failed > 0,
        `the cuts were felt (${killed} killed, ${failed} failed)`,
      );
      // The log goes on once the server lets it, and keeps every acknowledged record.
      const last = await log.append({ type: "backend", meta: { after: true } });
      acked.set(last.id, last.seq);
      for (const [id, seq] of acked) assert.equal((await log.get(id))?.seq, seq);
      const report = await log.verify();
      assert.equal(report.ok, true, JSON.stringify(report.problems));
    } finally {
      await log.close();
    }
  },
);

/** Every row of every table of a database, as text: what a copy of it would give away. */
async function everything(url: string): Promise<string> {
  const tables = await sql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
  const out: string[] = [];
  for (const { tablename } of tables.rows as { tablename: string }[]) {
    const rows = await sql(url, `SELECT t::text AS row FROM "${tablename}" t`);
    for (const r of rows.rows as { row: string }[]) out.push(`${tablename} ${r.row}`);
  }
  return out.join("\n");
}

test(
  "residency on PostgreSQL: a region's tenant lives in the region's database only; a node without its URL is refused, not split",
  { skip },
  async () => {
    const home = await freshDatabase();
    const eu = new URL(await freshDatabase());
    eu.password = "eu-Secret-9";
    await sql(home, "ALTER ROLE CURRENT_USER PASSWORD 'eu-Secret-9'"); // trust auth ignores it
    const dataDir = tempDir();
    const log = await openLog({
      dataDir,
      databaseUrl: home,
      regionDatabaseUrls: { eu: eu.toString() },
    });
    let record;
    try {
      const created = await log.createTenant("clinic", { region: "eu" });
      assert.equal(created.region, "eu");
      assert.doesNotMatch(created.database, /eu-Secret-9/);
      assert.match(created.database, new RegExp(eu.pathname.slice(1)));
      record = await log.append({
        tenant: "clinic",
        type: "backend",
        user: "patient-4711@example.org",
        meta: { ward: "cardiology" },
      });
      await log.append({ type: "frontend", meta: { home: true } }); // the default tenant
      assert.equal((await log.verify({ tenant: "clinic" })).ok, true);
    } finally {
      await log.close();
    }
    const region = await everything(eu.toString());
    assert.match(region, new RegExp(record.id));
    // The home database knows the tenant is in region eu, and nothing of its records or people.
    const homeRows = await everything(home);
    for (const value of [record.id, record.actor!, "cardiology", "patient-4711"])
      assert.ok(
        !homeRows.includes(value),
        `${value} is not in the home database: ${homeRows
          .split("\n")
          .filter((l) => l.includes(value))
          .join(" / ")}`,
      );

    // Another node, from the CLI: with the region's variable it reaches the tenant…
    const env = { GENLOG_DATA_DIR: dataDir, GENLOG_DATABASE_URL: home };
    const withUrl = { ...env, GENLOG_DATABASE_URL_EU: eu.toString() };
    const listed = await runCli(["tenant", "list"], { env: withUrl });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /clinic\s+eu\s+1\s/);
    assert.doesNotMatch(listed.stdout + listed.stderr, /eu-Secret-9/);
    const appended = await runCli(["--tenant", "clinic", "log", "backend"], { env: withUrl });
    assert.equal(appended.code, 0, appended.stderr);
    // …without it, it is refused (no log started anew in a file of its own), and says why.
    const refused = await runCli(["--tenant", "clinic", "log", "backend"], { env });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /GENLOG_DATABASE_URL_EU/);
    const events = await sql(
      eu.toString(),
      "SELECT count(*)::int AS n FROM bodies JOIN logs USING (log_id) WHERE origin = 'genlog.local/clinic/events'",
    );
    assert.equal(events.rows[0].n, 2);
  },
);

/**
 * A TCP proxy to the test server that, once armed, cuts the connection that sends the next
 * `COMMIT`: before the server sees it (nothing landed) or after the server answered it (it
 * landed, and the answer is lost). What a network cut or a crashed pooler does to a commit.
 */
async function commitCutter(target: string) {
  const upstream = new URL(target);
  let armed: "before" | "after" | undefined;
  let cuts = 0;
  // A simple query message: 'Q', its length (4 + "COMMIT\0"), the text.
  const commit = Buffer.concat([Buffer.from([0x51, 0, 0, 0, 11]), Buffer.from("COMMIT\0")]);
  const server = createNetServer((client) => {
    const db = connect(Number(upstream.port), upstream.hostname);
    let cutting = false;
    db.on("data", (d: Buffer) => {
      if (cutting) {
        // The server answered the COMMIT: it landed. The client never hears it.
        client.destroy();
        db.destroy();
        return;
      }
      client.write(d);
    });
    client.on("data", (d: Buffer) => {
      if (armed !== undefined && d.includes(commit)) {
        const mode = armed;
        armed = undefined;
        cuts++;
        if (mode === "before") {
          client.destroy();
          db.destroy();
          return;
        }
        cutting = true;
      }
      db.write(d);
    });
    const close = () => {
      client.destroy();
      db.destroy();
    };
    client.on("error", close).on("close", close);
    db.on("error", close).on("close", close);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = new URL(target);
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    arm: (mode: "before" | "after") => (armed = mode),
    cuts: () => cuts,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

test(
  "a connection cut at COMMIT is settled by reading back: a commit that landed is acknowledged once, one that did not is refused and can be retried",
  { skip },
  async () => {
    const proxy = await commitCutter(await freshDatabase());
    const log = await openLog({ dataDir: tempDir(), databaseUrl: proxy.url });
    try {
      for (let i = 0; i < 3; i++) await log.append({ type: "backend", meta: { i } });

      // Landed, answer lost: the append succeeds, once.
      proxy.arm("after");
      const landed = await log.append({
        type: "backend",
        id: "0190a0e0-0000-7000-8000-000000000001",
      });
      assert.equal(proxy.cuts(), 1);
      assert.equal(landed.seq, 3);
      assert.equal(await log.size(), 4);

      // Never reached the server: refused as not landed; the same event again lands once.
      proxy.arm("before");
      const event = { type: "frontend", id: "0190a0e0-0000-7000-8000-000000000002" };
      await assert.rejects(log.append(event), (e: unknown) => {
        assert.ok(e instanceof GenlogError);
        assert.equal(e.code, "GENLOG_E_STORE");
        assert.equal(e.details?.["landed"], false);
        return true;
      });
      assert.equal(proxy.cuts(), 2);
      const retried = await log.append(event);
      assert.equal(retried.seq, 4);
      assert.equal(await log.size(), 5);
      const report = await log.verify();
      assert.equal(report.ok, true, JSON.stringify(report.problems));
    } finally {
      await log.close();
      await proxy.close();
    }
  },
);
