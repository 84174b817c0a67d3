/**
 * (p) PostgreSQL: genlog on a real server against raw `pg` inserts of the same rows, in the
 * same run, on the same server.
 *
 * - (p1) durable ingest through the library, 256 and 8,192 appends in flight, against (p2) the
 *   peer: the rows genlog stores for those events (tree and body, with their query columns;
 *   the JSON text and its SHA-256 computed per row as genlog does), inserted with `unnest` in
 *   transactions of 1,000 rows, `synchronous_commit=on`, one connection. Ratio: p1 / p2.
 * - (p3) inclusion-proof and query latency on a log of `GENLOG_BENCH_PG_LARGE` entries
 *   (default 200,000; the issue's figure is 1,000,000, about ten minutes here).
 * - (p4) HTTP ingest over one database: three `genlog serve` nodes, each loaded by its own
 *   autocannon with a third of the connections, against one node with all of them; batches
 *   of 100 events, `GENLOG_BENCH_PG_HTTP_SECONDS` (default 10) each. Ratio: three / one. On
 *   one machine the three nodes share its cores with the database and the load generators,
 *   so this measures what coordination costs, not what more machines would add.
 *
 * The server is a throwaway one (scripts/postgres.mjs) unless GENLOG_BENCH_DATABASE_URL names
 * one (its databases are created and left there). Every ingest run is checked: the log holds
 * exactly the records acked and its signed checkpoint covers them.
 *
 * Standalone: node --import tsx bench/postgres.ts
 */
import { randomBytes, hash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { openLog, type Genlog } from "../src/index.js";
import { uuidv7 } from "../src/core/uuid.js";
import { startPostgres } from "../scripts/postgres.mjs";
import { envInt, fmtFixed, fmtInt, makeEvent, now, windowed, withTempDir } from "./common.js";
import { measureIngest, type IngestResult } from "./ingest.js";
import { measureProofs, type ProofResult } from "./proof.js";
import { measureQueries, type QueryKindResult } from "./query.js";
import { BATCH, cannon, initWithWriterToken, start, stop } from "./http.js";

/** What {@link benchPostgres} measured. */
export interface PostgresResult {
  server: string;
  ingest: IngestResult[];
  raw: { rows: number; rowsPerTx: number; seconds: number; rowsPerSec: number };
  large: { size: number; buildSeconds: number; proofs: ProofResult; queries: QueryKindResult[] };
  nodes: NodesResult;
}

/** (p4): events/s acknowledged over HTTP by one node, and by three over the same database. */
export interface NodesResult {
  seconds: number;
  connections: number;
  one: number;
  three: number;
  /** 2xx events, all found in their log afterwards. */
  acknowledged: number;
}

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));

/** (p4) on a fresh database: `nodes` serve processes, `connections` split among them. */
async function measureNodes(
  admin: string,
  seconds: number,
  connections: number,
): Promise<NodesResult> {
  const rates: number[] = [];
  let acknowledged = 0;
  for (const nodes of [1, 3]) {
    const url = await createDatabase(admin);
    await withTempDir("pg-nodes", async (dir) => {
      const env = { ...process.env, GENLOG_DATA_DIR: dir, GENLOG_DATABASE_URL: url };
      const token = initWithWriterToken(env);
      const servers = await Promise.all(
        Array.from({ length: nodes }, () =>
          start(
            process.execPath,
            [CLI, "serve", "--port", "0", "--json", "--rate-limit", "1000000000"],
            env,
          ),
        ),
      );
      let ok = 0;
      try {
        // Warm every node up, then load them all at once.
        await Promise.all(servers.map((n) => cannon(n.url, token, "batch", 4, 2)));
        const before = await sizeOf(url);
        const runs = await Promise.all(
          servers.map((n) =>
            cannon(n.url, token, "batch", Math.max(1, Math.round(connections / nodes)), seconds),
          ),
        );
        ok = runs.reduce((sum, r) => sum + r["2xx"] * BATCH, 0);
        rates.push(ok / seconds);
        const after = await sizeOf(url);
        // Every 2xx is stored: the log grew by at least what was acknowledged.
        if (after - before < ok) {
          throw new Error(
            `(p4) ${fmtInt(ok)} events acknowledged, but the log grew by ${fmtInt(after - before)}`,
          );
        }
        acknowledged += ok;
      } finally {
        await Promise.all(servers.map((n) => stop(n.child)));
      }
    });
  }
  return { seconds, connections, one: rates[0]!, three: rates[1]!, acknowledged };
}

/** The number of entries of the default tenant's events log, read with a plain query. */
async function sizeOf(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ n: string }>(
      "SELECT count(*) AS n FROM tree JOIN logs USING (log_id) WHERE origin LIKE '%/default/events'",
    );
    return Number(rows[0]!.n);
  } finally {
    await c.end();
  }
}

async function createDatabase(admin: string): Promise<string> {
  const name = `genlog_bench_${randomBytes(4).toString("hex")}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

/** (p2): genlog-shaped rows, inserted raw, `rowsPerTx` per transaction. */
async function measureRawInserts(url: string, n: number, rowsPerTx: number) {
  // The same tables as genlog's (its schema), made by connecting genlog's driver once.
  const log = await withTempDir("pg-schema", (dir) => openLog({ dataDir: dir, databaseUrl: url }));
  await log.close();
  const c = new pg.Client({ connectionString: url, options: "-c synchronous_commit=on" });
  await c.connect();
  try {
    // A log of its own, so that no row of genlog's log is touched.
    const { rows } = await c.query<{ log_id: string }>(
      "INSERT INTO logs (origin, tenant, stream) VALUES ('peer.local/peer/events', 'peer', 'events') RETURNING log_id",
    );
    const logId = Number(rows[0]!.log_id);
    const nodes = Buffer.alloc(64 * 32);
    const start = now();
    for (let from = 0; from < n; from += rowsPerTx) {
      const count = Math.min(rowsPerTx, n - from);
      const seqs: number[] = [];
      const leaves: Buffer[] = [];
      const nodeCol: Buffer[] = [];
      const texts: string[] = [];
      const ids: string[] = [];
      const tss: string[] = [];
      const types: string[] = [];
      const actors: (string | null)[] = [];
      const sectors: (string | null)[] = [];
      const statuses: string[] = [];
      const ts = new Date().toISOString();
      for (let seq = from; seq < from + count; seq++) {
        const event = makeEvent(seq);
        const id = uuidv7();
        const text = JSON.stringify({
          v: 2,
          id,
          seq,
          tenant: "peer",
          type: event.type,
          ts,
          occurredAt: null,
          actor: event.user ?? null,
          sector: event.sector ?? null,
          status: "succeeded",
          meta: event.meta,
          artifacts: event.artifacts,
          redactions: [],
          pii: null,
        });
        let levels = 0;
        for (let s = seq; s % 2 === 1; s = (s - 1) / 2) levels++;
        seqs.push(seq);
        leaves.push(hash("sha256", text, "buffer"));
        nodeCol.push(nodes.subarray(0, levels * 32));
        texts.push(text);
        ids.push(id);
        tss.push(ts);
        types.push(event.type);
        actors.push(event.user ?? null);
        sectors.push(event.sector ?? null);
        statuses.push("succeeded");
      }
      await c.query("BEGIN");
      await c.query(
        "INSERT INTO tree (log_id, seq, leaf_hash, nodes) SELECT $1, * FROM unnest($2::bigint[], $3::bytea[], $4::bytea[])",
        [logId, seqs, leaves, nodeCol],
      );
      await c.query(
        `INSERT INTO bodies (log_id, seq, record, id, ts, type, actor, sector, status)
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])`,
        [logId, seqs, texts, ids, tss, types, actors, sectors, statuses],
      );
      await c.query("COMMIT");
    }
    const seconds = (now() - start) / 1000;
    return { rows: n, rowsPerTx, seconds, rowsPerSec: n / seconds };
  } finally {
    await c.end();
  }
}

/** Runs (p1) to (p3) on the server at `admin` (a throwaway one when undefined). */
export async function benchPostgres(
  options: { events?: number; large?: number; admin?: string } = {},
): Promise<PostgresResult> {
  const events = options.events ?? envInt("GENLOG_BENCH_PG_EVENTS", 50_000);
  const largeSize = options.large ?? envInt("GENLOG_BENCH_PG_LARGE", 200_000);
  const given = options.admin ?? process.env["GENLOG_BENCH_DATABASE_URL"];
  const server = given === undefined ? await startPostgres() : undefined;
  const admin = given ?? server!.url;
  try {
    const ingest: IngestResult[] = [];
    for (const window of [256, 8192]) {
      const url = await createDatabase(admin);
      await withTempDir("pg-ingest", async (dir) => {
        const log = await openLog({ dataDir: dir, databaseUrl: url });
        try {
          // Warm the code paths and the server's caches up on the same log first.
          await windowed(2000, window, (i) => log.append(makeEvent(i)));
          ingest.push(await measureIngest(log, events, window, 2000));
        } finally {
          await log.close();
        }
      });
    }
    const raw = await measureRawInserts(await createDatabase(admin), events, 1000);

    const largeUrl = await createDatabase(admin);
    const large = await withTempDir("pg-large", async (dir) => {
      const log: Genlog = await openLog({ dataDir: dir, databaseUrl: largeUrl });
      try {
        const start = now();
        await windowed(largeSize, 8192, (i) => log.append(makeEvent(i)));
        const buildSeconds = (now() - start) / 1000;
        const proofs = await measureProofs(log, largeSize, 500);
        const queries = await measureQueries(log, largeSize, 100);
        return { size: largeSize, buildSeconds, proofs, queries };
      } finally {
        await log.close();
      }
    });
    const nodes = await measureNodes(
      admin,
      envInt("GENLOG_BENCH_PG_HTTP_SECONDS", 10),
      envInt("GENLOG_BENCH_PG_HTTP_CONNECTIONS", 48),
    );
    return { server: given === undefined ? "throwaway" : "given", ingest, raw, large, nodes };
  } finally {
    await server?.stop();
  }
}

/** The section's lines for the report. */
export function postgresReport(r: PostgresResult): string[] {
  const lines = [
    `(p) PostgreSQL (${r.server} server on this machine), genlog against raw pg inserts of the same rows`,
  ];
  for (const i of r.ingest) {
    lines.push(
      `  (p1) ingest, ${fmtInt(i.window)} in flight: ${fmtInt(i.eventsPerSec)} events/s (${fmtInt(i.events)} events, mean batch ${fmtFixed(i.meanBatch, 0)})   ratio to (p2): ${fmtFixed(i.eventsPerSec / r.raw.rowsPerSec, 2)}`,
    );
  }
  lines.push(
    `  (p2) raw pg, ${fmtInt(r.raw.rowsPerTx)}-row transactions: ${fmtInt(r.raw.rowsPerSec)} rows/s`,
  );
  const p = r.large.proofs.latency;
  lines.push(
    `  (p3) at ${fmtInt(r.large.size)} entries (built in ${fmtFixed(r.large.buildSeconds, 0)} s, ${fmtInt(r.large.size / r.large.buildSeconds)} events/s at 8,192 in flight): inclusion proof p50 ${fmtFixed(p.p50Ms, 2)} ms, p99 ${fmtFixed(p.p99Ms, 2)} ms`,
  );
  lines.push(
    `       query page p50 (p99): ${r.large.queries.map((q) => `${q.kind} ${fmtFixed(q.latency.p50Ms, 2)} (${fmtFixed(q.latency.p99Ms, 2)})`).join(", ")} ms`,
  );
  const n = r.nodes;
  lines.push(
    `  (p4) HTTP ingest, batches of ${BATCH}, ${n.connections} connections, ${n.seconds} s: one node ${fmtInt(n.one)} events/s, three nodes ${fmtInt(n.three)} events/s   ratio three/one: ${fmtFixed(n.three / n.one, 2)} (${fmtInt(n.acknowledged)} acknowledged, all stored)`,
  );
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const r = await benchPostgres();
  process.stdout.write(`${postgresReport(r).join("\n")}\n`);
}
