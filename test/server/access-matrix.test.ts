/**
 * Every route × every role × own tenant, other tenant, no token, expired token and revoked
 * token, against a real server: each answer is asserted allowed or denied from the table
 * below (written from the role definitions, not from the code's), and every denial
 * must be in the access log of the tenant it aimed at. Cross-tenant reads come first.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Role } from "../../src/core/access.js";
import { startServer } from "../helpers/server.js";

const READERS: Role[] = ["auditor", "dpo", "superadmin"];
const TENANT_READERS: Role[] = ["auditor", "dpo", "admin", "superadmin"];
const ADMINS: Role[] = ["admin", "superadmin"];
const DPOS: Role[] = ["dpo", "superadmin"];

interface Route {
  method: string;
  /** Under /v1/tenants/{tenant}, or absolute when it starts with /v1. */
  path: string;
  /** The path for a tenant, when it names something of that tenant (a token id). */
  pathFor?: (tenant: string) => string;
  body?: () => unknown;
  allowed: Role[];
}

const ROUTES: Route[] = [
  { method: "GET", path: "/events", allowed: READERS },
  { method: "GET", path: "/events/0", allowed: READERS },
  { method: "GET", path: "/events/0?proof=true", allowed: READERS },
  { method: "GET", path: "/export", allowed: READERS },
  { method: "GET", path: "/export?anonymised=true", allowed: READERS },
  { method: "GET", path: "/checkpoint", allowed: READERS },
  { method: "GET", path: "/key", allowed: ["writer", "auditor", "dpo", "admin", "superadmin"] },
  { method: "GET", path: "/proofs/inclusion/1", allowed: READERS },
  { method: "GET", path: "/proofs/consistency?from=1", allowed: READERS },
  { method: "POST", path: "/verify", body: () => ({}), allowed: READERS },
  { method: "GET", path: "/access", allowed: READERS },
  { method: "GET", path: "/reports/access", allowed: READERS },
  { method: "GET", path: "/reports/gdpr", allowed: READERS },
  { method: "GET", path: "/reports/generation", allowed: READERS },
  {
    method: "POST",
    path: "/events",
    body: () => ({ type: "backend" }),
    allowed: ["writer", "superadmin"],
  },
  { method: "POST", path: "/subjects/export", body: () => ({ subject: "alice" }), allowed: DPOS },
  {
    method: "POST",
    path: "/subjects/erase",
    body: () => ({ subject: "carol", reason: "GDPR Art. 17 request #1" }),
    allowed: DPOS,
  },
  { method: "GET", path: "/holds", allowed: TENANT_READERS },
  {
    method: "POST",
    path: "/holds",
    body: () => ({ subject: "bob", reason: "case 7" }),
    allowed: DPOS,
  },
  {
    method: "POST",
    path: "/holds/release",
    body: () => ({ subject: "bob", reason: "case 7 closed" }),
    allowed: DPOS,
  },
  { method: "GET", path: "", allowed: TENANT_READERS },
  { method: "GET", path: "/retention", allowed: TENANT_READERS },
  { method: "GET", path: "/policies", allowed: TENANT_READERS },
  { method: "GET", path: "/purpose-policy", allowed: TENANT_READERS },
  {
    method: "PUT",
    path: "/purpose-policy",
    body: () => ({ required: false, reason: "policy" }),
    allowed: ADMINS,
  },
  {
    method: "PUT",
    path: "/retention",
    body: () => ({ days: 400, reason: "policy" }),
    allowed: ADMINS,
  },
  { method: "POST", path: "/purge", body: () => ({ dryRun: true }), allowed: ADMINS },
  // Allowed calls rotate the key for real; the access logs must still verify at the end.
  { method: "POST", path: "/keys/rotate", body: () => ({ reason: "matrix" }), allowed: ADMINS },
  { method: "GET", path: "/followers", allowed: ADMINS },
  {
    method: "POST",
    path: "/followers",
    body: () => ({
      name: `f${Math.random().toString(36).slice(2, 10)}`,
      kind: "webhook",
      config: { url: "http://127.0.0.1:9/hook" },
      secret: `whsec_${Buffer.alloc(32, 7).toString("base64")}`,
    }),
    // Sends every record out: administering and reading both, so superadmin only.
    allowed: ["superadmin"],
  },
  // An unknown follower: allowed principals get 404, the others 403 before any lookup.
  { method: "POST", path: "/followers/none/retry", allowed: ADMINS },
  { method: "POST", path: "/followers/none/skip", allowed: ADMINS },
  { method: "DELETE", path: "/followers/none", allowed: ADMINS },
  { method: "GET", path: "/tokens", allowed: ADMINS },
  { method: "POST", path: "/tokens", body: () => ({ role: "writer" }), allowed: ADMINS },
  // An admin gives no token a reading role: administering a tenant never leads to reading it.
  { method: "POST", path: "/tokens", body: () => ({ role: "auditor" }), allowed: ["superadmin"] },
  { method: "POST", path: "/tokens", body: () => ({ role: "dpo" }), allowed: ["superadmin"] },
  {
    method: "DELETE",
    path: "/tokens/{writer token}",
    pathFor: (tenant) => `/tokens/${writerTokens.get(tenant)}`,
    allowed: ADMINS,
  },
  {
    method: "DELETE",
    path: "/tokens/{dpo token}",
    pathFor: (tenant) => `/tokens/${dpoTokens.get(tenant)}`,
    allowed: ["superadmin"],
  },
  { method: "GET", path: "/v1/tenants", allowed: TENANT_READERS },
  // Who the token is: any valid one may ask (it reads nothing of a tenant).
  {
    method: "GET",
    path: "/v1/session",
    allowed: ["writer", "auditor", "dpo", "admin", "superadmin"],
  },
  {
    method: "POST",
    path: "/v1/tenants",
    body: () => ({ tenant: `t${Math.random().toString(36).slice(2, 10)}` }),
    allowed: ["superadmin"],
  },
];

/** Token ids of each tenant that the DELETE routes revoke. */
const writerTokens = new Map<string, string>();
const dpoTokens = new Map<string, string>();

test("every route × role × tenant × credential is allowed or denied as the roles say, and every denial is logged", async () => {
  const s = await startServer({ rateLimit: false });
  for (const tenant of ["acme", "other"]) {
    writerTokens.set(tenant, (await s.log.createToken({ scope: tenant, role: "writer" })).id);
    dpoTokens.set(tenant, (await s.log.createToken({ scope: tenant, role: "dpo" })).id);
  }
  const send = async (route: Route, tenant: string, token: string | undefined) => {
    const path = route.pathFor?.(tenant) ?? route.path;
    const url = path.startsWith("/v1") ? `${s.url}${path}` : `${s.url}/v1/tenants/${tenant}${path}`;
    const body = route.body?.();
    const r = await fetch(url, {
      method: route.method,
      headers: {
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, text };
  };
  // Where each denial must be recorded, counted per tenant.
  const deniedIn = new Map<string, number>();
  const expectDenied = (tenant: string) => deniedIn.set(tenant, (deniedIn.get(tenant) ?? 0) + 1);
  let cases = 0;
  for (const route of ROUTES) {
    const tenantPath = !route.path.startsWith("/v1");
    const what = `${route.method} ${route.path || "/"}`;
    // Cross-tenant first: a token of acme on tenant other.
    if (tenantPath) {
      for (const role of Object.keys(s.tokens) as Role[]) {
        const r = await send(route, "other", s.tokens[role]);
        cases++;
        if (role === "superadmin") {
          assert.ok(
            r.status < 400 || (r.status !== 401 && r.status !== 403 && r.status < 500),
            `${what} as superadmin on other: ${r.status} ${r.text}`,
          );
        } else {
          assert.equal(r.status, 403, `${what} as ${role} of acme on tenant other: ${r.text}`);
          assert.match(r.text, /GENLOG_E_FORBIDDEN/);
          expectDenied("other");
        }
      }
    }
    for (const role of Object.keys(s.tokens) as Role[]) {
      const r = await send(route, "acme", s.tokens[role]);
      cases++;
      if (route.allowed.includes(role)) {
        assert.ok(
          r.status !== 401 && r.status !== 403 && r.status < 500,
          `${what} as ${role} must be allowed: ${r.status} ${r.text}`,
        );
      } else {
        assert.equal(r.status, 403, `${what} as ${role} must be denied: ${r.status} ${r.text}`);
        expectDenied("acme");
      }
    }
    for (const [name, token] of [
      ["no token", undefined],
      ["expired token", s.expired],
      ["revoked token", s.revoked],
      ["malformed token", "glt_not-a-token"],
    ] as const) {
      const r = await send(route, "acme", token);
      cases++;
      assert.equal(r.status, 401, `${what} with ${name}: ${r.status} ${r.text}`);
      assert.match(r.text, /GENLOG_E_UNAUTHENTICATED/);
      if (token !== undefined)
        assert.ok(!r.text.includes(token), "a refused token is never echoed");
      expectDenied(tenantPath ? "acme" : "default");
    }
  }
  assert.ok(cases > 300, `${cases} cases`);
  // Every denial is in the access log of the tenant it aimed at, and no token is in any of them.
  for (const [tenant, expected] of deniedIn) {
    let denied = 0;
    for (let cursor: string | null | undefined; cursor !== null;) {
      const page = await s.log.accessLog({
        tenant,
        status: "failed",
        limit: 1000,
        ...(cursor ? { cursor } : {}),
      });
      denied += page.records.filter((r) => r.meta["decision"] === "deny").length;
      for (const r of page.records) {
        const text = JSON.stringify(r);
        for (const token of [...Object.values(s.tokens), s.expired, s.revoked])
          assert.ok(!text.includes(token), "no token in the access log");
      }
      cursor = page.nextCursor;
    }
    assert.equal(denied, expected, `denials recorded in ${tenant}'s access log`);
  }
  for (const tenant of ["acme", "other", "default"]) {
    const report = await s.log.verify({ tenant, stream: "access" });
    assert.equal(report.ok, true, `${tenant}'s access log verifies`);
  }
});

test("the table covers every route of the API", async () => {
  const s = await startServer({ rateLimit: false });
  const doc = (await (await fetch(`${s.url}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  // `/v1/tenants/{tenant}/events/{id}` is covered by a row such as `/events/0`.
  const covered = (method: string, template: string) =>
    ROUTES.some((r) => {
      if (r.method !== method) return false;
      const path = r.path.startsWith("/v1") ? r.path : `/v1/tenants/{tenant}${r.path}`;
      const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`);
      return pattern.test(path.split("?")[0]!.replace("{tenant}", "acme"));
    });
  const missing: string[] = [];
  for (const [template, methods] of Object.entries(doc.paths)) {
    if (!template.startsWith("/v1/")) continue;
    for (const method of Object.keys(methods)) {
      if (!covered(method.toUpperCase(), template))
        missing.push(`${method.toUpperCase()} ${template}`);
    }
  }
  assert.deepEqual(missing, [], "routes without a row in the access matrix");
});
