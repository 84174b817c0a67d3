/**
 * Retention: `retention show|set` and `purge`.
 */
import type { Command } from "commander";
import { GenlogError } from "../errors.js";
import type { PurgeResult } from "../genlog.js";
import {
  openForReading,
  openForWriting,
  openLocalForReading,
  stringOption,
  withLog,
  type Bind,
  type GlobalOptions,
} from "./context.js";
import { count, printLine, say } from "./terminal.js";

/** Adds `retention` and `purge` to the program. */
export function defineRetentionCommands(program: Command, bind: Bind): void {
  const retention = program
    .command("retention")
    .description("how long the tenant keeps its records before `purge` deletes their bodies");
  retention
    .command("show")
    .description("the tenant's retention in days (default 365) and the cutoff it gives today")
    .action(bind((_args, o) => show(o)));
  retention
    .command("set")
    .description("set the tenant's retention, recorded as a genlog.retention event")
    .requiredOption("--days <n>", "whole days, 1 to 36500")
    .requiredOption("--reason <text>", "why (kept in the log)")
    .action(bind((_args, o) => set(o)));

  program
    .command("purge")
    .description(
      "delete the bodies and envelopes of records older than the cutoff and keep the tree (every proof of what remains still verifies)",
    )
    .option(
      "--before <time>",
      "purge records before this RFC 3339 time (default: now minus the retention)",
    )
    .option("--dry-run", "say what would be purged, purge nothing")
    .action(bind((_args, o) => purge(o)));

  program
    .command("archive")
    .description(
      "write the records before a time, with the signed checkpoint and the proofs to check them, into a new directory (check it with `genlog verify --archive`); run it before `purge`",
    )
    .requiredOption("--before <time>", "archive records before this RFC 3339 time")
    .requiredOption("--out <dir>", "a directory that does not exist yet")
    .action(bind((_args, o) => archive(o)));
}

async function archive(o: GlobalOptions): Promise<number> {
  return withLog(openLocalForReading(o), async (log) => {
    const m = await log.archive({ before: String(o.before), out: String(o.out) });
    if (o.json) await printLine(JSON.stringify(m));
    else {
      say(
        `archived ${count(m.records, "record", "records")} (entries ${m.fromSeq} to ${m.toSeq - 1}, before ${m.before}) to ${String(o.out)}, proved against the checkpoint at size ${m.treeSize}; check it with \`genlog verify --archive ${String(o.out)}\``,
      );
    }
    return 0;
  });
}

async function show(o: GlobalOptions): Promise<number> {
  return withLog(openForReading(o), async (log) => {
    const r = await log.retention();
    if (o.json) await printLine(JSON.stringify(r));
    else {
      await printLine(
        `tenant ${r.tenant}: ${r.days} days${r.isDefault ? " (the default)" : ""}; records before ${r.cutoff} are due for purge`,
      );
    }
    return 0;
  });
}

async function set(o: GlobalOptions): Promise<number> {
  const text = String(o.days);
  if (!/^[0-9]+$/.test(text)) {
    throw new GenlogError("GENLOG_E_USAGE", `--days: expected a whole number, got "${text}"`);
  }
  return withLog(openForWriting(o), async (log) => {
    const { record, belowAiActMinimum } = await log.setRetention({
      days: Number(text),
      reason: String(o.reason),
    });
    if (o.json) {
      await printLine(JSON.stringify({ days: Number(text), seq: record.seq, belowAiActMinimum }));
    } else
      await printLine(`retention of tenant ${record.tenant}: ${text} days (event ${record.seq})`);
    if (belowAiActMinimum) {
      say(
        "note: shorter than six months; logs of high-risk AI systems must be kept at least six months (EU AI Act, Art. 19(1) and 26(6))",
      );
    }
    return 0;
  });
}

async function purge(o: GlobalOptions): Promise<number> {
  const before = stringOption(o, "before");
  const dryRun = o.dryRun === true;
  const opening = dryRun ? openForReading(o) : openForWriting(o);
  return withLog(opening, async (log) => {
    const r = await log.purge({ ...(before !== undefined ? { before } : {}), dryRun });
    if (o.json) await printLine(JSON.stringify(r));
    else await printLine(describePurge(r));
    return 0;
  });
}

function describePurge(r: PurgeResult): string {
  if (r.ranges.length === 0) {
    return `nothing to purge in tenant ${r.tenant}: no record before ${r.cutoff} is left`;
  }
  const first = r.ranges[0]!.fromSeq;
  const last = r.ranges[r.ranges.length - 1]!.toSeq - 1;
  const kept = r.ranges.reduce((n, x) => n + x.kept.length, 0);
  const what = `${count(r.purged, "record", "records")} before ${r.cutoff} (entries ${first} to ${last}${kept > 0 ? `, keeping ${count(kept, "system event", "system events")}` : ""})`;
  if (r.dryRun) return `would purge ${what}`;
  const events = r.ranges.map((x) => x.seq).join(", ");
  return `purged ${what}; purge ${r.ranges.length === 1 ? "event" : "events"} ${events}; ${Math.round(r.freedBytes / 1024)} KiB given back`;
}
