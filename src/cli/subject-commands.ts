/**
 * The data-protection officer's commands: `subject erase`, `subject export`, `hold
 * set|release|list` and `report gdpr`. Those that act open the data directory for writing
 * (with the master key): what they do is itself recorded as a system event of the tenant's
 * log; `hold list` and `report gdpr` only read.
 */
import type { Command } from "commander";
import { GenlogError } from "../errors.js";
import type { GenerationCounts } from "../log/generation-report.js";
import type { LegalHold } from "../genlog.js";
import { canonicalize } from "../core/jcs.js";
import {
  openForReading,
  openForWriting,
  stringOption,
  withLog,
  type Bind,
  type GlobalOptions,
} from "./context.js";
import { writeFileAtomically } from "./output-file.js";
import { count, escapeForTerminal as safe, printLine, say } from "./terminal.js";

const SUBJECT_HELP = "the person's id as the platform sent it (user/actor)";
const PSEUDONYM_HELP = "or the subject's pseudonym as records carry it (sub_…)";

/** Adds `subject` and `hold` to the program. */
export function defineSubjectCommands(program: Command, bind: Bind): void {
  const subject = program
    .command("subject")
    .description("a person's records: export them (GDPR Art. 15/20) or erase them (Art. 17)");
  subject
    .command("erase")
    .description(
      "destroy the subject's data key and lookup value (their records stay, unreadable, and every proof still verifies) and record a genlog.erasure event",
    )
    .option("--subject <id>", SUBJECT_HELP)
    .option("--pseudonym <sub_…>", PSEUDONYM_HELP)
    .requiredOption("--reason <text>", 'why, e.g. "GDPR Art. 17 request #1234" (kept in the log)')
    .action(bind((_args, o) => erase(o)));
  subject
    .command("export")
    .description(
      "write every record of the subject, decrypted, with an inclusion proof each and the signed checkpoint (check it with `genlog verify --export`)",
    )
    .option("--subject <id>", SUBJECT_HELP)
    .option("--pseudonym <sub_…>", PSEUDONYM_HELP)
    .requiredOption("--out <file>", "the file to write (mode 0600, replaced only once complete)")
    .action(bind((_args, o) => exportSubject(o)));

  const hold = program
    .command("hold")
    .description("legal holds: while one is set, the tenant or subject cannot be erased or purged");
  for (const kind of ["set", "release"] as const) {
    hold
      .command(kind)
      .description(
        kind === "set"
          ? "set a legal hold on a subject, or on the whole tenant when no subject is given"
          : "release a legal hold",
      )
      .option("--subject <id>", SUBJECT_HELP)
      .option("--pseudonym <sub_…>", PSEUDONYM_HELP)
      .requiredOption("--reason <text>", "why (kept in the log)")
      .action(bind((_args, o) => setOrRelease(kind, o)));
  }
  hold
    .command("list")
    .description("the legal holds in force")
    .action(bind((_args, o) => listHolds(o)));
}

/** The subject options as the library takes them (it checks them). */
function selector(o: GlobalOptions): { subject?: string; pseudonym?: string } {
  const subject = stringOption(o, "subject");
  const pseudonym = stringOption(o, "pseudonym");
  return {
    ...(subject !== undefined ? { subject } : {}),
    ...(pseudonym !== undefined ? { pseudonym } : {}),
  };
}

function requireSubject(o: GlobalOptions): void {
  const s = selector(o);
  if (s.subject === undefined && s.pseudonym === undefined) {
    throw new GenlogError("GENLOG_E_USAGE", "give --subject ID or --pseudonym sub_…");
  }
}

async function erase(o: GlobalOptions): Promise<number> {
  requireSubject(o);
  return withLog(openForWriting(o), async (log) => {
    const r = await log.eraseSubject({ ...selector(o), reason: String(o.reason) });
    if (o.json) {
      await printLine(
        JSON.stringify({
          tenant: r.tenant,
          pseudonyms: r.pseudonyms,
          seq: r.record.seq,
          id: r.record.id,
          scrubbed: r.scrubbed,
        }),
      );
    } else {
      await printLine(
        `erased ${r.pseudonyms.join(", ")} of tenant ${r.tenant}: data key and lookup destroyed; erasure event ${r.record.seq}`,
      );
      if (!r.scrubbed) {
        say(
          "note: another process is reading the database, so its write-ahead log could not be emptied yet; it will be at the next erasure or when the last writer closes",
        );
      }
    }
    return 0;
  });
}

async function exportSubject(o: GlobalOptions): Promise<number> {
  requireSubject(o);
  const out = String(o.out);
  return withLog(openForWriting(o), async (log) => {
    const doc = await log.exportSubject(selector(o));
    await writeFileAtomically(out, (write) => write(`${canonicalize(doc)}\n`));
    if (o.json) {
      await printLine(JSON.stringify({ out, records: doc.records.length, tenant: doc.tenant }));
    } else {
      say(
        `exported ${count(doc.records.length, "record", "records")} of ${doc.subject.keys.map((k) => k.pseudonym).join(", ")} to ${safe(out)}; check it with \`genlog verify --export ${safe(out)}\``,
      );
    }
    return 0;
  });
}

async function setOrRelease(kind: "set" | "release", o: GlobalOptions): Promise<number> {
  return withLog(openForWriting(o), async (log) => {
    const options = { ...selector(o), reason: String(o.reason) };
    const r = kind === "set" ? await log.setHold(options) : await log.releaseHold(options);
    if (o.json) await printLine(JSON.stringify({ seq: r.seq, id: r.id, meta: r.meta }));
    else {
      const what =
        r.meta["scope"] === "tenant"
          ? `tenant ${r.tenant}`
          : (r.meta["pseudonyms"] as string[]).join(", ");
      await printLine(
        `${kind === "set" ? "legal hold set on" : "legal hold released on"} ${what} (event ${r.seq})`,
      );
    }
    return 0;
  });
}

async function listHolds(o: GlobalOptions): Promise<number> {
  return withLog(openForReading(o), async (log) => {
    const holds = await log.holds();
    if (o.json) await printLine(JSON.stringify(holds));
    else if (holds.length === 0) await printLine(`no legal hold on tenant ${log.tenant}`);
    else for (const h of holds) await printLine(holdLine(h));
    return 0;
  });
}

function holdLine(h: LegalHold): string {
  const what = h.scope === "tenant" ? `tenant ${h.tenant}` : h.pseudonym!;
  return `${what}  since ${h.since} (event ${h.seq})  ${safe(String(h.reason))}`;
}

/** Adds `report gdpr`, `report access` and `report generation` to the program. */
export function defineReportCommands(program: Command, bind: Bind): void {
  const report = program.command("report").description("reports on a tenant");
  report
    .command("gdpr")
    .description(
      "subjects, erasures, exports, retention and the next purge, legal holds, redactions per rule",
    )
    .action(bind((_args, o) => reportGdpr(o)));
  report
    .command("access")
    .description(
      "who read, exported, erased or administered what, when and why, by principal, with anomalies flagged",
    )
    .option("--since <time>", "from this RFC 3339 date-time or date (inclusive)")
    .option("--until <time>", "until this RFC 3339 date-time or date (exclusive)")
    .action(bind((_args, o) => reportAccess(o)));
  report
    .command("generation")
    .description(
      "generations per type, sector, status and day, top actors (pseudonyms), failure rates, redactions",
    )
    .option("--since <time>", "from this RFC 3339 date-time or date (inclusive)")
    .option("--until <time>", "until this RFC 3339 date-time or date (exclusive)")
    .action(bind((_args, o) => reportGeneration(o)));
}

async function reportGeneration(o: GlobalOptions): Promise<number> {
  const since = stringOption(o, "since");
  const until = stringOption(o, "until");
  return withLog(openForReading(o), async (log) => {
    const r = await log.generationReport({
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
    });
    if (o.json) {
      await printLine(JSON.stringify(r));
      return 0;
    }
    const pct = (v: number | null) => (v === null ? "-" : `${(v * 100).toFixed(1)} %`);
    const rows = (title: string, list: { key: string; c: GenerationCounts }[]) => [
      `${title.padEnd(22)} ${"TOTAL".padStart(7)} ${"FAILED".padStart(7)} ${"FAILURE".padStart(8)}`,
      ...list.map(
        ({ key, c }) =>
          `  ${safe(key).padEnd(20)} ${String(c.total).padStart(7)} ${String(c.failed).padStart(7)} ${pct(c.failureRate).padStart(8)}`,
      ),
    ];
    const lines = [
      `Generation report of ${r.origin}${r.since !== null ? ` from ${r.since}` : ""}${r.until !== null ? ` until ${r.until}` : ""}`,
      `generations: ${r.all.total} (${r.all.succeeded} succeeded, ${r.all.failed} failed, ${r.all.started} started); failure rate ${pct(r.all.failureRate)}`,
      `redacted:    ${r.redacted.records} records, ${r.redacted.redactions} redactions`,
      "",
      ...rows(
        "BY TYPE",
        r.byType.map((x) => ({ key: x.type, c: x })),
      ),
      "",
      ...rows(
        "BY SECTOR",
        r.bySector.map((x) => ({ key: x.sector ?? "(none)", c: x })),
      ),
      "",
      ...rows(
        "BY DAY (UTC)",
        r.byDay.map((x) => ({ key: x.day, c: x })),
      ),
      "",
      "TOP ACTORS (pseudonyms)",
      ...(r.topActors.length === 0
        ? ["  none"]
        : r.topActors.map(
            (a) => `  ${a.actor}  ${String(a.total).padStart(7)} (${a.failed} failed)`,
          )),
    ];
    await printLine(lines.join("\n"));
    return 0;
  });
}

async function reportAccess(o: GlobalOptions): Promise<number> {
  const since = stringOption(o, "since");
  const until = stringOption(o, "until");
  return withLog(openForReading(o), async (log) => {
    const r = await log.accessReport({
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
    });
    if (o.json) {
      await printLine(JSON.stringify(r));
      return 0;
    }
    const lines = [
      `Access report of ${r.origin}${r.since !== null ? ` from ${r.since}` : ""}${r.until !== null ? ` until ${r.until}` : ""}`,
      `accesses:  ${r.accesses} (${r.denied} denied)`,
      "",
      "PRINCIPAL                          ROLES           ALLOWED  DENIED  RECORDS  PURPOSES",
      ...r.principals.map(
        (p) =>
          `${safe(p.principal).padEnd(34)} ${p.roles.join(",").padEnd(15)} ${String(p.allowed).padStart(7)} ${String(p.denied).padStart(7)} ${String(p.records).padStart(8)}  ${safe(Object.keys(p.purposes).join("; "))}`,
      ),
      "",
      "anomalies:",
      ...(r.anomalies.length === 0
        ? ["  none"]
        : r.anomalies.map(
            (a) => `  ${a.kind.padEnd(9)}  ${safe(a.message)} (seq ${a.seqs.join(", ")})`,
          )),
    ];
    await printLine(lines.join("\n"));
    return 0;
  });
}

async function reportGdpr(o: GlobalOptions): Promise<number> {
  return withLog(openForReading(o), async (log) => {
    const r = await log.gdprReport();
    if (o.json) {
      await printLine(JSON.stringify(r));
      return 0;
    }
    const lines = [
      `GDPR report of ${r.origin}, ${r.generatedAt}`,
      `records:    ${r.records.kept} kept, ${r.records.purged} purged, ${r.records.total} positions in the log`,
      `subjects:   ${r.subjects.current} with a key, ${r.subjects.erased} erased`,
      `erasures:   ${r.erasures.count}${r.erasures.last !== null ? `, last ${r.erasures.last}` : ""}`,
      `exports:    ${r.exports.count}${r.exports.last !== null ? `, last ${r.exports.last}` : ""}`,
      `retention:  ${r.retention.days} days${r.retention.isDefault ? " (default)" : ""}; ${r.retention.due} due for purge (before ${r.retention.cutoff}); next purge ${r.retention.due > 0 ? "now" : (r.retention.nextPurge ?? "none due")}`,
      `purges:     ${r.purges.count}${r.purges.last !== null ? `, last ${r.purges.last}` : ""}`,
      `holds:      ${r.holds.length === 0 ? "none" : r.holds.map((h) => (h.scope === "tenant" ? "the tenant" : h.pseudonym!)).join(", ")}`,
      "redactions:",
      ...(r.redactions.length === 0
        ? ["  none"]
        : r.redactions.map(
            (x) => `  ${String(x.count).padStart(7)}  ${x.action.padEnd(7)}  ${safe(x.rule)}`,
          )),
    ];
    await printLine(lines.join("\n"));
    return 0;
  });
}
