/**
 * Child process of test/e2e/crash.test.ts: opens the log in the data directory given as the
 * first argument and appends without pause, keeping many appends in flight, until it is
 * killed. It prints `ready` once the log is open, then `<id> <seq>` for each append as soon
 * as that append resolves (the ack), written synchronously so that a line on stdout means
 * the ack happened before the process died.
 *
 * Usage: node --import tsx test/helpers/crash-appender.ts <data-dir> [in-flight] [max-appends]
 */
import { writeSync } from "node:fs";
import { openLog } from "./store-under-test.js";

const [dataDir, inFlightArg = "256", maxArg = "1000000"] = process.argv.slice(2);
if (dataDir === undefined) {
  process.stderr.write("usage: crash-appender.ts <data-dir> [in-flight] [max-appends]\n");
  process.exit(64);
}
const inFlight = Number(inFlightArg);
const maxAppends = Number(maxArg);

/** Writes one whole line to stdout now, retrying while a non-blocking pipe is full. */
function writeLine(text: string): void {
  const buf = Buffer.from(`${text}\n`);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(1, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
    }
  }
}

const log = await openLog({ dataDir });
writeLine("ready");

let next = 0;
async function worker(w: number): Promise<void> {
  while (next < maxAppends) {
    const n = next++;
    const record = await log.append({
      type: n % 3 === 0 ? "backend" : n % 3 === 1 ? "frontend" : "assets",
      user: `user-${w}`,
      meta: { n, stack: "Flask", password: "never-stored" },
    });
    writeLine(`${record.id} ${record.seq}`);
  }
}

try {
  await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
  await log.close();
  writeLine("done");
} catch (e) {
  process.stderr.write(`crash-appender: append failed: ${String(e)}\n`);
  process.exit(1);
}
