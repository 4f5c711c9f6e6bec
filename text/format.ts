/** Plain-text formatting shared by the operator commands and the dashboard: tables, ages, shortened values, progress. */

/**
 * Lays rows out in columns, two spaces apart, the first row as the header. Columns named in
 * `alignRight` (by index) are right-aligned (numbers); the last column is never padded.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { table } from "./format.ts";
 *
 * assert.equal(
 *   table([["queue", "waiting"], ["llm", "12"]], { alignRight: [1] }),
 *   "queue  waiting\nllm         12",
 * );
 * ```
 */
export function table(
  rows: readonly (readonly string[])[],
  options: { alignRight?: number[] } = {},
): string {
  if (rows.length === 0) return "";
  const columns = Math.max(...rows.map((row) => row.length));
  const widths = Array.from(
    { length: columns },
    (_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length)),
  );
  const right = new Set(options.alignRight ?? []);
  return rows.map((row) =>
    Array.from({ length: columns }, (_, column) => {
      const cell = row[column] ?? "";
      if (right.has(column)) return cell.padStart(widths[column]);
      return column === columns - 1 ? cell : cell.padEnd(widths[column]);
    }).join("  ").trimEnd()
  ).join("\n");
}

/**
 * A duration the way `rq info` and `ps` show it: the two largest units, no spaces.
 * Negative durations (a clock ahead of this one) are shown as `0s`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { formatAge } from "./format.ts";
 *
 * assert.equal(formatAge(4_200), "4s");
 * assert.equal(formatAge(130_000), "2m10s");
 * assert.equal(formatAge(90_061_000), "1d1h");
 * ```
 */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const units: [string, number][] = [["d", 86_400], ["h", 3600], ["m", 60], ["s", 1]];
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of units) {
    const amount = Math.floor(rest / size);
    rest -= amount * size;
    if (amount > 0 || parts.length > 0) parts.push(`${amount}${unit}`);
    if (parts.length === 2) break;
  }
  if (parts.length === 0) return "0s";
  return parts.length === 2 && parts[1].startsWith("0") ? parts[0] : parts.join("");
}

/**
 * `text` cut to `maxChars` characters, saying how much was left out.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { shortenText } from "./format.ts";
 *
 * assert.equal(shortenText("abcdefghij", 4), "abcd… (6 more characters)");
 * assert.equal(shortenText("abc", 4), "abc");
 * ```
 */
export function shortenText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  return `${text.slice(0, maxChars)}… (${text.length - maxChars} more characters)`;
}

/**
 * A copy of a JSON value with every string longer than `maxChars` shortened by
 * {@link shortenText}: long prompts and answers become readable, the structure stays.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { shortenStrings } from "./format.ts";
 *
 * assert.deepEqual(shortenStrings({ prompt: "x".repeat(500), metadata: { id: 7 } }, 10), {
 *   prompt: "xxxxxxxxxx… (490 more characters)",
 *   metadata: { id: 7 },
 * });
 * ```
 */
export function shortenStrings(value: unknown, maxChars: number): unknown {
  if (typeof value === "string") return shortenText(value, maxChars);
  if (Array.isArray(value)) return value.map((item) => shortenStrings(item, maxChars));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, shortenStrings(item, maxChars)]),
    );
  }
  return value;
}

/**
 * The first line of `text`, whitespace collapsed, cut to `maxChars` with an ellipsis: for a
 * table cell.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { oneLine } from "./format.ts";
 *
 * assert.equal(oneLine("Error: boom\n    at x.ts:1", 20), "Error: boom");
 * assert.equal(oneLine("a   b", 2), "a…");
 * ```
 */
export function oneLine(text: string, maxChars: number): string {
  const first = (text.split("\n").find((line) => line.trim() !== "") ?? "").replace(/\s+/g, " ")
    .trim();
  return first.length <= maxChars ? first : `${first.slice(0, Math.max(0, maxChars - 1))}…`;
}

/** Where a batch of jobs stands, for {@link progressLine}. */
export interface Progress {
  total: number;
  completed: number;
  failed: number;
  elapsedMs: number;
}

/**
 * One line on how a batch of jobs is going: finished so far, failures, the rate, and the time
 * left at that rate (unknown until a job has finished).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { progressLine } from "./format.ts";
 *
 * assert.equal(
 *   progressLine({ total: 100, completed: 40, failed: 2, elapsedMs: 21_000 }),
 *   "42/100 done, 2 failed, 2.0 jobs/s, ETA 29s",
 * );
 * ```
 */
export function progressLine(progress: Progress): string {
  const done = progress.completed + progress.failed;
  const rate = progress.elapsedMs > 0 ? done / (progress.elapsedMs / 1000) : 0;
  const eta = done >= progress.total
    ? "finished"
    : rate > 0
    ? `ETA ${formatAge(((progress.total - done) / rate) * 1000)}`
    : "ETA unknown";
  return `${done}/${progress.total} done, ${progress.failed} failed, ${
    rate.toFixed(1)
  } jobs/s, ${eta}`;
}
