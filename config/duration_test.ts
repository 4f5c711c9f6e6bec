import { strict as assert } from "node:assert";
import { formatDuration, parseDurationMs } from "./duration.ts";

Deno.test("parseDurationMs reads ms, s, m, h, d and bare seconds", () => {
  assert.equal(parseDurationMs("500ms"), 500);
  assert.equal(parseDurationMs("10s"), 10_000);
  assert.equal(parseDurationMs("5m"), 300_000);
  assert.equal(parseDurationMs("1h"), 3_600_000);
  assert.equal(parseDurationMs("7d"), 604_800_000);
  assert.equal(parseDurationMs("30"), 30_000);
  assert.equal(parseDurationMs("1.5"), 1500);
  assert.equal(parseDurationMs(" 2s "), 2000);
});

Deno.test("parseDurationMs rejects what is not a duration", () => {
  for (const text of ["", "soon", "-5s", "10 minutes", "s", "1e3"]) {
    assert.equal(parseDurationMs(text), undefined, text);
  }
});

Deno.test("formatDuration writes the largest whole unit", () => {
  assert.equal(formatDuration(86_400_000), "1d");
  assert.equal(formatDuration(3_600_000), "1h");
  assert.equal(formatDuration(300_000), "5m");
  assert.equal(formatDuration(30_000), "30s");
  assert.equal(formatDuration(1500), "1500ms");
  assert.equal(formatDuration(0), "0s");
});
