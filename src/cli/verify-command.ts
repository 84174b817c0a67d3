/**
 * `genlog verify`: recompute everything and say whether the log is intact (exit 0) or not
 * (exit 1). Anything that keeps it from running at all is exit 2 or 3, so that a cron job
 * can tell "the log was tampered with" from "the job is broken".
 */
import { createReadStream, existsSync } from "node:fs";
import { resolve } from "node:path";
import { GenlogError, isGenlogError } from "../errors.js";
import { checkSubjectExport } from "../core/subject-export.js";
import { checkArchive } from "../log/archive.js";
import type { CliLog } from "./remote-log.js";
import type { Genlog } from "../genlog.js";
import { Option, type Command } from "commander";
import type { VerifyReport } from "../log/verify.js";
import {
  openForReading,
  openLocalForReading,
  stringOption,
  withLog,
  type Bind,
  type GlobalOptions,
} from "./context.js";
import { MAX_NOTE_BYTES, readBounded } from "./read-input.js";
import {
  count,
  escapeForTerminal as safe,
  paint,
  printLine,
  progressBar,
  say,
} from "./terminal.js";
import { VerifyState, assertCheckpointOf, firstLine, type SavedState } from "./verify-state.js";

/** Adds `verify` to the program. */
export function defineVerifyCommand(program: Command, bind: Bind): void {
  program
    .command("verify")
    .description(
      "recompute every leaf, root and signature and check every stored copy; exit 1 if anything is wrong",
    )
    .addOption(
      new Option(
        "--trusted <file>",
        "a signed checkpoint you trust (one published earlier): the log must extend it",
      ).conflicts("state"),
    )
    .option(
      "--verifier-key <key|file>",
      "check signatures with this verifier key line (or the first line of this file) instead of the key in the keys dir",
    )
    .option(
      "--state <dir>",
      "unattended runs: pin the verifier key in DIR on first use, verify against the checkpoint saved there last time, then save the new one",
    )
    .addOption(
      new Option(
        "--export <file>",
        "check a subject export (`genlog subject export`) instead of the log: every record's proof against its signed checkpoint, and every decrypted view against its envelope",
      ).conflicts(["state", "trusted"]),
    )
    .addOption(
      new Option(
        "--archive <dir>",
        "check an archive (`genlog archive`) instead of the log: every file's digest, the checkpoint's signature, and that the records prove against it",
      ).conflicts(["state", "trusted", "export"]),
    )
    .addOption(
      new Option(
        "--car <file>",
        "check a CAR export (`genlog export --format car`) instead of the log: every block against its CID, the files against the manifest, the checkpoint's signature, and that the records prove against it",
      ).conflicts(["state", "trusted", "export", "archive"]),
    )
    .option(
      "--since-checkpoint <file>",
      "with --car: the checkpoint of the export before (its `checkpoint` file): this one must continue it",
    )
    .addOption(
      new Option("--stream <stream>", "which log of the tenant: its events or its access log")
        .choices(["events", "access"])
        .default("events")
        .conflicts(["state", "export", "archive", "car"]),
    )
    .action(bind((_args, o) => verify(o)));
}

async function verify(o: GlobalOptions): Promise<number> {
  const exportPath = stringOption(o, "export");
  if (exportPath !== undefined) return verifyExport(exportPath, o);
  const archivePath = stringOption(o, "archive");
  if (archivePath !== undefined) return verifyArchive(archivePath, o);
  const carPath = stringOption(o, "car");
  if (carPath !== undefined) return verifyCar(carPath, o);
  // Inputs first: a wrong path is reported before the database is opened.
  const trustedPath = stringOption(o, "trusted");
  let trusted =
    trustedPath === undefined
      ? undefined
      : await readBounded(trustedPath, MAX_NOTE_BYTES, "--trusted");
  const keyArg = stringOption(o, "verifierKey");
  let verifierKey = keyArg === undefined ? undefined : await readVerifierKey(keyArg);
  const statePath = stringOption(o, "state");
  const state = statePath === undefined ? undefined : await VerifyState.open(statePath);

  // --state keeps files beside a data directory's verification: local only.
  let opening: CliLog | Genlog;
  try {
    opening = state !== undefined ? await openLocalForReading(o) : await openForReading(o);
  } catch (e) {
    // A file too damaged to open is what verify is there to find: a failed verification.
    if (!isGenlogError(e, "GENLOG_E_CORRUPT")) throw e;
    return reportUnopenable(o, e);
  }
  return withLog(Promise.resolve(opening), async (log) => {
    const stream = o.stream === "access" ? "access" : "events";
    const origin = `${log.instance}/${log.tenant}/${stream}`;
    if (trusted !== undefined) assertCheckpointOf(trusted, origin, "--trusted");
    const local = log as Genlog;
    const plan = state === undefined ? undefined : await state.plan(local, verifierKey);
    if (plan !== undefined) {
      verifierKey = plan.verifierKey;
      trusted = plan.trusted;
    }
    const bar = progressBar("verifying");
    let report: VerifyReport;
    try {
      report = await log.verify({
        ...(trusted !== undefined ? { trusted } : {}),
        ...(verifierKey !== undefined ? { verifierKey } : {}),
        stream,
        onProgress: (done, total) => bar.update(done, total),
      });
    } finally {
      bar.stop();
    }
    if (state !== undefined && plan !== undefined) state.checkKeysDir(report, plan, log.tenant);
    const saved =
      report.ok && state !== undefined && plan !== undefined
        ? await state.save(local, report, plan)
        : undefined;
    if (o.json) {
      await printLine(JSON.stringify(saved === undefined ? report : { ...report, state: saved }));
    } else {
      await printLine(describeReport(report, process.stdout));
      const note = saved === undefined ? "" : describeSaved(saved, state!, log.tenant);
      if (note !== "") say(note);
      const now = report.keys?.at(-1)?.verifierKey;
      if (
        verifierKey !== undefined &&
        now !== undefined &&
        now !== verifierKey &&
        saved === undefined
      ) {
        say(
          `Verified from ${safe(verifierKey)}, an earlier key: the log's rotation records lead to ${safe(now)}, which signs now. Check that key against the one its operator published.`,
        );
      }
    }
    return report.ok ? 0 : 1;
  });
}

/**
 * `verify --export FILE`: checks a subject export on its own, without the data directory.
 * Without `--verifier-key` the key the file carries is used, which proves only that the file
 * agrees with itself: the output says so.
 */
async function verifyExport(path: string, o: GlobalOptions): Promise<number> {
  const keyArg = stringOption(o, "verifierKey");
  const verifierKey = keyArg === undefined ? undefined : await readVerifierKey(keyArg);
  const text = await readBounded(path, MAX_EXPORT_BYTES, "--export");
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new GenlogError("GENLOG_E_INVALID_INPUT", `--export ${safe(path)}: not JSON`, {
      details: { rule: "subject-export" },
    });
  }
  const check = checkSubjectExport(doc, verifierKey);
  if (o.json) {
    await printLine(JSON.stringify({ ...check, pinnedKey: verifierKey !== undefined }));
    return check.ok ? 0 : 1;
  }
  if (check.ok) {
    await printLine(
      `${paint(process.stdout, "green", "OK")}: subject export of ${safe(check.origin)}: ${count(check.records, "record", "records")}, each proved in the tree of size ${check.treeSize} and its decrypted view matching its envelope`,
    );
  } else {
    const lines = [
      `${paint(process.stdout, "red", "FAILED")}: subject export of ${safe(check.origin)}: ${count(check.problems.length, "problem", "problems")} in ${count(check.records, "record", "records")}:`,
      ...check.problems.map((p) => `  ${safe(p.message)}`),
    ];
    await printLine(lines.join("\n"));
  }
  if (verifierKey === undefined) noteUnpinned("the file carries");
  return check.ok ? 0 : 1;
}

/** `verify --archive DIR`: checks an archive on its own, without the data directory. */
async function verifyArchive(dir: string, o: GlobalOptions): Promise<number> {
  const keyArg = stringOption(o, "verifierKey");
  const verifierKey = keyArg === undefined ? undefined : await readVerifierKey(keyArg);
  const check = await checkArchive(dir, verifierKey);
  if (o.json) {
    await printLine(JSON.stringify({ ...check, pinnedKey: verifierKey !== undefined }));
  } else if (check.ok) {
    await printLine(
      `${paint(process.stdout, "green", "OK")}: archive of ${safe(check.origin)}: ${count(check.records, "record", "records")} (entries ${check.fromSeq} to ${check.toSeq - 1}), proved against the signed checkpoint at size ${check.treeSize}`,
    );
  } else {
    await printLine(
      [
        `${paint(process.stdout, "red", "FAILED")}: archive of ${safe(check.origin)}: ${count(check.problems.length, "problem", "problems")}:`,
        ...check.problems.map((p) => `  ${safe(p.message)}`),
      ].join("\n"),
    );
  }
  if (verifierKey === undefined && !o.json) noteUnpinned("the manifest carries");
  return check.ok ? 0 : 1;
}

/** `verify --car FILE`: checks a CAR export on its own, without the data directory. */
async function verifyCar(path: string, o: GlobalOptions): Promise<number> {
  const keyArg = stringOption(o, "verifierKey");
  const verifierKey = keyArg === undefined ? undefined : await readVerifierKey(keyArg);
  const sincePath = stringOption(o, "sinceCheckpoint");
  const previous =
    sincePath === undefined
      ? undefined
      : await readBounded(sincePath, MAX_NOTE_BYTES, "--since-checkpoint");
  let input;
  try {
    input = createReadStream(path);
    await new Promise((resolve, reject) => input!.once("open", resolve).once("error", reject));
  } catch (cause) {
    throw new GenlogError("GENLOG_E_IO", `--car ${safe(path)}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const { checkCar } = await import("../log/car-export.js");
  const check = await checkCar(input, {
    ...(verifierKey !== undefined ? { verifierKey } : {}),
    ...(previous !== undefined ? { previous } : {}),
  });
  const m = check.manifest;
  const what = m === undefined ? `CAR ${check.root}` : `CAR ${check.root} of ${safe(m.origin)}`;
  if (o.json) {
    await printLine(JSON.stringify({ ...check, pinnedKey: verifierKey !== undefined }));
  } else if (check.ok) {
    await printLine(
      `${paint(process.stdout, "green", "OK")}: ${what}: ${count(m!.records, "record", "records")} (entries ${m!.fromSeq} to ${m!.treeSize - 1}), ${count(check.blocks, "block", "blocks")} re-hashed, proved against the signed checkpoint at size ${m!.treeSize}`,
    );
  } else {
    await printLine(
      [
        `${paint(process.stdout, "red", "FAILED")}: ${what}: ${count(check.problems.length, "problem", "problems")}:`,
        ...check.problems.map((p) => `  ${safe(p.message)}`),
      ].join("\n"),
    );
  }
  if (verifierKey === undefined && !o.json) noteUnpinned("the manifest carries");
  return check.ok ? 0 : 1;
}

/** Says that a file was checked with its own key, which only proves it agrees with itself. */
function noteUnpinned(whose: string): void {
  say(
    `note: checked with the verifier key ${whose}; pass the tenant's published key with --verifier-key to prove the records are the log's`,
  );
}

/** A subject export holds every record of one person: allow large ones. */
const MAX_EXPORT_BYTES = 256 * 1024 * 1024;

/** Prints the failed verification of a data directory whose database cannot be opened. */
async function reportUnopenable(o: GlobalOptions, e: Error): Promise<number> {
  const report: VerifyReport = {
    ok: false,
    origin: resolve(o.dataDir),
    entries: 0,
    checkpoints: 0,
    verifiedSize: 0,
    root: null,
    problems: [{ kind: "store-damaged", message: `the database cannot be opened: ${e.message}` }],
  };
  await printLine(o.json ? JSON.stringify(report) : describeReport(report, process.stdout));
  return 1;
}

/**
 * A verifier key given on the command line, or the first line of the file it names. A key
 * line is never a path that exists, so the two cannot be confused.
 */
async function readVerifierKey(value: string): Promise<string> {
  if (!existsSync(value)) return value;
  return firstLine(await readBounded(value, MAX_NOTE_BYTES, "--verifier-key"));
}

/**
 * The human form of a verify report: `OK: …` or `FAILED: …` and one indented line per
 * problem. Stored values in it (ids, messages quoting records) are escaped; on a colour
 * terminal the verdict is coloured, so that a failure cannot be missed.
 */
export function describeReport(r: VerifyReport, stream?: NodeJS.WriteStream): string {
  const verdict = (text: string, colour: "red" | "green") =>
    stream === undefined ? text : paint(stream, colour, text);
  if (r.ok) {
    const purged = r.purged === undefined ? "" : ` (${r.purged.entries} purged: their leaves only)`;
    return `${verdict("OK", "green")}: ${safe(r.origin)}: ${count(r.entries, "entry", "entries")}${purged}, ${count(r.checkpoints, "checkpoint", "checkpoints")} verified; root at size ${r.verifiedSize}: ${r.root ?? "(empty)"}`;
  }
  const lines = [
    `${verdict("FAILED", "red")}: ${safe(r.origin)}: ${count(r.problems.length, "problem", "problems")} in ${count(r.entries, "entry", "entries")}:`,
  ];
  for (const p of r.problems) {
    const where =
      p.index !== undefined
        ? `entry ${p.index}${p.id !== undefined ? ` (${p.id})` : ""}`
        : p.size !== undefined
          ? `checkpoint ${p.size}`
          : "database";
    lines.push(`  ${p.kind}: ${safe(where)}: ${safe(p.message)}`);
  }
  return lines.join("\n");
}

function describeSaved(s: SavedState, state: VerifyState, tenant: string): string {
  const lines: string[] = [];
  if (s.firstUse) {
    lines.push(`Pinned verifier key ${safe(s.verifierKey)} in ${safe(state.keyFile(tenant))}.`);
  }
  if (s.rotatedFrom !== undefined) {
    lines.push(
      `The signing key was rotated: the log's rotation records, signed by the pinned key, lead from ${safe(s.rotatedFrom)} to ${safe(s.verifierKey)}, now pinned in ${safe(state.keyFile(tenant))}. Check that key against the one its operator published: whoever held the old key could have signed the rotation.`,
    );
  }
  if (s.savedSize !== null) {
    lines.push(
      `Saved the checkpoint at size ${s.savedSize} to ${safe(state.checkpointFile(tenant))}; the next run must extend it.`,
    );
  }
  return lines.join("\n");
}
