/**
 * The `file-sink` follower: writes each committed record as one line of NDJSON, for a SIEM
 * agent (Filebeat, Vector, Fluent Bit, a Splunk forwarder) or an archive to pick up. Files live
 * in `<followers directory>/<tenant>/<name>/`: `current.ndjson` is being written; it is rotated
 * when it reaches `maxBytes`, or when a record arrives after it is `maxAgeSeconds` old: renamed
 * to `<seq of its first line, 12 digits>-<UTC time of the rotation>.ndjson` (names sort in the
 * order of the records), then gzipped to `….ndjson.gz` once the cursor written has passed it.
 * Only the newest `keep` rotated files stay. `follower-id` says whose files these are.
 *
 * Lines are made durable (fdatasync) before the follower's cursor moves past them: the runner
 * calls {@link FollowerKind.flush} before writing the cursor. After a crash, or a write or a
 * turn that failed, the lines past the durable cursor at the end of the files not yet gzipped
 * are cut off before the records are written again: a line appears once.
 *
 * Hand-written rather than a rotating-stream library: those write asynchronously and cannot
 * say when a line is on disk, which is what the cursor needs to know.
 */
import { createReadStream, createWriteStream } from "node:fs";
import {
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  type FileHandle,
} from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import type { Delivery, DeliveryOutcome, FollowerKind } from "../log/followers.js";
import {
  describeFilter,
  enumOption,
  FILTER_OPTIONS,
  integerOption,
  optionsObject,
  parseFilter,
  passes,
  type RecordFilter,
} from "./options.js";
import { SIEM_FORMATS, cloudEvent, type SiemFormat } from "./siem-formats.js";
import { syncPath, writeFileDurably } from "../log/sync-path.js";
import type { FollowerKey } from "../store/log-store.js";
import { GenlogError } from "../errors.js";

/** What each line holds: genlog's own `{tenant, seq, leafHash, record}`, or a SIEM document. */
export const FILE_FORMATS = ["record", ...SIEM_FORMATS] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

/** A file sink's options. */
export interface FileSinkConfig extends RecordFilter {
  /** Default `record`; `ocsf` and `ecs` write CloudEvents envelopes as the `siem` kind sends. */
  format: FileFormat;
  /** Rotate past this size, in bytes; default 64 MiB. */
  maxBytes: number;
  /** Rotate a file this old when the next record comes, in seconds; default one day. */
  maxAgeSeconds: number;
  /** Rotated files kept (the oldest are deleted); default 30. */
  keep: number;
}

const CURRENT = "current.ndjson";
/** A rotated file, sealed: `<first seq, 12 digits>-<UTC time>.ndjson`, until it is gzipped. */
const SEALED = /^\d{12}-\d{8}T\d{9}Z\.ndjson$/;
const ROTATED = /^\d{12}-\d{8}T\d{9}Z\.ndjson\.gz$/;
/** The id of the follower whose files a directory holds. */
const ID_FILE = "follower-id";

/** The file being written for one follower. */
interface Open {
  fh: FileHandle;
  size: number;
  /** When it got its first line (epoch ms); from the file's times after a restart. */
  since: number;
  /** The seq of its first line. */
  firstSeq: number | undefined;
  /** Lines not written yet (counted in `size`): written in one go past {@link BUFFER}, or at flush. */
  pending: Buffer[];
  pendingBytes: number;
}

/** What this process knows of one follower's files. */
interface Sink {
  open: Promise<Open> | undefined;
  /**
   * Whether the files were checked against the durable cursor: at the first open in a process,
   * and again after anything went wrong, since lines past the cursor are handed over again.
   */
  checked: boolean;
  /** The highest seq handed to this sink since it was checked. */
  last: number | undefined;
  /** Files sealed by this process, not gzipped yet, oldest first, with their highest seq. */
  sealed: { dir: string; name: string; last: number }[];
  /** Why lines handed over since the last flush were lost: the next flush refuses. */
  lost: string | undefined;
}

/** Lines kept in memory before one write: a write per line would cost a thread-pool round trip each. */
const BUFFER = 256 * 1024;

/** Writes the buffered lines; they stay buffered until written whole. */
async function writePending(file: Open): Promise<void> {
  if (file.pendingBytes === 0) return;
  const chunk = Buffer.concat(file.pending, file.pendingBytes);
  for (let done = 0; done < chunk.length;) {
    done += (await file.fh.write(chunk, done)).bytesWritten;
  }
  file.pending = [];
  file.pendingBytes = 0;
}

/** A file sink: one per process; it keeps the open file of each follower it writes. */
export class FileSink implements FollowerKind<FileSinkConfig> {
  readonly kind = "file-sink";
  readonly secret = "none";
  readonly #sinks = new Map<string, Sink>();

  describe(config: FileSinkConfig): string {
    return `NDJSON files (${config.format}, rotated at ${config.maxBytes} bytes or ${config.maxAgeSeconds} s, keep ${config.keep})${describeFilter(config)}`;
  }

  parse(input: unknown): FileSinkConfig {
    const o = optionsObject(input ?? {}, [
      "format",
      "maxBytes",
      "maxAgeSeconds",
      "keep",
      ...FILTER_OPTIONS,
    ]);
    return {
      format: enumOption(o.format, "/config/format", FILE_FORMATS, "record"),
      maxBytes: integerOption(o.maxBytes, "/config/maxBytes", 1024, 2 ** 40, 64 * 2 ** 20),
      maxAgeSeconds: integerOption(o.maxAgeSeconds, "/config/maxAgeSeconds", 1, 366 * 86400, 86400),
      keep: integerOption(o.keep, "/config/keep", 1, 100_000, 30),
      ...parseFilter(o),
    };
  }

  wants(config: FileSinkConfig, record: Delivery<FileSinkConfig>["record"]): boolean {
    return passes(config, record);
  }

  async deliver(d: Delivery<FileSinkConfig>): Promise<DeliveryOutcome> {
    const dir = join(d.filesDir, d.tenant, d.name);
    const s = this.#sink(d);
    try {
      // A record handed over again, past the durable cursor: the last turn ended before its
      // cursor moved (a failed flush, a store error). What was written since goes, and is
      // written again, so that a line appears once.
      if (s.last !== undefined && d.record.seq <= s.last && d.record.seq >= d.cursor) {
        await reset(s);
      }
      let file = await this.#file(s, d, dir);
      if (
        file.size > 0 &&
        (file.size >= d.config.maxBytes || Date.now() - file.since >= d.config.maxAgeSeconds * 1000)
      ) {
        await seal(s, d, dir, file);
        file = await this.#file(s, d, dir);
      }
      const bytes = Buffer.from(`${line(d)}\n`, "utf8");
      file.pending.push(bytes);
      file.pendingBytes += bytes.length;
      if (file.pendingBytes >= BUFFER) await writePending(file);
      if (file.size === 0) {
        file.firstSeq = d.record.seq;
        file.since = Date.now();
      }
      file.size += bytes.length;
      s.last = Math.max(s.last ?? -1, d.record.seq);
      return { ok: true };
    } catch (e) {
      // A full or read-only disk is not the record's fault: the follower pauses until it is
      // fixed. Lines buffered or not yet synced may be lost: the cursor must not pass them.
      await reset(s);
      const error =
        e instanceof GenlogError
          ? e.message
          : `could not write to ${dir} (${(e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e))})`;
      s.lost = error;
      return { ok: false, unreachable: true, error };
    }
  }

  /** Makes what was written for this follower durable, and lets its file go. */
  async flush(follower: FollowerKey): Promise<void> {
    const s = this.#sinks.get(key(follower));
    if (s === undefined) return;
    if (s.lost !== undefined) {
      const lost = s.lost;
      s.lost = undefined;
      throw new Error(`${lost}: lines handed over since the cursor was last written are lost`);
    }
    const p = s.open;
    if (p === undefined) return;
    s.open = undefined;
    const file = await p;
    try {
      await writePending(file);
      await file.fh.datasync();
    } catch (e) {
      s.checked = false;
      throw e;
    } finally {
      await file.fh.close().catch(() => undefined);
    }
  }

  /** Sealed files the durable cursor has passed are final: gzipped. */
  async committed(follower: FollowerKey, cursor: number): Promise<void> {
    const s = this.#sinks.get(key(follower));
    while (s !== undefined && s.sealed.length > 0 && s.sealed[0]!.last < cursor) {
      await gzipSealed(s.sealed[0]!.dir, s.sealed[0]!.name);
      s.sealed.shift();
    }
  }

  #sink(f: FollowerKey): Sink {
    const k = key(f);
    let s = this.#sinks.get(k);
    if (s === undefined) {
      s = { open: undefined, checked: false, last: undefined, sealed: [], lost: undefined };
      this.#sinks.set(k, s);
    }
    return s;
  }

  #file(s: Sink, d: Delivery<FileSinkConfig>, dir: string): Promise<Open> {
    if (s.open === undefined) {
      const p = s.checked ? openCurrent(dir) : recover(s, d, dir).then(() => openCurrent(dir));
      s.checked = true;
      s.open = p;
      p.catch(() => {
        if (s.open === p) s.open = undefined;
        s.checked = false;
      });
    }
    return s.open;
  }
}

function line(d: Delivery<FileSinkConfig>): string {
  if (d.config.format === "record") {
    return JSON.stringify({
      tenant: d.tenant,
      seq: d.record.seq,
      leafHash: d.leafHash,
      record: d.record,
    });
  }
  const source = { origin: d.origin, record: d.record, leafHash: d.leafHash };
  return JSON.stringify(cloudEvent(d.config.format as SiemFormat, source));
}

/** Lets the open file go unwritten: the next open checks the files against the cursor. */
async function reset(s: Sink): Promise<void> {
  const p = s.open;
  s.open = undefined;
  s.checked = false;
  s.last = undefined;
  s.sealed = [];
  await (await p?.catch(() => undefined))?.fh.close().catch(() => undefined);
}

/**
 * current.ndjson → `<firstSeq>-<time>.ndjson`, sealed: one rename, made durable. It is gzipped
 * once the durable cursor has passed its last line; until then a crash may leave lines in it
 * that are handed over again, and they are cut off as in current.ndjson.
 */
async function seal(s: Sink, d: Delivery<FileSinkConfig>, dir: string, file: Open): Promise<void> {
  s.open = undefined;
  try {
    await writePending(file);
    await file.fh.datasync();
  } finally {
    await file.fh.close().catch(() => undefined);
  }
  const names = new Set(await readdir(dir));
  const base = String(file.firstSeq ?? 0).padStart(12, "0");
  let name: string;
  // Unique, and in order: two rotations in one millisecond take the next one's name.
  for (
    let t = Date.now();
    names.has((name = `${base}-${stamp(t)}.ndjson`)) || names.has(`${name}.gz`);
    t++
  );
  await rename(join(dir, CURRENT), join(dir, name));
  await syncPath(dir);
  // Lines read back after a restart are all below the cursor it checked against.
  s.sealed.push({ dir, name, last: s.last ?? d.cursor - 1 });
  await prune(dir, d.config.keep);
}

/** A sealed file → `.gz` beside it, synced, then the sealed one removed. */
async function gzipSealed(dir: string, name: string): Promise<void> {
  const path = join(dir, name);
  const tmp = `${path}.gz.tmp`;
  try {
    await pipeline(createReadStream(path), createGzip(), createWriteStream(tmp, { mode: 0o600 }));
  } catch (e) {
    await rm(tmp, { force: true });
    // Pruned meanwhile (older than the newest `keep`): nothing left to do.
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  await syncPath(tmp);
  await rename(tmp, `${path}.gz`);
  await rm(path);
  await syncPath(dir);
}

/** Removes the oldest rotated files (sealed or gzipped) beyond the newest `keep`. */
async function prune(dir: string, keep: number): Promise<void> {
  const rotated = (await readdir(dir)).filter((n) => ROTATED.test(n) || SEALED.test(n)).sort();
  for (const old of rotated.slice(0, Math.max(0, rotated.length - keep))) {
    await rm(join(dir, old), { force: true });
  }
}

/**
 * Before a follower's files are written in a process, and after anything went wrong: the
 * directory must be this follower's (not one removed earlier under the same name); lines at
 * the end of its files for records at or past the durable cursor were written before the
 * cursor moved, and are cut off since the runner is about to hand those records over again, as
 * is a line cut short; sealed files left by a crash are finished.
 */
async function recover(s: Sink, d: Delivery<FileSinkConfig>, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // A directory written before follower ids is adopted with its lines all kept: whose they
  // are cannot be told, and a line twice is better than a line lost.
  const adopted = await claim(dir, d.id, d.name);
  const names = await readdir(dir);
  for (const n of names) {
    if (n.endsWith(".ndjson.gz.tmp")) await rm(join(dir, n), { force: true });
  }
  for (const n of names.filter((x) => SEALED.test(x)).sort()) {
    const path = join(dir, n);
    // Gzipped, then the crash came before the sealed file was removed.
    if (names.includes(`${n}.gz`)) await rm(path);
    else if (!adopted && (await cut(path, d.cursor)) === 0) await rm(path);
    else await gzipSealed(dir, n);
  }
  const current = join(dir, CURRENT);
  // An adopted file keeps its lines; a torn last line, which no reader can use, still goes.
  if (names.includes(CURRENT)) await cut(current, adopted ? Infinity : d.cursor);
  await syncPath(dir);
  await prune(dir, d.config.keep);
  s.sealed = [];
  s.lost = undefined;
}

/** Cuts off a file's lines for records at or past `cursor`, and a torn last line; its new size. */
async function cut(path: string, cursor: number): Promise<number> {
  const size = (await stat(path)).size;
  const kept = await keptBytes(path, size, cursor);
  if (kept !== size) {
    const fh = await open(path, "r+");
    try {
      await fh.truncate(kept);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }
  return kept;
}

/**
 * Writes the follower's id in a directory that has none (whole or not at all), or checks it
 * in one that has it. Says whether a directory that already held files was adopted.
 */
async function claim(dir: string, id: string, name: string): Promise<boolean> {
  const path = join(dir, ID_FILE);
  let held: string;
  try {
    held = (await readFile(path, "utf8")).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    const had = (await readdir(dir)).some(
      (n) => n === CURRENT || ROTATED.test(n) || SEALED.test(n),
    );
    await writeFileDurably(dir, ID_FILE, `${id}\n`);
    return had;
  }
  if (held !== id) {
    throw new GenlogError(
      "GENLOG_E_CONFLICT",
      `${dir} holds the files of an earlier follower named ${name} (id ${held}), removed since: move them away and this one starts writing`,
      { details: { dir, follower: name, held } },
    );
  }
  return false;
}

/** Opens (creates) a follower's current file, learning its size, age and first seq. */
async function openCurrent(dir: string): Promise<Open> {
  const path = join(dir, CURRENT);
  const created = await stat(path).then(
    () => false,
    () => true,
  );
  const fh = await open(path, "a", 0o600);
  try {
    // A new file's name must be durable too before the cursor moves past its lines.
    if (created) await syncPath(dir);
    const st = await fh.stat();
    let firstSeq: number | undefined;
    if (st.size > 0) {
      const head = await readRange(path, 0, Math.min(st.size, TAIL));
      const nl = head.indexOf(0x0a);
      firstSeq = seqOf(head.subarray(0, nl < 0 ? head.length : nl));
    }
    const since = st.birthtimeMs > 0 ? st.birthtimeMs : st.mtimeMs;
    return { fh, size: st.size, since, firstSeq, pending: [], pendingBytes: 0 };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** How much of a file to read at once when looking at its first or last lines. */
const TAIL = 8 * 2 ** 20;

/**
 * The length of `path` without its trailing lines for records at or past `cursor` (and a
 * last line with no newline). Reads the end of the file, or all of it when the lines to drop
 * reach past that (lines past the cursor are a second's worth at most). Works on bytes: a
 * window may begin inside a character, never a line read whole.
 */
async function keptBytes(path: string, size: number, cursor: number): Promise<number> {
  for (const start of [Math.max(0, size - TAIL), 0]) {
    const buf = await readRange(path, start, size - start);
    // `keep`: bytes of `buf` kept so far, always the end of a line (or 0).
    let keep = buf.lastIndexOf(0x0a) + 1;
    while (keep > 0) {
      const lineStart = keep >= 2 ? buf.lastIndexOf(0x0a, keep - 2) + 1 : 0;
      // A line that may begin before the window: read the whole file instead.
      if (lineStart === 0 && start > 0) break;
      if ((seqOf(buf.subarray(lineStart, keep - 1)) ?? cursor) < cursor) return start + keep;
      keep = lineStart;
    }
    if (start === 0) return keep;
  }
  return size;
}

async function readRange(path: string, start: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const fh = await open(path, "r");
  try {
    await fh.read(buf, 0, length, start);
  } finally {
    await fh.close();
  }
  return buf;
}

/** The seq a line carries, whatever its format (undefined for a line cut short). */
function seqOf(line: Buffer): number | undefined {
  try {
    const v = JSON.parse(line.toString("utf8")) as { seq?: unknown; genlogseq?: unknown };
    const seq = v.seq ?? v.genlogseq;
    return typeof seq === "number" ? seq : undefined;
  } catch {
    return undefined;
  }
}

/** 20261205T090312123Z: UTC to the millisecond, sorting as time does. */
function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:.]/g, "");
}

/** A follower removed and added again under its name is another sink. */
function key(f: FollowerKey): string {
  return `${f.tenant}\u0000${f.name}\u0000${f.id}`;
}
