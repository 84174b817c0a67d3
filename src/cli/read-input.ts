/**
 * Small inputs the CLI reads from files or stdin: a trusted checkpoint, a verifier key, a
 * metadata object. Each is read with a bound, so that a path like `/dev/zero` or an endless
 * pipe is refused once it passes what such an input can be, instead of filling memory.
 */
import { open } from "node:fs/promises";
import { GenlogError } from "../errors.js";
import { describeErrno } from "./terminal.js";

/** A signed checkpoint or a verifier key line is a few hundred bytes; 64 KiB is ample. */
export const MAX_NOTE_BYTES = 64 * 1024;

/**
 * A `--meta-json` file: the metadata itself may hold 64 KiB once canonical, and a file may
 * be indented; past 1 MiB it cannot be metadata that fits.
 */
export const MAX_META_FILE_BYTES = 1024 * 1024;

/**
 * Reads a whole file (or stdin for `-`) as UTF-8, at most `limit` bytes.
 *
 * @throws {GenlogError} `GENLOG_E_USAGE` when the file is missing, a directory or too large
 *   (the caller gave a wrong path: exit 2); `GENLOG_E_IO` when it exists but cannot be read
 *   (permissions, device errors: exit 3). Messages name the option, never the content.
 */
export async function readBounded(path: string, limit: number, option: string): Promise<string> {
  if (path === "-") return readStdin(limit, option);
  let file;
  try {
    file = await open(path, "r");
  } catch (cause) {
    throw openError(cause, path, option);
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.alloc(Math.min(64 * 1024, limit + 1 - total));
      let n: number;
      try {
        ({ bytesRead: n } = await file.read(buf, 0, buf.length, null));
      } catch (cause) {
        throw openError(cause, path, option);
      }
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > limit) throw tooLarge(path, limit, option);
    }
    return Buffer.concat(chunks).toString("utf8");
  } finally {
    await file.close();
  }
}

async function readStdin(limit: number, option: string): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin) {
    const b = chunk as Buffer;
    total += b.length;
    if (total > limit) {
      process.stdin.destroy();
      throw tooLarge("stdin", limit, option);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function tooLarge(what: string, limit: number, option: string): GenlogError {
  return new GenlogError(
    "GENLOG_E_USAGE",
    `${option}: expected at most ${limit / 1024} KiB, got more from ${what}`,
    { details: { option, limit } },
  );
}

function openError(cause: unknown, path: string, option: string): GenlogError {
  const code = (cause as NodeJS.ErrnoException).code ?? "";
  const wrongPath = code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR";
  return new GenlogError(
    wrongPath ? "GENLOG_E_USAGE" : "GENLOG_E_IO",
    `${option}: cannot read ${path}: ${describeErrno(code)}${code === "" ? "" : ` (${code})`}`,
    { cause, details: { option, path, ...(code === "" ? {} : { errno: code }) } },
  );
}
