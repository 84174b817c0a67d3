import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openLog, type GenerationRecord } from "../src/index.js";
import { ACTOR_INDEX_CHUNK } from "../src/store/sqlite/schema.js";
import { rawDatabase } from "./helpers/raw-database.js";
import { SqliteStore, pageQueries } from "../src/store/sqlite/sqlite-store.js";
import type { QueryFilter } from "../src/store/log-store.js";
import { tempDir } from "./helpers/temp-dir.js";

/** SQLite's plan for each part of one page of `filter`, details joined, parts by " | ". */
function planOf(db: Database.Database, filter: QueryFilter): string {
  // A log of 5,000 entries: the actor index reaches 4,096; the page asks from seq 10 on.
  return pageQueries(1, filter, { since: 10, until: 20_000 }, 5000)
    .map(({ sql, args }) => {
      const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args, 100) as {
        detail: string;
      }[];
      return rows.map((r) => r.detail).join("; ");
    })
    .join(" | ");
}

test("every filtered page is read through an index, already in seq order", async () => {
  const path = join(tempDir(), "genlog.db");
  // A new database has no statistics: exactly when SQLite would rather walk the whole log.
  await SqliteStore.open({ path }).close();
  const db = new Database(path, { readonly: true });
  try {
    const ts = "2026-11-25T00:00:00.000Z";
    // By actor: the index up to its bound, each record by its key, then the entries past it.
    const byActor =
      /^SEARCH a USING PRIMARY KEY \(log_id=\? AND actor=\? AND seq>\? AND seq<\?\); SEARCH e USING PRIMARY KEY \(log_id=\? AND seq=\?\); SEARCH t USING PRIMARY KEY \(log_id=\? AND seq=\?\) \| SEARCH e USING PRIMARY KEY \(log_id=\? AND seq>\? AND seq<\?\); SEARCH t USING PRIMARY KEY \(log_id=\? AND seq=\?\)$/;
    const cases: [QueryFilter, RegExp][] = [
      [{ limit: 100, actor: "alice" }, byActor],
      [{ limit: 100, actor: "alice", type: "backend" }, byActor],
      [{ limit: 100, actor: "alice", since: ts, afterSeq: 5 }, byActor],
      [
        { limit: 100, type: "backend" },
        /^SEARCH e USING INDEX bodies_type \(log_id=\? AND type=\? AND seq>\? AND seq<\?\); SEARCH t USING PRIMARY KEY \(log_id=\? AND seq=\?\)$/,
      ],
      [
        { limit: 100, sector: "health" },
        /^SEARCH e USING INDEX bodies_sector \(log_id=\? AND sector=\? AND seq>\? AND seq<\?\); SEARCH t USING PRIMARY KEY \(log_id=\? AND seq=\?\)$/,
      ],
      [
        { limit: 100, status: "failed" },
        /^SEARCH e USING INDEX bodies_status \(log_id=\? AND status=\? AND seq>\? AND seq<\?\); SEARCH t USING PRIMARY KEY \(log_id=\? AND seq=\?\)$/,
      ],
      [{ limit: 100, status: "failed", actor: "alice" }, /^SEARCH e USING INDEX bodies_status/],
      [
        { limit: 100, since: ts, until: ts },
        /^SEARCH e USING PRIMARY KEY \(log_id=\? AND seq>\? AND seq<\?\); SEARCH t USING PRIMARY KEY \(log_id=\? AND seq=\?\)$/,
      ],
      [
        { limit: 100 },
        /^SEARCH e USING PRIMARY KEY \(log_id=\? AND seq>\? AND seq<\?\); SEARCH t USING PRIMARY KEY \(log_id=\? AND seq=\?\)$/,
      ],
    ];
    for (const [filter, expected] of cases) {
      const plan = planOf(db, filter);
      assert.match(plan, expected, `${JSON.stringify(filter)}: ${plan}`);
      assert.doesNotMatch(plan, /TEMP B-TREE/, `${JSON.stringify(filter)} sorts: ${plan}`);
    }
  } finally {
    db.close();
  }
});

/**
 * The transactions committed in a WAL file so far, read from its bytes: frames whose salts
 * match the header's (the WAL's current generation) and whose commit field is set.
 */
function walCommits(path: string): number {
  const wal = readFileSync(`${path}-wal`);
  if (wal.length < 32) return 0;
  const pageSize = wal.readUInt32BE(8);
  const [salt1, salt2] = [wal.readUInt32BE(16), wal.readUInt32BE(20)];
  let commits = 0;
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) break;
    if (wal.readUInt32BE(at + 4) !== 0) commits++;
  }
  return commits;
}

test("lone appends of several tenants issued in one turn share one transaction", async () => {
  const dataDir = tempDir();
  const log = await openLog({ dataDir });
  const tenants = Array.from({ length: 20 }, (_, i) => `t${i}`);
  try {
    // Their logs and writers exist first: opening a tenant commits on its own.
    for (const tenant of tenants) await log.logGenerationEvent("backend", { tenant });
    const path = join(dataDir, "genlog.db");
    const before = walCommits(path);
    const results = await Promise.all(
      tenants.map((tenant) => log.logGenerationEvent("frontend", { tenant })),
    );
    assert.deepEqual(
      results.map((r) => r.seq),
      tenants.map(() => 1),
    );
    assert.ok(before > 0, "the earlier appends are in the WAL");
    assert.equal(walCommits(path) - before, 1);
  } finally {
    await log.close();
  }
});

describe("the actor index, filled in chunks", () => {
  const dataDir = tempDir();
  const N = ACTOR_INDEX_CHUNK + 1500;
  const actorOf = (i: number) => (i % 10 === 9 ? undefined : `user-${i % 7}`);
  let seeded: Promise<void>;
  before(() => {
    seeded = (async () => {
      const log = await openLog({ dataDir });
      try {
        for (let from = 0; from < N; from += 1000) {
          await Promise.all(
            Array.from({ length: Math.min(1000, N - from) }, (_, k) => {
              const i = from + k;
              const user = actorOf(i);
              return log.append({
                type: i % 3 === 0 ? "backend" : "frontend",
                ...(user !== undefined ? { user } : {}),
                meta: { i },
              });
            }),
          );
        }
      } finally {
        await log.close();
      }
    })();
  });

  test("pages by actor, with other filters, match the records across the index's bound", async () => {
    await seeded;
    const log = await openLog({ dataDir, readOnly: true });
    try {
      const all: GenerationRecord[] = [];
      for (let cursor: string | undefined; ;) {
        const page = await log.query({ limit: 1000, ...(cursor ? { cursor } : {}) });
        all.push(...page.records);
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      assert.equal(all.length, N);
      const since = all[ACTOR_INDEX_CHUNK - 300]!.ts;
      // Records carry pseudonyms: the people's are found through the keyed lookup.
      const pseudonym = async (user: string) =>
        (await log.query({ user, limit: 1 })).records[0]!.actor!;
      const [p3, p5] = [await pseudonym("user-3"), await pseudonym("user-5")];
      assert.match(p3, /^sub_[a-z2-7]{26}$/);
      assert.notEqual(p3, p5);
      const pseudonymOf = new Map([
        ["user-3", p3],
        ["user-5", p5],
      ]);
      for (const filter of [
        { actor: p3 },
        { user: "user-3" },
        { actor: p3, type: "backend" },
        { user: "user-5", since },
        { actor: "nobody" },
        { user: "nobody" },
      ] as { actor?: string; user?: string; type?: string; since?: string }[]) {
        const got: number[] = [];
        for (let cursor: string | undefined; ;) {
          const page = await log.query({ ...filter, limit: 97, ...(cursor ? { cursor } : {}) });
          got.push(...page.records.map((r) => r.seq));
          if (page.nextCursor === null) break;
          cursor = page.nextCursor;
        }
        const actor = filter.actor ?? pseudonymOf.get(filter.user!);
        const want = all
          .filter(
            (r) =>
              r.actor === actor &&
              (filter.type === undefined || r.type === filter.type) &&
              (filter.since === undefined || r.ts >= filter.since),
          )
          .map((r) => r.seq);
        assert.deepEqual(got, want, JSON.stringify(filter));
        if (actor !== "nobody" && actor !== undefined) {
          assert.ok(
            want.some((s) => s < ACTOR_INDEX_CHUNK) && want.some((s) => s >= ACTOR_INDEX_CHUNK),
          );
        }
      }
    } finally {
      await log.close();
    }
  });

  test("the index holds exactly the chunk below its bound, and verify passes", async () => {
    await seeded;
    const db = new Database(join(dataDir, "genlog.db"), { readonly: true });
    try {
      const rows = db.prepare("SELECT actor, seq FROM actor_index ORDER BY seq").all() as {
        actor: string;
        seq: number;
      }[];
      const want = db
        .prepare("SELECT actor, seq FROM bodies WHERE seq < ? AND actor IS NOT NULL ORDER BY seq")
        .all(ACTOR_INDEX_CHUNK);
      assert.equal(
        want.length,
        Array.from({ length: ACTOR_INDEX_CHUNK }, (_, i) => actorOf(i)).filter(Boolean).length,
      );
      assert.deepEqual(rows, want);
    } finally {
      db.close();
    }
    const log = await openLog({ dataDir, readOnly: true });
    try {
      assert.equal((await log.verify()).ok, true);
    } finally {
      await log.close();
    }
  });

  // Each tamper picks an entry the index holds and returns its seq.
  const indexed = (db: Database.Database, from: number) =>
    db.prepare("SELECT min(seq) FROM actor_index WHERE seq >= ?").pluck().get(from) as number;
  const tampers: [string, (db: Database.Database) => number][] = [
    [
      "a deleted row",
      (db) => {
        const seq = indexed(db, 21);
        db.prepare("DELETE FROM actor_index WHERE seq = ?").run(seq);
        return seq;
      },
    ],
    [
      "a row moved to another actor",
      (db) => {
        const seq = indexed(db, 22);
        db.prepare("UPDATE actor_index SET actor = 'mallory' WHERE seq = ?").run(seq);
        return seq;
      },
    ],
    [
      "a row added past the bound",
      (db) => {
        db.prepare(
          "INSERT INTO actor_index (log_id, actor, seq) SELECT 1, actor, ? FROM actor_index WHERE seq = ?",
        ).run(ACTOR_INDEX_CHUNK + 3, indexed(db, 0));
        return ACTOR_INDEX_CHUNK + 3;
      },
    ],
  ];
  for (const [what, tamper] of tampers) {
    test(`${what} is an index mismatch naming the entry`, async () => {
      await seeded;
      const copy = tempDir();
      cpSync(dataDir, copy, { recursive: true });
      const db = rawDatabase(join(copy, "genlog.db"));
      let seq: number;
      try {
        seq = tamper(db);
      } finally {
        db.close();
      }
      const log = await openLog({ dataDir: copy, readOnly: true });
      try {
        const report = await log.verify();
        assert.deepEqual(
          report.problems.map((p) => [p.kind, p.index, p.field]),
          [["index-mismatch", seq, "actor"]],
          JSON.stringify(report.problems),
        );
      } finally {
        await log.close();
      }
    });
  }
});
