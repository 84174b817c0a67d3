/**
 * Followers: `npm run bench:followers`. Three questions, each answered against a peer in the
 * same run:
 *
 * 1. What does a follower delivering in the same process cost the appends? genlog ingest
 *    (window 256) with a webhook follower running against a local receiver, over the same
 *    ingest with the follower stopped (the receiver up in both).
 * 2. How fast does a webhook follower hand records over? Its records/s (caught up from a log
 *    of N records) over a bare loop that POSTs the same bodies, one at a time, to the same
 *    receiver with `node:http`.
 * 3. How fast does a file sink write? Its records/s over `fs.appendFile` of the same lines
 *    with an fdatasync every 1,000 lines (what the sink does at most).
 *
 * | Variable                  | Default | What                                   |
 * | ------------------------- | ------- | -------------------------------------- |
 * | `GENLOG_BENCH_FOLLOW_N`   | 20000   | records of each run                    |
 * | `GENLOG_BENCH_ROUNDS`     | 3       | rounds; medians reported               |
 */
import { request } from "node:http";
import { createServer } from "node:http";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { openLog, type Genlog } from "../src/index.js";
import { envInt, fmtFixed, fmtInt, withTempDir, windowed, makeEvent } from "./common.js";

const N = envInt("GENLOG_BENCH_FOLLOW_N", 20_000);
const ROUNDS = envInt("GENLOG_BENCH_ROUNDS", 3);
const SECRET = `whsec_${Buffer.alloc(32, 1).toString("base64")}`;
const LOCAL = { followerNetwork: { allowPrivate: true } };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function receiver() {
  let count = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      count++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  return { url, server, received: () => count };
}

async function ingest(log: Genlog, n: number): Promise<number> {
  const t = performance.now();
  await windowed(n, 256, (i) => log.append(makeEvent(i)));
  return n / ((performance.now() - t) / 1000);
}

/** Appends/s with and without a webhook follower delivering in the same process. */
async function appendsBeside(url: string): Promise<{ alone: number; beside: number }> {
  const alone = await withTempDir("follow-alone", async (dir) => {
    const log = await openLog({ dataDir: dir, ...LOCAL });
    try {
      await log.addFollower({ name: "w", kind: "webhook", config: { url }, secret: SECRET });
      return await ingest(log, N);
    } finally {
      await log.close();
    }
  });
  const beside = await withTempDir("follow-beside", async (dir) => {
    const log = await openLog({ dataDir: dir, ...LOCAL });
    const stop = new AbortController();
    let running: Promise<void> | undefined;
    try {
      await log.addFollower({ name: "w", kind: "webhook", config: { url }, secret: SECRET });
      running = log.followerRunner().run(stop.signal, 50);
      return await ingest(log, N);
    } finally {
      stop.abort();
      await running;
      await log.close();
    }
  });
  return { alone, beside };
}

/** A log of N records with one follower of `kind` from the start; records/s to catch up. */
async function catchUp(kind: "webhook" | "file-sink", url: string): Promise<number> {
  return withTempDir(`follow-${kind}`, async (dir) => {
    const log = await openLog({ dataDir: dir, ...LOCAL });
    try {
      await log.appendBatch(Array.from({ length: N }, (_, i) => makeEvent(i)));
      await log.addFollower(
        kind === "webhook"
          ? { name: "w", kind, config: { url }, secret: SECRET, fromStart: true }
          : { name: "f", kind, config: {}, fromStart: true },
      );
      const runner = log.followerRunner();
      const t = performance.now();
      let delivered = 0;
      while (delivered < N) {
        const r = await runner.pass();
        delivered += r.delivered;
        if (r.failed > 0) throw new Error(`${kind}: ${r.failed} failures`);
      }
      return N / ((performance.now() - t) / 1000);
    } finally {
      await log.close();
    }
  });
}

/** The peer of (2): the same bodies POSTed one at a time with node:http. */
async function barePosts(url: string, bodies: string[]): Promise<number> {
  const target = new URL(url);
  const t = performance.now();
  for (const body of bodies) {
    await new Promise<void>((resolve, reject) => {
      const req = request(
        target,
        { method: "POST", headers: { "content-type": "application/json" } },
        (res) => {
          res.resume();
          res.on("end", resolve);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }
  return bodies.length / ((performance.now() - t) / 1000);
}

/** The peer of (3): the same lines appended, synced every 1,000. */
async function bareFile(lines: string[]): Promise<number> {
  return withTempDir("follow-file-peer", async (dir) => {
    const fh = await open(join(dir, "peer.ndjson"), "a");
    const t = performance.now();
    try {
      for (let i = 0; i < lines.length; i++) {
        await fh.write(lines[i]!);
        if ((i + 1) % 1000 === 0) await fh.datasync();
      }
      await fh.datasync();
    } finally {
      await fh.close();
    }
    return lines.length / ((performance.now() - t) / 1000);
  });
}

/** The bodies and lines the peers write: the records of a log like the ones measured. */
async function sampleBodies(): Promise<string[]> {
  return withTempDir("follow-sample", async (dir) => {
    const log = await openLog({ dataDir: dir });
    try {
      await log.appendBatch(Array.from({ length: N }, (_, i) => makeEvent(i)));
      const out: string[] = [];
      for await (const line of log.exportCanonical()) {
        out.push(`{"type":"genlog.appended","data":{"record":${line}}}\n`);
      }
      return out;
    } finally {
      await log.close();
    }
  });
}

async function main() {
  const r = await receiver();
  try {
    const bodies = await sampleBodies();
    const rows: Record<string, number[]> = {
      alone: [],
      beside: [],
      webhook: [],
      posts: [],
      sink: [],
      file: [],
    };
    for (let round = 0; round < ROUNDS; round++) {
      process.stderr.write(`round ${round + 1}/${ROUNDS}\n`);
      const a = await appendsBeside(r.url);
      rows.alone!.push(a.alone);
      rows.beside!.push(a.beside);
      rows.webhook!.push(await catchUp("webhook", r.url));
      rows.posts!.push(await barePosts(r.url, bodies));
      rows.sink!.push(await catchUp("file-sink", r.url));
      rows.file!.push(await bareFile(bodies));
    }
    const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)])) as Record<
      "alone" | "beside" | "webhook" | "posts" | "sink" | "file",
      number
    >;
    const line = (what: string, ours: number, peer: number, peerName: string) =>
      `${what.padEnd(46)} ${fmtInt(ours).padStart(8)}/s  ${peerName.padEnd(34)} ${fmtInt(peer).padStart(8)}/s  ratio ${fmtFixed(ours / peer, 2)}`;
    console.log(`followers, ${fmtInt(N)} records, median of ${ROUNDS} rounds`);
    console.log(
      line(
        "appends, a webhook follower delivering beside",
        m.beside,
        m.alone,
        "appends, the follower stopped",
      ),
    );
    console.log(
      line(
        "webhook follower, records handed over",
        m.webhook,
        m.posts,
        "bare node:http POSTs, one at a time",
      ),
    );
    console.log(
      line("file sink, records written", m.sink, m.file, "appendFile + fdatasync per 1,000"),
    );
  } finally {
    r.server.close();
  }
}

await main();
