/**
 * OIDC/JWT bearer tokens against a real server: JWTs signed with jose by a test issuer whose
 * keys are in a JWKS file. The role and tenant come from claims; a token of another issuer,
 * audience or key, an expired one, or one without a valid role is refused 401; a valid one
 * is held to its role and tenant like an API token, and its reads are in the access log
 * under `oidc:<sub>`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { GenlogClient } from "../../src/client/index.js";
import { isGenlogError } from "../../src/index.js";
import { startServer } from "../helpers/server.js";
import { tempDir } from "../helpers/temp-dir.js";

const ISSUER = "https://idp.example.test";
const AUDIENCE = "genlog-api";

test("OIDC JWTs: claims give the role and tenant; wrong issuer, audience, key, expiry or role are refused", async () => {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const other = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const jwksPath = join(tempDir(), "jwks.json");
  writeFileSync(jwksPath, JSON.stringify({ keys: [jwk] }));
  const s = await startServer({
    rateLimit: false,
    oidc: { issuer: ISSUER, audience: AUDIENCE, jwks: jwksPath },
  });
  const sign = (
    claims: Record<string, unknown>,
    opts: {
      key?: Parameters<SignJWT["sign"]>[0];
      iss?: string;
      aud?: string;
      exp?: string | number;
    } = {},
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setSubject(String(claims["sub"] ?? "u-123"))
      .setIssuer(opts.iss ?? ISSUER)
      .setAudience(opts.aud ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? "5m")
      .sign(opts.key ?? privateKey);
  const client = (token: string) => new GenlogClient({ url: s.url, token, purpose: "OIDC test" });

  const auditor = await sign({ sub: "auditor-7", genlog_role: "auditor", genlog_tenant: "acme" });
  const page = await client(auditor).query("acme");
  assert.ok(page.records.length > 0);
  // Held to its tenant and role like any principal.
  await assert.rejects(client(auditor).query("other"), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_FORBIDDEN"),
  );
  await assert.rejects(
    client(auditor).eraseSubject("acme", { subject: "alice", reason: "x" }),
    (e: unknown) => isGenlogError(e, "GENLOG_E_FORBIDDEN"),
  );
  const writer = await sign({ sub: "ci-bot", genlog_role: "writer", genlog_tenant: "acme" });
  assert.equal((await client(writer).append("acme", { type: "backend" })).tenant, "acme");

  const refused = [
    await sign({ genlog_role: "auditor", genlog_tenant: "acme" }, { iss: "https://evil.example" }),
    await sign({ genlog_role: "auditor", genlog_tenant: "acme" }, { aud: "another-api" }),
    await sign({ genlog_role: "auditor", genlog_tenant: "acme" }, { key: other.privateKey }),
    await sign(
      { genlog_role: "auditor", genlog_tenant: "acme" },
      { exp: Math.floor(Date.now() / 1000) - 3600 },
    ),
    await sign({ genlog_role: "root", genlog_tenant: "acme" }),
    await sign({ genlog_role: "auditor" }),
    await sign({ genlog_role: "superadmin", genlog_tenant: "acme" }),
    `${auditor.slice(0, -4)}AAAA`,
  ];
  for (const [i, token] of refused.entries()) {
    await assert.rejects(client(token).query("acme"), (e: unknown) => {
      assert.ok(isGenlogError(e, "GENLOG_E_UNAUTHENTICATED"), `case ${i}: ${String(e)}`);
      assert.equal(e.details["status"], 401);
      assert.ok(!e.message.includes(token.split(".")[1]!), "the token is not repeated");
      return true;
    });
  }
  // The reads are recorded under the JWT's subject, with the purpose.
  const log = await s.log.accessLog({ tenant: "acme", limit: 1000 });
  const mine = log.records.filter((r) => r.meta["principal"] === "oidc:auditor-7");
  assert.ok(mine.some((r) => r.meta["operation"] === "query" && r.meta["purpose"] === "OIDC test"));
  assert.ok(
    mine.some((r) => r.meta["decision"] === "deny" && r.meta["operation"] === "eraseSubject"),
  );
});

test("a JWKS that cannot be read is a configuration error before the server starts", async () => {
  await assert.rejects(
    startServer({ oidc: { issuer: ISSUER, audience: AUDIENCE, jwks: "/nonexistent/jwks.json" } }),
    (e: unknown) => isGenlogError(e, "GENLOG_E_CONFIG") && e.details.pointer === "/oidcJwks",
  );
});
