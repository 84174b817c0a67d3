/**
 * API tokens for the HTTP server: `token create|list|revoke`. A token is printed once, at
 * creation; the data directory keeps only its SHA-256.
 */
import { Option, type Command } from "commander";
import { ROLES, type Role } from "../core/access.js";
import type { TokenInfo } from "../log/tokens.js";
import { openForWriting, stringOption, withLog, type Bind, type GlobalOptions } from "./context.js";
import { escapeForTerminal as safe, printLine, say } from "./terminal.js";

/** Adds `token` to the program. */
export function defineTokenCommands(program: Command, bind: Bind): void {
  const token = program
    .command("token")
    .description("API tokens of the HTTP server: one tenant (or *) and one role each");
  token
    .command("create")
    .description(
      "create a token for --tenant (or '*': every tenant) and a role; it is shown once, only its hash is kept",
    )
    .addOption(
      new Option("--role <role>", "what the token may do").choices(ROLES).makeOptionMandatory(),
    )
    .option("--expires <time>", "refuse the token after this RFC 3339 date-time or date")
    .option("--label <text>", "a note for humans: who holds it, what for")
    .action(bind((_args, o) => create(o)));
  token
    .command("list")
    .description("every token (never the token itself): id, tenant, role, expiry, revocation")
    .action(bind((_args, o) => list(o)));
  token
    .command("revoke")
    .description("revoke a token: it is refused from now on")
    .argument("<id>", "the token's id (tok_…)")
    .action(bind(([id], o) => revoke(id!, o)));
}

async function create(o: GlobalOptions): Promise<number> {
  const expires = stringOption(o, "expires");
  const label = stringOption(o, "label");
  return withLog(openForWriting({ ...o, tenant: tenantOf(o) }), async (log) => {
    const t = await log.createToken({
      scope: o.tenant,
      role: o.role as Role,
      ...(expires !== undefined ? { expires } : {}),
      ...(label !== undefined ? { label } : {}),
    });
    if (o.json) await printLine(JSON.stringify(t));
    else {
      say(
        `created ${t.id} (${t.role} of ${t.scope === "*" ? "every tenant" : `tenant ${t.scope}`}${t.expires !== null ? `, expires ${t.expires}` : ""}); the token, shown only now:`,
      );
      await printLine(t.token);
    }
    return 0;
  });
}

async function list(o: GlobalOptions): Promise<number> {
  return withLog(openForWriting({ ...o, tenant: tenantOf(o) }), async (log) => {
    const all = await log.tokens();
    if (o.json) await printLine(JSON.stringify(all));
    else {
      const rows = [
        ["ID", "TENANT", "ROLE", "CREATED", "EXPIRES", "REVOKED", "LABEL"],
        ...all.map(row),
      ];
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

async function revoke(id: string, o: GlobalOptions): Promise<number> {
  return withLog(openForWriting({ ...o, tenant: tenantOf(o) }), async (log) => {
    const t = await log.revokeToken(id);
    if (o.json) await printLine(JSON.stringify(t));
    else say(`revoked ${t.id} at ${t.revoked}`);
    return 0;
  });
}

/** `--tenant '*'` names every tenant for a token; the handle itself opens the default one. */
function tenantOf(o: GlobalOptions): string {
  return o.tenant === "*" ? "default" : o.tenant;
}

function row(t: TokenInfo): string[] {
  return [t.id, t.scope, t.role, t.created, t.expires ?? "-", t.revoked ?? "-", safe(t.label)];
}
