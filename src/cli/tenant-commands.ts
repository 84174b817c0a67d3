/**
 * Tenants and their regions: `tenant create|list|show`.
 */
import type { Command } from "commander";
import type { TenantInfo } from "../genlog.js";
import {
  openForReading,
  openForWriting,
  stringOption,
  withLog,
  type Bind,
  type GlobalOptions,
} from "./context.js";
import { escapeForTerminal as safe, printLine, say } from "./terminal.js";
import { GenlogError } from "../errors.js";

/** Adds `tenant` to the program. */
export function defineTenantCommands(program: Command, bind: Bind): void {
  const tenant = program
    .command("tenant")
    .description("tenants, each in its region (data residency)");
  tenant
    .command("create")
    .description(
      "create a tenant (its signing key and log), in a region when --region is given: its records then live only in that region's database",
    )
    .argument("<name>", "the tenant, a slug")
    .option("--region <region>", "the region, a slug such as eu or fr-paris")
    .option(
      "--region-dir <dir>",
      "where the region's database lives, the first time the region is used (default: DATA_DIR/regions/REGION)",
    )
    .action(bind(([name], o) => create(name!, o)));
  tenant
    .command("list")
    .description("every tenant with its region, database and size")
    .action(bind((_args, o) => list(o)));
  tenant
    .command("purpose")
    .description(
      "show whether the tenant requires a declared purpose on every access, or set it (required|optional, with --reason)",
    )
    .argument("<name>", "the tenant")
    .argument("[policy]", "required or optional")
    .option("--reason <text>", "why the policy changes (recorded with it)")
    .action(bind(([name, policy], o) => purpose(name!, policy, o)));
  tenant
    .command("policies")
    .description(
      "every policy the tenant is under: its privacy policy (from the policy file, or the built-in strict preset), whether accesses must declare a purpose, its retention",
    )
    .argument("<name>", "the tenant")
    .action(bind(([name], o) => policies(name!, o)));
  tenant
    .command("show")
    .description("one tenant")
    .argument("<name>", "the tenant")
    .action(bind(([name], o) => show(name!, o)));
}

async function create(name: string, o: GlobalOptions): Promise<number> {
  const region = stringOption(o, "region");
  const regionDir = stringOption(o, "regionDir");
  return withLog(openForWriting(o), async (log) => {
    const t = await log.createTenant(name, {
      ...(region !== undefined ? { region } : {}),
      ...(regionDir !== undefined ? { regionDir } : {}),
    });
    if (o.json) await printLine(JSON.stringify(t));
    else {
      await printLine(
        `created tenant ${t.tenant}${t.region === null ? "" : ` in region ${t.region}`}: ${t.origin}, records in ${safe(t.database)}`,
      );
    }
    return 0;
  });
}

async function list(o: GlobalOptions): Promise<number> {
  return withLog(openForReading(o), async (log) => {
    const all = await log.tenants();
    if (o.json) await printLine(JSON.stringify(all));
    else {
      const rows = [["TENANT", "REGION", "SIZE", "DATABASE"], ...all.map(row)];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows) {
        await printLine(
          r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  "),
        );
      }
    }
    return 0;
  });
}

async function purpose(
  name: string,
  policy: string | undefined,
  o: GlobalOptions,
): Promise<number> {
  if (policy !== undefined && policy !== "required" && policy !== "optional") {
    throw new GenlogError(
      "GENLOG_E_USAGE",
      `expected required or optional, got ${JSON.stringify(policy).slice(0, 40)}`,
    );
  }
  const reason = stringOption(o, "reason");
  if (policy === undefined) {
    return withLog(openForReading(o), async (log) => {
      const required = await log.purposeRequired(name);
      if (o.json) await printLine(JSON.stringify({ tenant: name, required }));
      else await printLine(`tenant ${name}: a purpose is ${required ? "required" : "optional"}`);
      return 0;
    });
  }
  if (reason === undefined) {
    throw new GenlogError("GENLOG_E_USAGE", "--reason: say why the policy changes");
  }
  return withLog(openForWriting(o), async (log) => {
    const record = await log.setPurposeRequired({
      tenant: name,
      required: policy === "required",
      reason,
    });
    if (o.json) await printLine(JSON.stringify(record));
    else say(`tenant ${name}: a purpose is now ${policy} (event #${record.seq})`);
    return 0;
  });
}

async function policies(name: string, o: GlobalOptions): Promise<number> {
  return withLog(openForReading(o), async (log) => {
    const p = await log.policies(name);
    if (o.json) {
      await printLine(JSON.stringify(p));
      return 0;
    }
    const privacy =
      p.privacy === null
        ? "built-in: the strict preset (a stricter sector preset where an event's sector names one)"
        : `${p.privacySource === "tenant" ? "the tenant's" : "the default"} policy of the policy file: ${JSON.stringify(p.privacy)}`;
    await printLine(
      [
        `tenant:    ${p.tenant}`,
        `privacy:   ${safe(privacy)}`,
        `purpose:   ${p.purposeRequired ? "required" : "optional"}`,
        `retention: ${p.retention.days} days${p.retention.isDefault ? " (default)" : ""}`,
      ].join("\n"),
    );
    return 0;
  });
}

async function show(name: string, o: GlobalOptions): Promise<number> {
  return withLog(openForReading(o), async (log) => {
    const t = await log.tenantInfo(name);
    if (o.json) await printLine(JSON.stringify(t));
    else {
      await printLine(
        [
          `tenant:    ${t.tenant}`,
          `region:    ${t.region ?? "(home)"}`,
          `origin:    ${t.origin}`,
          `database:  ${safe(t.database)}`,
          `size:      ${t.size}`,
        ].join("\n"),
      );
    }
    return 0;
  });
}

function row(t: TenantInfo): string[] {
  return [t.tenant, t.region ?? "(home)", String(t.size), safe(t.database)];
}
