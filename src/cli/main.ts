#!/usr/bin/env node
/** Entry point of the `genlog` command; see `program.ts`. */
import { main } from "./program.js";

for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    // A reader that goes away (`genlog export | head`) is not an error of ours.
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    // Any other write failure reaches the command through its write callback, which reports
    // it (GENLOG_E_IO, exit 3); the event itself must not crash the process with a stack.
  });
}

process.exitCode = await main(process.argv.slice(2));
