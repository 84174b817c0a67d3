/**
 * The `file-sink` follower: writes each committed record as one line of NDJSON, for a SIEM
 * agent (Filebeat, Vector, Fluent Bit, a Splunk forwarder) or an archive to pick up. Files live
 * in `<followers directory>/<tenant>/<name>/`: `current.ndjson` is being written; it is rotated
 * when it reaches `maxBytes`, or when a record arrives after it is `maxAgeSeconds` old, into
 * `<seq of its first line, 12 digits>.ndjson.gz`, and only the newest `keep` of those stay.
 *
 * Lines are made durable (fdatasync) before the follower's cursor moves past them: the runner
 * calls {@link FollowerKind.flush} before writing the cursor. A crash in between writes those
 * lines again on restart (at least once; each line carries its seq and record id).
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
  integerOption,
  optionsObject,
  parseFilter,
  passes,
  type RecordFilter,
} from "./options.js";
import { SIEM_FORMATS, cloudEvent, type SiemFormat } from "./siem-formats.js";

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
const ROTATED = /^(\d{12})(?:-(\d+))?\.ndjson\.gz$/;

/** The file being written for one follower. */
interface Open {
  fh: FileHandle;
  size: number;
  /** When it got its first line (epoch ms); from the file's times after a restart. */
  since: number;
  /** The seq of its first line. */
  firstSeq: number | undefined;
}

/** A file sink: one per process; it keeps the open file of each follower it writes. */
export class FileSink implements FollowerKind<FileSinkConfig> {
  readonly kind = "file-sink";
  readonly secret = "none";
  readonly #open = new Map<string, Promise<Open>>();

  describe(config: FileSinkConfig): string {
    return `NDJSON files (${config.format}, rotated at ${config.maxBytes} bytes or ${config.maxAgeSeconds} s, keep ${config.keep})${describeFilter(config)}`;
  }

  parse(input: unknown): FileSinkConfig {
    const o = optionsObject(input ?? {}, [
      "format",
      "maxBytes",
      "maxAgeSeconds",
      "keep",
      "types",
      "sectors",
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
      const line = `${this.#line(d)}\n`;
      const bytes = Buffer.from(line, "utf8");
      await file.fh.write(bytes);
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
      p = openCurrent(dir);
      this.#open.set(k, p);
      p.catch(() => this.#open.delete(k));
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
    await file.fh.datasync();
    await file.fh.close();
    this.#open.delete(key(d));
    const names = new Set(await readdir(dir));
    const base = String(file.firstSeq ?? 0).padStart(12, "0");
    let name = `${base}.ndjson.gz`;
    // The same first seq twice: lines written again after a crash. Keep both.
    for (let n = 2; names.has(name); n++) name = `${base}-${n}.ndjson.gz`;
    const tmp = join(dir, `${name}.tmp`);
    await pipeline(createReadStream(join(dir, CURRENT)), createGzip(), createWriteStream(tmp));
    await syncFile(tmp);
    await rename(tmp, join(dir, name));
    await rm(join(dir, CURRENT));
    await syncFile(dir);
    const rotated = [...names, name].filter((n) => ROTATED.test(n)).sort(byRotation);
    for (const old of rotated.slice(0, Math.max(0, rotated.length - d.config.keep))) {
      await rm(join(dir, old), { force: true });
    }
  }
}

/** Opens (creates) a follower's current file, learning its size, age and first seq. */
async function openCurrent(dir: string): Promise<Open> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // A rotation cut short by a crash leaves a .tmp: current.ndjson still holds its lines.
  for (const n of await readdir(dir)) {
    if (n.endsWith(".ndjson.gz.tmp")) await rm(join(dir, n), { force: true });
  }
  const path = join(dir, CURRENT);
  const fh = await open(path, "a", 0o600);
  const st = await stat(path);
  let firstSeq: number | undefined;
  if (st.size > 0) {
    // The first line's seq names the file when it is rotated; a record's line is well under
    // the 4 MiB read here.
    const head = Buffer.alloc(Math.min(st.size, 4 * 2 ** 20));
    const reader = await open(path, "r");
    try {
      await reader.read(head, 0, head.length, 0);
    } finally {
      await reader.close();
    }
    firstSeq = seqOf(head.toString("utf8").split("\n", 1)[0]!);
  }
  const since = st.birthtimeMs > 0 ? st.birthtimeMs : st.mtimeMs;
  return { fh, size: st.size, since, firstSeq };
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

async function syncFile(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Rotated files oldest first: by first seq, then by the suffix of a repeat. */
function byRotation(a: string, b: string): number {
  const [, sa, na] = ROTATED.exec(a)!;
  const [, sb, nb] = ROTATED.exec(b)!;
  return sa!.localeCompare(sb!) || Number(na ?? 1) - Number(nb ?? 1);
}

function key(f: { tenant: string; name: string }): string {
  return `${f.tenant}\u0000${f.name}`;
}
