#!/usr/bin/env node
/** Entry point of the `genlog` command; see `program.ts`. */
import { main } from "./program.js";

// A reader that goes away (`genlog export | head`) is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

process.exitCode = await main(process.argv.slice(2));
