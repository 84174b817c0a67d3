/**
 * Archives: a sealed range of a log written to a directory before it is purged, that anyone
 * can check with the tenant's verifier key and nothing else.
 *
 * ```
 * DIR/
 *   records.ndjson.gz   the records of [fromSeq, toSeq), exactly as committed, one per line
 *   checkpoint.txt      the log's signed checkpoint at the time of the archive (size N >= toSeq)
 *   proof.json          the perfect subtrees of [0, fromSeq) (what came before), and the
 *                       RFC 9162 consistency proof from size toSeq to N
 *   manifest.json       format, origin, range, counts, and the SHA-256 and size of each file
 * ```
 *
 * A reader rebuilds the tree of size `toSeq` from the subtrees before the range and the leaves
 * it recomputes from the records, then checks that the signed tree of size N extends it: every
 * archived record is then proved genuine and complete for its range, and any changed byte fails.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import { GenlogError } from "../errors.js";
import { parseCheckpoint } from "../core/checkpoint.js";
import { verifyConsistency, type MerkleFrontier } from "../core/merkle.js";
import { parseVerifierKey, verifyNote } from "../core/signed-note.js";
import type { LogRef, LogStore, StoredCheckpoint } from "../store/log-store.js";
import {
  checkRecordLine,
  consistencyBetween,
  frontierFrom,
  hashOf,
  subtreesBefore,
  type Subtree,
} from "./range-proof.js";
import { purgesOf } from "./retention.js";
import { syncPath } from "./sync-path.js";

/** The `format` of an archive's manifest; bumped on any change. */
export const ARCHIVE_FORMAT = "genlog.archive/1";

const RECORDS = "records.ndjson.gz";
const CHECKPOINT = "checkpoint.txt";
const PROOF = "proof.json";
const MANIFEST = "manifest.json";

/** An archive's `manifest.json`. */
export interface ArchiveManifest {
  format: typeof ARCHIVE_FORMAT;
  origin: string;
  tenant: string;
  /** Records with a `ts` before this are in the range. */
  before: string;
  createdAt: string;
  /** The range [fromSeq, toSeq) archived. */
  fromSeq: number;
  toSeq: number;
  records: number;
  /** Size of the signed checkpoint the range is proved against. */
  treeSize: number;
  /** The tenant's verifier key as genlog knew it; a reader should pin the published one. */
  verifierKey: string;
  files: { name: string; sha256: string; bytes: number }[];
}

/** What {@link checkArchive} found. */
export interface ArchiveCheck {
  ok: boolean;
  origin: string;
  fromSeq: number;
  toSeq: number;
  records: number;
  treeSize: number;
  problems: { seq?: number; message: string }[];
}

interface ProofFile {
  /** The perfect subtrees of [0, fromSeq). */
  before: Subtree[];
  /** Consistency proof from toSeq to treeSize (base64). */
  consistency: string[];
}

/** Where an archive range starts: after what was already purged (those bodies are gone). */
export async function archiveStart(store: LogStore, ref: LogRef): Promise<number> {
  return (await purgesOf(store, ref)).end();
}

/**
 * Writes the archive of the records of `ref` before `before` (from where the last purge
 * stopped) into `dir`, which must not exist: written beside it and renamed once complete.
 *
 * @throws {GenlogError} `GENLOG_E_USAGE` when `dir` exists; `GENLOG_E_NOT_FOUND` when there is
 * nothing to archive; `GENLOG_E_INCONSISTENT` when a body in the range is missing.
 */
export async function writeArchive(options: {
  store: LogStore;
  ref: LogRef;
  verifierKey: string;
  checkpoint: StoredCheckpoint;
  before: string;
  dir: string;
}): Promise<ArchiveManifest> {
  const { store, ref, checkpoint } = options;
  const target = resolve(options.dir);
  if (existsSync(target)) {
    throw new GenlogError("GENLOG_E_USAGE", `--out ${options.dir} exists: give a new directory`);
  }
  const fromSeq = await archiveStart(store, ref);
  const [first] = await store.query(ref.logId, { since: options.before, limit: 1 });
  const toSeq = Math.min(first?.seq ?? checkpoint.size, checkpoint.size);
  if (toSeq <= fromSeq) {
    throw new GenlogError(
      "GENLOG_E_NOT_FOUND",
      `${ref.origin} has no record left before ${options.before} to archive (entries below ${fromSeq} were purged)`,
    );
  }
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  await mkdir(temp, { mode: 0o700 });
  try {
    const files: ArchiveManifest["files"] = [];
    const add = (name: string, bytes: Buffer) => {
      files.push({ name, sha256: sha256(bytes), bytes: bytes.length });
      return writeSynced(join(temp, name), bytes);
    };
    // The records, streamed through gzip; hashed as written.
    let records = 0;
    const hash = createHash("sha256");
    let bytes = 0;
    async function* lines(): AsyncIterable<string> {
      for await (const e of store.scanEntries(ref.logId, fromSeq)) {
        if (e.seq >= toSeq) break;
        if (e.canonical === null) {
          throw new GenlogError(
            "GENLOG_E_INCONSISTENT",
            `the record of entry ${e.seq} of ${ref.origin} is missing: nothing was archived; run \`genlog verify\``,
          );
        }
        records++;
        yield `${e.canonical}\n`;
      }
    }
    const gz = createGzip();
    gz.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    await pipeline(
      Readable.from(lines()),
      gz,
      createWriteStream(join(temp, RECORDS), { mode: 0o600 }),
    );
    await syncPath(join(temp, RECORDS));
    files.push({ name: RECORDS, sha256: hash.digest("hex"), bytes });
    await add(CHECKPOINT, Buffer.from(checkpoint.note, "utf8"));

    const proof: ProofFile = {
      before: await subtreesBefore(store, ref, fromSeq),
      consistency: await consistencyBetween(store, ref, toSeq, checkpoint.size),
    };
    await add(PROOF, Buffer.from(`${JSON.stringify(proof, null, 2)}\n`, "utf8"));
    const manifest: ArchiveManifest = {
      format: ARCHIVE_FORMAT,
      origin: ref.origin,
      tenant: ref.tenant,
      before: options.before,
      createdAt: new Date().toISOString(),
      fromSeq,
      toSeq,
      records,
      treeSize: checkpoint.size,
      verifierKey: options.verifierKey,
      files,
    };
    await writeSynced(join(temp, MANIFEST), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
    await rename(temp, target);
    return manifest;
  } catch (e) {
    await rm(temp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Checks an archive with `verifierKey` (default: the one its manifest carries, which only
 * proves it agrees with itself): every file's digest, the checkpoint's signature, that the
 * records are canonical, of the log and in order, and that with the subtrees before them they
 * give a tree the signed checkpoint extends.
 *
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` when `dir` holds no archive manifest.
 */
export async function checkArchive(dir: string, verifierKey?: string): Promise<ArchiveCheck> {
  const manifest = await readManifest(dir);
  const problems: ArchiveCheck["problems"] = [];
  const result = (): ArchiveCheck => ({
    ok: problems.length === 0,
    origin: manifest.origin,
    fromSeq: manifest.fromSeq,
    toSeq: manifest.toSeq,
    records: manifest.records,
    treeSize: manifest.treeSize,
    problems,
  });
  for (const f of manifest.files) {
    const path = join(dir, basename(f.name));
    const digest = existsSync(path) ? await fileSha256(path) : undefined;
    if (digest !== f.sha256) {
      problems.push({
        message: `${f.name} ${digest === undefined ? "is missing" : "was changed: its SHA-256 is not the manifest's"}`,
      });
    }
  }
  const listed = new Set([MANIFEST, ...manifest.files.map((f) => f.name)]);
  for (const name of readdirSync(dir)) {
    if (!listed.has(name)) problems.push({ message: `${name} is not part of the archive` });
  }
  const key = verifierKey ?? manifest.verifierKey;
  parseVerifierKey(key);
  let cp;
  try {
    cp = parseCheckpoint(verifyNote(await readFile(join(dir, CHECKPOINT)), key));
    if (cp.origin !== manifest.origin || cp.size !== manifest.treeSize) {
      throw new Error(`it is of ${cp.origin} at size ${cp.size}, not the manifest's`);
    }
  } catch (e) {
    problems.push({ message: `the checkpoint: ${(e as Error).message}` });
    return result();
  }
  let proof: ProofFile;
  let frontier: MerkleFrontier;
  try {
    proof = JSON.parse(await readFile(join(dir, PROOF), "utf8")) as ProofFile;
    frontier = frontierFrom(manifest.fromSeq, proof.before);
  } catch (e) {
    problems.push({ message: `proof.json: ${(e as Error).message}` });
    return result();
  }
  let seq = manifest.fromSeq;
  const tenant = manifest.tenant;
  try {
    const input = createReadStream(join(dir, RECORDS)).pipe(createGunzip());
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      checkRecordLine(line, seq, manifest.fromSeq, tenant, frontier, problems);
      seq++;
    }
  } catch (e) {
    problems.push({ message: `${RECORDS}: ${(e as Error).message}` });
    return result();
  }
  if (seq !== manifest.toSeq) {
    problems.push({
      message: `the archive holds records ${manifest.fromSeq} to ${seq - 1}, the manifest says up to ${manifest.toSeq - 1}`,
    });
    return result();
  }
  const root = frontier.root();
  try {
    if (manifest.toSeq === cp.size) {
      if (!Buffer.from(root).equals(Buffer.from(cp.rootHash))) throw new Error("root differs");
    } else {
      verifyConsistency(manifest.toSeq, cp.size, proof.consistency.map(hashOf), root, cp.rootHash);
    }
  } catch {
    problems.push({
      message: `the records do not give a tree the signed checkpoint of size ${cp.size} extends: a record, a subtree or the proof was changed`,
    });
  }
  return result();
}

async function readManifest(dir: string): Promise<ArchiveManifest> {
  let m: ArchiveManifest;
  try {
    m = JSON.parse(await readFile(join(dir, MANIFEST), "utf8")) as ArchiveManifest;
  } catch (cause) {
    throw new GenlogError(
      "GENLOG_E_INVALID_INPUT",
      `${dir} holds no readable ${MANIFEST}: not a genlog archive`,
      {
        cause,
        details: { rule: "archive" },
      },
    );
  }
  const ok =
    m?.format === ARCHIVE_FORMAT &&
    typeof m.origin === "string" &&
    typeof m.tenant === "string" &&
    typeof m.verifierKey === "string" &&
    [m.fromSeq, m.toSeq, m.records, m.treeSize].every((n) => Number.isSafeInteger(n) && n >= 0) &&
    Array.isArray(m.files) &&
    m.files.every((f) => typeof f?.name === "string" && typeof f.sha256 === "string");
  if (!ok) {
    throw new GenlogError(
      "GENLOG_E_INVALID_INPUT",
      `${join(dir, MANIFEST)} is not a ${ARCHIVE_FORMAT} manifest`,
      {
        details: { rule: "archive" },
      },
    );
  }
  return m;
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function fileSha256(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

async function writeSynced(path: string, bytes: Buffer): Promise<void> {
  await writeFile(path, bytes, { mode: 0o600 });
  await syncPath(path);
}
