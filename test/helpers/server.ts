/**
 * A real genlog server for tests: a data directory under the OS temp dir, tenants `acme` and
 * `other`, a few events with a person, Fastify listening on a loopback port, and a token per
 * role (plus an expired and a revoked one). Nothing is mocked.
 */
import { after } from "node:test";
import type { FastifyInstance } from "fastify";
import type { Genlog } from "../../src/index.js";
import { execSql, openLog } from "./store-under-test.js";
import { ROLES, type Role } from "../../src/core/access.js";
import { buildServer, type ServerOptions } from "../../src/server/app.js";
import { hashToken, TOKEN_PREFIX } from "../../src/log/tokens.js";
import { randomBytes } from "node:crypto";
import { tempDir } from "./temp-dir.js";

export interface TestServer {
  url: string;
  dataDir: string;
  log: Genlog;
  app: FastifyInstance;
  /** A token per role: scoped to `acme`, but `superadmin`'s (every tenant). */
  tokens: Record<Role, string>;
  /** Tokens of `acme` refused for what they are. */
  expired: string;
  revoked: string;
}

export async function startServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dataDir = tempDir("genlog-server-");
  // Followers may call receivers on the loopback, as the tests' are.
  const log = await openLog({ dataDir, followerNetwork: { allowPrivate: true } });
  await log.createTenant("acme");
  await log.createTenant("other");
  for (const tenant of ["acme", "other"]) {
    await log.append({ tenant, type: "backend", user: "alice", meta: { stack: "Flask" } });
    await log.append({ tenant, type: "frontend", user: "bob", sector: "health" });
    await log.append({ tenant, type: "assets", user: "carol" });
  }
  const tokens = {} as Record<Role, string>;
  for (const role of ROLES) {
    tokens[role] = (
      await log.createToken({ scope: role === "superadmin" ? "*" : "acme", role, label: role })
    ).token;
  }
  const revokedToken = await log.createToken({ scope: "acme", role: "auditor" });
  await log.revokeToken(revokedToken.id);
  const expired = await insertExpiredToken(dataDir);
  // The overload check (503 when the event loop lags) is off: a loaded CI machine would make
  // any request a 503. test/server/overload.test.ts checks the answer it gives.
  const app = await buildServer({ log, logger: false, maxEventLoopDelay: 0, ...options }).catch(
    async (e: unknown) => {
      await log.close();
      throw e;
    },
  );
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  after(async () => {
    await app.close();
    await log.close();
  });
  return { url, dataDir, log, app, tokens, expired, revoked: revokedToken.token };
}

/** An auditor token of acme that expired yesterday, written as a row (no API makes one). */
async function insertExpiredToken(dataDir: string): Promise<string> {
  const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
  await execSql(
    dataDir,
    "INSERT INTO tokens (id, hash, scope, role, label, created, expires, revoked) VALUES (?, ?, 'acme', 'auditor', 'expired', ?, ?, NULL)",
    [
      "tok_expiredexpiredexpiredexpir",
      Buffer.from(hashToken(token)),
      new Date(Date.now() - 2 * 86_400_000).toISOString(),
      new Date(Date.now() - 86_400_000).toISOString(),
    ],
  );
  return token;
}
