/**
 * `genlog log TYPE`: append one generation event.
 */
import { createHash } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { basename } from "node:path";
import type { Command } from "commander";
import { GenlogError, isGenlogError } from "../errors.js";
import type { GenerationEventInput } from "../genlog.js";
import type { AppendResult } from "../log/writer.js";
import { openForWriting, withLog, type Bind, type GlobalOptions } from "./context.js";
import { MAX_META_FILE_BYTES, readBounded } from "./read-input.js";
import { recordForTerminal } from "./read-commands.js";
import { escapeForTerminal as safe, printLine, say } from "./terminal.js";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Adds `log` to the program. */
export function defineLogCommand(program: Command, bind: Bind): void {
  program
    .command("log")
    .description("append one generation event and print the committed record")
    .argument("<type>", "kind of generation, a slug such as backend, frontend, assets, model")
    .option("--user <user>", "who asked for the generation (stored as actor)")
    .option("--sector <sector>", "business sector, a slug such as health or education")
    .option("--status <status>", "started | succeeded | failed (default: succeeded)")
    .option(
      "--meta <key=value>",
      "one metadata entry, the value as a string; repeatable, applied after --meta-json",
      collect,
      [],
    )
    .option(
      "--meta-json <json|@file|->",
      "metadata as a JSON object, inline, from a file (@file) or from stdin (-)",
    )
    .option(
      "--artifact <file>",
      "a file the generation produced: its name, SHA-256 and size are recorded; repeatable",
      collect,
      [],
    )
    .option("--occurred-at <time>", "client time of the generation (RFC 3339)")
    .option(
      "--id <uuid>",
      "idempotency key: a retry with the same id and payload returns the first record",
    )
    .action(bind(([type], o) => logEvent(type!, o)));
}

async function logEvent(type: string, o: GlobalOptions): Promise<number> {
  // All input is read and checked before the database is opened.
  const event: GenerationEventInput = { type, tenant: o.tenant, meta: await readMeta(o) };
  if (typeof o.user === "string") event.user = o.user;
  if (typeof o.sector === "string") event.sector = o.sector;
  if (typeof o.status === "string") event.status = o.status as GenerationEventInput["status"];
  if (typeof o.occurredAt === "string") event.occurredAt = o.occurredAt;
  if (typeof o.id === "string") event.id = o.id;
  const files = (o.artifact as string[] | undefined) ?? [];
  if (files.length > 0) event.artifacts = await Promise.all(files.map(digestFile));

  return withLog(openForWriting(o), async (log) => {
    const result = await log.appendWithStatus(event);
    try {
      await printResult(result, log.origin(), o.json);
    } catch (e) {
      throw committedAnyway(e, result);
    }
    return 0;
  });
}

/**
 * `--json`: one line `{"duplicate":…,"record":…}` whose `record` is the committed canonical
 * text verbatim. Otherwise the record for reading on stdout, then a confirmation on stderr:
 * written after the record, it never claims output that a failed write did not deliver.
 */
async function printResult(result: AppendResult, origin: string, json: boolean): Promise<void> {
  if (json) {
    await printLine(`{"duplicate":${result.duplicate},"record":${result.canonical}}`);
    return;
  }
  await printLine(recordForTerminal(result.record));
  const r = result.record;
  say(
    result.duplicate
      ? `Already logged with this id and payload: the record above is the first one, #${r.seq} in ${safe(origin)}.`
      : `Logged ${safe(r.type)} #${r.seq} in ${safe(origin)}.`,
  );
}

/** A failed write after the commit: the caller must know the record is in the log. */
function committedAnyway(e: unknown, result: AppendResult): unknown {
  if (!isGenlogError(e, "GENLOG_E_IO") || e.details.errno === "EPIPE") return e;
  const r = result.record;
  return new GenlogError(
    "GENLOG_E_IO",
    `${e.message}; the record was committed all the same (seq ${r.seq}, id ${r.id}): do not log it again, read it with \`genlog get ${r.id}\``,
    { cause: e, details: { ...e.details, committed: true, seq: r.seq, id: r.id } },
  );
}

/**
 * The metadata object: `--meta-json` (inline, `@file` or `-` for stdin), then each `--meta
 * key=value` on top. A parse error never repeats the input, which may hold a secret that
 * redaction would have removed from the record.
 */
async function readMeta(o: GlobalOptions): Promise<Record<string, unknown>> {
  let meta: Record<string, unknown> = {};
  const source = o.metaJson;
  if (typeof source === "string") {
    const text =
      source === "-" || source.startsWith("@")
        ? await readBounded(
            source === "-" ? "-" : source.slice(1),
            MAX_META_FILE_BYTES,
            "--meta-json",
          )
        : source;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new GenlogError(
        "GENLOG_E_INVALID_INPUT",
        `--meta-json: expected a JSON object, got text that is not JSON${jsonErrorPosition(text)}`,
        { details: { pointer: "/meta", rule: "json" } },
      );
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new GenlogError(
        "GENLOG_E_INVALID_INPUT",
        `--meta-json: expected a JSON object, got ${Array.isArray(parsed) ? "an array" : parsed === null ? "null" : `a ${typeof parsed}`}`,
        { details: { pointer: "/meta", rule: "type" } },
      );
    }
    meta = parsed as Record<string, unknown>;
  }
  const entries = (o.meta as string[] | undefined) ?? [];
  entries.forEach((kv, i) => {
    const eq = kv.indexOf("=");
    if (eq <= 0) {
      throw new GenlogError(
        "GENLOG_E_INVALID_INPUT",
        `--meta: expected key=value, got an entry without a key and "=" (--meta number ${i + 1})`,
        { details: { pointer: "/meta", rule: "format" } },
      );
    }
    // An own property, as JSON.parse makes one: `meta["__proto__"] = v` would instead try to
    // replace the object's prototype and silently drop the entry.
    Object.defineProperty(meta, kv.slice(0, eq), {
      value: kv.slice(eq + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  });
  return meta;
}

/**
 * Where JSON.parse stopped, when its message says so. The message itself is not used: V8
 * quotes the text around the error, which is the input we must not echo.
 */
function jsonErrorPosition(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    const m = /at position (\d+)/.exec((e as Error).message);
    if (m !== null) return ` (error at character ${Number(m[1]) + 1})`;
    if (/end of JSON input/.test((e as Error).message)) return " (it ends too early)";
  }
  return "";
}

async function digestFile(file: string): Promise<{ name: string; digest: string; size: number }> {
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch {
    // Reported below, as for a directory.
  }
  if (!isFile) {
    // A wrong path is a usage error, as for `--meta-json @FILE`.
    throw new GenlogError("GENLOG_E_USAGE", `--artifact: expected a readable file, got "${file}"`, {
      details: { option: "--artifact" },
    });
  }
  const hash = createHash("sha256");
  let size = 0;
  try {
    for await (const chunk of createReadStream(file)) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (cause) {
    throw new GenlogError(
      "GENLOG_E_IO",
      `--artifact: cannot read ${file}: ${(cause as Error).message}`,
      {
        cause,
        details: { path: file },
      },
    );
  }
  return { name: basename(file), digest: `sha256:${hash.digest("hex")}`, size };
}
