/**
 * The LogStore contract, run against every driver with a real database. A new driver adds
 * one entry to DRIVERS and must pass all of it.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { GenlogError } from "../../src/errors.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import type { AppendBatch, LogStore, StoredEntry } from "../../src/store/log-store.js";
import { tempDir } from "../helpers/temp-dir.js";
import { freshDatabase, SKIP_POSTGRES } from "../helpers/postgres.js";

const here = dirname(fileURLToPath(import.meta.url));

interface Driver {
  name: string;
  /** Why the driver's tests are skipped here, or false. */
  skip: string | false;
  /** A new, empty store; `reopen` gives a second handle on the same data. */
  make(): Promise<{ store: LogStore; reopen: () => Promise<LogStore>; location: string }>;
}

const DRIVERS: Driver[] = [
  {
    name: "sqlite",
    skip: false,
    async make() {
      const path = join(tempDir(), "store.db");
      return {
        store: SqliteStore.open({ path }),
        reopen: async () => SqliteStore.open({ path }),
        location: path,
      };
    },
  },
  {
    name: "postgres",
    skip: SKIP_POSTGRES,
    async make() {
      const url = await freshDatabase();
      return {
        store: await PostgresStore.connect({ url }),
        reopen: () => PostgresStore.connect({ url }),
        location: url,
      };
    },
  },
];

function h(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

/**
 * An entry whose query members are those of its record text, as the contract requires (a
 * driver may store them apart or derive them from the text).
 */
function entry(seq: number, over: Partial<StoredEntry> = {}): StoredEntry {
  const members = {
    id: `00000000-0000-7000-8000-${String(seq).padStart(12, "0")}`,
    ts: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
    type: seq % 2 === 0 ? "backend" : "frontend",
    actor: seq % 3 === 0 ? null : `u${seq % 3}`,
    sector: seq % 4 === 0 ? "health" : null,
    status: seq % 5 === 4 ? ("failed" as const) : ("succeeded" as const),
    ...over,
  };
  const { id, ts, type, actor, sector, status } = members;
  return {
    seq,
    canonical: JSON.stringify({ actor, id, sector, seq, status, ts, type }),
    leafHash: h(`leaf ${seq}`),
    // Pretend every odd leaf completes one level-1 node.
    nodes: seq % 2 === 1 ? h(`node 1/${(seq - 1) / 2}`) : Buffer.alloc(0),
    ...members,
  };
}

async function fill(store: LogStore, n: number, batch = 100): Promise<number> {
  const ref = (await store.openLogRef(
    { origin: "i/t/events", tenant: "t", stream: "events" },
    true,
  ))!;
  for (let start = 0; start < n; start += batch) {
    const entries = [];
    for (let s = start; s < Math.min(n, start + batch); s++) entries.push(entry(s));
    await store.appendBatch(ref.logId, {
      entries,
      checkpoint: { size: start + entries.length, note: `cp ${start + entries.length}` },
      previous: start === 0 ? undefined : { size: start, note: `cp ${start}` },
    });
  }
  return ref.logId;
}

for (const driver of DRIVERS) {
  describe(`LogStore conformance: ${driver.name}`, { skip: driver.skip }, () => {
    test("logs are created on demand and found by origin", async () => {
      const { store } = await driver.make();
      assert.equal(
        await store.openLogRef({ origin: "i/a/events", tenant: "a", stream: "events" }, false),
        undefined,
      );
      const a = await store.openLogRef(
        { origin: "i/a/events", tenant: "a", stream: "events" },
        true,
      );
      const b = await store.openLogRef(
        { origin: "i/b/events", tenant: "b", stream: "events" },
        true,
      );
      assert.ok(a && b && a.logId !== b.logId);
      assert.deepEqual(
        await store.openLogRef({ origin: "i/a/events", tenant: "a", stream: "events" }, false),
        a,
      );
      assert.deepEqual(await store.logState(a.logId), { size: 0, latest: undefined });
      await store.close();
    });

    test("settings are set once and then kept", async () => {
      const { store } = await driver.make();
      assert.equal(await store.initSetting("instance", "one"), "one");
      assert.equal(await store.initSetting("instance", "two"), "one");
      assert.equal(await store.getSetting("instance"), "one");
      assert.equal(await store.getSetting("absent"), undefined);
      await store.close();
    });

    test("statuses are replaced, and only status keys may be", async () => {
      const { store, reopen } = await driver.make();
      await store.putStatus("status.verify.acme.events", "one");
      await store.putStatus("status.verify.acme.events", "two");
      assert.equal(await (await reopen()).getSetting("status.verify.acme.events"), "two");
      await store.initSetting("instance", "one");
      await assert.rejects(
        store.putStatus("instance", "two"),
        (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_USAGE",
      );
      assert.equal(await store.getSetting("instance"), "one");
      await store.close();
    });

    test("an appended batch is visible to a second handle once the promise resolves", async () => {
      const { store, reopen } = await driver.make();
      const logId = await fill(store, 10, 5);
      const other = await reopen();
      const state = await other.logState(logId);
      assert.equal(state.size, 10);
      assert.deepEqual(state.latest, { size: 10, note: "cp 10" });
      assert.deepEqual(await other.getEntry(logId, 7), entry(7));
      await other.close();
      await store.close();
    });

    test("a failing batch writes nothing, neither entries nor checkpoint", async () => {
      const { store } = await driver.make();
      const logId = await fill(store, 3);
      await assert.rejects(
        store.appendBatch(logId, {
          entries: [entry(3), entry(1)],
          checkpoint: { size: 5, note: "cp 5" },
          previous: { size: 3, note: "cp 3" },
        }),
        (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_STORE",
      );
      assert.deepEqual(await store.logState(logId), { size: 3, latest: { size: 3, note: "cp 3" } });
      assert.equal(await store.getEntry(logId, 3), undefined);
      await store.close();
    });

    test("a batch that does not start at the log's size is refused as a conflict", async () => {
      const { store, reopen } = await driver.make();
      const logId = await fill(store, 3);
      const other = await reopen();
      const cp3 = { size: 3, note: "cp 3" };
      await other.appendBatch(logId, {
        entries: [entry(3)],
        checkpoint: { size: 4, note: "cp 4" },
        previous: cp3,
      });
      const conflict = (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_CONFLICT";
      await assert.rejects(
        store.appendBatch(logId, {
          entries: [entry(3)],
          checkpoint: { size: 4, note: "cp 4 again" },
          previous: cp3,
        }),
        conflict,
      );
      await assert.rejects(
        store.appendBatch(logId, {
          entries: [entry(6)],
          checkpoint: { size: 7, note: "cp 7" },
          previous: { size: 6, note: "cp 6" },
        }),
        conflict,
      );
      // Right size, wrong tree: a writer that sealed on another checkpoint would fork the log.
      await assert.rejects(
        store.appendBatch(logId, {
          entries: [entry(4)],
          checkpoint: { size: 5, note: "cp 5" },
          previous: { size: 4, note: "another cp 4" },
        }),
        conflict,
      );
      assert.deepEqual(await store.logState(logId), { size: 4, latest: { size: 4, note: "cp 4" } });
      await other.close();
      await store.close();
    });

    test("nodes are served from the entry that completes them", async () => {
      const { store } = await driver.make();
      const logId = await fill(store, 6);
      const got = await store.readNodes(logId, [
        { level: 0, index: 4 },
        { level: 1, index: 2 },
        { level: 1, index: 0 },
      ]);
      assert.deepEqual(
        got.map((b) => Buffer.from(b).toString("hex")),
        [h("leaf 4").toString("hex"), h("node 1/2").toString("hex"), h("node 1/0").toString("hex")],
      );
      await assert.rejects(
        store.readNodes(logId, [{ level: 0, index: 6 }]),
        (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_NOT_FOUND",
      );
      await assert.rejects(
        store.readNodes(logId, [{ level: 2, index: 0 }]),
        (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_NOT_FOUND",
      );
      await store.close();
    });

    test("records are found by id and by seq", async () => {
      const { store } = await driver.make();
      const logId = await fill(store, 4);
      const found = await store.findByIds(logId, [entry(2).id, "nope"]);
      assert.deepEqual([...found.keys()], [entry(2).id]);
      assert.equal(found.get(entry(2).id)?.seq, 2);
      assert.equal((await store.getEntry(logId, 3))?.seq, 3);
      assert.equal(await store.getEntry(logId, 4), undefined);
      await store.close();
    });

    test("queries combine filters, honour the limit and page by seq", async () => {
      const { store } = await driver.make();
      const logId = await fill(store, 40);
      const seqs = async (f: Parameters<LogStore["query"]>[1]) =>
        (await store.query(logId, f)).map((r) => r.seq);
      const all = Array.from({ length: 40 }, (_, i) => entry(i));
      const expect = (p: (e: StoredEntry) => boolean) => all.filter(p).map((e) => e.seq);
      assert.deepEqual(
        await seqs({ type: "backend", limit: 100 }),
        expect((e) => e.type === "backend"),
      );
      assert.deepEqual(
        await seqs({ actor: "u1", limit: 100 }),
        expect((e) => e.actor === "u1"),
      );
      assert.deepEqual(
        await seqs({ sector: "health", limit: 100 }),
        expect((e) => e.sector === "health"),
      );
      assert.deepEqual(
        await seqs({ status: "failed", limit: 100 }),
        expect((e) => e.status === "failed"),
      );
      assert.deepEqual(
        await seqs({ status: "succeeded", limit: 100 }),
        expect((e) => e.status === "succeeded"),
      );
      assert.deepEqual(
        await seqs({ type: "backend", status: "failed", limit: 100 }),
        expect((e) => e.type === "backend" && e.status === "failed"),
      );
      const since = entry(10).ts;
      const until = entry(20).ts;
      assert.deepEqual(
        await seqs({ since, until, limit: 100 }),
        expect((e) => e.seq >= 10 && e.seq < 20),
      );
      assert.deepEqual(await seqs({ limit: 5 }), [0, 1, 2, 3, 4]);
      assert.deepEqual(await seqs({ afterSeq: 4, limit: 3 }), [5, 6, 7]);
      await store.close();
    });

    test("a scan returns every entry in seq order across pages", async () => {
      const { store } = await driver.make();
      const logId = await fill(store, 5000, 1000);
      let expected = 0;
      for await (const e of store.scanEntries(logId)) {
        assert.equal(e.seq, expected++);
      }
      assert.equal(expected, 5000);
      let from = 4990;
      for await (const e of store.scanEntries(logId, 4990)) assert.equal(e.seq, from++);
      assert.equal(from, 5000);
      await store.close();
    });

    test("every checkpoint is kept in issue order and found by size", async () => {
      const { store } = await driver.make();
      const logId = await fill(store, 30, 10);
      assert.deepEqual(
        (await store.listCheckpoints(logId)).map((c) => c.size),
        [10, 20, 30],
      );
      assert.deepEqual(await store.checkpointAt(logId, 20), { size: 20, note: "cp 20" });
      assert.equal(await store.checkpointAt(logId, 15), undefined);
      await store.close();
    });

    test("a checkpoint scan returns every checkpoint in issue order across pages", async () => {
      const { store } = await driver.make();
      const logId = await fill(store, 2100, 2);
      const listed = await store.listCheckpoints(logId);
      const scanned: { size: number; note: string }[] = [];
      for await (const c of store.scanCheckpoints(logId)) scanned.push(c);
      assert.equal(scanned.length, 1050);
      assert.deepEqual(scanned, listed);
      assert.deepEqual(
        scanned.slice(0, 2).map((c) => c.size),
        [2, 4],
      );
      await store.close();
    });

    test("batches of several logs handed over in one turn all commit, each on its own", async () => {
      const { store } = await driver.make();
      const refs = [];
      for (const t of ["a", "b", "c"]) {
        refs.push(
          (await store.openLogRef({ origin: `i/${t}/events`, tenant: t, stream: "events" }, true))!,
        );
      }
      const results = await Promise.allSettled(
        refs.map((r, k) =>
          store.appendBatch(r.logId, {
            entries: [entry(0), entry(1)],
            checkpoint: { size: 2, note: `cp ${r.tenant}` },
            // The second log's batch claims a previous checkpoint it does not have.
            previous: k === 1 ? { size: 0, note: "bogus" } : undefined,
          }),
        ),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        ["fulfilled", "rejected", "fulfilled"],
      );
      assert.deepEqual(
        (await store.listLogs()).map((r) => r.tenant),
        ["a", "b", "c"],
      );
      assert.equal((await store.logState(refs[0]!.logId)).size, 2);
      assert.equal((await store.logState(refs[1]!.logId)).size, 0);
      assert.deepEqual(await store.countEntries(refs[2]!.logId), { size: 2, entries: 2 });
      await store.close();
    });

    test("size and latest checkpoint agree while another process appends", async () => {
      const { store, location } = await driver.make();
      const logId = await fill(store, 1);
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          join(here, "../helpers/store-appender.ts"),
          driver.name,
          location,
          String(logId),
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      try {
        await once(child.stdout, "data"); // the child is appending
        let reads = 0;
        let last = 0;
        while (reads < 3000 || last < 200) {
          const { size, latest } = await store.logState(logId);
          assert.equal(
            latest?.size,
            size,
            `read ${reads}: size ${size}, checkpoint ${latest?.size}`,
          );
          last = size;
          reads++;
        }
      } finally {
        child.kill();
      }
      await store.close();
    });

    test("a system event's effects commit with it or not at all: erase, hold, release", async () => {
      const { store } = await driver.make();
      const logId = await fill(store, 2);
      const sub = (p: string) => ({
        tenant: "t",
        pseudonym: p,
        lookup: h(`lookup ${p}`),
        wrappedKey: h(`key ${p}`),
      });
      const append = (seq: number, extra: Partial<AppendBatch>) =>
        store.appendBatch(logId, {
          entries: [entry(seq)],
          checkpoint: { size: seq + 1, note: `cp ${seq + 1}` },
          previous: { size: seq, note: `cp ${seq}` },
          ...extra,
        });
      await append(2, { subjects: [sub("sub_a"), sub("sub_b")] });
      await append(3, {
        effects: [{ kind: "hold", tenant: "t", subject: "sub_a", eventId: "e3" }],
      });
      assert.deepEqual(await store.listHolds("t"), [
        { tenant: "t", subject: "sub_a", eventId: "e3" },
      ]);
      // Held: the erasure is refused and nothing of its batch is written.
      await assert.rejects(
        append(4, { effects: [{ kind: "erase", tenant: "t", pseudonyms: ["sub_a"] }] }),
        (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_HELD",
      );
      assert.equal((await store.logState(logId)).size, 4);
      assert.equal((await store.getSubjects("t", ["sub_a"])).size, 1);
      assert.equal(await store.erasureCount("t"), 0, "a refused erasure is not counted");
      // Setting it twice, or releasing what is not held, is refused the same way.
      await assert.rejects(
        append(4, { effects: [{ kind: "hold", tenant: "t", subject: "sub_a", eventId: "e4" }] }),
        (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_HELD",
      );
      await assert.rejects(
        append(4, { effects: [{ kind: "release", tenant: "t", subject: "" }] }),
        (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_NOT_FOUND",
      );
      assert.equal((await store.logState(logId)).size, 4);
      // Not held: erased with its event; erased again: not found.
      await append(4, { effects: [{ kind: "erase", tenant: "t", pseudonyms: ["sub_b"] }] });
      assert.equal((await store.getSubjects("t", ["sub_b"])).size, 0);
      // Counted per tenant, so that other processes learn of it with one read.
      assert.equal(await store.erasureCount("t"), 1);
      assert.equal(await store.erasureCount("u"), 0);
      assert.deepEqual(await store.findSubjects("t", h("lookup sub_b")), []);
      await assert.rejects(
        append(5, { effects: [{ kind: "erase", tenant: "t", pseudonyms: ["sub_b"] }] }),
        (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_NOT_FOUND",
      );
      await append(5, { effects: [{ kind: "release", tenant: "t", subject: "sub_a" }] });
      assert.deepEqual(await store.listHolds("t"), []);
      assert.equal(await store.scrub(), true);
      await store.close();
    });

    test("tenant keys: set once under the master key in force, re-wrapped all together or not at all", async () => {
      const { store } = await driver.make();
      await store.initSetting("master_key_id", "m1");
      assert.deepEqual(await store.initTenantKey("a", h("a1"), "m1"), h("a1"));
      assert.deepEqual(await store.initTenantKey("a", h("a2"), "m1"), h("a1"), "kept");
      await assert.rejects(
        store.initTenantKey("b", h("b1"), "m0"),
        (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_CONFLICT",
      );
      assert.equal(await store.getTenantKey("b"), undefined);
      // A rotation that does not cover every tenant, or starts from another key, changes nothing.
      await assert.rejects(
        store.rewrapTenantKeys({ keyId: "m1" }, { keyId: "m2" }, new Map()),
        (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_CONFLICT",
      );
      await assert.rejects(
        store.rewrapTenantKeys({ keyId: "m0" }, { keyId: "m2" }, new Map([["a", h("a9")]])),
        (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_CONFLICT",
      );
      assert.equal(await store.getSetting("master_key_id"), "m1");
      await store.rewrapTenantKeys({ keyId: "m1" }, { keyId: "m2" }, new Map([["a", h("a9")]]));
      assert.equal(await store.getSetting("master_key_id"), "m2");
      assert.deepEqual(await store.listTenantKeys(), new Map([["a", h("a9")]]));
      await store.close();
    });

    test("followers: one per name, moved on only from where the caller saw them, dead letters with the move", async () => {
      const { store, reopen } = await driver.make();
      const row = {
        tenant: "a",
        name: "w",
        id: "f1",
        kind: "webhook",
        config: '{"url":"http://x/"}',
        secret: new Uint8Array([1, 2, 3]),
        cursor: 5,
        attempts: 0,
        nextAt: 0,
        lastError: null,
        disabled: null,
        created: "2026-12-05T00:00:00.000Z",
      };
      await store.insertFollower(row);
      await assert.rejects(
        store.insertFollower({ ...row, kind: "other" }),
        (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_EXISTS",
      );
      await store.insertFollower({ ...row, tenant: "b", secret: null });
      assert.deepEqual(await store.listFollowers("a"), [row]);
      assert.deepEqual(
        (await store.listFollowers()).map((f) => `${f.tenant}/${f.name}`),
        ["a/w", "b/w"],
      );
      // A failure: same cursor, one more attempt, a time to retry.
      const failed = { cursor: 5, attempts: 1, nextAt: 1234, lastError: "HTTP 500" };
      assert.equal(await store.advanceFollower(row, 5, failed), true);
      // A runner that still believes the cursor is 4 moves nothing.
      assert.equal(
        await store.advanceFollower(row, 4, { ...failed, cursor: 9, attempts: 0 }),
        false,
      );
      const letter = {
        tenant: "a",
        name: "w",
        seq: 5,
        eventId: "e5",
        attempts: 2,
        error: "HTTP 500",
        at: "2026-12-05T00:00:01.000Z",
        due: false,
      };
      const next = { cursor: 6, attempts: 0, nextAt: 0, lastError: "HTTP 500" };
      assert.equal(await store.advanceFollower(row, 5, next, letter), true);
      // A second runner with the old cursor writes neither the move nor a letter.
      assert.equal(await store.advanceFollower(row, 5, next, { ...letter, seq: 99 }), false);
      const other = await reopen();
      assert.deepEqual(await other.listFollowers("a"), [{ ...row, ...next }]);
      assert.deepEqual(await other.listDeadLetters("a", "w"), [letter]);
      assert.equal(await other.retryDeadLetters("a", "w"), 1);
      await other.settleDeadLetter(row, 5, { delivered: false, error: "HTTP 502" });
      assert.deepEqual(await other.listDeadLetters("a", "w"), [
        { ...letter, attempts: 3, error: "HTTP 502" },
      ]);
      await other.settleDeadLetter(row, 5, { delivered: true });
      assert.deepEqual(await other.listDeadLetters("a", "w"), []);
      // Disabled by a 410, re-enabled by retry; an absent `disabled` keeps the state.
      await other.advanceFollower(row, 6, { ...next, disabled: "410 Gone" });
      await other.advanceFollower(row, 6, next);
      assert.equal((await other.listFollowers("a"))[0]!.disabled, "410 Gone");
      await other.advanceFollower(row, 6, { ...next, disabled: null });
      assert.equal((await other.listFollowers("a"))[0]!.disabled, null);
      // Removed and added again under its name: another follower, that a runner still busy
      // with the first (same name, same cursor) moves nowhere, and whose letters it settles not.
      assert.equal(await other.retryDeadLetters("a", "w"), 0);
      assert.equal(await other.removeFollower("a", "w"), true);
      assert.equal(await other.removeFollower("a", "w"), false);
      const again = { ...row, id: "f2", cursor: 6 };
      await other.insertFollower(again);
      assert.equal(await other.advanceFollower(row, 6, { ...next, cursor: 7 }), false);
      await other.advanceFollower(again, 6, next, { ...letter, seq: 6 });
      await other.settleDeadLetter(row, 6, { delivered: true });
      assert.equal((await other.listDeadLetters("a", "w")).length, 1);
      assert.deepEqual(await other.listFollowers("a"), [{ ...again, ...next }]);
      assert.equal(await other.removeFollower("a", "w"), true);
      assert.deepEqual(await other.listFollowers("a"), []);
      await other.close();
      await store.close();
    });

    test("follower leases: one holder at a time, renewed by it, free once given up or expired", async () => {
      const { store, reopen } = await driver.make();
      const other = await reopen(); // another node over the same database
      const key = { tenant: "a", name: "w", id: "f1" };
      await store.insertFollower({
        ...key,
        kind: "webhook",
        config: "{}",
        secret: null,
        cursor: 0,
        attempts: 0,
        nextAt: 0,
        lastError: null,
        disabled: null,
        created: "2026-12-05T00:00:00.000Z",
      });
      assert.equal(await store.claimFollower(key, "node-a", 60_000), "node-a");
      assert.equal(await other.claimFollower(key, "node-b", 60_000), "node-a");
      assert.equal(await store.claimFollower(key, "node-a", 60_000), "node-a"); // renewed
      // Not that follower any more (removed and added again): no lease on it.
      assert.equal(await other.claimFollower({ ...key, id: "f2" }, "node-b", 60_000), null);
      await store.releaseFollowers("node-a");
      assert.equal(await other.claimFollower(key, "node-b", 1), "node-b");
      // node-b dies holding a 1 ms lease: it expires, and node-a takes the follower over.
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(await store.claimFollower(key, "node-a", 60_000), "node-a");
      assert.equal(await other.claimFollower(key, "node-b", 60_000), "node-a");
      // A holder known to be dead is taken over before its lease ends.
      assert.equal(await other.claimFollower(key, "node-b", 60_000, "node-a"), "node-b");
      await other.close();
      await store.close();
    });

    test("a closed store refuses work with GENLOG_E_CLOSED", async () => {
      const { store } = await driver.make();
      await store.close();
      await store.close();
      await assert.rejects(
        store.getSetting("x"),
        (e: unknown) => e instanceof GenlogError && e.code === "GENLOG_E_CLOSED",
      );
    });
  });
}
