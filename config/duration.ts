/** Parses the durations ppr-worker accepts in flags and environment variables. */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses a duration such as `500ms`, `10s`, `5m`, `1h`, `7d` or bare seconds (`30`, `1.5`).
 *
 * Returns the duration in milliseconds, or `undefined` when the text is not a
 * non-negative duration.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseDurationMs } from "./duration.ts";
 *
 * assert.equal(parseDurationMs("10s"), 10_000);
 * assert.equal(parseDurationMs("30"), 30_000);
 * assert.equal(parseDurationMs("soon"), undefined);
 * ```
 */
export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2] ?? "s"];
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/**
 * Formats milliseconds the way a person would write them in a flag.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { formatDuration } from "./duration.ts";
 *
 * assert.equal(formatDuration(30_000), "30s");
 * assert.equal(formatDuration(1_500), "1500ms");
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
