/**
 * Bad input on every kind of route input, generated (fast-check) and by hand: malformed JSON,
 * wrong types, huge and deeply nested bodies, unicode tricks, injection strings in filters,
 * path traversal in tenant names, header smuggling. Each gets a 4xx with a GENLOG_E_ code,
 * and nothing is stored.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import fc from "fast-check";
import { startServer, type TestServer } from "../helpers/server.js";

async function send(
  s: TestServer,
  method: string,
  path: string,
  init: { token?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: { code?: unknown } }> {
  const r = await fetch(`${s.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${init.token ?? s.tokens.superadmin}`,
      ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const text = await r.text();
  let body: { code?: unknown } = {};
  try {
    body = JSON.parse(text) as { code?: unknown };
  } catch {
    // NDJSON or text answers are 2xx ones.
  }
  return { status: r.status, body };
}

function assertRefused(r: { status: number; body: { code?: unknown } }, what: string) {
  assert.ok(r.status >= 400 && r.status < 500, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  assert.match(String(r.body.code), /^GENLOG_E_[A-Z_]+$/, `${what}: a typed code`);
}

async function sizes(s: TestServer): Promise<number[]> {
  return [await s.log.size("acme"), await s.log.size("other"), await s.log.size("default")];
}

test("generated event bodies: each is stored whole or refused with a code, nothing half-done", async () => {
  const s = await startServer({ rateLimit: false });
  const body = fc.oneof(
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc
      .record({
        type: fc.oneof(fc.string(), fc.constantFrom("backend", "a.b-c", "../x", "x".repeat(65))),
        meta: fc.option(fc.object(), { nil: undefined }),
        user: fc.option(fc.oneof(fc.string(), fc.integer()), { nil: undefined }),
        sector: fc.option(fc.oneof(fc.string(), fc.constant("health")), { nil: undefined }),
        tenant: fc.option(fc.constantFrom("acme", "other", "ACME", "acme\u0000"), {
          nil: undefined,
        }),
      })
      .map((v) => JSON.stringify(v)),
    fc.string(), // malformed JSON, mostly
    fc.string({ unit: "binary" }),
  );
  await fc.assert(
    fc.asyncProperty(body, async (text) => {
      const before = await sizes(s);
      const r = await send(s, "POST", "/v1/tenants/acme/events", { body: text });
      const after = await sizes(s);
      if (r.status === 201 || r.status === 200) {
        assert.deepEqual(after, [before[0]! + (r.status === 201 ? 1 : 0), before[1], before[2]]);
      } else {
        assertRefused(r, `POST ${text.slice(0, 80)}`);
        assert.deepEqual(after, before, "nothing stored");
      }
    }),
    { numRuns: 150 },
  );
});

test("generated filters and tenant names: 4xx with a code or an answer for the path's tenant only, never a 5xx", async () => {
  const s = await startServer({ rateLimit: false });
  const nasty = fc.oneof(
    fc.string(),
    fc.string({ unit: "grapheme" }),
    fc.constantFrom(
      "' OR 1=1 --",
      '"; DROP TABLE bodies; --',
      "../../etc/passwd",
      "%2e%2e%2f",
      "acme/../other",
      "\u202eevil",
      "sub_" + "a".repeat(26),
      "2026-02-30",
      "9".repeat(40),
      "-1",
      "NaN",
      "<script>",
    ),
  );
  const param = fc.constantFrom(
    "type",
    "actor",
    "sector",
    "status",
    "since",
    "until",
    "limit",
    "cursor",
    "bogus",
  );
  await fc.assert(
    fc.asyncProperty(param, nasty, async (name, value) => {
      const r = await send(
        s,
        "GET",
        `/v1/tenants/acme/events?${name}=${encodeURIComponent(value)}`,
        {
          token: s.tokens.auditor,
        },
      );
      if (r.status === 200) {
        for (const rec of (r.body as { records: { tenant: string }[] }).records)
          assert.equal(rec.tenant, "acme");
      } else assertRefused(r, `${name}=${value}`);
    }),
    { numRuns: 150 },
  );
  await fc.assert(
    fc.asyncProperty(nasty, async (tenant) => {
      const before = await sizes(s);
      const path = `/v1/tenants/${encodeURIComponent(tenant)}/events`;
      const read = await send(s, "GET", path, { token: s.tokens.auditor });
      const write = await send(s, "POST", path, {
        token: s.tokens.writer,
        body: '{"type":"backend"}',
      });
      for (const r of [read, write]) {
        if (tenant === "acme") continue;
        assertRefused(r, `tenant ${JSON.stringify(tenant)}`);
      }
      if (tenant !== "acme") assert.deepEqual(await sizes(s), before);
    }),
    { numRuns: 100 },
  );
});

test("by hand: deep and huge bodies, a batch past the limit, header smuggling", async () => {
  const s = await startServer({ rateLimit: false, maxBatch: 10 });
  const before = await sizes(s);
  const deep = `{"type":"backend","meta":${"[".repeat(5000)}${"]".repeat(5000)}}`;
  assertRefused(await send(s, "POST", "/v1/tenants/acme/events", { body: deep }), "deep");
  const huge = JSON.stringify({ type: "backend", meta: { x: "y".repeat(2 * 1024 * 1024) } });
  const r = await send(s, "POST", "/v1/tenants/acme/events", { body: huge });
  assertRefused(r, "huge");
  assert.equal(r.status, 413);
  const batch = JSON.stringify(Array.from({ length: 11 }, () => ({ type: "backend" })));
  assertRefused(await send(s, "POST", "/v1/tenants/acme/events", { body: batch }), "batch of 11");
  assertRefused(await send(s, "POST", "/v1/tenants/acme/events", { body: "[]" }), "empty batch");
  const id = "01a242f2-34b6-7f61-bd89-d63aaa1e8d6a";
  const twice = await send(s, "POST", "/v1/tenants/acme/events", {
    body: JSON.stringify([{ type: "a" }, { type: "b", id }, { type: "c", id }]),
  });
  assertRefused(twice, "one id twice in a batch");
  assert.equal((twice.body as { details?: { pointer?: string } }).details?.pointer, "/2/id");
  assertRefused(
    await send(s, "POST", "/v1/tenants/acme/events", {
      body: '{"type":"backend"}',
      headers: { "content-type": "text/plain" },
    }),
    "text/plain",
  );
  assertRefused(
    await send(s, "GET", "/v1/tenants/acme/events", {
      headers: { "x-genlog-purpose": "x".repeat(201) },
    }),
    "long purpose",
  );
  // Content-Length and Transfer-Encoding together, two Content-Lengths: Node refuses both.
  const { port } = new URL(s.url);
  for (const head of [
    "Content-Length: 18\r\nTransfer-Encoding: chunked\r\n",
    "Content-Length: 18\r\nContent-Length: 5\r\n",
  ]) {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1");
      let out = "";
      socket.on("data", (d) => (out += d.toString()));
      socket.on("end", () => resolve(out));
      socket.on("error", reject);
      socket.end(
        `POST /v1/tenants/acme/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.tokens.superadmin}\r\nContent-Type: application/json\r\n${head}\r\n{"type":"backend"}`,
      );
    });
    assert.match(answer, /^HTTP\/1\.1 400/, head);
  }
  assert.deepEqual(await sizes(s), before, "nothing stored");
});
