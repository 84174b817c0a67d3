import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import canonicalizeReference from "canonicalize";
import { canonicalize, canonicalizeToBuffer } from "../src/core/jcs.js";
import type { JcsRule } from "../src/core/jcs.js";
import { GenlogError } from "../src/errors.js";
import { RFC8785_APPENDIX_B } from "./vectors/rfc8785.js";

/** Builds the double whose IEEE-754 bit pattern is `hex` (16 hex digits). */
function doubleFromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

/** Asserts that canonicalising `value` is refused with `rule` at `pointer`. */
function assertRefused(value: unknown, pointer: string, rule: JcsRule): void {
  assert.throws(
    () => canonicalize(value),
    (e: unknown) => {
      assert.ok(e instanceof GenlogError, `expected a GenlogError, got ${String(e)}`);
      assert.equal(e.code, "GENLOG_E_INVALID_INPUT");
      assert.equal(e.details.pointer, pointer);
      assert.equal(e.details.rule, rule);
      return true;
    },
  );
}

/** Well-formed UTF-16, judged independently of the code under test. */
function isWellFormed(s: string): boolean {
  // Encoding to UTF-8 replaces each lone surrogate with U+FFFD, so only well-formed
  // strings survive the round trip unchanged.
  return Buffer.from(s, "utf8").toString("utf8") === s;
}

/** A deep copy in which every -0 is replaced by 0 (JSON has one zero). */
function withoutNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(withoutNegativeZero);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, { value: withoutNegativeZero(v), enumerable: true });
    }
    return out;
  }
  return value;
}

/** The same object with its members inserted in reverse order, recursively. */
function reversedInsertion(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedInsertion);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value).reverse()) {
      Object.defineProperty(out, k, {
        value: reversedInsertion(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

describe("RFC 8785 examples", () => {
  // §3.2.2: the input text exactly as printed in the RFC, parsed as the RFC does.
  const sampleText = String.raw`{
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  }`;
  const sampleCanonical = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;

  it("§3.2.2/§3.2.3: serialises the sample object", () => {
    assert.equal(canonicalize(JSON.parse(sampleText)), sampleCanonical);
  });

  it("§3.2.4: the sample's UTF-8 bytes", () => {
    const expected = `
      7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72
      75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a
      5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31
      65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37
      5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30
      30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d`
      .trim()
      .split(/\s+/)
      .join("");
    assert.equal(canonicalizeToBuffer(JSON.parse(sampleText)).toString("hex"), expected);
  });

  it("§3.2.3: sorts member names by UTF-16 code units", () => {
    const input = JSON.parse(String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`);
    const out = canonicalize(input);
    const order = [...out.matchAll(/:"([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual(order, [
      "Carriage Return",
      "One",
      "Control",
      "Latin Small Letter O With Diaeresis",
      "Euro Sign",
      "Emoji: Grinning Face",
      "Hebrew Letter Dalet With Dagesh",
    ]);
    assert.equal(
      out,
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control",' +
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",' +
        '"\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  // Appendix B: IEEE-754 bit pattern -> expected JSON text.
  const appendixB = RFC8785_APPENDIX_B;
  for (const [bits, expected] of appendixB) {
    it(`Appendix B: 0x${bits} -> ${expected}`, () => {
      const n = doubleFromBits(bits);
      assert.equal(canonicalize(n), expected);
      assert.equal(canonicalize([n]), `[${expected}]`);
    });
  }

  // Appendix B's error rows: NaN and Infinity have no JSON form.
  for (const bits of ["7fffffffffffffff", "7ff0000000000000"]) {
    it(`Appendix B: 0x${bits} is refused`, () => {
      assertRefused({ n: doubleFromBits(bits) }, "/n", "non-finite-number");
    });
  }
});

describe("canonicalize: serialisation", () => {
  it("writes primitives at the root", () => {
    assert.equal(canonicalize(null), "null");
    assert.equal(canonicalize(true), "true");
    assert.equal(canonicalize(false), "false");
    assert.equal(canonicalize(-0), "0");
    assert.equal(canonicalize("a\u2028b"), '"a\u2028b"');
    assert.equal(canonicalize({}), "{}");
    assert.equal(canonicalize([]), "[]");
  });

  it("escapes control characters, quotes and backslashes as JSON.stringify does", () => {
    let all = "";
    for (let c = 0; c < 0x80; c++) all += String.fromCharCode(c);
    assert.equal(canonicalize(all), JSON.stringify(all));
    assert.equal(canonicalize("\u001f\u007f\u0080"), '"\\u001f\u007f\u0080"');
    assert.equal(canonicalize("😀 é"), '"😀 é"');
  });

  it("sorts integer-like names as strings and nested objects recursively", () => {
    assert.equal(
      canonicalize({ b: [{ z: 1, y: 2 }, 3], 10: 0, 2: 0, 1: 0, a: { d: null, c: "x" } }),
      '{"1":0,"10":0,"2":0,"a":{"c":"x","d":null},"b":[{"y":2,"z":1},3]}',
    );
  });

  it("sorts by code units, not code points or locale", () => {
    // U+10000 is written as the surrogates D800 DC00, which sort before U+E000.
    assert.equal(canonicalize({ "\ue000": 1, "\u{10000}": 2 }), '{"\u{10000}":2,"\ue000":1}');
    assert.equal(
      canonicalize({ sin: 0, "p\u00eache": 0, "p\u00e9ch\u00e9": 0, peach: 0 }),
      '{"peach":0,"p\u00e9ch\u00e9":0,"p\u00eache":0,"sin":0}',
    );
  });

  it("gives the same text whatever the insertion order (shape cache)", () => {
    const a = { x: 1, y: { p: true, q: [1, 2] }, z: "s" };
    const b = { z: "s", y: { q: [1, 2], p: true }, x: 1 };
    const c = { y: { p: true, q: [1, 2] }, x: 1, z: "s" };
    const expected = '{"x":1,"y":{"p":true,"q":[1,2]},"z":"s"}';
    for (let i = 0; i < 3; i++) {
      assert.equal(canonicalize(a), expected);
      assert.equal(canonicalize(b), expected);
      assert.equal(canonicalize(c), expected);
    }
  });

  it("keeps shapes of the same size apart (shape cache)", () => {
    const shapes = [
      { a: 1, b: 2, c: 3 },
      { a: 1, b: 2, d: 3 },
      { c: 3, b: 2, a: 1 },
      { e: 1, b: 2, a: 3 },
    ];
    for (let i = 0; i < 20; i++) {
      const o = shapes[i % shapes.length];
      assert.equal(canonicalize(o), canonicalizeReference(o));
    }
  });

  it("handles objects with many members (past the shape cache)", () => {
    const o: Record<string, number> = {};
    for (let i = 99; i >= 0; i--) o[`k${i}`] = i;
    assert.equal(canonicalize(o), canonicalizeReference(o));
  });

  it("accepts null-prototype objects and shared (non-cyclic) references", () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare.b = 1;
    bare.a = "x";
    const shared = { k: [1] };
    assert.equal(
      canonicalize({ bare, s1: shared, s2: [shared, shared] }),
      '{"bare":{"a":"x","b":1},"s1":{"k":[1]},"s2":[{"k":[1]},{"k":[1]}]}',
    );
  });

  it("accepts a __proto__ own member as data", () => {
    const o = JSON.parse('{"__proto__":{"x":1},"a":2}') as unknown;
    assert.equal(canonicalize(o), '{"__proto__":{"x":1},"a":2}');
  });

  it("ignores symbol-keyed and non-enumerable properties, as JSON.stringify does", () => {
    const o: Record<string | symbol, unknown> = { a: 1 };
    o[Symbol("s")] = 2;
    Object.defineProperty(o, "hidden", { value: 3, enumerable: false });
    assert.equal(canonicalize(o), '{"a":1}');
  });

  it("canonicalizeToBuffer returns the UTF-8 of canonicalize", () => {
    const v = { "\u00e9": "\u{1f600}", a: [1.5, -0] };
    const bytes = canonicalizeToBuffer(v);
    assert.ok(Buffer.isBuffer(bytes));
    assert.equal(bytes.toString("utf8"), canonicalize(v));
    assert.equal(bytes.toString("hex"), Buffer.from('{"a":[1.5,0],"é":"😀"}').toString("hex"));
  });
});

describe("canonicalize: refusals", () => {
  it("refuses non-finite numbers", () => {
    assertRefused(Number.NaN, "", "non-finite-number");
    assertRefused({ a: [{ b: Number.NaN }] }, "/a/0/b", "non-finite-number");
    assertRefused([Number.POSITIVE_INFINITY], "/0", "non-finite-number");
    assertRefused({ x: { y: Number.NEGATIVE_INFINITY } }, "/x/y", "non-finite-number");
  });

  it("refuses undefined, bigint, function and symbol values", () => {
    assertRefused(undefined, "", "unsupported-type");
    assertRefused({ a: 1, b: undefined }, "/b", "unsupported-type");
    assertRefused([1, undefined], "/1", "unsupported-type");
    // eslint-disable-next-line no-sparse-arrays -- the hole is the point.
    assertRefused({ list: [1, , 3] }, "/list/1", "unsupported-type");
    assertRefused({ n: 10n }, "/n", "unsupported-type");
    assertRefused({ f: () => 1 }, "/f", "unsupported-type");
    assertRefused({ s: [Symbol("x")] }, "/s/0", "unsupported-type");
  });

  it("refuses cycles, naming the back-reference", () => {
    const o: { a: { b: unknown[] } } = { a: { b: [] } };
    o.a.b.push(o);
    assertRefused(o, "/a/b/0", "cycle");
    const self: Record<string, unknown> = {};
    self.me = self;
    assertRefused(self, "/me", "cycle");
    const arr: unknown[] = [1];
    arr.push([arr]);
    assertRefused(arr, "/1/0", "cycle");
    // A branching cycle is caught at its first back-reference, not explored path by path.
    const wide: Record<string, unknown> = {};
    for (const k of ["a", "b", "c", "d"]) wide[k] = wide;
    assertRefused(wide, "/a", "cycle");
  });

  it("ignores a toJSON member rather than calling it", () => {
    const withToJson = Object.assign(Object.create(null) as object, { a: 1, toJSON: 2 });
    assert.equal(canonicalize(withToJson), '{"a":1,"toJSON":2}');
    assertRefused({ a: 1, toJSON: () => "x" }, "/toJSON", "unsupported-type");
  });

  it("refuses lone surrogates in values and member names", () => {
    assertRefused({ s: "a\ud800" }, "/s", "lone-surrogate");
    assertRefused({ s: "\udc00x" }, "/s", "lone-surrogate");
    assertRefused({ s: "\ud83d\ud83d\ude00" }, "/s", "lone-surrogate");
    assertRefused(["ok", "\ude00\ud83d"], "/1", "lone-surrogate");
    assertRefused({ a: 1, ["k\udfff"]: 1 }, "/k\udfff", "lone-surrogate");
    assertRefused({ o: { ["\ud800"]: 1, b: 2 } }, "/o/\ud800", "lone-surrogate");
  });

  it("escapes ~ and / in the pointer (RFC 6901)", () => {
    assertRefused({ "a/b": { "m~n": Number.NaN } }, "/a~1b/m~0n", "non-finite-number");
    assertRefused({ "~1": [undefined] }, "/~01/0", "unsupported-type");
    assertRefused({ "": { "/": 1n } }, "//~1", "unsupported-type");
  });

  it("refuses non-plain objects and never calls toJSON", () => {
    assertRefused({ when: new Date(0) }, "/when", "non-plain-object");
    assertRefused({ m: new Map() }, "/m", "non-plain-object");
    assertRefused([new Set()], "/0", "non-plain-object");
    assertRefused({ b: new Uint8Array(2) }, "/b", "non-plain-object");
    assertRefused({ n: Object(1) as unknown }, "/n", "non-plain-object");
    assertRefused({ e: new Error("x") }, "/e", "non-plain-object");

    let called = 0;
    class WithToJSON {
      toJSON(): string {
        called++;
        return "converted";
      }
    }
    assertRefused({ w: new WithToJSON() }, "/w", "non-plain-object");
    // A plain object with a toJSON member: the member is a function, so it is refused.
    assertRefused(
      {
        toJSON: () => {
          called++;
          return 1;
        },
      },
      "/toJSON",
      "unsupported-type",
    );
    assert.equal(called, 0);
  });

  it("puts the pointer in the message", () => {
    assert.throws(() => canonicalize({ a: { b: Number.NaN } }), /"\/a\/b"/);
  });

  it("lets errors thrown by getters through unchanged", () => {
    const boom = new Error("boom");
    const o = {};
    Object.defineProperty(o, "g", {
      enumerable: true,
      get() {
        throw boom;
      },
    });
    assert.throws(
      () => canonicalize({ o }),
      (e: unknown) => e === boom,
    );
  });

  it("stays correct when a getter canonicalises re-entrantly", () => {
    const inner = { y: 1, x: 2 };
    const o = {};
    Object.defineProperty(o, "g", { enumerable: true, get: () => canonicalize(inner) });
    assert.equal(
      canonicalize({ b: o, a: inner }),
      '{"a":{"x":2,"y":1},"b":{"g":"{\\"x\\":2,\\"y\\":1}"}}',
    );
  });
});

describe("canonicalize: properties (fast-check)", () => {
  const numRuns = 2000;

  const interestingNumber = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.constantFrom(
      0,
      -0,
      Number.MIN_VALUE,
      -Number.MIN_VALUE,
      Number.MAX_VALUE,
      -Number.MAX_VALUE,
      Number.MAX_SAFE_INTEGER,
      Number.EPSILON,
      1e21,
      1e-7,
      123456789012345680000,
    ),
  );
  const unicodeString = fc.oneof(
    fc.string({ unit: "binary" }),
    fc.string({ unit: "grapheme" }),
    fc.string({ unit: "binary-ascii" }),
  );
  const key = fc.oneof(
    unicodeString,
    fc.constantFrom("__proto__", "constructor", "toJSON", "~", "/", "", "1", "10", "a"),
  );
  const { tree } = fc.letrec((tie) => ({
    tree: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      tie("leaf"),
      tie("array"),
      tie("object"),
    ),
    leaf: fc.oneof(interestingNumber, unicodeString, fc.boolean(), fc.constant(null)),
    array: fc.array(tie("tree"), { maxLength: 6 }),
    object: fc.dictionary(key, tie("tree"), { maxKeys: 8 }),
  }));
  const jsonish = fc.oneof(
    fc.jsonValue(),
    fc.jsonValue({ stringUnit: "binary" }),
    tree,
    // Record-like: many members, a nested meta object.
    fc.record({
      id: fc.uuid(),
      n: interestingNumber,
      ok: fc.boolean(),
      none: fc.constant(null),
      tags: fc.array(unicodeString, { maxLength: 3 }),
      meta: fc.dictionary(key, tree, { maxKeys: 5 }),
    }),
  );

  it("matches the canonicalize package on JSON values", () => {
    fc.assert(
      fc.property(jsonish, (v) => {
        assert.equal(canonicalize(v), canonicalizeReference(v));
      }),
      { numRuns },
    );
  });

  it("round-trips through JSON.parse (modulo -0) and is idempotent", () => {
    fc.assert(
      fc.property(jsonish, (v) => {
        const text = canonicalize(v);
        const parsed: unknown = JSON.parse(text);
        assert.deepStrictEqual(parsed, withoutNegativeZero(v));
        assert.equal(canonicalize(parsed), text);
      }),
      { numRuns },
    );
  });

  it("does not depend on member insertion order", () => {
    fc.assert(
      fc.property(jsonish, (v) => {
        assert.equal(canonicalize(reversedInsertion(v)), canonicalize(v));
      }),
      { numRuns },
    );
  });

  it("refuses exactly the strings that are not well-formed UTF-16", () => {
    const unit = fc.oneof(
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
      fc.constantFrom("\ud800", "\udbff", "\udc00", "\udfff", "\ud83d", "\ude00", '"', "\\", "\n"),
    );
    const maybeBroken = fc.string({ unit, maxLength: 8 });
    fc.assert(
      fc.property(maybeBroken, maybeBroken, fc.boolean(), (s, k, asKey) => {
        const value = asKey ? { [k + s]: 1 } : { [k]: s };
        const bad = asKey ? k + s : s;
        const badKey = !asKey && !isWellFormed(k);
        if (isWellFormed(bad) && !badKey) {
          assert.equal(canonicalize(value), canonicalizeReference(value));
        } else {
          const pointer = "/" + (asKey ? bad : k).replace(/~/g, "~0").replace(/\//g, "~1");
          assertRefused(value, pointer, "lone-surrogate");
        }
      }),
      { numRuns },
    );
  });
});
