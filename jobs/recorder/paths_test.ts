import { strict as assert } from "node:assert";
import { dayOf, movesLatest, recordPaths, safeName } from "./paths.ts";

Deno.test("recordPaths: daily/<day>/scrapers/<scraper>/<job>.json, the day's summary, latest beside daily", () => {
  assert.deepEqual(recordPaths("/data/out/", "2026-01-31", "food_bank_x", "42"), {
    dayDir: "/data/out/daily/2026-01-31",
    scrapersDir: "/data/out/daily/2026-01-31/scrapers",
    scraperDir: "/data/out/daily/2026-01-31/scrapers/food_bank_x",
    file: "/data/out/daily/2026-01-31/scrapers/food_bank_x/42.json",
    relativeFile: "daily/2026-01-31/scrapers/food_bank_x/42.json",
    summary: "/data/out/daily/2026-01-31/summary.json",
    latest: "/data/out/latest",
    latestTarget: "daily/2026-01-31",
    lockFile: "/data/out/.recorder.lock",
  });
  assert.equal(
    recordPaths("out", "2026-01-31", "s", "1").file,
    "out/daily/2026-01-31/scrapers/s/1.json",
  );
});

Deno.test("safeName keeps ids inside their folder: no separators, no dot names, no hidden files", () => {
  assert.equal(safeName("food_bank-1.v2"), "food_bank-1.v2");
  assert.equal(safeName("../../etc/passwd"), "_._.._etc_passwd");
  assert.equal(safeName(".."), "_.");
  assert.equal(safeName("."), "_");
  assert.equal(safeName(".hidden"), "_hidden");
  assert.equal(safeName("a/b\\c d\u0000é"), "a_b_c_d__");
  assert.equal(safeName(""), "_");
  assert.equal(safeName("x".repeat(300)).length, 200);
  const file = recordPaths("out", "2026-01-31", "../..", "../../x").file;
  assert.equal(file, "out/daily/2026-01-31/scrapers/_._../_._.._x.json");
});

Deno.test("dayOf is the UTC date", () => {
  assert.equal(dayOf(Date.UTC(2026, 0, 31, 23, 59, 59)), "2026-01-31");
  assert.equal(dayOf(Date.UTC(2026, 1, 1, 0, 0, 0)), "2026-02-01");
});

Deno.test("latest moves forward to a new day, never back to an older one", () => {
  assert.equal(movesLatest(undefined, "daily/2026-01-31"), true);
  assert.equal(movesLatest("daily/2026-01-30", "daily/2026-01-31"), true);
  assert.equal(movesLatest("daily/2026-01-31", "daily/2026-01-31"), false);
  assert.equal(movesLatest("daily/2026-02-01", "daily/2026-01-31"), false);
  assert.equal(movesLatest("/somewhere/else", "daily/2026-01-31"), true);
});
