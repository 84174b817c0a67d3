/**
 * The CLI's remote mode against a real server: with GENLOG_URL and GENLOG_TOKEN, commands
 * call the HTTP API instead of a data directory, the server decides with the token's role
 * and tenant, and records the access; commands that only make sense on a data directory
 * refuse --url.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../helpers/run-cli.js";
import { startServer } from "../helpers/server.js";

test("remote mode: log, query, verify, export, reports and tokens go through the server and its access control", async () => {
  const s = await startServer({ rateLimit: false });
  const as = (token: string, ...args: string[]) =>
    runCli(["--tenant", "acme", ...args], {
      env: { GENLOG_URL: s.url, GENLOG_TOKEN: token, GENLOG_DATA_DIR: "/nonexistent" },
    });
  const logged = await as(
    s.tokens.writer,
    "log",
    "backend",
    "--user",
    "zoe",
    "--meta",
    "stack=Flask",
    "--json",
  );
  assert.equal(logged.code, 0, logged.stderr);
  const { record } = JSON.parse(logged.stdout) as {
    duplicate: boolean;
    record: { seq: number; actor: string };
  };
  assert.match(record.actor, /^sub_/);

  const query = await as(s.tokens.auditor, "query", "--type", "backend", "--json");
  assert.equal(query.code, 0, query.stderr);
  assert.ok((JSON.parse(query.stdout) as { seq: number }[]).some((r) => r.seq === record.seq));

  const verify = await as(s.tokens.auditor, "verify", "--json");
  assert.equal(verify.code, 0, verify.stderr);
  assert.equal((JSON.parse(verify.stdout) as { ok: boolean }).ok, true);

  const exported = await as(s.tokens.auditor, "export");
  const local: string[] = [];
  for await (const line of s.log.exportCanonical("acme")) local.push(line);
  assert.equal(exported.stdout, `${local.join("\n")}\n`);

  const report = await as(s.tokens.auditor, "report", "generation", "--json");
  assert.equal(report.code, 0, report.stderr);

  // The server decides: a writer cannot read, an auditor of acme cannot read other.
  const denied = await as(s.tokens.writer, "query");
  assert.equal(denied.code, 2);
  assert.match(denied.stderr, /GENLOG_E_FORBIDDEN/);
  const cross = await runCli(["--tenant", "other", "query"], {
    env: { GENLOG_URL: s.url, GENLOG_TOKEN: s.tokens.auditor },
  });
  assert.equal(cross.code, 2);
  assert.match(cross.stderr, /GENLOG_E_FORBIDDEN/);
  const bad = await as("glt_" + "A".repeat(43), "query");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /GENLOG_E_UNAUTHENTICATED/);
  assert.ok(!bad.stderr.includes("A".repeat(43)), "the token is not repeated");

  // An admin makes and revokes a token of its tenant through the server.
  const made = await as(s.tokens.admin, "token", "create", "--role", "writer", "--json");
  assert.equal(made.code, 0, made.stderr);
  const { id } = JSON.parse(made.stdout) as { id: string };
  const fresh = (JSON.parse(made.stdout) as { token: string }).token;
  assert.equal((await as(fresh, "query")).code, 2, "a writer token reads nothing");
  assert.equal((await as(s.tokens.admin, "token", "revoke", id)).code, 0);
  const refused = await as(fresh, "log", "backend");
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /GENLOG_E_UNAUTHENTICATED/);
  // An admin gives no reading role.
  const reader = await as(s.tokens.admin, "token", "create", "--role", "dpo");
  assert.equal(reader.code, 2);
  assert.match(reader.stderr, /GENLOG_E_FORBIDDEN/);

  // Data-directory commands refuse remote mode.
  for (const args of [
    ["status"],
    ["init"],
    ["keys", "rotate-master"],
    ["migrate"],
    ["demo", "--no-serve"],
  ]) {
    const r = await as(s.tokens.superadmin, ...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /not over HTTP/);
  }

  // Each read is in acme's access log, under the token's id, via http.
  const access = await s.log.accessLog({ tenant: "acme", limit: 1000 });
  const ops = access.records
    .filter((r) => r.meta["via"] === "http")
    .map((r) => r.meta["operation"]);
  for (const op of [
    "query",
    "verify",
    "exportCanonical",
    "generationReport",
    "createToken",
    "revokeToken",
  ])
    assert.ok(ops.includes(op), `${op} recorded`);
});
