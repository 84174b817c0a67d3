/**
 * What the server does for the web console, over plain HTTP: the page and its files with a
 * strict policy and cache headers, nothing else of the disk reachable, `GET /v1/session`, and
 * verify's progress streamed as NDJSON.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { startServer } from "../helpers/server.js";
import { CONSOLE_CSP } from "../../src/server/console.js";

const s = await startServer({ rateLimit: false });
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

/** `POST verify` on a tenant, asking for `accept` when given. */
function verifyAs(token: string, tenant: string, accept?: string): Promise<Response> {
  return fetch(`${s.url}/v1/tenants/${tenant}/verify`, {
    method: "POST",
    headers: {
      ...auth(token),
      ...(accept !== undefined ? { accept } : {}),
      "content-type": "application/json",
    },
    body: "{}",
  });
}

/** A GET of exactly this path, unnormalised. */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(s.url);
  return new Promise((resolve, reject) => {
    request({ hostname, port, path, method: "GET" }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += String(c)));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    })
      .on("error", reject)
      .end();
  });
}

test("the console's page is revalidated, its files immutable under a digest, all under a strict policy", async () => {
  const page = await fetch(`${s.url}/console/`);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("content-security-policy"), CONSOLE_CSP);
  assert.match(CONSOLE_CSP, /script-src 'self'(;|$)/);
  assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval/);
  assert.equal(page.headers.get("cache-control"), "no-cache");
  const html = await page.text();
  assert.doesNotMatch(html, /<script>|<script(?![^>]*\ssrc=)[^>]*>/, "no inline script");
  assert.doesNotMatch(html, /\sstyle=/, "no inline style");
  const etag = page.headers.get("etag")!;
  assert.equal(
    (await fetch(`${s.url}/console/`, { headers: { "if-none-match": etag } })).status,
    304,
  );

  const app = /src="(\/console\/assets\/[0-9a-f]{16})\/app\.js"/.exec(html);
  assert.ok(app !== null, "the page loads its script from the digest's folder");
  const base = app[1]!;
  const script = await fetch(`${s.url}${base}/app.js`);
  assert.equal(script.status, 200);
  assert.match(script.headers.get("content-type")!, /^text\/javascript/);
  assert.equal(script.headers.get("cache-control"), "public, max-age=31536000, immutable");
  assert.equal(
    await script.text(),
    readFileSync(new URL("../../console/app.js", import.meta.url), "utf8"),
  );
  const lib = await fetch(`${s.url}${base}/vendor/preact-htm.js`);
  assert.equal(lib.status, 200);
  assert.match(await lib.text(), /export\{/);

  // Only the console's own files: no path escapes, no other digest, no declaration file. Sent
  // as raw paths (fetch would resolve the dots itself).
  for (const path of [
    `${base}/../../../package.json`,
    `${base}/%2e%2e/%2e%2e/%2e%2e/package.json`,
    `${base}/..%2f..%2f..%2fpackage.json`,
    `${base}/vendor/../../../../package.json`,
    `${base}/verify.d.ts`,
    `/console/assets/0000000000000000/app.js`,
    `${base}/nothing.js`,
  ]) {
    const r = await rawGet(path);
    assert.equal(r.status, 404, path);
    assert.doesNotMatch(r.body, /"name": "genlog"/, path);
  }
  assert.equal((await fetch(`${s.url}/console`, { redirect: "manual" })).status, 301);
});

test("GET /v1/session says who the token is and what its role may do, and nothing without one", async () => {
  const r = await fetch(`${s.url}/v1/session`, { headers: auth(s.tokens.auditor) });
  assert.equal(r.status, 200);
  const who = (await r.json()) as {
    principal: string;
    role: string;
    scope: string;
    permissions: string[];
  };
  assert.equal(who.role, "auditor");
  assert.equal(who.scope, "acme");
  assert.match(who.principal, /^tok_/);
  assert.ok(who.permissions.includes("events.read"));
  assert.ok(!who.permissions.includes("pii.read"));
  const writer = (await (
    await fetch(`${s.url}/v1/session`, { headers: auth(s.tokens.writer) })
  ).json()) as {
    permissions: string[];
  };
  assert.deepEqual(writer.permissions.sort(), ["events.append", "keys.read"]);
  assert.equal((await fetch(`${s.url}/v1/session`)).status, 401);
  assert.equal((await fetch(`${s.url}/v1/session`, { headers: auth(s.revoked) })).status, 401);
});

test("verify streams its progress as NDJSON, then the report; a refused request is a plain 403", async () => {
  // Past 4096 entries, so that progress lines come before the report.
  const batch = Array.from({ length: 1000 }, (_, i) => ({ type: "backend", meta: { i } }));
  for (let i = 0; i < 5; i++) await s.log.appendBatch(batch.map((e) => ({ ...e, tenant: "acme" })));
  const size = await s.log.size("acme");
  const r = await verifyAs(s.tokens.auditor, "acme", "application/x-ndjson");
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type")!, /^application\/x-ndjson/);
  const lines = (await r.text())
    .trim()
    .split("\n")
    .map(
      (l) =>
        JSON.parse(l) as {
          progress?: { done: number; total: number };
          report?: { ok: boolean; entries: number };
        },
    );
  const progress = lines.filter((l) => l.progress !== undefined).map((l) => l.progress!);
  assert.ok(progress.length >= 1, "at least one progress line");
  // Each line once: as many lines as the progress calls, one report, and it is the last.
  assert.equal(new Set(lines.map((l) => JSON.stringify(l))).size, lines.length, "no line twice");
  assert.ok(progress.every((p) => p.done <= p.total && p.total >= size));
  assert.equal(lines.filter((l) => l.report !== undefined).length, 1);
  const last = lines.at(-1)!;
  assert.equal(last.report?.ok, true);
  assert.equal(last.report?.entries, size);

  const denied = await verifyAs(s.tokens.auditor, "other", "application/x-ndjson");
  assert.equal(denied.status, 403);
  assert.equal(((await denied.json()) as { code: string }).code, "GENLOG_E_FORBIDDEN");

  // Without the header, one JSON answer as before.
  const plain = await verifyAs(s.tokens.auditor, "acme");
  assert.equal(((await plain.json()) as { ok: boolean }).ok, true);
});

test("a subject that is not there is said so, not taken for a missing tenant", async () => {
  const r = await fetch(`${s.url}/v1/tenants/acme/subjects/export`, {
    method: "POST",
    headers: { ...auth(s.tokens.dpo), "content-type": "application/json" },
    body: JSON.stringify({ subject: "nobody@nowhere.example" }),
  });
  assert.equal(r.status, 404);
  const body = (await r.json()) as { code: string; message: string };
  assert.equal(body.code, "GENLOG_E_NOT_FOUND");
  assert.match(body.message, /has no subject with this id: never met, or erased/);
  assert.doesNotMatch(body.message, /does not exist on this server/);
});
