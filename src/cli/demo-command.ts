/**
 * `genlog demo`: a first look, with no set-up. It fills demo tenants with a few hundred
 * realistic generations (whose secrets and personal data come out redacted and
 * pseudonymised), verifies and proves, makes a token per role, and serves the HTTP API
 * until Ctrl-C (`--no-serve` stops after the walk-through).
 */
import { resolve } from "node:path";
import { Option, type Command } from "commander";
import { checkInclusionProof } from "../core/proofs.js";
import { ROLES, ALL_TENANTS, type Role } from "../core/access.js";
import { openLog, type Genlog, type GenerationEventInput } from "../genlog.js";
import {
  cliContext,
  localOnly,
  storeOptions,
  policyOption,
  type Bind,
  type GlobalOptions,
} from "./context.js";
import { integerOption } from "./option-values.js";
import { untilStopped } from "./serve-command.js";
import { escapeForTerminal as safe, printLine, say } from "./terminal.js";
import { describeReport } from "./verify-command.js";

/** The demo's tenants: one per sector preset. */
const TENANTS = [
  { tenant: "demo-health", sector: "health" },
  { tenant: "demo-school", sector: "education" },
  { tenant: "demo-shop", sector: "ecommerce" },
] as const;
const PER_TENANT = 100;

/** Adds `demo` to the program. */
export function defineDemoCommand(program: Command, bind: Bind): void {
  program
    .command("demo")
    .description(
      "fill demo tenants with sample generations, verify and prove them, make a token per role, and serve the HTTP API until Ctrl-C",
    )
    .addOption(
      new Option("--port <port>", "TCP port of the API").env("GENLOG_PORT").default("8080"),
    )
    .option("--no-serve", "stop after the walk-through, without serving")
    .action(bind((_args, o) => demo(o)));
}

async function demo(o: GlobalOptions): Promise<number> {
  localOnly(o);
  const dataDir = resolve(o.dataDir);
  const port = integerOption(String(o.port), "--port", 0, 65535);
  const log = await openLog({
    dataDir,
    tenant: o.tenant,
    ...storeOptions(o),
    ...(await policyOption(o)),
    context: cliContext(o),
  });
  try {
    say(`genlog demo: data in ${safe(dataDir)}`);
    const ok = await walkThrough(log);
    if (o.serve === false) {
      // Tokens only when someone will see them.
      if (o.json) await printLine(JSON.stringify({ ok, tokens: await makeTokens(log) }));
      return ok ? 0 : 1;
    }
    const tokens = await makeTokens(log);
    const { buildServer } = await import("../server/app.js");
    const app = await buildServer({ log });
    const url = await app.listen({ port, host: "127.0.0.1" }).catch((e: unknown) => {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EADDRINUSE") {
        say(`genlog demo: port ${port} is taken; run it with --port 8081 (or another)`);
      }
      throw e;
    });
    const pin = encodeURIComponent(await log.verifierKey("demo-health"));
    const consoleUrl = `${url}/console/#/demo-health/events?pin=${pin}`;
    say("");
    say(`Console:   ${consoleUrl}`);
    say(
      "           (log in with the auditor token below; the link pins demo-health's verifier key)",
    );
    say(`HTTP API:  ${url}/v1/tenants/demo-health/events`);
    say(`API docs:  ${url}/docs   (OpenAPI: ${url}/openapi.json)`);
    say(
      "Tokens (shown once, valid 24 hours; each is scoped to demo-health, the superadmin's to every tenant):",
    );
    for (const role of ROLES) say(`  ${role.padEnd(10)} ${tokens[role]}`);
    say("");
    say("Try:");
    say(
      `  curl -s -H "Authorization: Bearer ${tokens.auditor}" '${url}/v1/tenants/demo-health/events?limit=2'`,
    );
    say(
      `  curl -s -H "Authorization: Bearer ${tokens.auditor}" ${url}/v1/tenants/demo-health/checkpoint`,
    );
    say(
      `  curl -s -H "Authorization: Bearer ${tokens.auditor}" ${url}/v1/tenants/demo-health/reports/access`,
    );
    say("Every read is in the tenant's access log. Ctrl-C stops the server.");
    if (o.json) {
      await printLine(JSON.stringify({ url, console: consoleUrl, docs: `${url}/docs`, tokens }));
    }
    await untilStopped();
    await app.close();
    say("genlog stopped");
    return 0;
  } finally {
    await log.close();
  }
}

/** Fills the demo tenants (once), shows what redaction did, verifies every log, proves one record. */
async function walkThrough(log: Genlog): Promise<boolean> {
  const existing = new Set((await log.tenants()).map((t) => t.tenant));
  for (const { tenant, sector } of TENANTS) {
    if (existing.has(tenant)) {
      say(`  ${tenant}: already filled`);
      continue;
    }
    await log.createTenant(tenant);
    const results = await log.appendBatch(
      Array.from({ length: PER_TENANT }, (_, i) => sampleEvent(tenant, sector, i)),
    );
    const redacted = results.filter((r) => r.record.redactions.length > 0).length;
    say(
      `  ${tenant}: ${PER_TENANT} generations logged (${sector}), ${redacted} with secrets or personal data redacted`,
    );
  }
  const sample = (await log.query({ tenant: "demo-health", limit: 5 })).records.find(
    (r) => r.redactions.length > 0,
  );
  if (sample !== undefined) {
    say(
      `  e.g. #${sample.seq} ${sample.type}: actor ${sample.actor ?? "null"}, meta ${safe(JSON.stringify(sample.meta))}`,
    );
    say(
      `       redactions: ${sample.redactions.map((x) => `${x.path} (${x.rule}, ${x.action})`).join(", ")}`,
    );
  }
  let ok = true;
  for (const { tenant } of TENANTS) {
    const report = await log.verify({ tenant });
    ok &&= report.ok;
    say(describeReport(report, process.stderr));
  }
  const last = (await log.query({ tenant: "demo-health", type: "model", limit: 1 })).records[0];
  if (last !== undefined) {
    const proof = await log.inclusionProof(last.id, { tenant: "demo-health" });
    checkInclusionProof(proof, await log.verifierKey("demo-health"));
    say(
      `  inclusion proof of demo-health #${last.seq} against the signed checkpoint at size ${proof.treeSize}: verified`,
    );
  }
  return ok;
}

/** A token per role for demo-health (the superadmin's for every tenant), labelled `demo`. */
async function makeTokens(log: Genlog): Promise<Record<Role, string>> {
  const tokens = {} as Record<Role, string>;
  for (const role of ROLES) {
    const scope = role === "superadmin" ? ALL_TENANTS : "demo-health";
    // A day: a demo run on a directory that matters leaves no lasting key to it.
    const expires = new Date(Date.now() + 86_400_000).toISOString();
    tokens[role] = (await log.createToken({ scope, role, label: "demo", expires })).token;
  }
  return tokens;
}

const TYPES = ["backend", "frontend", "assets", "model", "report"] as const;
const STACKS = ["Flask", "Django", "Express", "Spring", "Rails", "FastAPI"];
const PEOPLE = ["alice", "bob", "carol", "dmitri", "emma", "farid", "gaelle", "hugo"];

/** A realistic generation of a tenant's sector; one in five carries a secret or a person's data. */
function sampleEvent(tenant: string, sector: string, i: number): GenerationEventInput {
  const type = TYPES[i % TYPES.length]!;
  const person = PEOPLE[(i * 7) % PEOPLE.length]!;
  const meta: Record<string, unknown> = { stack: STACKS[i % STACKS.length], files: 3 + (i % 40) };
  if (type === "model")
    meta["dataset"] = sector === "health" ? "anonymised-radiology-v2" : "catalogue-2026";
  if (i % 5 === 1) meta["api_key"] = `sk-demo-${(i * 7919).toString(36)}`;
  if (i % 5 === 2) meta["note"] = `ping ${person}@example.org when done`;
  if (i % 5 === 3) meta["db"] = `postgres://app:pw-${i}@db.internal/${tenant}`;
  if (i % 5 === 4)
    meta["contact"] = `+33 6 12 34 ${String(10 + (i % 90))} ${String(10 + ((i * 3) % 90))}`;
  return {
    type,
    tenant,
    user: `${person}@${tenant}.example`,
    sector,
    status: i % 17 === 0 ? "failed" : "succeeded",
    meta,
    artifacts: [
      {
        name: type === "assets" ? "logo.svg" : type === "model" ? "model.onnx" : "app.tar.gz",
        digest: `sha256:${(i.toString(16).padStart(2, "0") + "ab").repeat(16).slice(0, 64)}`,
        size: 1024 * (1 + (i % 50)),
      },
    ],
  };
}
