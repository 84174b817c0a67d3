/**
 * The `ipfs` follower. The CARs it publishes are read back with `@ipld/car` and checked with
 * the reader's check; a Kubo node and a pinning service are local HTTP servers that speak
 * their APIs (Kubo's `dag/import`, answered as Kubo answers; the Pinning Services API's
 * `POST /pins`): live Kubo tests run only where `GENLOG_IPFS_API` names one. Periods are hours
 * of a clock the test moves (mock timers move `Date` only).
 */
import { test, mock } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CarReader } from "@ipld/car";
import { type Genlog } from "../src/index.js";
import { openLog } from "./helpers/store-under-test.js";
import { checkCar } from "../src/log/car-export.js";
import { KEY_NAMES_ONLY } from "../src/log/pipeline.js";
import { FAST } from "./helpers/followers.js";
import { tempDir } from "./helpers/temp-dir.js";

const LOCAL = { followerNetwork: { allowPrivate: true } };
const TOKEN = randomBytes(24).toString("base64url");

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A Kubo RPC API that imports CARs as Kubo does: it answers each root, pinned. */
async function kubo(): Promise<{ url: string; cars: Uint8Array[]; server: Server }> {
  const cars: Uint8Array[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const url = new URL(req.url!, "http://kubo");
        if (req.method !== "POST" || url.pathname !== "/api/v0/dag/import") {
          return void res.writeHead(404).end();
        }
        assert.equal(url.searchParams.get("pin-roots"), "true");
        // The multipart body, parsed by the platform's own parser.
        const form = await new Request("http://kubo/", {
          method: "POST",
          headers: req.headers as Record<string, string>,
          body: Buffer.concat(chunks),
        }).formData();
        const lines: string[] = [];
        for (const value of form.values()) {
          const bytes = new Uint8Array(await (value as Blob).arrayBuffer());
          cars.push(bytes);
          for (const root of await (await CarReader.fromBytes(bytes)).getRoots()) {
            lines.push(
              JSON.stringify({ Root: { Cid: { "/": root.toString() }, PinErrorMsg: "" } }),
            );
          }
        }
        res.writeHead(200, { "content-type": "application/json" }).end(`${lines.join("\n")}\n`);
      })();
    });
  });
  return { url: await listen(server), cars, server };
}

/** A Pinning Services API endpoint: `POST /pins` with a bearer token. */
async function pinning(): Promise<{
  url: string;
  pins: {
    headers: IncomingHttpHeaders;
    body: { cid: string; name: string; meta: Record<string, string>; origins?: string[] };
  }[];
  server: Server;
}> {
  const pins: Awaited<ReturnType<typeof pinning>>["pins"] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
      const body = JSON.parse(Buffer.concat(chunks).toString()) as (typeof pins)[number]["body"];
      pins.push({ headers: req.headers, body });
      res
        .writeHead(202, { "content-type": "application/json" })
        .end(JSON.stringify({ requestid: String(pins.length), status: "queued", pin: body }));
    });
  });
  return { url: `${await listen(server)}/psa`, pins, server };
}

async function catchUp(log: Genlog) {
  const runner = log.followerRunner(FAST);
  for (let i = 0; i < 50 && (await log.followers()).some((f) => f.behind > 0); i++) {
    await runner.pass();
    mock.timers.tick(10); // past a retry's backoff
  }
}

test("an ipfs follower exports what each hour committed, checks it, and has Kubo and a pinning service pin it", async (t) => {
  mock.timers.enable({ apis: ["Date"], now: Date.parse("2026-12-04T10:15:00.000Z") });
  t.after(() => mock.timers.reset());
  const node = await kubo();
  t.after(() => node.server.close());
  const service = await pinning();
  t.after(() => service.server.close());
  const data = tempDir();
  const log = await openLog({ dataDir: data, ...LOCAL });
  t.after(() => log.close());
  const origin = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGenlogTestPeerIdXXXXXXXXXXXXXXXXXXXXXXXXXXXX";
  await log.addFollower({
    name: "dweb",
    kind: "ipfs",
    config: { period: "hour", kubo: node.url, pinning: service.url, origins: [origin] },
    secret: TOKEN,
  });
  for (let i = 0; i < 3; i++) await log.append({ type: "backend", user: `u${i}`, meta: { i } });

  mock.timers.tick(47 * 60_000); // 11:02
  await catchUp(log);
  const dir = join(data, "followers", "default", "dweb");
  const first = JSON.parse(readFileSync(join(dir, "published.json"), "utf8")) as {
    treeSize: number;
    checkpoint: string;
    root: string;
    file: string;
  };
  assert.equal(first.file, "000000000000-000000000003.car");
  const car = readFileSync(join(dir, first.file));
  // What Kubo imported is the file, byte for byte; the root is the CAR's own.
  assert.equal(node.cars.length, 1);
  assert.deepEqual(Buffer.from(node.cars[0]!), car);
  const [root] = await (await CarReader.fromBytes(car)).getRoots();
  assert.equal(root!.toString(), first.root);
  const checked = await checkCar(car, { verifierKey: await log.verifierKey() });
  assert.ok(checked.ok, JSON.stringify(checked.problems));
  assert.equal(checked.manifest!.treeSize, 3);
  assert.equal(first.checkpoint, await log.checkpoint());
  // The pinning service was asked for the same root, with where to fetch it.
  assert.equal(service.pins.length, 1);
  assert.equal(service.pins[0]!.body.cid, first.root);
  assert.deepEqual(service.pins[0]!.body.origins, [origin]);
  assert.equal(service.pins[0]!.body.meta.treeSize, "3");

  // The next hour: only what it committed, with the consistency proof from the first export.
  for (let i = 3; i < 5; i++) await log.append({ type: "frontend", meta: { i } });
  mock.timers.tick(3_600_000); // 12:02
  await catchUp(log);
  const second = JSON.parse(readFileSync(join(dir, "published.json"), "utf8")) as typeof first;
  assert.equal(second.file, "000000000003-000000000005.car");
  const next = await checkCar(readFileSync(join(dir, second.file)), {
    verifierKey: await log.verifierKey(),
    previous: first.checkpoint,
  });
  assert.ok(next.ok, JSON.stringify(next.problems));
  assert.equal(next.manifest!.fromSeq, 3);
  assert.equal(service.pins.at(-1)!.body.cid, second.root);

  // An hour with nothing committed publishes nothing.
  mock.timers.tick(3_600_000);
  await catchUp(log);
  assert.equal(node.cars.length, 2);
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith(".car")).length, 2);

  // Kubo gone: the follower waits, the hour is neither lost nor dead-lettered.
  await log.append({ type: "backend", meta: {} });
  node.server.close();
  node.server.closeAllConnections();
  mock.timers.tick(3_600_000);
  await log.followerRunner(FAST).pass();
  const [f] = await log.followers();
  assert.match(f!.lastError ?? "", /Kubo at .*ECONNREFUSED/);
  assert.equal(f!.deadLetters.length, 0);
  assert.equal(f!.behind, 1);
});

test("an ipfs follower passes over records purged before it could export them, and says so", async (t) => {
  mock.timers.enable({ apis: ["Date"], now: Date.parse("2026-12-04T10:15:00.000Z") });
  t.after(() => mock.timers.reset());
  const node = await kubo();
  t.after(() => node.server.close());
  const data = tempDir();
  const log = await openLog({ dataDir: data, ...LOCAL });
  t.after(() => log.close());
  for (let i = 0; i < 5; i++) await log.append({ type: "backend", meta: { i } });
  mock.timers.tick(60_000);
  const cutoff = new Date().toISOString();
  for (let i = 5; i < 8; i++) await log.append({ type: "frontend", meta: { i } });
  // Added to a log whose first records are then purged: its first export cannot start at 0.
  await log.addFollower({ name: "dweb", kind: "ipfs", config: { period: "hour", kubo: node.url } });
  await log.setRetention({ days: 1, reason: "test" });
  assert.equal((await log.purge({ before: cutoff })).purged, 5);

  mock.timers.tick(3_600_000);
  await catchUp(log);
  const [f] = await log.followers();
  assert.equal(f!.lastError ?? null, null, f!.lastError ?? "");
  const dir = join(data, "followers", "default", "dweb");
  const published = JSON.parse(readFileSync(join(dir, "published.json"), "utf8")) as {
    file: string;
    skipped?: { fromSeq: number; toSeq: number };
  };
  // It starts at the first checkpoint past the purged range (size 5, the fifth append's).
  assert.deepEqual(published.skipped, { fromSeq: 0, toSeq: 5 });
  const car = readFileSync(join(dir, published.file));
  const size = await log.size();
  assert.equal(published.file, `000000000005-${String(size).padStart(12, "0")}.car`);
  const fifth = await log.checkpointAt(5);
  const checked = await checkCar(car, {
    verifierKey: await log.verifierKey(),
    previous: fifth,
  });
  assert.ok(checked.ok, JSON.stringify(checked.problems));
  assert.equal(node.cars.length, 1);
});

test("an ipfs follower refuses to publish personal data in clear unless the operator allows it", async (t) => {
  mock.timers.enable({ apis: ["Date"], now: Date.parse("2026-12-04T10:15:00.000Z") });
  t.after(() => mock.timers.reset());
  const service = await pinning();
  t.after(() => service.server.close());
  // A log written without value detection (as an older or misconfigured pipeline would).
  const log = await openLog({ dataDir: tempDir(), ...LOCAL, [KEY_NAMES_ONLY]: true });
  t.after(() => log.close());
  await log.addFollower({
    name: "careful",
    kind: "ipfs",
    config: { period: "hour", pinning: service.url },
    secret: TOKEN,
  });
  await log.append({ type: "backend", meta: { note: "ask alice.martin@example.org" } });
  await log.append({ type: "backend", meta: { note: "nothing personal" } });
  mock.timers.tick(47 * 60_000);
  await log.followerRunner(FAST).pass();
  const [f] = await log.followers();
  assert.match(f!.lastError ?? "", /records 0 hold personal data in clear: not published/);
  assert.equal(service.pins.length, 0);

  await log.removeFollower({ name: "careful" });
  await log.addFollower({
    name: "allowed",
    kind: "ipfs",
    config: { period: "hour", pinning: service.url, allowPersonalData: true },
    secret: TOKEN,
    fromStart: true,
  });
  await catchUp(log);
  assert.equal(service.pins.length, 1);
});

test(
  "a real Kubo node imports and pins an export (GENLOG_IPFS_API)",
  { skip: process.env.GENLOG_IPFS_API === undefined && "GENLOG_IPFS_API names no Kubo node" },
  async (t) => {
    const api = process.env.GENLOG_IPFS_API!;
    const data = tempDir();
    const log = await openLog({ dataDir: data, ...LOCAL });
    t.after(() => log.close());
    await log.append({ type: "backend", meta: {} });
    const out = join(data, "export.car");
    const { root } = await log.exportCar({ out });
    const { KuboPublisher } = await import("../src/plugins/publishers.js");
    const outcome = await new KuboPublisher(api, { allowPrivate: true }).publish(
      { path: out, root, name: "genlog test", meta: {} },
      AbortSignal.timeout(30_000),
    );
    assert.deepEqual(outcome, { ok: true });
    const { create } = await import("kubo-rpc-client");
    const pins = [];
    for await (const p of create({ url: new URL("api/v0", `${api}/`) }).pin.ls({ paths: root })) {
      pins.push(p.cid.toString());
    }
    assert.deepEqual(pins, [root]);
  },
);
