/**
 * Looks for bytes on disk the way someone who copied the data directory would: every file
 * under it (database, WAL, shared memory, keys), read whole.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** Every file under `dir`, recursively. */
export function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/**
 * The values of `list` ([what, text]) found in clear in any file under `dir`, with the file:
 * as stored in JSON text, and with the spaces of a formatted number taken out.
 */
export function leaks(dir: string, list: [string, string][]): string[] {
  return leakedBytes(
    dir,
    list.flatMap(([what, value]) =>
      [...new Set([value, value.replace(/ /g, "")])].map((form): [string, Buffer] => [
        `${what} "${form}"`,
        Buffer.from(form, "utf8"),
      ]),
    ),
  );
}

/** The byte strings of `list` ([what, bytes]) found in any file under `dir`, with the file. */
export function leakedBytes(dir: string, list: [string, Buffer][]): string[] {
  const found: string[] = [];
  for (const path of files(dir)) {
    const bytes = readFileSync(path);
    for (const [what, value] of list) if (bytes.includes(value)) found.push(`${what} in ${path}`);
  }
  return found;
}
