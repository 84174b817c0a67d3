/**
 * Followers: `followers add|list|remove|retry|skip|run`. A follower reads the tenant's
 * committed log from its own durable cursor and hands each record on (a webhook today);
 * `genlog serve` runs them, and so does `followers run` where no server runs.
 */
import type { Command } from "commander";
import { GenlogError } from "../errors.js";
import type { FollowerInfo, Genlog } from "../genlog.js";
import type { PassResult } from "../log/followers.js";
import { untilStopped } from "./serve-command.js";
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
      "what reads the tenant's committed log after each append and hands it on (webhooks), each from its own durable cursor",
    );
  followers
    .command("add")
    .description("add a follower of the tenant's events log: from the next record on, in order")
    .argument("<kind>", "webhook")
    .option("--name <name>", "unique in the tenant (default: the kind)")
    // `--url` is the program's own option (remote mode): here, given on the command line, it
    // names the endpoint; GENLOG_URL (a genlog server) never does.
    .option("--url <url>", "the endpoint that receives each record (POST, JSON)")
    .option(
      "--secret <whsec>",
      "the Standard Webhooks secret, whsec_ and base64 (prefer GENLOG_WEBHOOK_SECRET: a flag shows in ps)",
    )
    .option("--type <type...>", "only records of these types")
    .option("--sector <sector...>", "only records of these sectors")
    .option("--from-start", "hand over the records already in the log too")
    .action(
      bind(([kind], o, command) => {
        if (command.getOptionValueSourceWithGlobals("url") !== "cli") {
          throw new GenlogError(
            "GENLOG_E_USAGE",
            "followers add needs --url: the endpoint that receives the records (GENLOG_URL names a genlog server, not an endpoint)",
          );
        }
        return add(kind!, { ...o, url: undefined, endpoint: o.url });
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
    .option("--once", "one pass: hand over what can be now, then exit")
    .action(bind((_args, o) => run(o)));
}

async function add(kind: string, o: GlobalOptions): Promise<number> {
  const secret = stringOption(o, "secret") ?? process.env["GENLOG_WEBHOOK_SECRET"];
  return withLog(openLocalForWriting(o), async (log) => {
    const info = await log.addFollower({
      kind,
      name: stringOption(o, "name") ?? kind,
      config: {
        url: stringOption(o, "endpoint"),
        ...(o.type !== undefined ? { types: o.type } : {}),
        ...(o.sector !== undefined ? { sectors: o.sector } : {}),
      },
      ...(secret !== undefined ? { secret } : {}),
      fromStart: o.fromStart === true,
    });
    if (o.json) await printLine(JSON.stringify(info));
    else {
      say(
        `added follower ${info.name} of tenant ${info.tenant}: ${safe(info.target)}, from record ${info.cursor} on; \`genlog serve\` or \`genlog followers run\` hands the records over`,
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
  const state =
    f.disabled !== null
      ? `STOPPED (${f.disabled}): genlog followers retry ${f.name}`
      : f.attempts > 0
        ? `retrying record ${f.cursor} (${count(f.attempts, "failure", "failures")}, last: ${f.lastError}${f.nextAttemptAt !== null ? `; next try ${f.nextAttemptAt}` : ""})`
        : f.behind === 0
          ? "caught up"
          : `${f.behind} behind`;
  const letters =
    f.deadLetters.length === 0
      ? ""
      : `; ${count(f.deadLetters.length, "dead letter", "dead letters")} (seq ${f.deadLetters.map((l) => l.seq).join(", ")})`;
  return safe(`${f.name}  ${f.kind}  ${f.target}  next record ${f.cursor}: ${state}${letters}`);
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
  return withLog(openLocalForWriting(o), async (log: Genlog) => {
    const runner = log.followerRunner();
    if (o.once === true) {
      const r = await runner.pass();
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
  return `${count(r.delivered, "record", "records")} handed over, ${r.skipped} passed over by filters, ${count(r.failed, "failure", "failures")}, ${count(r.deadLettered, "dead letter", "dead letters")}`;
}
