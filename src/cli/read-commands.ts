/**
 * Reading records back: `get`, `query`, `export`.
 */
import type { Command } from "commander";
import { GenlogError } from "../errors.js";
import type { GenerationRecord } from "../core/record.js";
import { canonicalize } from "../core/jcs.js";
import type { RevealedRecord } from "../log/subjects.js";
import { readFile } from "node:fs/promises";
import {
  openForReading,
  openLocalForReading,
  stringOption,
  withLog,
  type Bind,
  type GlobalOptions,
} from "./context.js";
import { parseLimit, parseTimeBound } from "./option-values.js";
import { writeFileAtomically } from "./output-file.js";
import {
  count,
  escapeForTerminal as safe,
  escapeJsonForTerminal,
  jsonForStdout,
  printLine,
  say,
  writeOut,
} from "./terminal.js";

/** Adds `get`, `query` and `export` to the program. */
export function defineReadCommands(program: Command, bind: Bind): void {
  program
    .command("get")
    .description("print one record; with --json, exactly the committed bytes its leaf hashes")
    .argument("<id-or-seq>", "record id (UUID) or seq (all digits)")
    .option(REVEAL_FLAG, REVEAL_HELP)
    .action(bind(([idOrSeq], o) => get(idOrSeq!, o)));

  program
    .command("query")
    .description(
      "list records in log order, all filters combined; a table on a terminal, else a JSON array",
    )
    .option("--type <type>", "only records of this type")
    .option(
      "--user <user>",
      "only records of this person (their id as appended; found through the keyed lookup of their pseudonyms)",
    )
    .option("--actor <pseudonym>", "only records whose stored actor is this pseudonym (sub_…)")
    .option("--sector <sector>", "only records of this sector")
    .option("--status <status>", "only records with this status: started | succeeded | failed")
    .option(
      "--since <time>",
      "only records at or after this time: an ISO 8601 date (midnight UTC) or date-time with Z or an offset",
    )
    .option("--until <time>", "only records before this time (same forms as --since)")
    .option("--limit <n>", "page size, 1..1000 (default: 100)")
    .option("--cursor <cursor>", "continue after the page that printed this cursor")
    .option(REVEAL_FLAG, REVEAL_HELP)
    .action(bind((_args, o) => query(o)));

  program
    .command("export")
    .description("write every record exactly as committed, one per line, in log order (NDJSON)")
    .option(
      "--format <format>",
      "ndjson (the records), or car (a content-addressed archive for IPFS: records, checkpoint, proofs, manifest; needs --out)",
      "ndjson",
    )
    .option(
      "--since-checkpoint <file>",
      "with --format car: export only what follows this checkpoint (the `checkpoint` file of the previous export)",
    )
    .option(
      "--out <file>",
      "write to this file (replaced only once complete, mode 0600) instead of stdout",
    )
    .option(
      "--anonymise",
      "for sharing statistics: pseudonyms and keyed hashes replaced by ids of this export only, envelopes dropped (the lines no longer verify)",
    )
    .action(bind((_args, o) => exportRecords(o)));
}

const REVEAL_FLAG = "--reveal";
const REVEAL_HELP =
  "add each record's personal data, decrypted (`revealed`: the actor and the values the policy encrypted); needs the master key";

/** Members in the order a person reads a record (the stored text is in RFC 8785 order). */
const READING_ORDER = [
  "v",
  "id",
  "seq",
  "tenant",
  "type",
  "ts",
  "occurredAt",
  "actor",
  "sector",
  "status",
  "meta",
  "artifacts",
  "redactions",
  "pii",
  "revealed",
] as const satisfies readonly (keyof RevealedRecord)[];

/** A record with its members in reading order, for human output. */
export function forReading(record: GenerationRecord | RevealedRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of READING_ORDER) if (k in record) out[k] = (record as RevealedRecord)[k];
  // Members a later record version adds still show, after the known ones.
  for (const [k, v] of Object.entries(record)) if (!(k in out)) out[k] = v;
  return out;
}

/** A record pretty-printed for a terminal. */
export function recordForTerminal(record: GenerationRecord | RevealedRecord): string {
  return escapeJsonForTerminal(JSON.stringify(forReading(record), null, 2));
}

async function get(idOrSeq: string, o: GlobalOptions): Promise<number> {
  return withLog(openForReading(o), async (log) => {
    const record = await log.get(idOrSeq);
    if (o.reveal === true) {
      const [revealed] = await log.reveal([record]);
      await printLine(
        o.json ? jsonForStdout(JSON.stringify(revealed)) : recordForTerminal(revealed!),
      );
      return 0;
    }
    // RFC 8785 text parsed and written again is the same text: these are the committed bytes.
    await printLine(o.json ? jsonForStdout(canonicalize(record)) : recordForTerminal(record));
    return 0;
  });
}

async function query(o: GlobalOptions): Promise<number> {
  const since = stringOption(o, "since");
  const until = stringOption(o, "until");
  const cursor = stringOption(o, "cursor");
  const filters = {
    limit: o.limit === undefined ? 100 : parseLimit(String(o.limit), "--limit"),
    ...(typeof o.type === "string" ? { type: o.type } : {}),
    ...(typeof o.user === "string" ? { user: o.user } : {}),
    ...(typeof o.actor === "string" ? { actor: o.actor } : {}),
    ...(typeof o.sector === "string" ? { sector: o.sector } : {}),
    ...(typeof o.status === "string" ? { status: o.status as "failed" } : {}),
    ...(since !== undefined ? { since: parseTimeBound(since, "--since") } : {}),
    ...(until !== undefined ? { until: parseTimeBound(until, "--until") } : {}),
    ...(cursor !== undefined ? { cursor } : {}),
  };
  return withLog(openForReading(o), async (log) => {
    const page = await log.query(filters);
    const records = o.reveal === true ? await log.reveal(page.records) : page.records;
    const table = !o.json && process.stdout.isTTY === true;
    await printLine(table ? formatTable(records) : jsonForStdout(JSON.stringify(records)));
    // A script reading stdout gets the whole page there; the cursor is for whoever asks next.
    if (page.nextCursor !== null) {
      say(table ? `more: --cursor ${page.nextCursor}` : `next cursor: ${page.nextCursor}`);
    }
    return 0;
  });
}

/** A plain aligned table for terminals; every cell is shown escaped. */
export function formatTable(records: (GenerationRecord | RevealedRecord)[]): string {
  if (records.length === 0) return "(no records)";
  const header = ["SEQ", "TIME", "TYPE", "ACTOR", "SECTOR", "STATUS", "ID"];
  const rows = records.map((r) =>
    [String(r.seq), r.ts, r.type, actorCell(r), r.sector ?? "-", r.status, r.id].map((c) =>
      safe(String(c)),
    ),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** The actor as a table shows it: the person when revealed, else the pseudonym. */
function actorCell(r: GenerationRecord | RevealedRecord): string {
  const revealed = "revealed" in r ? r.revealed : null;
  if (revealed !== null && "actor" in revealed) return revealed.actor;
  if (revealed !== null) return `${r.actor ?? "-"} (erased)`;
  return r.actor ?? "-";
}

/** Lines are written in chunks of about this many bytes. */
const EXPORT_CHUNK = 256 * 1024;

async function exportRecords(o: GlobalOptions): Promise<number> {
  if (o.format === "car") return exportCar(o);
  if (o.format !== "ndjson") {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      `--format: expected ndjson or car, got "${safe(String(o.format))}"`,
    );
  }
  if (stringOption(o, "sinceCheckpoint") !== undefined) {
    throw new GenlogError("GENLOG_E_USAGE", "--since-checkpoint goes with --format car");
  }
  const out = stringOption(o, "out");
  return withLog(openForReading(o), async (log) => {
    // Resolves the tenant first: an unknown one fails before any file is created.
    await log.size();
    const lines = o.anonymise === true ? log.exportAnonymised() : log.exportCanonical();
    if (out === undefined) {
      await writeChunks(lines, (text) => writeOut(jsonForStdout(text)));
      return 0;
    }
    const n = await writeFileAtomically(out, (write) => writeChunks(lines, write));
    say(
      `exported ${count(n, "record", "records")}${o.anonymise === true ? ", anonymised," : ""} to ${safe(out)}`,
    );
    return 0;
  });
}

/** `export --format car`: the log (or what follows a checkpoint) as a CAR file. */
async function exportCar(o: GlobalOptions): Promise<number> {
  const out = stringOption(o, "out");
  if (out === undefined) {
    throw new GenlogError("GENLOG_E_USAGE", "--format car needs --out FILE.car");
  }
  if (o.anonymise === true) {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      "--anonymise goes with --format ndjson: a CAR holds the records exactly as committed, so that they verify",
    );
  }
  const since = stringOption(o, "sinceCheckpoint");
  const sinceCheckpoint =
    since === undefined
      ? undefined
      : await readFile(since, "utf8").catch((e: NodeJS.ErrnoException) => {
          throw new GenlogError("GENLOG_E_IO", `--since-checkpoint ${safe(since)}: ${e.message}`, {
            cause: e,
          });
        });
  return withLog(openLocalForReading(o), async (log) => {
    const r = await log.exportCar({
      out,
      ...(sinceCheckpoint !== undefined ? { sinceCheckpoint } : {}),
    });
    if (o.json) await printLine(JSON.stringify(r));
    else {
      const m = r.manifest;
      say(
        `exported ${count(m.records, "record", "records")} (entries ${m.fromSeq} to ${m.treeSize - 1}, signed checkpoint of size ${m.treeSize}) to ${safe(out)}; root CID ${r.root}; check it with \`genlog verify --car ${safe(out)}${sinceCheckpoint !== undefined ? ` --since-checkpoint ${safe(since!)}` : ""}\``,
      );
    }
    return 0;
  });
}

/** Streams the log's lines to `write` in chunks; returns how many lines. */
async function writeChunks(
  lines: AsyncIterable<string>,
  write: (text: string) => Promise<void>,
): Promise<number> {
  let n = 0;
  let chunk: string[] = [];
  let bytes = 0;
  for await (const line of lines) {
    chunk.push(line, "\n");
    bytes += line.length + 1;
    n++;
    if (bytes >= EXPORT_CHUNK) {
      await write(chunk.join(""));
      chunk = [];
      bytes = 0;
    }
  }
  if (chunk.length > 0) await write(chunk.join(""));
  return n;
}
