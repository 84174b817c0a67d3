/**
 * A CAR export on IPFS, with no code of ours in the loop: two Helia nodes in this process,
 * on the loopback only (no bootstrap peers, no mDNS, no UPnP, no delegated routing, no
 * gateways). Node A imports the CAR and pins its root; node B, connected to A alone, fetches
 * every file by CID over bitswap and exports the DAG again, byte for byte what we wrote.
 *
 * Helia needs Node 22.19 or later: on Node 20 the test is skipped, and runs on the Node 22
 * and 24 legs of CI.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { openLog } from "./helpers/store-under-test.js";
import { tempDir } from "./helpers/temp-dir.js";

const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
const heliaRuns = major > 22 || (major === 22 && minor >= 19);

/** A Helia node with nothing but what is listed: TCP on 127.0.0.1, bitswap, no discovery. */
async function loopbackNode() {
  const { createHeliaLight } = await import("helia");
  const { withLibp2pLight } = await import("@helia/libp2p");
  const { withBitswap } = await import("@helia/bitswap");
  const { tcp } = await import("@libp2p/tcp");
  const { noise } = await import("@chainsafe/libp2p-noise");
  const { yamux } = await import("@chainsafe/libp2p-yamux");
  const { identify } = await import("@libp2p/identify");
  const { MemoryBlockstore } = await import("blockstore-core");
  const { MemoryDatastore } = await import("datastore-core");
  const datastore = new MemoryDatastore();
  // The "light" constructors add no default: no bootstrap list, no mDNS, no UPnP, no
  // delegated routing, no HTTP gateway.
  const helia = withBitswap(
    withLibp2pLight(createHeliaLight({ datastore, blockstore: new MemoryBlockstore() }), {
      datastore,
      addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() },
    }),
  );
  await helia.start();
  return helia;
}

test(
  "two Helia nodes on the loopback: A pins our CAR, B fetches every file by CID and exports the same bytes",
  {
    skip: !heliaRuns && "Helia needs Node 22.19 or later (the Node 22 and 24 legs of CI run this)",
  },
  async (t) => {
    const { CarReader } = await import("@ipld/car");
    const { car } = await import("@helia/car");
    const { unixfs } = await import("@helia/unixfs");
    const { CID } = await import("multiformats/cid");

    const data = tempDir();
    const log = await openLog({ dataDir: data });
    t.after(() => log.close());
    for (let i = 0; i < 20; i++) await log.append({ type: "backend", user: `u${i}`, meta: { i } });
    const out = join(data, "log.car");
    const { root, manifest } = await log.exportCar({ out });
    const bytes = readFileSync(out);

    const a = await loopbackNode();
    const b = await loopbackNode();
    t.after(async () => {
      await b.stop();
      await a.stop();
    });
    for (const node of [a, b]) {
      for (const addr of node.libp2p.getMultiaddrs()) {
        assert.match(addr.toString(), /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//);
      }
    }
    await car(a).import(await CarReader.fromBytes(bytes));
    const rootCid = CID.parse(root);
    for await (const pinned of a.pins.add(rootCid)) void pinned;
    assert.equal(await a.pins.isPinned(rootCid), true);

    await b.libp2p.dial(a.libp2p.getMultiaddrs()[0]!);
    const fs = unixfs(b);
    const names: string[] = [];
    for await (const entry of fs.ls(rootCid)) {
      names.push(entry.name);
      const chunks: Uint8Array[] = [];
      for await (const c of fs.cat(entry.cid)) chunks.push(c);
      const got = Buffer.concat(chunks);
      if (entry.name === "manifest.json") {
        // The one file the manifest cannot list: it is the manifest.
        assert.deepEqual(JSON.parse(got.toString("utf8")), manifest);
        continue;
      }
      const file = manifest.files.find((f) => f.name === entry.name);
      assert.ok(file !== undefined, entry.name);
      assert.equal(entry.cid.toString(), file.cid, entry.name);
      assert.equal(got.length, file.bytes, entry.name);
      assert.equal(createHash("sha256").update(got).digest("hex"), file.sha256, entry.name);
    }
    assert.deepEqual(names.sort(), [...manifest.files.map((f) => f.name), "manifest.json"].sort());

    // B now holds every block: its own export of the DAG is our CAR's blocks, every one.
    const exported: Uint8Array[] = [];
    for await (const chunk of car(b).export(rootCid)) exported.push(chunk);
    const theirs = await CarReader.fromBytes(Buffer.concat(exported));
    const ours = await CarReader.fromBytes(bytes);
    const blocks = async (r: InstanceType<typeof CarReader>) => {
      const m = new Map<string, string>();
      for await (const blk of r.blocks())
        m.set(blk.cid.toString(), Buffer.from(blk.bytes).toString("hex"));
      return m;
    };
    assert.deepEqual(await blocks(theirs), await blocks(ours));
    assert.deepEqual((await theirs.getRoots()).map(String), (await ours.getRoots()).map(String));
  },
);
