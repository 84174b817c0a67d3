#!/usr/bin/env node
/** Entry point of the `genlog` command; see `program.ts`. */
import { main } from "./program.js";

process.exitCode = await main(process.argv.slice(2));
