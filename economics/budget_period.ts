/** Which budget period a moment falls in: its readable id (the budget keys carry it) and its bounds, in UTC. */

import type { BudgetPeriod } from "../config/economics_rules.ts";

export type { BudgetPeriod };

/** One period of a {@link BudgetPeriod}: `[startMs, endMs)`, named by `id`. */
export interface PeriodWindow {
  /** `2026-12-06T13` (hour), `2026-12-06` (day), `2026-12-06T06:00` (day@06:00), `2026-W49`, `2026-12`. */
  id: string;
  startMs: number;
  /** The first millisecond of the next period: when the budgets start over. */
  endMs: number;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

/** `2026-12-06`, the UTC date of `ms`. */
function dateOf(ms: number): string {
  const date = new Date(ms);
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

/** The ISO 8601 week of the week starting (Monday) at `mondayMs`: its Thursday's year decides. */
function isoWeekOf(mondayMs: number): string {
  const thursday = new Date(mondayMs + 3 * DAY_MS);
  const year = thursday.getUTCFullYear();
  const dayOfYear = Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / DAY_MS);
  return `${year}-W${pad(Math.floor(dayOfYear / 7) + 1)}`;
}

/**
 * The period of `period` that `nowMs` falls in. A period includes its first millisecond and
 * ends before the next one's, so 1 ms before midnight is still today.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { periodOf } from "./budget_period.ts";
 *
 * const now = Date.UTC(2026, 11, 6, 13, 45);
 * assert.deepEqual(periodOf({ unit: "day", startsAtMinute: 0 }, now), {
 *   id: "2026-12-06",
 *   startMs: Date.UTC(2026, 11, 6),
 *   endMs: Date.UTC(2026, 11, 7),
 * });
 * assert.equal(periodOf({ unit: "day", startsAtMinute: 360 }, now).id, "2026-12-06T06:00");
 * assert.equal(periodOf({ unit: "hour" }, now).id, "2026-12-06T13");
 * assert.equal(periodOf({ unit: "week" }, now).id, "2026-W49");
 * assert.equal(periodOf({ unit: "month" }, now).id, "2026-12");
 * ```
 */
export function periodOf(period: BudgetPeriod, nowMs: number): PeriodWindow {
  if (!Number.isFinite(nowMs)) {
    throw new RangeError(
      `Cannot find the budget period as 'nowMs' must be a finite number: current value is ${nowMs}`,
    );
  }
  switch (period.unit) {
    case "hour": {
      const startMs = Math.floor(nowMs / HOUR_MS) * HOUR_MS;
      const hour = new Date(startMs).getUTCHours();
      return { id: `${dateOf(startMs)}T${pad(hour)}`, startMs, endMs: startMs + HOUR_MS };
    }
    case "day": {
      const offsetMs = period.startsAtMinute * MINUTE_MS;
      const startMs = Math.floor((nowMs - offsetMs) / DAY_MS) * DAY_MS + offsetMs;
      const at = period.startsAtMinute === 0
        ? ""
        : `T${pad(Math.floor(period.startsAtMinute / 60))}:${pad(period.startsAtMinute % 60)}`;
      return { id: `${dateOf(startMs)}${at}`, startMs, endMs: startMs + DAY_MS };
    }
    case "week": {
      const day = Math.floor(nowMs / DAY_MS);
      // 1970-01-01, day 0, was a Thursday: Monday is 3 days before it.
      const startMs = (day - ((day + 3) % 7 + 7) % 7) * DAY_MS;
      return { id: isoWeekOf(startMs), startMs, endMs: startMs + 7 * DAY_MS };
    }
    case "month": {
      const date = new Date(nowMs);
      const year = date.getUTCFullYear();
      const month = date.getUTCMonth();
      return {
        id: `${year}-${pad(month + 1)}`,
        startMs: Date.UTC(year, month, 1),
        endMs: Date.UTC(year, month + 1, 1),
      };
    }
  }
}

/**
 * The UTC day of `nowMs`, as the spend counters of "today" are kept.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { dayOf } from "./budget_period.ts";
 *
 * assert.equal(dayOf(Date.UTC(2026, 11, 6, 23, 59)).id, "2026-12-06");
 * ```
 */
export function dayOf(nowMs: number): PeriodWindow {
  return periodOf({ unit: "day", startsAtMinute: 0 }, nowMs);
}
