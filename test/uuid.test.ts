import { test } from "node:test";
import assert from "node:assert/strict";
import { uuidv7 } from "../src/core/uuid.js";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The millisecond timestamp in the first 48 bits (RFC 9562 §5.7). */
function timestampOf(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

test("ids are UUIDv7: version 7, variant 10, lower case", () => {
  for (let i = 0; i < 1000; i++) assert.match(uuidv7(), V7);
});

test("the first 48 bits are the millisecond timestamp", () => {
  for (const ms of [0, 1, 0x1234_5678_9abc, Date.parse("2026-11-25T10:00:00Z"), 0xffff_ffff_ffff]) {
    const id = uuidv7(ms);
    assert.match(id, V7);
    assert.equal(timestampOf(id), ms);
  }
  const before = Date.now();
  const ts = timestampOf(uuidv7());
  assert.ok(ts >= before && ts <= Date.now());
});

test("ids of one millisecond differ; ids of later milliseconds sort after", () => {
  const ms = Date.parse("2026-11-25T10:00:00Z");
  const same = new Set(Array.from({ length: 10_000 }, () => uuidv7(ms)));
  assert.equal(same.size, 10_000);
  const later = uuidv7(ms + 1);
  for (const id of same) assert.ok(id < later);
});

test("a timestamp outside 48 bits of milliseconds is refused", () => {
  for (const ms of [-1, 2 ** 48, 1.5, Number.NaN]) assert.throws(() => uuidv7(ms), RangeError);
});

test("every random digit varies; the fixed ones do not", () => {
  const ms = Date.parse("2026-11-25T10:00:00Z");
  const seen = Array.from({ length: 36 }, () => new Set<string>());
  for (let i = 0; i < 5000; i++) {
    const id = uuidv7(ms);
    for (let p = 0; p < 36; p++) seen[p]!.add(id[p]!);
  }
  for (let p = 0; p < 36; p++) {
    const fixed = p <= 12 || p === 13 || p === 14 || p === 18 || p === 23;
    if (fixed) assert.equal(seen[p]!.size, 1, `position ${p}`);
    else if (p === 19) assert.deepEqual([...seen[p]!].sort(), ["8", "9", "a", "b"]);
    else assert.equal(seen[p]!.size, 16, `position ${p}`);
  }
});
