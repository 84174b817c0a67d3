import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  EVENT_LIMITS,
  generationEventJsonSchema,
  validateEvent,
} from "../src/core/event-schema.js";
import { GenlogError } from "../src/errors.js";

function rejection(input: unknown): GenlogError {
  try {
    validateEvent(input);
  } catch (e) {
    assert.ok(e instanceof GenlogError, `expected a GenlogError, got ${String(e)}`);
    assert.equal(e.code, "GENLOG_E_INVALID_INPUT");
    return e;
  }
  assert.fail(`expected ${JSON.stringify(input)} to be rejected`);
}

test("a minimal event with only a type is valid", () => {
  assert.deepEqual(validateEvent({ type: "backend" }), { type: "backend" });
});

test("a full event is valid", () => {
  const event = {
    type: "model.train",
    tenant: "acme",
    user: "alice",
    sector: "health",
    status: "failed",
    meta: { stack: "Flask", nested: { list: [1, "two", null, true] } },
    artifacts: [{ name: "app.py", digest: `sha256:${"a".repeat(64)}`, size: 10 }],
    occurredAt: "2026-11-25T10:00:00.123+01:00",
    id: "01937f7e-0000-7000-8000-000000000000",
  };
  assert.deepEqual(validateEvent(event), event);
});

const badFields: [string, unknown, string, string][] = [
  ["a type with capitals", { type: "Backend" }, "/type", "pattern"],
  ["a type with a space", { type: "bad type" }, "/type", "pattern"],
  ["a missing type", { user: "a" }, "/type", "required"],
  ["a numeric type", { type: 3 }, "/type", "type"],
  ["an unknown field", { type: "a", colour: "red" }, "/colour", "additionalProperties"],
  ["an unknown status", { type: "a", status: "done" }, "/status", "oneOf"],
  ["a sector with a slash", { type: "a", sector: "x/y" }, "/sector", "oneOf"],
  ["an empty user", { type: "a", user: "" }, "/user", "oneOf"],
  ["meta as an array", { type: "a", meta: [1] }, "/meta", "type"],
  [
    "a digest without its algorithm",
    { type: "a", artifacts: [{ name: "x", digest: "a".repeat(64), size: 1 }] },
    "/artifacts/0/digest",
    "pattern",
  ],
  [
    "a negative artifact size",
    { type: "a", artifacts: [{ name: "x", digest: `sha256:${"a".repeat(64)}`, size: -1 }] },
    "/artifacts/0/size",
    "minimum",
  ],
  ["a non-RFC 3339 occurredAt", { type: "a", occurredAt: "yesterday" }, "/occurredAt", "format"],
  ["a non-UUID id", { type: "a", id: "123" }, "/id", "format"],
  ["user and actor that differ", { type: "a", user: "x", actor: "y" }, "/actor", "exclusive"],
  ["a NaN in meta", { type: "a", meta: { n: NaN } }, "/meta/n", "json"],
  ["a function in meta", { type: "a", meta: { f: () => 1 } }, "/meta/f", "json"],
  ["a Date in meta", { type: "a", meta: { d: new Date(0) } }, "/meta/d", "json"],
  [
    "a slash in a meta key",
    { type: "a", meta: { "a/b": { c: undefined } } },
    "/meta/a~1b/c",
    "json",
  ],
];

for (const [what, input, pointer, rule] of badFields) {
  test(`${what} is rejected naming ${pointer} and the rule ${rule}`, () => {
    const e = rejection(input);
    assert.equal(e.details.pointer, pointer);
    assert.equal(e.details.rule, rule);
    assert.ok(e.message.length > 10);
  });
}

test("a non-object event is rejected at the root", () => {
  for (const input of [null, "backend", 3, [], undefined]) {
    assert.equal(rejection(input).details.pointer, "");
  }
});

test("meta deeper than the depth limit is rejected", () => {
  let meta: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < EVENT_LIMITS.metaDepth; i++) meta = { d: meta };
  const e = rejection({ type: "a", meta });
  assert.equal(e.details.rule, "depth");
});

test("meta at exactly the depth limit is accepted", () => {
  let meta: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < EVENT_LIMITS.metaDepth - 2; i++) meta = { d: meta };
  validateEvent({ type: "a", meta });
});

test("meta with more keys than the limit is rejected", () => {
  const meta: Record<string, number> = {};
  for (let i = 0; i <= EVENT_LIMITS.metaKeys; i++) meta[`k${i}`] = i;
  assert.equal(rejection({ type: "a", meta }).details.rule, "maxKeys");
});

test("meta larger than 64 KiB is rejected and just under it is accepted", () => {
  assert.equal(
    rejection({ type: "a", meta: { big: "x".repeat(EVENT_LIMITS.metaBytes) } }).details.rule,
    "maxBytes",
  );
  validateEvent({ type: "a", meta: { big: "x".repeat(EVENT_LIMITS.metaBytes - 20) } });
  // Multi-byte characters count as their UTF-8 size.
  assert.equal(
    rejection({ type: "a", meta: { big: "é".repeat(EVENT_LIMITS.metaBytes / 2) } }).details.rule,
    "maxBytes",
  );
});

test("the published schema file equals the schema the code validates with", () => {
  const published = JSON.parse(
    readFileSync(new URL("../schema/generation-event.schema.json", import.meta.url), "utf8"),
  ) as unknown;
  assert.deepEqual(published, generationEventJsonSchema());
});
