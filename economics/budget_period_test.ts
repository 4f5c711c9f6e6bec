import { strict as assert } from "node:assert";
import { dayOf, periodOf } from "./budget_period.ts";

const DAY = { unit: "day", startsAtMinute: 0 } as const;

Deno.test("day: 1 ms before midnight is still today; midnight is tomorrow", () => {
  const midnight = Date.UTC(2026, 11, 7);
  assert.deepEqual(periodOf(DAY, midnight - 1), {
    id: "2026-12-06",
    startMs: Date.UTC(2026, 11, 6),
    endMs: midnight,
  });
  assert.deepEqual(periodOf(DAY, midnight), {
    id: "2026-12-07",
    startMs: midnight,
    endMs: Date.UTC(2026, 11, 8),
  });
});

Deno.test("day@HH:MM: starts at that UTC time, named by its start; before it is the day before's", () => {
  const at6 = { unit: "day", startsAtMinute: 6 * 60 } as const;
  const six = Date.UTC(2026, 11, 6, 6);
  assert.deepEqual(periodOf(at6, six), {
    id: "2026-12-06T06:00",
    startMs: six,
    endMs: six + 86_400_000,
  });
  assert.equal(periodOf(at6, six - 1).id, "2026-12-05T06:00");
  assert.equal(periodOf(at6, Date.UTC(2026, 11, 7, 5, 59, 59, 999)).id, "2026-12-06T06:00");
  assert.equal(periodOf({ unit: "day", startsAtMinute: 23 * 60 + 59 }, six).id, "2026-12-05T23:59");
});

Deno.test("hour: named by its date and hour; 1 ms before the hour is the hour before", () => {
  const one = Date.UTC(2026, 11, 6, 13);
  assert.deepEqual(periodOf({ unit: "hour" }, one + 59 * 60_000), {
    id: "2026-12-06T13",
    startMs: one,
    endMs: one + 3_600_000,
  });
  assert.equal(periodOf({ unit: "hour" }, one - 1).id, "2026-12-06T12");
  assert.equal(periodOf({ unit: "hour" }, Date.UTC(2026, 11, 7) - 1).id, "2026-12-06T23");
});

Deno.test("week: starts Monday 00:00 UTC, named by its ISO week (the Thursday's year)", () => {
  const monday = Date.UTC(2026, 10, 30);
  assert.deepEqual(periodOf({ unit: "week" }, Date.UTC(2026, 11, 6, 23, 59)), {
    id: "2026-W49",
    startMs: monday,
    endMs: Date.UTC(2026, 11, 7),
  });
  assert.equal(periodOf({ unit: "week" }, monday).id, "2026-W49");
  assert.equal(periodOf({ unit: "week" }, monday - 1).id, "2026-W48");
  // 2027-01-01 is a Friday: its week is the last of 2026 (2026 has 53 ISO weeks).
  assert.equal(periodOf({ unit: "week" }, Date.UTC(2027, 0, 1)).id, "2026-W53");
  assert.equal(periodOf({ unit: "week" }, Date.UTC(2027, 0, 4)).id, "2027-W01");
  // 2025-12-29 is a Monday whose Thursday is 2026-01-01: week 1 of 2026.
  assert.equal(periodOf({ unit: "week" }, Date.UTC(2025, 11, 29)).id, "2026-W01");
  // Before 1970 too (a negative day number).
  assert.equal(periodOf({ unit: "week" }, Date.UTC(1969, 11, 31)).id, "1970-W01");
});

Deno.test("month: from the 1st 00:00 UTC; 1 ms before is the month before; December rolls into the next year", () => {
  assert.deepEqual(periodOf({ unit: "month" }, Date.UTC(2026, 11, 31, 23, 59, 59, 999)), {
    id: "2026-12",
    startMs: Date.UTC(2026, 11, 1),
    endMs: Date.UTC(2027, 0, 1),
  });
  assert.equal(periodOf({ unit: "month" }, Date.UTC(2027, 0, 1)).id, "2027-01");
  assert.equal(periodOf({ unit: "month" }, Date.UTC(2028, 1, 29)).endMs, Date.UTC(2028, 2, 1));
});

Deno.test("dayOf is the plain UTC day", () => {
  assert.equal(dayOf(Date.UTC(2026, 11, 6, 23, 59, 59, 999)).id, "2026-12-06");
});

Deno.test("periodOf: a time that is not a finite number is an error naming the value", () => {
  assert.throws(() => periodOf(DAY, NaN), {
    name: "RangeError",
    message:
      "Cannot find the budget period as 'nowMs' must be a finite number: current value is NaN",
  });
});
