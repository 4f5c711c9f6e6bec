/** Where the recorder writes: `daily/<YYYY-MM-DD>/scrapers/<scraper>/<job>.json`, `summary.json`, `latest`. */

/** Longest file name part the recorder writes (file systems allow 255 bytes). */
const MAX_NAME_CHARS = 200;

/**
 * A path component made safe: characters other than letters, digits, `.`, `_` and `-` become
 * `_`, a leading `.` too (no hidden files, no `.` or `..`, never a temporary file's name), and
 * the result is at most 200 characters. Distinct ids can meet in one name (`a/b` and `a_b`).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { safeName } from "./paths.ts";
 *
 * assert.equal(safeName("../etc/passwd"), "_._etc_passwd");
 * assert.equal(safeName("food bank #1"), "food_bank__1");
 * ```
 */
export function safeName(text: string): string {
  const name = text.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, MAX_NAME_CHARS);
  return name === "" ? "_" : name.replace(/^\./, "_");
}

/**
 * The UTC date of `ms` as `YYYY-MM-DD`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { dayOf } from "./paths.ts";
 *
 * assert.equal(dayOf(Date.UTC(2026, 0, 31, 23, 59)), "2026-01-31");
 * ```
 */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The paths of one recorded result, and of its day. */
export interface RecordPaths {
  /** `<out>/daily/<day>` */
  dayDir: string;
  /** `<out>/daily/<day>/scrapers` */
  scrapersDir: string;
  /** `<out>/daily/<day>/scrapers/<scraper>` */
  scraperDir: string;
  /** `<out>/daily/<day>/scrapers/<scraper>/<job>.json` */
  file: string;
  /** The same, relative to `<out>`: `daily/<day>/scrapers/<scraper>/<job>.json` */
  relativeFile: string;
  /** `<out>/daily/<day>/summary.json` */
  summary: string;
  /** `<out>/latest`, the symbolic link to the newest day */
  latest: string;
  /** What `latest` points to, relative to `<out>`: `daily/<day>` (the tree can move). */
  latestTarget: string;
  /** `<out>/.recorder.lock`, held while `latest` and a summary are updated */
  lockFile: string;
}

/**
 * The paths of the result of job `jobId` from scraper `scraperId`, recorded on `day`, under
 * `outputDir` (`OUTPUT_DIR`). Ids are made safe with `safeName`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { recordPaths } from "./paths.ts";
 *
 * assert.equal(
 *   recordPaths("out/", "2026-01-31", "s/1", "42").file,
 *   "out/daily/2026-01-31/scrapers/s_1/42.json",
 * );
 * ```
 */
export function recordPaths(
  outputDir: string,
  day: string,
  scraperId: string,
  jobId: string,
): RecordPaths {
  const root = outputDir.length > 1 ? outputDir.replace(/\/+$/, "") : outputDir;
  const relativeFile = `daily/${day}/scrapers/${safeName(scraperId)}/${safeName(jobId)}.json`;
  const dayDir = `${root}/daily/${day}`;
  const scrapersDir = `${dayDir}/scrapers`;
  return {
    dayDir,
    scrapersDir,
    scraperDir: `${scrapersDir}/${safeName(scraperId)}`,
    file: `${root}/${relativeFile}`,
    relativeFile,
    summary: `${dayDir}/summary.json`,
    latest: `${root}/latest`,
    latestTarget: `daily/${day}`,
    lockFile: `${root}/.recorder.lock`,
  };
}

/**
 * Whether `latest`, now pointing at `current` (`undefined`: missing or not a link), should
 * point at `target` instead: never back to an older day (a retried job of yesterday).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { movesLatest } from "./paths.ts";
 *
 * assert.equal(movesLatest("daily/2026-01-30", "daily/2026-01-31"), true);
 * assert.equal(movesLatest("daily/2026-01-31", "daily/2026-01-30"), false);
 * ```
 */
export function movesLatest(current: string | undefined, target: string): boolean {
  if (current === undefined || !/^daily\/\d{4}-\d{2}-\d{2}$/.test(current)) return true;
  return current < target;
}
