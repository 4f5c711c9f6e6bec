import { strict as assert } from "node:assert";
import { DEFAULT_CLAUDE_MODEL } from "../providers/claude_api.ts";
import { DEFAULT_OPENAI_MODEL } from "../providers/openai.ts";
import { usageOf } from "../providers/provider.ts";
import {
  costOf,
  loadPriceTable,
  type ModelPrice,
  parsePriceTable,
  priceOf,
  type PriceTable,
  SHIPPED_PRICES,
  worstCaseUsd,
} from "./prices.ts";

const price = (input: number, output = 0, cache_write = 0, cache_read = 0): ModelPrice => ({
  input,
  output,
  cache_write,
  cache_read,
});

Deno.test("the shipped table is dated, sourced, and prices each provider's default model, the CLI's, and echo at 0", () => {
  assert.match(SHIPPED_PRICES.date, /^\d{4}-\d{2}-\d{2}$/);
  assert.match(SHIPPED_PRICES.source, /^https:\/\//);
  assert.deepEqual(
    priceOf(SHIPPED_PRICES, "claude", DEFAULT_CLAUDE_MODEL),
    price(2, 10, 2.5, 0.2),
  );
  assert.deepEqual(
    priceOf(SHIPPED_PRICES, "openai", DEFAULT_OPENAI_MODEL),
    price(0.15, 0.6, 0.15, 0.075),
  );
  // The model the pinned Claude CLI uses by default, as its modelUsage names it.
  assert.deepEqual(priceOf(SHIPPED_PRICES, "claude", "claude-opus-5-5"), price(4, 20, 5, 0.2));
  assert.deepEqual(priceOf(SHIPPED_PRICES, "echo", "echo"), price(0));
  for (const [id, each] of Object.entries(SHIPPED_PRICES.models)) {
    assert.ok(each.cache_read <= each.input, `${id}: a cache read costs no more than input`);
    assert.ok(each.cache_write >= each.input, `${id}: a cache write costs no less than input`);
  }
});

const TABLE: PriceTable = {
  date: "2026-12-06",
  source: "test",
  models: {
    "claude/claude-opus-5": price(5),
    "claude/claude-opus-5-5": price(4),
    "claude/claude-sonnet-5": price(2),
    "openai/gpt-4o-mini": price(0.15),
    "local/*": price(0),
  },
};

Deno.test("priceOf: the exact id first, then the longest id followed by a dated suffix, then <provider>/*", () => {
  assert.equal(priceOf(TABLE, "claude", "claude-opus-5")?.input, 5);
  assert.equal(priceOf(TABLE, "claude", "claude-opus-5-5")?.input, 4);
  assert.equal(priceOf(TABLE, "claude", "claude-opus-5-5-20261001")?.input, 4);
  assert.equal(priceOf(TABLE, "claude", "claude-opus-5-20260724")?.input, 5);
  assert.equal(priceOf(TABLE, "openai", "gpt-4o-mini-2024-07-18")?.input, 0.15);
  assert.equal(priceOf(TABLE, "claude", "claude-sonnet-5-latest")?.input, 2);
  assert.equal(priceOf(TABLE, "local", "llama-9b")?.input, 0);
});

Deno.test("priceOf: never a neighbour's or another provider's price; unknown is undefined", () => {
  // Sonnet 5.5 is not Sonnet 5, although its id starts with it and a dash.
  assert.equal(priceOf(TABLE, "claude", "claude-sonnet-5-5"), undefined);
  assert.equal(priceOf(TABLE, "claude", "claude-sonnet-5-fast"), undefined);
  assert.equal(priceOf(TABLE, "openai", "claude-opus-5"), undefined);
  assert.equal(priceOf(TABLE, "openai", "gpt-4o"), undefined);
  assert.equal(priceOf(TABLE, "claude", "claude-opus-5-"), undefined);
});

/** The message `parsePriceTable` throws for `models`, as the entries of a file `p.json`. */
function parseError(models: unknown, extra: Record<string, unknown> = {}): string {
  const text = JSON.stringify({ date: "2026-12-06", source: "s", models, ...extra });
  try {
    parsePriceTable(text, "p.json");
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected an error");
}

Deno.test("parsePriceTable names the file and the first wrong entry, with its value", () => {
  const good = price(1, 2, 3, 0.1);
  assert.equal(
    parseError({ "a/b": good, "a/c": { ...good, output: "2" } }),
    'Cannot read the price table p.json as "models.a/c.output" must be a number >= 0 ' +
      '(USD per million tokens): current value is "2"',
  );
  assert.equal(
    parseError({ "a/b": { ...good, cache_read: -0.1 } }),
    'Cannot read the price table p.json as "models.a/b.cache_read" must be a number >= 0 ' +
      "(USD per million tokens): current value is -0.1",
  );
  assert.equal(
    parseError({ "a/b": { input: 1, output: 2, cache_write: 3 } }),
    'Cannot read the price table p.json as "models.a/b.cache_read" must be a number >= 0 ' +
      "(USD per million tokens): current value is undefined",
  );
  assert.equal(
    parseError({ "a/b": { ...good, cache_write_1h: 4 } }),
    'Cannot read the price table p.json as "models.a/b" may hold only input, output, ' +
      'cache_write, cache_read: current value is "cache_write_1h"',
  );
  assert.equal(
    parseError({ "claude-sonnet-5": good }),
    'Cannot read the price table p.json as a model\'s id must be "<provider>/<model>" or ' +
      '"<provider>/*": current value is "claude-sonnet-5"',
  );
  assert.equal(
    parseError({}, { unit: "USD per token" }),
    'Cannot read the price table p.json as "unit" must be "USD per million tokens": ' +
      'current value is "USD per token"',
  );
  assert.equal(
    parseError({}, { date: "6 Dec" }),
    'Cannot read the price table p.json as "date" must be the day the prices were read, ' +
      'YYYY-MM-DD: current value is "6 Dec"',
  );
  assert.throws(
    () => parsePriceTable("{", "p.json"),
    /^Error: Cannot read the price table p.json as it is not JSON: /,
  );
  assert.throws(
    () => parsePriceTable('{"date": "2026-12-06", "source": "s"}', "p.json"),
    /^Error: Cannot read the price table p.json as "models" must be an object/,
  );
});

Deno.test("loadPriceTable: the operator's entries replace the shipped ones per model, the rest stay; its date and source describe the table", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ppr-prices-test-" });
  try {
    const path = `${dir}/prices.json`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        date: "2027-01-15",
        source: "our contract with Anthropic",
        models: { "claude/claude-sonnet-5-5": price(1, 5, 1.25, 0.1), "openai/*": price(0) },
      }),
    );
    const table = await loadPriceTable(path);
    assert.equal(table.date, "2027-01-15");
    assert.equal(table.source, "our contract with Anthropic");
    assert.deepEqual(priceOf(table, "claude", "claude-sonnet-5-5"), price(1, 5, 1.25, 0.1));
    assert.deepEqual(
      priceOf(table, "claude", "claude-opus-5-5"),
      priceOf(SHIPPED_PRICES, "claude", "claude-opus-5-5"),
    );
    // The operator's wildcard does not hide the shipped exact entries.
    assert.equal(priceOf(table, "openai", "gpt-4o-mini")?.input, 0.15);
    assert.equal(priceOf(table, "openai", "my-local-model")?.input, 0);
    // The shipped table itself is left as it was.
    assert.deepEqual(
      priceOf(SHIPPED_PRICES, "claude", "claude-sonnet-5-5"),
      price(2, 10, 2.5, 0.2),
    );
    await assert.rejects(
      () => loadPriceTable(`${dir}/missing.json`),
      (error: Error) =>
        error.message.startsWith(`Cannot read the price table ${dir}/missing.json: `),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("costOf: each count at its own price, per million tokens, times the multiplier", () => {
  const sonnet = price(2, 10, 2.5, 0.2);
  const usage = usageOf({
    input_tokens: 1_000,
    output_tokens: 500,
    cache_creation_input_tokens: 2_000,
    cache_read_input_tokens: 10_000,
  });
  // $0.002 + $0.005 + $0.005 + $0.002
  assert.equal(costOf(usage, sonnet), 0.014);
  assert.equal(costOf(usage, sonnet, { multiplier: 0.5 }), 0.007);
  assert.equal(costOf(usageOf(), sonnet), 0);
  assert.equal(costOf(usageOf({ input_tokens: 1_200 }), price(0.15)), 0.00018);
  assert.throws(
    () => costOf(usage, sonnet, { multiplier: -1 }),
    new RangeError(
      "Cannot calculate the cost as 'multiplier' must be a finite number >= 0: current value is -1",
    ),
  );
});

Deno.test("worstCaseUsd: every input token at the dearer of input and cache write, max tokens at output", () => {
  assert.equal(worstCaseUsd(price(2, 10, 2.5, 0.2), 1_000_000, 0), 2.5);
  assert.equal(worstCaseUsd(price(2, 10, 1.5, 0.2), 1_000_000, 100_000), 3);
  assert.equal(worstCaseUsd(price(0), 5_000, 4_096), 0);
  assert.throws(
    () => worstCaseUsd(price(1), -1, 0),
    new RangeError(
      "Cannot calculate the worst case as 'inputTokens' must be a finite number >= 0: current value is -1",
    ),
  );
  assert.throws(
    () => worstCaseUsd(price(1), 0, Number.NaN),
    /'maxOutputTokens' must be a finite number >= 0: current value is NaN/,
  );
});
