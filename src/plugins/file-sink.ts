/**
 * The `file-sink` follower: writes each committed record as one line of NDJSON, for a SIEM
 * agent (Filebeat, Vector, Fluent Bit, a Splunk forwarder) or an archive to pick up. Files live
 * in `<followers directory>/<tenant>/<name>/`: `current.ndjson` is being written; it is rotated
 * when it reaches `maxBytes`, or when a record arrives after it is `maxAgeSeconds` old, into
 * `<seq of its first line, 12 digits>-<UTC time of the rotation>.ndjson.gz` (names sort in
 * the order of the records), and only the newest `keep` of those stay.
 *
 * Lines are made durable (fdatasync) before the follower's cursor moves past them: the runner
 * calls {@link FollowerKind.flush} before writing the cursor. After a crash, the lines at the
 * end of `current.ndjson` past the durable cursor are cut off before the records are written
 * again, so a line appears once; only a rotation cut short between the file's rename and the
 * next cursor write can leave a record in two files (each line carries its seq and id).
 *
 * Hand-written rather than a rotating-stream library: those write asynchronously and cannot
 * say when a line is on disk, which is what the cursor needs to know.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from "node:fs/promises";
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
import { syncPath } from "../log/sync-path.js";

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
const ROTATED = /^\d{12}-\d{8}T\d{9}Z\.ndjson\.gz$/;

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

/** Lines kept in memory before one write: a write per line would cost a thread-pool round trip each. */
const BUFFER = 256 * 1024;

async function writePending(file: Open): Promise<void> {
  if (file.pendingBytes === 0) return;
  const chunk = Buffer.concat(file.pending, file.pendingBytes);
  file.pending = [];
  file.pendingBytes = 0;
  await file.fh.write(chunk);
}

/** A file sink: one per process; it keeps the open file of each follower it writes. */
export class FileSink implements FollowerKind<FileSinkConfig> {
  readonly kind = "file-sink";
  readonly secret = "none";
  readonly #open = new Map<string, Promise<Open>>();
  /** Followers whose file this process has checked against their cursor already. */
  readonly #checked = new Set<string>();

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
    try {
      let file = await this.#file(d, dir);
      if (
        file.size > 0 &&
        (file.size >= d.config.maxBytes || Date.now() - file.since >= d.config.maxAgeSeconds * 1000)
      ) {
        await this.#rotate(d, dir, file);
        file = await this.#file(d, dir);
      }
      const bytes = Buffer.from(`${this.#line(d)}\n`, "utf8");
      file.pending.push(bytes);
      file.pendingBytes += bytes.length;
      if (file.pendingBytes >= BUFFER) await writePending(file);
      if (file.size === 0) {
        file.firstSeq = d.record.seq;
        file.since = Date.now();
      }
      file.size += bytes.length;
      return { ok: true };
    } catch (e) {
      // A full or read-only disk is not the record's fault: the follower pauses until it is fixed.
      await this.#drop(key(d));
      const code =
        (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
      return { ok: false, unreachable: true, error: `could not write to ${dir} (${code})` };
    }
  }

  /** Makes what was written for this follower durable, and lets its file go. */
  async flush(follower: { tenant: string; name: string }): Promise<void> {
    const k = key(follower);
    const p = this.#open.get(k);
    if (p === undefined) return;
    this.#open.delete(k);
    const file = await p;
    try {
      await writePending(file);
      await file.fh.datasync();
    } finally {
      await file.fh.close();
    }
  }

  #line(d: Delivery<FileSinkConfig>): string {
    const source = { origin: d.origin, record: d.record, leafHash: d.leafHash };
    if (d.config.format === "record") {
      return JSON.stringify({
        tenant: d.tenant,
        seq: d.record.seq,
        leafHash: d.leafHash,
        record: d.record,
      });
    }
    return JSON.stringify(cloudEvent(d.config.format as SiemFormat, source));
  }

  #file(d: Delivery<FileSinkConfig>, dir: string): Promise<Open> {
    const k = key(d);
    let p = this.#open.get(k);
    if (p === undefined) {
      p = openCurrent(dir, this.#checked.has(k) ? undefined : d.cursor);
      this.#checked.add(k);
      this.#open.set(k, p);
      p.catch(() => {
        this.#open.delete(k);
        this.#checked.delete(k);
      });
    }
    return p;
  }

  async #drop(k: string): Promise<void> {
    const p = this.#open.get(k);
    this.#open.delete(k);
    await (await p?.catch(() => undefined))?.fh.close().catch(() => undefined);
  }

  /** current.ndjson → <firstSeq>.ndjson.gz, synced, then the oldest beyond `keep` removed. */
  async #rotate(d: Delivery<FileSinkConfig>, dir: string, file: Open): Promise<void> {
    await writePending(file);
    await file.fh.datasync();
    await file.fh.close();
    this.#open.delete(key(d));
    const names = new Set(await readdir(dir));
    const base = String(file.firstSeq ?? 0).padStart(12, "0");
    let name: string;
    // Unique, and in order: two rotations in one millisecond take the next one's name.
    for (let t = Date.now(); names.has((name = `${base}-${stamp(t)}.ndjson.gz`)); t++);
    const tmp = join(dir, `${name}.tmp`);
    await pipeline(createReadStream(join(dir, CURRENT)), createGzip(), createWriteStream(tmp));
    await syncPath(tmp);
    await rename(tmp, join(dir, name));
    await rm(join(dir, CURRENT));
    await syncPath(dir);
    const rotated = [...names, name].filter((n) => ROTATED.test(n)).sort();
    for (const old of rotated.slice(0, Math.max(0, rotated.length - d.config.keep))) {
      await rm(join(dir, old), { force: true });
    }
  }
}

/**
 * Opens (creates) a follower's current file, learning its size, age and first seq. The first
 * time in a process (`cursor` given), lines at its end for records at or past the durable
 * cursor were written before a crash that kept the cursor from moving: they are cut off, since
 * the runner is about to hand those records over again, and so is a line cut short.
 */
async function openCurrent(dir: string, cursor: number | undefined): Promise<Open> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, CURRENT);
  const fh = await open(path, "a", 0o600);
  let size = (await stat(path)).size;
  if (cursor !== undefined) {
    // A rotation cut short by a crash leaves a .tmp: current.ndjson still holds its lines.
    for (const n of await readdir(dir)) {
      if (n.endsWith(".ndjson.gz.tmp")) await rm(join(dir, n), { force: true });
    }
    const kept = await keptBytes(path, size, cursor);
    if (kept !== size) {
      size = kept;
      await fh.truncate(size);
      await fh.datasync();
    }
  }
  let firstSeq: number | undefined;
  if (size > 0) {
    const head = await readRange(path, 0, Math.min(size, TAIL));
    firstSeq = seqOf(head.toString("utf8").split("\n", 1)[0]!);
  }
  const st = await stat(path);
  const since = st.birthtimeMs > 0 ? st.birthtimeMs : st.mtimeMs;
  return { fh, size, since, firstSeq, pending: [], pendingBytes: 0 };
}

/** How much of a file to read at once when looking at its first or last lines. */
const TAIL = 8 * 2 ** 20;

/**
 * The length of `path` without its trailing lines for records at or past `cursor` (and a
 * last line with no newline). Reads the end of the file, or all of it when the lines to drop
 * reach past that (lines past the cursor are a second's worth at most).
 */
async function keptBytes(path: string, size: number, cursor: number): Promise<number> {
  for (const start of [Math.max(0, size - TAIL), 0]) {
    const text = (await readRange(path, start, size - start)).toString("utf8");
    const lines = text.split("\n");
    // The first piece may be the end of a line that starts before `start`.
    const whole = start === 0 ? 0 : 1;
    let keep = lines.length - 1; // the last piece has no newline: cut short, or empty
    while (keep > whole && (seqOf(lines[keep - 1]!) ?? cursor) >= cursor) keep--;
    if (keep > whole || start === 0) {
      return (
        start +
        Buffer.byteLength(
          lines
            .slice(0, keep)
            .map((l) => `${l}\n`)
            .join(""),
        )
      );
    }
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
function seqOf(line: string): number | undefined {
  try {
    const v = JSON.parse(line) as { seq?: unknown; genlogseq?: unknown };
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

function key(f: { tenant: string; name: string }): string {
  return `${f.tenant}\u0000${f.name}`;
}
