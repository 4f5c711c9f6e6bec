import { strict as assert } from "node:assert";
import { isResultFile, listScrapers, summarize } from "./summary.ts";

Deno.test("summarize counts each scraper's result files, ignoring temporary files and empty folders", () => {
  const listing = {
    zeta: ["1.json", "2.json"],
    alpha: ["3.json", ".3.json.ab12cd34.tmp", "notes.txt"],
    empty: [".4.json.ffffffff.tmp"],
  };
  assert.deepEqual(summarize("2026-01-31", listing, new Date(Date.UTC(2026, 0, 31, 12))), {
    date: "2026-01-31",
    total: 3,
    scrapers: { alpha: 1, zeta: 2 },
    updated_at: "2026-01-31T12:00:00.000Z",
  });
  assert.deepEqual(Object.keys(summarize("d", listing, new Date()).scrapers), ["alpha", "zeta"]);
});

Deno.test("isResultFile: <job>.json only", () => {
  assert.equal(isResultFile("42.json"), true);
  assert.equal(isResultFile(".42.json.0a1b2c3d.tmp"), false);
  assert.equal(isResultFile(".x.json"), false);
  assert.equal(isResultFile("42.txt"), false);
});

Deno.test("listScrapers lists the files of each scraper folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ppr-summary-" });
  try {
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    await Deno.writeTextFile(`${dir}/a/1.json`, "{}");
    await Deno.writeTextFile(`${dir}/a/2.json`, "{}");
    await Deno.writeTextFile(`${dir}/stray.json`, "{}");
    const listing = await listScrapers(dir);
    assert.deepEqual(Object.keys(listing).sort(), ["a", "b"]);
    assert.deepEqual(listing.a.sort(), ["1.json", "2.json"]);
    assert.deepEqual(listing.b, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
