/**
 * Followers: `followers add|list|remove|retry|skip|run`. A follower reads the tenant's
 * committed log from its own durable cursor and hands each record on (a webhook, a SIEM
 * stream, NDJSON files);
 * `genlog serve` runs them, and so does `followers run` where no server runs.
 */
import type { Command } from "commander";
import { GenlogError } from "../errors.js";
import type { FollowerInfo, Genlog } from "../genlog.js";
import type { PassResult } from "../log/followers.js";
import { untilStopped } from "./serve-command.js";
import { integerOption } from "./option-values.js";
import {
  openLocalForWriting,
  stringOption,
  withLog,
  type Bind,
  type GlobalOptions,
} from "./context.js";
import { count, escapeForTerminal as safe, printLine, say } from "./terminal.js";

/** Adds `followers` to the program. */
export function defineFollowerCommands(program: Command, bind: Bind): void {
  const followers = program
    .command("followers")
    .description(
      "what reads the tenant's committed log after each append and hands it on (webhooks, SIEM streams, NDJSON files), each from its own durable cursor",
    );
  followers
    .command("add")
    .description("add a follower of the tenant's events log: from the next record on, in order")
    .argument("<kind>", "webhook, siem, file-sink, report or ipfs")
    .option("--name <name>", "unique in the tenant (default: the kind)")
    // `--url` is the program's own option (remote mode): here, given on the command line, it
    // names the endpoint; GENLOG_URL (a genlog server) never does.
    .option(
      "--url <url>",
      "webhook, siem: the endpoint that receives each record (POST); report: where to POST each report (default: files)",
    )
    .option(
      "--secret <secret>",
      "webhook, report to a URL: the whsec_ secret (or GENLOG_WEBHOOK_SECRET); siem: a bearer token (or GENLOG_SIEM_TOKEN). Prefer the variables: a flag shows in ps",
    )
    .option(
      "--format <format>",
      "siem: ocsf (default) or ecs; file-sink: record (default), ocsf or ecs",
    )
    .option("--max-bytes <n>", "file-sink: rotate past this size (default 67108864)")
    .option("--max-age <seconds>", "file-sink: rotate a file this old (default 86400)")
    .option("--keep <n>", "file-sink: rotated files kept (default 30)")
    .option("--period <period>", "report, ipfs: hour, day (default) or week, in UTC")
    .option("--kubo <url>", "ipfs: a Kubo node's RPC API, which imports and pins each CAR")
    .option(
      "--pinning <url>",
      "ipfs: an IPFS Pinning Service API endpoint (its token: --secret or GENLOG_PINNING_TOKEN)",
    )
    .option("--origin <multiaddr...>", "ipfs: where the pinning service can fetch the blocks")
    .option(
      "--allow-personal-data",
      "ipfs: publish records that hold personal data in clear all the same",
    )
    .option("--type <type...>", "only records of these types")
    .option("--sector <sector...>", "only records of these sectors")
    .option("--status <status...>", "only records with these statuses (started, succeeded, failed)")
    .option("--critical", "only records the platform marked critical (meta.critical: true)")
    .option("--from-start", "hand over the records already in the log too")
    .action(
      bind(([kind], o, command) => {
        const fromCli = command.getOptionValueSourceWithGlobals("url") === "cli";
        if (URL_KINDS.has(kind!) && !fromCli) {
          throw new GenlogError(
            "GENLOG_E_USAGE",
            `followers add ${kind} needs --url: the endpoint that receives the records (GENLOG_URL names a genlog server, not an endpoint)`,
          );
        }
        return add(kind!, { ...o, url: undefined, endpoint: fromCli ? o.url : undefined });
      }),
    );
  followers
    .command("list")
    .description("the tenant's followers: where each is, how far behind, failures, dead letters")
    .action(bind((_args, o) => list(o)));
  followers
    .command("remove")
    .description("remove a follower (and its dead letters)")
    .argument("<name>")
    .action(bind(([name], o) => remove(name!, o)));
  followers
    .command("retry")
    .description(
      "try again now: the current record without waiting, a follower stopped by 410 restarted, its dead letters handed over again",
    )
    .argument("<name>")
    .action(bind(([name], o) => retry(name!, o)));
  followers
    .command("skip")
    .description("give up on a follower's current record: it becomes a dead letter")
    .argument("<name>")
    .action(bind(([name], o) => skip(name!, o)));
  followers
    .command("run")
    .description(
      "run every tenant's followers until SIGTERM or SIGINT (genlog serve runs them too: run one of the two)",
    )
    .option(
      "--once",
      "one pass: hand over what can be now, then exit (exit status 1 when a delivery failed)",
    )
    .action(bind((_args, o) => run(o)));
}

/** The kinds that send to an endpoint, and so need `--url`. */
const URL_KINDS = new Set(["webhook", "siem"]);
/** Where each kind's secret may come from instead of `--secret`. */
const SECRET_VARIABLES: Record<string, string> = {
  webhook: "GENLOG_WEBHOOK_SECRET",
  siem: "GENLOG_SIEM_TOKEN",
  report: "GENLOG_WEBHOOK_SECRET",
  ipfs: "GENLOG_PINNING_TOKEN",
};

async function add(kind: string, o: GlobalOptions): Promise<number> {
  const variable = SECRET_VARIABLES[kind];
  const secret =
    stringOption(o, "secret") ?? (variable !== undefined ? process.env[variable] : undefined);
  const number = (name: string, flag: string) => {
    const v = stringOption(o, name);
    return v === undefined ? undefined : integerOption(v, flag, 0, Number.MAX_SAFE_INTEGER);
  };
  const options: Record<string, unknown> = {
    url: stringOption(o, "endpoint"),
    format: stringOption(o, "format"),
    maxBytes: number("maxBytes", "--max-bytes"),
    maxAgeSeconds: number("maxAge", "--max-age"),
    keep: number("keep", "--keep"),
    period: stringOption(o, "period"),
    kubo: stringOption(o, "kubo"),
    pinning: stringOption(o, "pinning"),
    origins: o.origin,
    allowPersonalData: o.allowPersonalData === true ? true : undefined,
    types: o.type,
    sectors: o.sector,
    statuses: o.status,
    critical: o.critical === true ? true : undefined,
  };
  return withLog(openLocalForWriting(o), async (log) => {
    const info = await log.addFollower({
      kind,
      name: stringOption(o, "name") ?? kind,
      config: Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
      ...(secret !== undefined ? { secret } : {}),
      fromStart: o.fromStart === true,
    });
    if (o.json) await printLine(JSON.stringify(info));
    else {
      const from =
        info.kind === "report" || info.kind === "ipfs"
          ? "each period as it ends"
          : `from record ${info.cursor} on`;
      say(
        `added follower ${info.name} of tenant ${info.tenant}: ${safe(info.target)}, ${from}; \`genlog serve\` or \`genlog followers run\` hands the records over`,
      );
    }
    return 0;
  });
}

async function list(o: GlobalOptions): Promise<number> {
  return withLog(openLocalForWriting(o), async (log) => {
    const all = await log.followers();
    if (o.json) {
      await printLine(JSON.stringify(all));
      return 0;
    }
    if (all.length === 0) say(`tenant ${log.tenant} has no followers (genlog followers add)`);
    for (const f of all) await printLine(describe(f));
    return 0;
  });
}

function describe(f: FollowerInfo): string {
  // A periodic follower's cursor counts periods: say which one.
  const next =
    f.periodMs === null
      ? `record ${f.cursor}`
      : `period from ${new Date(f.cursor * f.periodMs).toISOString()}`;
  const state =
    f.disabled !== null
      ? `STOPPED (${f.disabled}): genlog followers retry ${f.name}`
      : f.attempts > 0
        ? `retrying ${next} (${count(f.attempts, "failure", "failures")}, last: ${f.lastError}${f.nextAttemptAt !== null ? `; next try ${f.nextAttemptAt}` : ""})`
        : f.behind === 0
          ? "caught up"
          : `${f.behind} behind`;
  const letters =
    f.deadLetters.length === 0
      ? ""
      : `; ${count(f.deadLetters.length, "dead letter", "dead letters")} (seq ${f.deadLetters.map((l) => l.seq).join(", ")})`;
  return safe(`${f.name}  ${f.kind}  ${f.target}  next ${next}: ${state}${letters}`);
}

async function remove(name: string, o: GlobalOptions): Promise<number> {
  return withLog(openLocalForWriting(o), async (log) => {
    await log.removeFollower({ name });
    say(`removed follower ${name} of tenant ${log.tenant}`);
    return 0;
  });
}

async function retry(name: string, o: GlobalOptions): Promise<number> {
  return withLog(openLocalForWriting(o), async (log) => {
    const f = await log.retryFollower({ name });
    if (o.json) await printLine(JSON.stringify(f));
    else say(`follower ${name} will try again at its next pass: ${describe(f)}`);
    return 0;
  });
}

async function skip(name: string, o: GlobalOptions): Promise<number> {
  return withLog(openLocalForWriting(o), async (log) => {
    const f = await log.skipFollower({ name });
    if (o.json) await printLine(JSON.stringify(f));
    else say(`follower ${name} gave record ${f.cursor - 1} up (a dead letter now): ${describe(f)}`);
    return 0;
  });
}

async function run(o: GlobalOptions): Promise<number> {
  return withLog(openLocalForWriting(o, { plugins: true }), async (log: Genlog) => {
    const runner = log.followerRunner();
    if (o.once === true) {
      // Passes until no follower stopped at its budget: everything there now is handed over.
      const r: PassResult = { delivered: 0, skipped: 0, failed: 0, deadLettered: 0, more: true };
      while (r.more) {
        const p = await runner.pass();
        r.delivered += p.delivered;
        r.skipped += p.skipped;
        r.failed += p.failed;
        r.deadLettered += p.deadLettered;
        r.more = p.more;
      }
      if (o.json) await printLine(JSON.stringify(r));
      else say(summary(r));
      return r.failed > 0 ? 1 : 0;
    }
    const stop = new AbortController();
    const running = runner.run(stop.signal);
    say("genlog followers running (SIGTERM or SIGINT stops them)");
    await untilStopped();
    stop.abort();
    await running;
    say("genlog followers stopped");
    return 0;
  });
}

function summary(r: PassResult): string {
  // A report or ipfs follower delivers a period at a time, the others a record.
  return `${count(r.delivered, "delivery", "deliveries")} (records, or periods of report and ipfs followers), ${r.skipped} passed over by filters, ${count(r.failed, "failure", "failures")}, ${count(r.deadLettered, "dead letter", "dead letters")}`;
}
