/**
 * Files the CLI writes (exports): complete or not at all, readable by their owner only.
 */
import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { writeError } from "./terminal.js";

/**
 * Writes to a temporary file beside `path` (same file system, mode 0600) what `produce`
 * hands to its `write`, syncs it and renames it over `path`: a reader of `path` sees the old
 * file or the complete new one, and a failure leaves an existing file as it was. Returns
 * what `produce` returns.
 */
export async function writeFileAtomically<T>(
  path: string,
  produce: (write: (text: string) => Promise<void>) => Promise<T>,
): Promise<T> {
  const target = resolve(path);
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  let file;
  try {
    file = await open(temp, "wx", 0o600);
  } catch (cause) {
    throw writeError(cause as Error, path);
  }
  let renamed = false;
  try {
    const handle = file;
    const out = await produce(async (text) => {
      try {
        await handle.write(text);
      } catch (cause) {
        throw writeError(cause as Error, path);
      }
    });
    try {
      await handle.sync();
      await handle.close();
      file = undefined;
      await rename(temp, target);
      renamed = true;
    } catch (cause) {
      throw writeError(cause as Error, path);
    }
    await syncDirectory(dirname(target));
    return out;
  } finally {
    await file?.close().catch(() => undefined);
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
}

/** Makes the rename durable; a file system that cannot sync a directory is left as it is. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const d = await open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Best effort: the file's own content is already synced.
  }
}
