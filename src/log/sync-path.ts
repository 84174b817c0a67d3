/** Durability of files written outside the database: archives, CAR exports, file sinks. */
import { open, rename } from "node:fs/promises";
import { join } from "node:path";

/** fsyncs a file, or a directory (so that a rename or an unlink in it is durable). */
export async function syncPath(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `dir/name` whole or not at all: a temporary file beside it (mode 0600), synced,
 * renamed over it, then the directory synced.
 */
export async function writeFileDurably(dir: string, name: string, text: string): Promise<void> {
  const tmp = join(dir, `.${name}.tmp`);
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  await syncPath(dir);
}
