/** Durability of files written outside the database: archives, CAR exports, file sinks. */
import { open } from "node:fs/promises";

/** fsyncs a file, or a directory (so that a rename or an unlink in it is durable). */
export async function syncPath(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
