import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  daysInMonth,
  isLeapYear,
  isRfc3339DateTime,
  parseRfc3339DateTime,
  rfc3339ToEpochMs,
} from "../src/core/rfc3339.js";

test("leap years follow the Gregorian rules: every 4th, not every 100th, every 400th", () => {
  assert.deepEqual([1900, 2000, 2023, 2024, 2100, 2400].map(isLeapYear), [
    false,
    true,
    false,
    true,
    false,
    true,
  ]);
  assert.deepEqual(
    [2023, 2024].map((y) => daysInMonth(y, 2)),
    [28, 29],
  );
  assert.deepEqual(
    [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((m) => daysInMonth(2026, m)),
    [31, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
  );
});

const accepted = [
  "2026-11-25T10:00:00Z",
  "2026-11-25T10:00:00.123+01:00",
  "2026-11-25T10:00:00.123456789-05:30",
  "2026-11-25t10:00:00z", // RFC 3339 §5.6: T and Z may be lower case
  "2024-02-29T12:00:00Z", // leap year
  "2000-02-29T12:00:00Z", // divisible by 400
  "2026-04-30T23:59:59Z",
  "0000-01-01T00:00:00Z",
  "9999-12-31T23:59:59-00:00",
  // Leap seconds: 23:59:60 UTC on the last day of a month, whatever the offset.
  "2016-12-31T23:59:60Z",
  "2015-06-30T23:59:60.999Z",
  "2016-12-31T15:59:60-08:00",
  "2017-01-01T00:59:60+01:00", // local 1 January, UTC 31 December
  "2016-12-31T23:58:60-00:01", // 23:59:60 UTC
  "2024-02-29T23:59:60Z", // the last day of a leap February
];

const refused = [
  "2024-02-30T00:00:00Z", // no 30 February
  "2023-02-29T00:00:00Z", // not a leap year
  "1900-02-29T00:00:00Z", // divisible by 100, not by 400
  "2026-04-31T00:00:00Z",
  "2026-13-01T00:00:00Z",
  "2026-00-10T00:00:00Z",
  "2026-01-00T00:00:00Z",
  "2026-02-01T24:00:00Z", // no hour 24
  "2026-02-01T10:60:00Z",
  "2026-02-01T10:00:61Z",
  "2016-12-31T23:58:60Z", // leap second on the wrong minute
  "2016-12-31T22:59:60Z", // on the wrong hour
  "2016-12-30T23:59:60Z", // not the last day of the month
  "2016-12-31T23:59:60+01:00", // 22:59:60 UTC
  "2024-02-28T23:59:60Z", // 28 February of a leap year is not its last day
  "2026-02-01T10:00:00+24:00",
  "2026-02-01T10:00:00+01:60",
  "2026-02-01 10:00:00Z", // the date and time are joined by T
  "2026-02-01T10:00:00", // an offset is required
  "2026-02-01T10:00:00.Z",
  "2026-02-01T10:00:00.1234567890Z", // at most 9 fraction digits
  "2026-2-01T10:00:00Z",
  "+002026-02-01T10:00:00Z",
  "2026-02-01",
  "",
  " 2026-02-01T10:00:00Z",
];

for (const text of accepted) {
  test(`${text} is an RFC 3339 date-time`, () => {
    assert.equal(isRfc3339DateTime(text), true);
  });
}

for (const text of refused) {
  test(`${JSON.stringify(text)} is refused`, () => {
    assert.equal(isRfc3339DateTime(text), false);
  });
}

test("the fields are read as written, the offset in minutes", () => {
  assert.deepEqual(parseRfc3339DateTime("2017-01-01T00:59:60.5+01:00"), {
    year: 2017,
    month: 1,
    day: 1,
    hour: 0,
    minute: 59,
    second: 60,
    fraction: "5",
    offsetMinutes: 60,
  });
  assert.equal(parseRfc3339DateTime("2026-01-01T00:00:00-05:30")?.offsetMinutes, -330);
});

test("every instant Date prints is accepted and converts back to itself (fast-check)", () => {
  fc.assert(
    fc.property(
      fc.date({ min: new Date("0000-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z") }),
      (d) => {
        if (Number.isNaN(d.getTime())) return;
        const text = d.toISOString();
        assert.equal(isRfc3339DateTime(text), true, text);
        assert.equal(rfc3339ToEpochMs(text), d.getTime());
      },
    ),
    { numRuns: 2000 },
  );
});

test("rfc3339ToEpochMs applies the offset, takes a date as its UTC midnight and rounds up", () => {
  const at = (s: string) => new Date(rfc3339ToEpochMs(s)!).toISOString();
  assert.equal(at("2026-11-25T10:00:00+01:00"), "2026-11-25T09:00:00.000Z");
  assert.equal(at("2026-11-25"), "2026-11-25T00:00:00.000Z");
  assert.equal(at("0050-03-01T00:00:00Z"), "0050-03-01T00:00:00.000Z"); // not 1950
  assert.equal(at("2026-11-25T10:00:00.0001Z"), "2026-11-25T10:00:00.001Z");
  assert.equal(at("2026-11-25T10:00:00.999000Z"), "2026-11-25T10:00:00.999Z");
  assert.equal(at("2016-12-31T23:59:60Z"), "2017-01-01T00:00:00.000Z");
  for (const bad of [
    "1",
    "2026-02-30",
    "2026-11-25T10:00",
    "March 7, 2026",
    "2026-02-30T00:00:00Z",
  ]) {
    assert.equal(rfc3339ToEpochMs(bad), undefined, bad);
  }
});
