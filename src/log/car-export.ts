/**
 * Content-addressed exports: a range of a log as a CAR v1 file (IPFS's archive format) whose
 * root is a UnixFS directory of four files, so that any IPFS node can pin it and anyone
 * holding its root CID can fetch it and check it without trusting genlog:
 *
 * ```
 * records.ndjson   the records of [fromSeq, treeSize), exactly as committed, one per line
 * checkpoint       the log's signed checkpoint of size treeSize (a C2SP signed note)
 * proofs.json      the perfect subtrees of [0, fromSeq) (what came before), and the RFC 9162
 *                  consistency proof from fromSeq (the previous export's size) to treeSize
 * manifest.json    format, origin, range, root hash, verifier key, the UnixFS parameters, and
 *                  the CID, SHA-256 and size of the three other files
 * ```
 *
 * The UnixFS DAG follows the `unixfs-v1-2025` profile (IPIP-499: CIDv1, raw leaves, SHA-256,
 * 1 MiB chunks, 1,024 links per node) with files imported one at a time and blocks written in
 * the importer's order, so two exports of the same range are the same bytes, and the root CID
 * is the one `ipfs-car pack` gives for the same four files.
 */
import { createHash, randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { CarBlockIterator, CarWriter } from "@ipld/car";
import { importer, type ImporterOptions } from "ipfs-unixfs-importer";
import { exporter } from "ipfs-unixfs-exporter";
import { MemoryBlockstore } from "blockstore-core/memory";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { GenlogError } from "../errors.js";
import { parseCheckpoint, type ParsedCheckpoint } from "../core/checkpoint.js";
import { verifyConsistency, type MerkleFrontier } from "../core/merkle.js";
import { parseSignedNote, verifyNote } from "../core/signed-note.js";
import type { LogRef, LogStore, StoredCheckpoint } from "../store/log-store.js";
import {
  checkRecordLine,
  consistencyBetween,
  frontierFrom,
  hashOf,
  subtreesBefore,
  type Subtree,
} from "./range-proof.js";
import { syncPath } from "./sync-path.js";

/** The `format` of a CAR export's manifest; bumped on any change. */
export const CAR_FORMAT = "genlog.car/1";

const RECORDS = "records.ndjson";
const CHECKPOINT = "checkpoint";
const PROOFS = "proofs.json";
const MANIFEST = "manifest.json";
const FILES = [CHECKPOINT, MANIFEST, PROOFS, RECORDS] as const;

/** The UnixFS parameters every export uses, as the manifest records them. */
export const UNIXFS = {
  profile: "unixfs-v1-2025",
  cidVersion: 1,
  hash: "sha2-256",
  rawLeaves: true,
  chunkSize: 1_048_576,
  maxChildrenPerNode: 1024,
  wrapWithDirectory: false,
} as const;

const IMPORT: ImporterOptions = {
  profile: "unixfs-v1-2025",
  wrapWithDirectory: false,
  // One file and one block at a time: the blocks come in the same order on every run.
  fileImportConcurrency: 1,
  blockWriteConcurrency: 1,
};

/** A CAR export's `manifest.json`. */
export interface CarManifest {
  format: typeof CAR_FORMAT;
  origin: string;
  tenant: string;
  /** The range [fromSeq, treeSize) exported. */
  fromSeq: number;
  treeSize: number;
  records: number;
  /** The signed root of the tree of size treeSize, base64 (as in the checkpoint). */
  rootHash: string;
  /** The tenant's verifier key as genlog knew it; a reader should pin the published one. */
  verifierKey: string;
  unixfs: typeof UNIXFS;
  files: { name: string; cid: string; sha256: string; bytes: number }[];
}

/** What {@link checkCar} found. */
export interface CarCheck {
  ok: boolean;
  /** The CAR's root (the directory's CID). */
  root: string;
  blocks: number;
  manifest?: CarManifest;
  problems: { seq?: number; message: string }[];
}

interface ProofsFile {
  /** The perfect subtrees of [0, fromSeq). */
  before: Subtree[];
  /** Consistency proof from fromSeq to treeSize (base64); empty when fromSeq is 0. */
  consistency: string[];
}

/**
 * Writes the records of `ref` from `fromSeq` to `checkpoint.size` as a CAR file at `out` (which
 * must not exist: written beside it, synced, then renamed). `fromSeq` is 0, or the size of a
 * previous export's checkpoint.
 *
 * @throws {GenlogError} `GENLOG_E_USAGE` when `out` exists; `GENLOG_E_NOT_FOUND` when the range
 * holds a purged record (export from a checkpoint after the purge).
 */
export async function writeCarExport(options: {
  store: LogStore;
  ref: LogRef;
  verifierKey: string;
  checkpoint: StoredCheckpoint;
  fromSeq: number;
  out: string;
}): Promise<{ root: string; manifest: CarManifest }> {
  const { store, ref, checkpoint, fromSeq } = options;
  const target = resolve(options.out);
  const handle = await open(target, "wx", 0o600).catch((e: NodeJS.ErrnoException) => {
    throw e.code === "EEXIST"
      ? new GenlogError("GENLOG_E_USAGE", `--out ${options.out} exists: give a new file name`)
      : new GenlogError("GENLOG_E_IO", `cannot create ${options.out}: ${e.message}`, { cause: e });
  });
  await handle.close();
  await rm(target);

  // The records twice (never held in memory): once to learn their CID and digest for the
  // manifest, once into the CAR.
  const records = async function* (): AsyncGenerator<Uint8Array> {
    for await (const e of store.scanEntries(ref.logId, fromSeq)) {
      if (e.seq >= checkpoint.size) break;
      if (e.canonical === null) {
        throw new GenlogError(
          "GENLOG_E_NOT_FOUND",
          `record ${e.seq} of ${ref.origin} was purged: export from a checkpoint after the purge (--since-checkpoint)`,
          { details: { seq: e.seq } },
        );
      }
      yield Buffer.from(`${e.canonical}\n`, "utf8");
    }
  };
  const proofs: ProofsFile = {
    before: await subtreesBefore(store, ref, fromSeq),
    consistency: await consistencyBetween(store, ref, fromSeq, checkpoint.size),
  };
  const contents = new Map<string, () => AsyncIterable<Uint8Array>>([
    [CHECKPOINT, one(Buffer.from(checkpoint.note, "utf8"))],
    [PROOFS, one(Buffer.from(`${JSON.stringify(proofs, null, 2)}\n`, "utf8"))],
    [RECORDS, records],
  ]);
  const files: CarManifest["files"] = [];
  for (const [name, content] of contents) {
    const digest = createHash("sha256");
    let bytes = 0;
    const hashed = async function* () {
      for await (const chunk of content()) {
        digest.update(chunk);
        bytes += chunk.length;
        yield chunk;
      }
    };
    let cid: CID | undefined;
    for await (const entry of importer([{ content: hashed() }], new NullStore(), IMPORT)) {
      cid = entry.cid;
    }
    files.push({ name, cid: cid!.toString(), sha256: digest.digest("hex"), bytes });
  }
  files.sort((a, b) => a.name.localeCompare(b.name));
  const cp = parseCheckpoint(parseSignedNote(checkpoint.note).body);
  const manifest: CarManifest = {
    format: CAR_FORMAT,
    origin: ref.origin,
    tenant: ref.tenant,
    fromSeq,
    treeSize: checkpoint.size,
    // Every record of the range is in the file (a purged one stops the export).
    records: checkpoint.size - fromSeq,
    rootHash: Buffer.from(cp.rootHash).toString("base64"),
    verifierKey: options.verifierKey,
    unixfs: UNIXFS,
    files,
  };
  contents.set(MANIFEST, one(Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, "utf8")));

  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  // The root is known at the end: the header is written with a placeholder of the same length
  // (every root is a CIDv1 dag-pb SHA-256 CID), then rewritten in place.
  const placeholder = CID.createV1(0x70, await sha256.digest(new Uint8Array()));
  const { writer, out } = CarWriter.create([placeholder]);
  const fh = await open(temp, "wx+", 0o600);
  try {
    const copying = (async () => {
      for await (const chunk of out) await fh.write(chunk);
    })();
    const sink = new CarSink(writer);
    let root: CID | undefined;
    for await (const entry of importer(
      FILES.map((name) => ({ path: `export/${name}`, content: contents.get(name)!() })),
      sink,
      IMPORT,
    )) {
      if (entry.path === "export") root = entry.cid;
    }
    await writer.close();
    await copying;
    await CarWriter.updateRootsInFile(fh, [root!]);
    await fh.sync();
    await fh.close();
    await rename(temp, target);
    await syncPath(dirname(target));
    return { root: root!.toString(), manifest };
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(temp, { force: true });
    throw e;
  }
}

/**
 * Checks a CAR export: every block re-hashed against its CID, the UnixFS directory walked from
 * the single root, every file's CID and SHA-256 against the manifest, the checkpoint's
 * signature (with `verifierKey`, or the manifest's own key, which only proves it agrees with itself),
 * that the records are canonical, of the log and in order, and that with the subtrees before
 * them they give the signed root; then the consistency proof from `fromSeq`, against
 * `previous` (the signed note of the export before, which the reader kept) when given.
 */
export async function checkCar(
  bytes: AsyncIterable<Uint8Array> | Uint8Array,
  options: { verifierKey?: string; previous?: string } = {},
): Promise<CarCheck> {
  const previous =
    options.previous === undefined
      ? undefined
      : parseCheckpoint(parseSignedNote(options.previous).body);
  const problems: CarCheck["problems"] = [];
  const blocks = new MemoryBlockstore();
  let iterator: CarBlockIterator;
  try {
    iterator = await CarBlockIterator.fromIterable(
      bytes instanceof Uint8Array
        ? (async function* () {
            yield bytes;
          })()
        : bytes,
    );
  } catch (cause) {
    throw new GenlogError("GENLOG_E_INVALID_INPUT", "not a CAR file (its header does not decode)", {
      cause,
      details: { rule: "car" },
    });
  }
  const roots = await iterator.getRoots();
  const rootText = roots.map((r) => r.toString()).join(", ");
  const result = (manifest?: CarManifest): CarCheck => ({
    ok: problems.length === 0,
    root: rootText,
    blocks: count,
    ...(manifest !== undefined ? { manifest } : {}),
    problems,
  });
  let count = 0;
  try {
    for await (const { cid, bytes: block } of iterator) {
      count++;
      if (cid.multihash.code !== sha256.code || (cid.code !== 0x70 && cid.code !== 0x55)) {
        problems.push({ message: `block ${cid} is not dag-pb or raw with SHA-256` });
        continue;
      }
      const digest = await sha256.digest(block);
      if (!Buffer.from(digest.digest).equals(Buffer.from(cid.multihash.digest))) {
        problems.push({ message: `block ${cid} does not hash to its CID: it was changed` });
        continue;
      }
      await blocks.put(cid, block);
    }
  } catch (e) {
    problems.push({ message: `the CAR is truncated or damaged: ${(e as Error).message}` });
  }
  if (roots.length !== 1) {
    problems.push({ message: `a genlog export has one root, this CAR has ${roots.length}` });
  }
  if (problems.length > 0) return result();

  const texts = new Map<string, { cid: string; data: Buffer }>();
  try {
    const dir = await exporter(roots[0]!, blocks);
    if (dir.type !== "directory") throw new Error("the root is not a directory");
    for await (const entry of dir.entries()) {
      if (!(FILES as readonly string[]).includes(entry.name)) {
        problems.push({ message: `${entry.name} is not part of a genlog export` });
        continue;
      }
      const file = await exporter(entry.cid, blocks);
      if (file.type !== "file" && file.type !== "raw")
        throw new Error(`${entry.name} is not a file`);
      const chunks: Uint8Array[] = [];
      for await (const c of file.content()) chunks.push(c);
      texts.set(entry.name, { cid: entry.cid.toString(), data: Buffer.concat(chunks) });
    }
  } catch (e) {
    problems.push({ message: `the UnixFS directory cannot be read: ${(e as Error).message}` });
    return result();
  }
  for (const name of FILES) {
    if (!texts.has(name)) problems.push({ message: `${name} is missing` });
  }
  if (problems.length > 0) return result();

  let manifest: CarManifest;
  try {
    manifest = JSON.parse(texts.get(MANIFEST)!.data.toString("utf8")) as CarManifest;
    if (manifest?.format !== CAR_FORMAT) throw new Error(`not a ${CAR_FORMAT} manifest`);
  } catch (e) {
    problems.push({ message: `${MANIFEST}: ${(e as Error).message}` });
    return result();
  }
  for (const f of manifest.files ?? []) {
    const t = texts.get(f.name);
    if (t === undefined) continue;
    const digest = createHash("sha256").update(t.data).digest("hex");
    if (t.cid !== f.cid || digest !== f.sha256 || t.data.length !== f.bytes) {
      problems.push({ message: `${f.name} is not the file the manifest describes` });
    }
  }
  if (manifest.files?.length !== 3) problems.push({ message: "the manifest must list 3 files" });

  let cp: ParsedCheckpoint;
  try {
    const note = texts.get(CHECKPOINT)!.data;
    cp = parseCheckpoint(verifyNote(note, options.verifierKey ?? manifest.verifierKey));
    if (cp.origin !== manifest.origin || cp.size !== manifest.treeSize) {
      throw new Error(`it is of ${cp.origin} at size ${cp.size}, not the manifest's`);
    }
  } catch (e) {
    problems.push({ message: `the checkpoint: ${(e as Error).message}` });
    return result(manifest);
  }

  let proofs: ProofsFile;
  let frontier: MerkleFrontier;
  try {
    proofs = JSON.parse(texts.get(PROOFS)!.data.toString("utf8")) as ProofsFile;
    frontier = frontierFrom(manifest.fromSeq, proofs.before);
  } catch (e) {
    problems.push({ message: `${PROOFS}: ${(e as Error).message}` });
    return result(manifest);
  }
  const fromRoot = frontier.root();
  if (previous !== undefined) {
    if (
      previous.origin !== manifest.origin ||
      previous.size !== manifest.fromSeq ||
      !Buffer.from(previous.rootHash).equals(Buffer.from(fromRoot))
    ) {
      problems.push({
        message: `the export does not continue the previous checkpoint (${previous.origin} at size ${previous.size}): it starts at ${manifest.fromSeq} from another tree`,
      });
    }
  }

  let seq = manifest.fromSeq;
  const lines = texts.get(RECORDS)!.data.toString("utf8").split("\n");
  if (lines.pop() !== "") problems.push({ message: `${RECORDS} does not end with a newline` });
  for (const line of lines) {
    checkRecordLine(line, seq, manifest.fromSeq, manifest.tenant, frontier, problems);
    seq++;
  }
  if (seq !== manifest.treeSize) {
    problems.push({
      message: `the export holds records ${manifest.fromSeq} to ${seq - 1}, the checkpoint covers up to ${manifest.treeSize - 1}`,
    });
    return result(manifest);
  }
  if (!Buffer.from(frontier.root()).equals(Buffer.from(cp.rootHash))) {
    problems.push({
      message: `the records do not give the signed root of size ${cp.size}: a record or a subtree was changed`,
    });
  }
  if (manifest.fromSeq > 0 && manifest.fromSeq < cp.size) {
    try {
      verifyConsistency(
        manifest.fromSeq,
        cp.size,
        proofs.consistency.map(hashOf),
        fromRoot,
        cp.rootHash,
      );
    } catch {
      problems.push({
        message: `the consistency proof from size ${manifest.fromSeq} to ${cp.size} does not verify`,
      });
    }
  }
  return result(manifest);
}

/** A blockstore that keeps nothing: the importer only needs `put` to compute CIDs. */
class NullStore {
  async put(cid: CID, bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>) {
    for await (const _ of toChunks(bytes)) void _;
    return cid;
  }
}

/** A blockstore that writes each new block into the CAR, in the order the importer puts it. */
class CarSink {
  readonly #writer: { put(block: { cid: CID; bytes: Uint8Array }): Promise<void> };
  readonly #seen = new Set<string>();

  constructor(writer: { put(block: { cid: CID; bytes: Uint8Array }): Promise<void> }) {
    this.#writer = writer;
  }

  async put(cid: CID, bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>) {
    const chunks: Uint8Array[] = [];
    for await (const c of toChunks(bytes)) chunks.push(c);
    const key = cid.toString();
    if (!this.#seen.has(key)) {
      this.#seen.add(key);
      await this.#writer.put({ cid, bytes: Buffer.concat(chunks) });
    }
    return cid;
  }
}

async function* toChunks(
  bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  if (bytes instanceof Uint8Array) yield bytes;
  else yield* bytes;
}

function one(bytes: Buffer): () => AsyncIterable<Uint8Array> {
  return async function* () {
    yield bytes;
  };
}
