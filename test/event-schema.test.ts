import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
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
  ["30 February", { type: "a", occurredAt: "2024-02-30T00:00:00Z" }, "/occurredAt", "format"],
  ["hour 24", { type: "a", occurredAt: "2024-02-01T24:00:00Z" }, "/occurredAt", "format"],
  [
    "a leap second that is not at 23:59:60 UTC",
    { type: "a", occurredAt: "2016-12-31T23:59:60+01:00" },
    "/occurredAt",
    "format",
  ],
  [
    "an artifact size past 2^53 - 1",
    { type: "a", artifacts: [{ name: "x", digest: `sha256:${"a".repeat(64)}`, size: 1e300 }] },
    "/artifacts/0/size",
    "maximum",
  ],
  [
    "an artifact size of 2^53",
    { type: "a", artifacts: [{ name: "x", digest: `sha256:${"a".repeat(64)}`, size: 2 ** 53 }] },
    "/artifacts/0/size",
    "maximum",
  ],
  [
    "a fractional artifact size",
    { type: "a", artifacts: [{ name: "x", digest: `sha256:${"a".repeat(64)}`, size: 1.5 }] },
    "/artifacts/0/size",
    "type",
  ],
  [
    "an unknown artifact field",
    { type: "a", artifacts: [{ name: "x", digest: `sha256:${"a".repeat(64)}`, size: 1, x: 1 }] },
    "/artifacts/0/x",
    "additionalProperties",
  ],
  [
    "an unknown field of the second artifact, with a slash in its name",
    {
      type: "a",
      artifacts: [
        { name: "x", digest: `sha256:${"a".repeat(64)}`, size: 1 },
        { name: "y", digest: `sha256:${"b".repeat(64)}`, size: 2, "a/b~": 1 },
      ],
    },
    "/artifacts/1/a~1b~0",
    "additionalProperties",
  ],
  ["an event that is a Date", new Date(0), "", "type"],
  [
    "an event that is a class instance",
    new (class Event {
      type = "a";
    })(),
    "",
    "type",
  ],
  [
    "an artifact that is a class instance",
    {
      type: "a",
      artifacts: [
        new (class Artifact {
          name = "x";
          digest = `sha256:${"a".repeat(64)}`;
          size = 1;
        })(),
      ],
    },
    "/artifacts/0",
    "type",
  ],
  ["a Map as meta", { type: "a", meta: new Map() }, "/meta", "json"],
  ["a symbol in meta", { type: "a", meta: { s: Symbol("s") } }, "/meta/s", "json"],
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

test("an unknown field's message names it, and the fields it could have been", () => {
  const e = rejection({
    type: "a",
    artifacts: [{ name: "x", digest: `sha256:${"a".repeat(64)}`, size: 1, colour: "red" }],
  });
  assert.match(e.message, /unknown field "colour"; expected one of name, digest, size/);
});

test("the largest safe integer is a valid artifact size, and -0 is read as 0", () => {
  const digest = `sha256:${"a".repeat(64)}`;
  const max = validateEvent({ type: "a", artifacts: [{ name: "x", digest, size: 2 ** 53 - 1 }] });
  assert.equal(max.artifacts?.[0]?.size, Number.MAX_SAFE_INTEGER);
  const zero = validateEvent({ type: "a", artifacts: [{ name: "x", digest, size: -0 }] });
  assert.ok(Object.is(zero.artifacts?.[0]?.size, 0));
});

test("a leap second at 23:59:60 UTC on a month's last day is accepted, as RFC 3339 allows", () => {
  for (const occurredAt of ["2016-12-31T23:59:60Z", "2016-12-31T15:59:60.5-08:00"]) {
    assert.equal(validateEvent({ type: "a", occurredAt }).occurredAt, occurredAt);
  }
});

/** The value at a JSON Pointer (RFC 6901), or `absent` when nothing is there. */
function resolvePointer(root: unknown, pointer: string): unknown {
  if (pointer === "") return root;
  let at: unknown = root;
  for (const raw of pointer.slice(1).split("/")) {
    const token = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (typeof at !== "object" || at === null || !Object.hasOwn(at, token)) return absent;
    at = (at as Record<string, unknown>)[token];
  }
  return at;
}
const absent = Symbol("absent");

test("every error pointer names a real place in the input (fast-check)", () => {
  // Mostly valid events with a few bad fields, so that errors deep inside are reached too.
  const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) =>
    fc.oneof({ arbitrary: good, weight: 5 }, { arbitrary: bad, weight: 1 });
  const junk = fc.oneof(
    fc.string({ maxLength: 6 }),
    fc.constantFrom(null, true, -1, 1.5, 1e300, Number.NaN, undefined, "Bad Type"),
    fc.constantFrom("2024-02-30T00:00:00Z", "2026-01-01T24:00:00Z", [], {}),
  );
  const slug = fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/);
  const extraKey = fc.constantFrom("x", "a/b", "~", "__proto__", "constructor");
  const withExtra = (base: fc.Arbitrary<Record<string, unknown>>) =>
    mostly(
      base,
      fc.tuple(base, extraKey, junk).map(([o, k, v]) => {
        const copy = { ...o };
        Object.defineProperty(copy, k, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
        return copy;
      }),
    );
  const artifact = withExtra(
    fc.record(
      {
        name: mostly(fc.string({ minLength: 1, maxLength: 8 }), junk),
        digest: mostly(fc.constant(`sha256:${"a".repeat(64)}`), junk),
        size: mostly(fc.nat(), junk),
      },
      { requiredKeys: [] },
    ),
  );
  const event = withExtra(
    fc.record(
      {
        type: mostly(slug, junk),
        tenant: mostly(slug, junk),
        user: mostly(fc.oneof(fc.constant(null), fc.string({ minLength: 1, maxLength: 8 })), junk),
        sector: mostly(fc.oneof(fc.constant(null), slug), junk),
        status: mostly(fc.constantFrom("started", "succeeded", "failed"), junk),
        meta: mostly(
          fc.dictionary(
            fc.oneof(fc.string({ maxLength: 4 }), extraKey),
            fc.jsonValue({ maxDepth: 3 }),
            {
              maxKeys: 4,
            },
          ),
          fc.oneof(junk, fc.constant({ a: { b: Number.NaN } }), fc.constant({ f: () => 1 })),
        ),
        artifacts: mostly(fc.array(mostly(artifact, junk), { maxLength: 3 }), junk),
        occurredAt: mostly(fc.constant("2026-11-25T10:00:00Z"), junk),
        id: mostly(fc.uuid(), junk),
      },
      { requiredKeys: ["type"] },
    ),
  );
  fc.assert(
    fc.property(event, (input) => {
      let error: GenlogError;
      try {
        validateEvent(input);
        return;
      } catch (e) {
        assert.ok(e instanceof GenlogError && e.code === "GENLOG_E_INVALID_INPUT", String(e));
        error = e;
      }
      const pointer = error.details.pointer;
      assert.equal(typeof pointer, "string");
      if (error.details.rule === "required") {
        // A missing field: its parent is there, the field is not.
        const parent = pointer!.slice(0, pointer!.lastIndexOf("/"));
        assert.notEqual(resolvePointer(input, parent), absent, `${pointer} of ${error.message}`);
        assert.equal(resolvePointer(input, pointer!), absent, error.message);
      } else {
        assert.notEqual(resolvePointer(input, pointer!), absent, `${pointer}: ${error.message}`);
      }
    }),
    { numRuns: 3000 },
  );
});

test("the event is read once: a getter that grows on each read cannot pass the size limit", () => {
  let reads = 0;
  const event = {
    type: "backend",
    get meta() {
      reads++;
      return { big: "x".repeat(reads === 1 ? 10 : 5_000_000) };
    },
  };
  const valid = validateEvent(event);
  assert.equal(reads, 1);
  assert.deepEqual(valid.meta, { big: "x".repeat(10) });
  // What was validated is a copy: reading the caller's object again changes nothing in it.
  assert.equal(event.meta.big.length, 5_000_000);
  assert.deepEqual(valid.meta, { big: "x".repeat(10) });
});

test("a Proxy that answers differently on each read is read once per property", () => {
  const reads = new Map<PropertyKey, number>();
  const grow = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(t, key, receiver) {
        const n = (reads.get(key) ?? 0) + 1;
        reads.set(key, n);
        if (key === "note") return "y".repeat(n === 1 ? 1 : 100_000);
        if (key === "type") return n === 1 ? "backend" : "Not A Slug";
        return Reflect.get(t, key, receiver) as unknown;
      },
    });
  const meta = grow({ note: "", nested: [1, 2] });
  const valid = validateEvent(grow({ type: "", meta }));
  assert.equal(valid.type, "backend");
  assert.deepEqual(valid.meta, { note: "y", nested: [1, 2] });
  assert.equal(reads.get("note"), 1);
  assert.equal(reads.get("type"), 1);
  assert.equal(reads.get("meta"), 1);
});

test("an array that claims a huge length stops at the limit instead of being read", () => {
  const huge = new Proxy([], { get: (t, k) => (k === "length" ? 2 ** 32 - 1 : undefined) });
  assert.equal(rejection({ type: "a", meta: { list: huge } }).details.rule, "maxKeys");
  const e = rejection({ type: "a", artifacts: huge });
  assert.equal(e.details.pointer, "/artifacts");
  assert.equal(e.details.rule, "maxLength");
});

test("a cycle in meta is refused at the depth limit", () => {
  const meta: Record<string, unknown> = {};
  meta.self = meta;
  assert.equal(rejection({ type: "a", meta }).details.rule, "depth");
});

test("a getter or Proxy trap that throws is an input error naming where it was read", () => {
  const meta = {
    ok: 1,
    get bad(): never {
      throw new Error("no");
    },
  };
  const e = rejection({ type: "a", meta: { nested: meta } });
  assert.equal(e.details.pointer, "/meta/nested/bad");
  assert.equal(e.details.rule, "read");
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  assert.equal(rejection(proxy).details.pointer, "");
  assert.equal(rejection({ type: "a", artifacts: [proxy] }).details.pointer, "/artifacts/0");
  const artifact = {
    get "a/b"(): never {
      throw new Error("no");
    },
  };
  assert.equal(
    rejection({ type: "a", artifacts: [{}, artifact] }).details.pointer,
    "/artifacts/1/a~1b",
  );
  assert.equal(
    rejection({
      type: "a",
      get user(): never {
        throw new Error("no");
      },
    }).details.pointer,
    "/user",
  );
});

test("__proto__, constructor and prototype in meta are kept as data, as JSON.parse makes them", () => {
  const text =
    '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"prototype":3}';
  for (const meta of [
    JSON.parse(text) as Record<string, unknown>,
    // The same from an object literal: a computed key makes an own member too.
    { ["__proto__"]: { polluted: 1 }, constructor: { prototype: { polluted: 2 } }, prototype: 3 },
  ]) {
    const valid = validateEvent({ type: "a", meta });
    assert.deepEqual(Object.keys(valid.meta!), ["__proto__", "constructor", "prototype"]);
    assert.equal(Object.getPrototypeOf(valid.meta), Object.prototype);
    assert.deepEqual(valid.meta!.__proto__, { polluted: 1 });
    assert.equal(JSON.stringify(valid.meta), text);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  }
  // A literal `__proto__:` sets the prototype instead: that object is not plain data.
  const e = rejection({ type: "a", meta: { __proto__: { polluted: 1 } } });
  assert.equal(e.details.pointer, "/meta");
  assert.match(e.message, /prototype of its own/);
});

test("__proto__ as an event or artifact field is refused as unknown", () => {
  const e = rejection(JSON.parse('{"type":"a","__proto__":{"type":"b"}}'));
  assert.equal(e.details.pointer, "/__proto__");
  assert.equal(e.details.rule, "additionalProperties");
  const digest = `sha256:${"a".repeat(64)}`;
  const artifact = JSON.parse(
    `{"name":"x","digest":"${digest}","size":1,"__proto__":{}}`,
  ) as object;
  assert.equal(
    rejection({ type: "a", artifacts: [artifact] }).details.pointer,
    "/artifacts/0/__proto__",
  );
});

test("objects made in another realm (a vm context) are plain objects too", () => {
  const event = runInNewContext(
    '({ type: "backend", meta: { list: [1, { a: "b" }] } })',
  ) as unknown;
  assert.deepEqual(validateEvent(event).meta, { list: [1, { a: "b" }] });
});

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
