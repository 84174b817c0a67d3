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
import { escapeForTerminal as safe, printLine } from "./terminal.js";

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
