/** A day's `summary.json`: results per scraper, counted from what is on disk. */

/** What `summary.json` holds. */
export interface DaySummary {
  date: string;
  /** Results recorded that day, every scraper together. */
  total: number;
  /** Results per scraper (the folder names under `scrapers/`), sorted by name. */
  scrapers: Record<string, number>;
  updated_at: string;
}

/**
 * Whether a file name is a recorded result: `<job>.json`, not a hidden temporary file of a
 * write in progress (or of a write a crash cut short).
 */
export function isResultFile(name: string): boolean {
  return name.endsWith(".json") && !name.startsWith(".");
}

/**
 * Counts a day's results from its listing: the file names in each scraper's folder.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { summarize } from "./summary.ts";
 *
 * const listing = { b: ["1.json"], a: ["2.json", ".2.json.x1.tmp"] };
 * assert.deepEqual(summarize("2026-01-31", listing, new Date(0)), {
 *   date: "2026-01-31",
 *   total: 2,
 *   scrapers: { a: 1, b: 1 },
 *   updated_at: "1970-01-01T00:00:00.000Z",
 * });
 * ```
 */
export function summarize(
  date: string,
  listing: Record<string, string[]>,
  now: Date,
): DaySummary {
  const scrapers: Record<string, number> = {};
  let total = 0;
  for (const scraper of Object.keys(listing).sort()) {
    const count = listing[scraper].filter(isResultFile).length;
    if (count === 0) continue;
    scrapers[scraper] = count;
    total += count;
  }
  return { date, total, scrapers, updated_at: now.toISOString() };
}

/** The file names in each folder of `scrapersDir`: what `summarize` counts. */
export async function listScrapers(scrapersDir: string): Promise<Record<string, string[]>> {
  const listing: Record<string, string[]> = {};
  for await (const scraper of Deno.readDir(scrapersDir)) {
    if (!scraper.isDirectory) continue;
    const names: string[] = [];
    for await (const file of Deno.readDir(`${scrapersDir}/${scraper.name}`)) {
      if (file.isFile) names.push(file.name);
    }
    listing[scraper.name] = names;
  }
  return listing;
}
