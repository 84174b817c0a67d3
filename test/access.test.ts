/**
 * The pure parts of access control and reporting: authorize on every role and scope, the
 * context check, the access report's anomalies and the generation report's counts, on
 * records made by hand.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  PERMISSIONS,
  ROLES,
  authorize,
  checkContext,
  type AccessContext,
  type Permission,
} from "../src/core/access.js";
import { ACCESS_TYPE, accessReport } from "../src/log/access-log.js";
import { generationReport } from "../src/log/generation-report.js";
import type { GenerationRecord } from "../src/core/record.js";
import { isGenlogError } from "../src/errors.js";

const ctx = (role: AccessContext["role"], scope: string): AccessContext => ({
  principal: `tok_${role}`,
  role,
  scope,
  via: "library",
});

test("authorize: a role holds exactly its permissions, in its scope only; superadmin everywhere", () => {
  for (const role of ROLES) {
    for (const permission of Object.keys(PERMISSIONS) as Permission[]) {
      const holds = (PERMISSIONS[permission] as readonly string[]).includes(role);
      const scope = role === "superadmin" ? "*" : "acme";
      assert.equal(
        authorize(ctx(role, scope), permission, "acme").allowed,
        holds,
        `${role} ${permission}`,
      );
      assert.equal(
        authorize(ctx(role, scope), permission, "other").allowed,
        holds && role === "superadmin",
      );
      if (role !== "superadmin")
        assert.equal(authorize(ctx(role, "*"), permission, "other").allowed, holds);
    }
  }
  // Deny by default: an unknown permission or role.
  assert.equal(authorize(ctx("superadmin", "*"), "nope" as Permission, "acme").allowed, false);
  assert.equal(
    authorize(ctx("root" as AccessContext["role"], "*"), "events.read", "acme").allowed,
    false,
  );
  // The roles of the issue: writer appends only, admin reads no record and no personal data.
  assert.deepEqual(
    (Object.keys(PERMISSIONS) as Permission[]).filter(
      (p) => authorize(ctx("writer", "acme"), p, "acme").allowed,
    ),
    ["keys.read", "events.append"],
  );
  for (const p of ["events.read", "pii.read", "subjects.manage"] as Permission[])
    assert.equal(authorize(ctx("admin", "acme"), p, "acme").allowed, false, p);
});

test("checkContext refuses a bad role, principal, scope or purpose, naming it", () => {
  const bad = (c: Partial<AccessContext>, pointer: string) =>
    assert.throws(
      () => checkContext({ ...ctx("auditor", "acme"), ...c } as AccessContext),
      (e: unknown) => isGenlogError(e, "GENLOG_E_INVALID_INPUT") && e.details.pointer === pointer,
    );
  bad({ role: "root" as AccessContext["role"] }, "/role");
  bad({ principal: "has space" }, "/principal");
  bad({ scope: "" }, "/scope");
  bad({ role: "superadmin", scope: "acme" }, "/scope");
  bad({ purpose: "x".repeat(201) }, "/purpose");
});

let seq = 0;
function record(fields: Partial<GenerationRecord>): GenerationRecord {
  return {
    v: 2,
    id: `00000000-0000-7000-8000-${String(seq).padStart(12, "0")}`,
    seq: seq++,
    tenant: "acme",
    type: "backend",
    ts: "2026-12-01T10:00:00.000Z",
    occurredAt: null,
    actor: null,
    sector: null,
    status: "succeeded",
    meta: {},
    artifacts: [],
    redactions: [],
    pii: null,
    ...fields,
  } as GenerationRecord;
}

const access = (principal: string, ts: string, meta: Record<string, unknown>) =>
  record({
    type: ACCESS_TYPE,
    ts,
    meta: { principal, role: "auditor", decision: "allow", ...meta },
  });

test("the access report counts by principal and flags denials, erasures, off-hours and a day far above the usual", async () => {
  const records = [
    access("tok_a", "2026-12-01T09:00:00.000Z", {
      operation: "query",
      records: 10,
      purpose: "audit",
    }),
    access("tok_a", "2026-12-02T09:00:00.000Z", { operation: "query", records: 10 }),
    access("tok_a", "2026-12-03T09:00:00.000Z", { operation: "query", records: 12 }),
    access("tok_a", "2026-12-04T09:00:00.000Z", { operation: "exportCanonical", records: 5000 }),
    access("tok_b", "2026-12-04T23:30:00.000Z", {
      operation: "query",
      decision: "deny",
      reason: "scope",
    }),
    access("tok_c", "2026-12-04T11:00:00.000Z", { operation: "eraseSubject", records: 1 }),
    record({ type: "backend" }), // not an access: ignored
  ];
  const r = await accessReport("acme", "o", {}, records);
  assert.equal(r.accesses, 6);
  assert.equal(r.denied, 1);
  const a = r.principals.find((p) => p.principal === "tok_a")!;
  assert.equal(a.allowed, 4);
  assert.equal(a.records, 5032);
  assert.deepEqual(a.purposes, { audit: 1, "(none)": 3 });
  const kinds = r.anomalies.map((x) => `${x.kind}:${x.principal}`).sort();
  assert.deepEqual(kinds, ["denied:tok_b", "erasure:tok_c", "off-hours:tok_b", "volume:tok_a"]);
  assert.deepEqual(r.byDay, [
    { day: "2026-12-01", allowed: 1, denied: 0, records: 10 },
    { day: "2026-12-02", allowed: 1, denied: 0, records: 10 },
    { day: "2026-12-03", allowed: 1, denied: 0, records: 12 },
    { day: "2026-12-04", allowed: 2, denied: 1, records: 5001 },
  ]);
  // The window: from the 4th, tok_a has one day only, too few for a usual.
  const since = await accessReport("acme", "o", { since: "2026-12-04T00:00:00.000Z" }, records);
  assert.equal(since.accesses, 3);
  assert.ok(!since.anomalies.some((x) => x.kind === "volume"));
});

test("the generation report counts by type, sector, status and day, with failure rates and top pseudonyms", async () => {
  const records = [
    record({ type: "backend", actor: "sub_a", sector: "health", ts: "2026-12-01T10:00:00.000Z" }),
    record({ type: "backend", actor: "sub_a", status: "failed", ts: "2026-12-01T11:00:00.000Z" }),
    record({
      type: "frontend",
      actor: "sub_b",
      ts: "2026-12-02T10:00:00.000Z",
      redactions: [{ action: "mask", path: "/meta/k", rule: "key:password" }],
    }),
    record({ type: "model", status: "started", ts: "2026-12-02T12:00:00.000Z" }),
    record({ type: "genlog.erasure", ts: "2026-12-02T12:00:00.000Z" }),
  ];
  const r = await generationReport("acme", "o", {}, records);
  assert.deepEqual([r.all.total, r.all.succeeded, r.all.failed, r.all.started], [4, 2, 1, 1]);
  assert.equal(r.all.failureRate, 1 / 3);
  assert.deepEqual(
    r.byType.map((x) => [x.type, x.total]),
    [
      ["backend", 2],
      ["frontend", 1],
      ["model", 1],
    ],
  );
  assert.equal(r.byType[0]!.failureRate, 0.5);
  assert.deepEqual(
    r.byDay.map((x) => [x.day, x.total]),
    [
      ["2026-12-01", 2],
      ["2026-12-02", 2],
    ],
  );
  assert.deepEqual(r.topActors, [
    { actor: "sub_a", total: 2, failed: 1 },
    { actor: "sub_b", total: 1, failed: 0 },
  ]);
  assert.deepEqual(r.redacted, { records: 1, redactions: 1 });
  assert.equal(r.bySector.find((x) => x.sector === null)!.total, 3);
  const until = await generationReport("acme", "o", { until: "2026-12-02T00:00:00.000Z" }, records);
  assert.equal(until.all.total, 2);
});

test("an access record keeps genlog's facts as they are and redacts what the caller wrote; the access log verifies", async () => {
  const { openLog } = await import("../src/index.js");
  const { tempDir } = await import("./helpers/temp-dir.js");
  const log = await openLog({ dataDir: tempDir() });
  try {
    const view = log.as({
      principal: "oidc:alice@example.com",
      role: "auditor",
      scope: "default",
      via: "http",
      address: "203.0.113.7",
      route: "GET /v1/tenants/:tenant/events",
      purpose: "ticket from bob@example.org, key sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    });
    await view.query({ type: "backend" });
    const [r] = (await log.accessLog()).records;
    assert.equal(r!.meta["principal"], "oidc:alice@example.com");
    assert.equal(r!.meta["address"], "203.0.113.7");
    assert.equal(r!.meta["route"], "GET /v1/tenants/:tenant/events");
    assert.deepEqual(r!.meta["target"], { type: "backend" });
    const purpose = String(r!.meta["purpose"]);
    assert.ok(!purpose.includes("bob@example.org") && !purpose.includes("sk_live_"), purpose);
    assert.deepEqual([...new Set(r!.redactions.map((x) => x.path))], ["/meta/purpose"]);
    const report = await log.verify({ stream: "access" });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
  } finally {
    await log.close();
  }
});
