/** Parsers of command-line option values and the bridge from commander's options to `FlagValues`. */

import { InvalidArgumentError } from "commander";
import type { FlagValues } from "../config/config.ts";
import { parseDurationMs } from "../config/duration.ts";

/** Exit status for anything the user got wrong on the command line or in the environment. */
export const EXIT_USAGE = 2;

/**
 * A commander argument parser that accepts whole numbers from `min` to `max`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { integerOption } from "./options.ts";
 *
 * assert.equal(integerOption(1)("20"), 20);
 * assert.throws(() => integerOption(1)("0"), { message: "must be an integer >= 1." });
 * assert.throws(() => integerOption(1, 10)("11"), {
 *   message: "must be an integer from 1 to 10.",
 * });
 * ```
 */
export function integerOption(min: number, max?: number): (raw: string) => number {
  return (raw: string) => {
    if (!/^\d+$/.test(raw) || Number(raw) < min || (max !== undefined && Number(raw) > max)) {
      throw new InvalidArgumentError(
        max === undefined
          ? `must be an integer >= ${min}.`
          : `must be an integer from ${min} to ${max}.`,
      );
    }
    return Number(raw);
  };
}

/**
 * A commander argument parser for durations (`500ms`, `10s`, `5m`, `1h`, bare seconds); returns ms.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { durationOption } from "./options.ts";
 *
 * assert.equal(durationOption("2"), 2000);
 * assert.equal(durationOption("500ms"), 500);
 * ```
 */
export function durationOption(raw: string): number {
  return durationAtLeast(0)(raw);
}

/**
 * A commander argument parser for durations of at least `minMs`; returns ms.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { durationAtLeast } from "./options.ts";
 *
 * assert.equal(durationAtLeast(100)("2s"), 2000);
 * assert.throws(() => durationAtLeast(100)("0"), {
 *   message: "must be a duration of at least 100ms such as 500ms, 10s, 5m.",
 * });
 * ```
 */
export function durationAtLeast(minMs: number): (raw: string) => number {
  return (raw: string) => {
    const ms = parseDurationMs(raw);
    if (ms === undefined || ms < minMs) {
      throw new InvalidArgumentError(
        `must be a duration${minMs > 0 ? ` of at least ${minMs}ms` : ""} such as 500ms, 10s, 5m.`,
      );
    }
    return ms;
  };
}

/**
 * Commander's camelCase option keys back to flag names; only strings and booleans are flags.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { flagValues } from "./options.ts";
 *
 * assert.deepEqual(flagValues({ redisUrl: "redis://cache", json: true, limit: 5 }), {
 *   "redis-url": "redis://cache",
 *   json: true,
 * });
 * ```
 */
export function flagValues(options: Record<string, unknown>): FlagValues {
  const flags: FlagValues = {};
  for (const [key, value] of Object.entries(options)) {
    if (typeof value === "string" || typeof value === "boolean") {
      flags[key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)] = value;
    }
  }
  return flags;
}
