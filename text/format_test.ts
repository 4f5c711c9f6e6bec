import { strict as assert } from "node:assert";
import { formatAge, oneLine, progressLine, shortenStrings, shortenText, table } from "./format.ts";

Deno.test("table: columns padded to the widest cell, numbers right-aligned, no trailing spaces", () => {
  assert.equal(
    table([["queue", "waiting", "note"], ["llm", "12", ""], ["long-name", "3", "x"]], {
      alignRight: [1],
    }),
    "queue      waiting  note\nllm             12\nlong-name        3  x",
  );
  assert.equal(table([]), "");
});

Deno.test("formatAge: the two largest units, a whole unit alone, 0s for nothing or the future", () => {
  assert.equal(formatAge(0), "0s");
  assert.equal(formatAge(-5000), "0s");
  assert.equal(formatAge(4_200), "4s");
  assert.equal(formatAge(120_000), "2m");
  assert.equal(formatAge(130_000), "2m10s");
  assert.equal(formatAge(3_660_000), "1h1m");
  assert.equal(formatAge(90_061_000), "1d1h");
});

Deno.test("shortenText and shortenStrings: long strings cut with the count left out; structure and short values kept", () => {
  assert.equal(shortenText("abcdefghij", 4), "abcd… (6 more characters)");
  assert.equal(shortenText("abcd", 4), "abcd");
  assert.deepEqual(
    shortenStrings(
      {
        prompt: [{ role: "user", content: "x".repeat(12) }],
        metadata: { id: 7, ok: true, n: null },
      },
      10,
    ),
    {
      prompt: [{ role: "user", content: "xxxxxxxxxx… (2 more characters)" }],
      metadata: { id: 7, ok: true, n: null },
    },
  );
});

Deno.test("oneLine: the first non-empty line, whitespace collapsed, cut with an ellipsis", () => {
  assert.equal(oneLine("\n  Error:   boom\n    at x.ts:1", 40), "Error: boom");
  assert.equal(oneLine("abcdef", 4), "abc…");
  assert.equal(oneLine("", 4), "");
});

Deno.test("progressLine: done, failed, rate and ETA; ETA unknown before the first job, finished at the end", () => {
  assert.equal(
    progressLine({ total: 100, completed: 40, failed: 2, elapsedMs: 21_000 }),
    "42/100 done, 2 failed, 2.0 jobs/s, ETA 29s",
  );
  assert.equal(
    progressLine({ total: 10, completed: 0, failed: 0, elapsedMs: 500 }),
    "0/10 done, 0 failed, 0.0 jobs/s, ETA unknown",
  );
  assert.equal(
    progressLine({ total: 2, completed: 2, failed: 0, elapsedMs: 1000 }),
    "2/2 done, 0 failed, 2.0 jobs/s, finished",
  );
});
