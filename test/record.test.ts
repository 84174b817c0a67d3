import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  formatTimestamp,
  prepareRecord,
  sealRecord,
  type PipelineStages,
} from "../src/core/record.js";
import { canonicalize } from "../src/core/jcs.js";
import { hashLeaf } from "../src/core/merkle.js";
import { keyNameStages } from "./helpers/stages.js";
import { GenlogError } from "../src/errors.js";
import { randomBytes } from "node:crypto";
import { PolicyRedactor } from "../src/core/privacy/redactor.js";
import { compilePolicy } from "../src/core/privacy/policy.js";
import { PassthroughProtector } from "../src/core/protect.js";
import { valueDetectors } from "../src/log/pipeline.js";

const stages: PipelineStages = keyNameStages();

/** The same with every value detector, so that keys and values are replaced too. */
const detectorStages: PipelineStages = (() => {
  const redactor = new PolicyRedactor({
    policy: compilePolicy(undefined, null),
    detectors: valueDetectors("FR"),
    hashKey: randomBytes(32),
  });
  return { redactor: () => redactor, protector: new PassthroughProtector() };
})();

/** What sealing must give: the canonical text of the whole record, and its leaf hash. */
function assertSealedLikeReference(event: unknown, seq: number, ms: number): void {
  const sealed = sealRecord(prepareRecord(event, "default", stages), seq, formatTimestamp(ms));
  const reference = canonicalize(sealed.record);
  assert.equal(sealed.canonical, reference);
  assert.deepEqual(sealed.leafHash, hashLeaf(Buffer.from(reference, "utf8")));
  assert.deepEqual(JSON.parse(sealed.canonical), sealed.record);
}

describe("sealRecord splices seq and ts into the prepared canonical text", () => {
  test("the seed events", () => {
    assertSealedLikeReference({ type: "backend", user: "alice", meta: { stack: "Flask" } }, 0, 0);
    assertSealedLikeReference({ type: "frontend" }, 41, Date.now());
  });

  test("metadata that spells the cut marks cannot move the cut", () => {
    const tricky = {
      type: "backend",
      user: ',"seq":0,"ts":"",',
      sector: "health",
      meta: {
        seq: 0,
        ts: "",
        nested: { seq: 0, status: "x", ts: "", type: "y", v: 1 },
        text: ',"seq":0,',
        more: ',"ts":"",',
        list: [{ seq: 0 }, { ts: "" }],
      },
    };
    assertSealedLikeReference(tricky, 7, Date.parse("2026-11-25T10:00:00.123Z"));
  });

  test("a leaf larger than the hashing scratch buffer hashes the same", () => {
    const big = { type: "model", meta: { blob: "é".repeat(20_000), n: 1 } };
    assertSealedLikeReference(big, 123_456_789, Date.now());
  });

  test("generated events (fast-check)", () => {
    const slug = fc.stringMatching(/^[a-z][a-z0-9._-]{0,10}$/);
    const text = fc.oneof(fc.string(), fc.string({ unit: "grapheme" }));
    const event = fc.record(
      {
        type: slug,
        user: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: null }),
        sector: fc.option(slug, { nil: null }),
        status: fc.constantFrom("started", "succeeded", "failed"),
        meta: fc.dictionary(
          fc.oneof(
            text,
            fc.constantFrom("seq", "ts", "password", "type", "v"),
            // Names JavaScript lists first (array indexes) and look-alikes that it does not,
            // names JSON.stringify treats apart, a secret that replaces its own key.
            fc.constantFrom("0", "9", "10", "-1", "01", "4294967294", "4294967295", "__proto__"),
            fc.constantFrom("toJSON", "AKIAIOSFODNN7EXAMPLE", "[REDACTED]", "a@example.com"),
          ),
          fc.oneof(
            fc.jsonValue({ maxDepth: 4 }),
            fc.constantFrom("call +33 6 12 34 56 78", "ghp_" + "a".repeat(36), "\ud800"),
          ),
          { maxKeys: 6 },
        ),
        occurredAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      },
      { requiredKeys: ["type"] },
    );
    fc.assert(
      fc.property(
        event,
        fc.nat(),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.boolean(),
        (e, seq, ms, all) => {
          let prepared;
          try {
            prepared = prepareRecord(e, "default", all ? detectorStages : stages);
          } catch (err) {
            // Generated metadata may break a limit or hold a lone surrogate: refused, fine.
            if (err instanceof GenlogError && err.code === "GENLOG_E_INVALID_INPUT") return;
            throw err;
          }
          const sealed = sealRecord(prepared, seq, formatTimestamp(ms));
          assert.equal(sealed.canonical, canonicalize(sealed.record));
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("keys replaced by the redactor are written where their replacement sorts", () => {
    const stringified = (meta: Record<string, unknown>) => {
      const prepared = prepareRecord({ type: "backend", meta }, "default", detectorStages);
      const sealed = sealRecord(prepared, 3, formatTimestamp(0));
      assert.equal(sealed.canonical, canonicalize(sealed.record));
      return sealed.record.meta;
    };
    // An e-mail address and a token as keys: masked, they sort after "Z" and before "a".
    const meta = stringified({
      B: 1,
      "[REDACTED]": 2,
      Z: 3,
      "dora@example.com": 4,
      e: 5,
      ghp_Zq8XbT3kLm9PwR2sVn6YcJ4hFd7GtA1eKu5B: 6,
      zed: 7,
    });
    assert.deepEqual(Object.keys(meta), [
      "B",
      "Z",
      "[REDACTED]",
      "[REDACTED]~",
      "[REDACTED]~~",
      "e",
      "zed",
    ]);
  });

  test("input JCS refuses fails that append alone, before sealing", () => {
    assert.throws(
      () => prepareRecord({ type: "backend", meta: { s: "\ud800" } }, "default", stages),
      (e: unknown) =>
        e instanceof GenlogError &&
        e.code === "GENLOG_E_INVALID_INPUT" &&
        e.details.pointer === "/meta/s",
    );
  });
});

describe("prepareRecord works on one snapshot of the input", () => {
  test("whether the id is the caller's comes from the same read as the id itself", () => {
    let reads = 0;
    const event = {
      type: "model",
      get id() {
        return reads++ === 0 ? "0190A7A2-3C1E-7C3A-9F5E-4B8A1C2D3E4F" : undefined;
      },
    };
    const prepared = prepareRecord(event, "default", stages);
    assert.equal(reads, 1);
    assert.equal(prepared.clientId, true);
    assert.equal(prepared.template.id, "0190a7a2-3c1e-7c3a-9f5e-4b8a1c2d3e4f");
    assert.equal(prepareRecord({ type: "model" }, "default", stages).clientId, false);
  });

  test("-0 is committed and returned as 0, so the record returned equals the one read back", () => {
    const event = {
      type: "assets",
      meta: { n: -0, list: [-0] },
      artifacts: [{ name: "x", digest: `sha256:${"a".repeat(64)}`, size: -0 }],
    };
    const sealed = sealRecord(prepareRecord(event, "default", stages), 0, formatTimestamp(0));
    assert.deepEqual(sealed.record, JSON.parse(sealed.canonical));
  });
});
