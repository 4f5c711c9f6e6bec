/** What LLM calls cost: the price table (shipped, or the operator's `LLM_PRICES`), a model's price, a call's cost and worst case. */

import type { Usage } from "../providers/provider.ts";
import shipped from "./prices.json" with { type: "json" };

/**
 * A model's prices in US dollars per million tokens, one for each count of a `Usage`:
 * `cache_write` is the price of a 5-minute cache write (Anthropic's default; a 1-hour write
 * costs more), `cache_read` that of a cache hit.
 */
export interface ModelPrice {
  input: number;
  output: number;
  cache_write: number;
  cache_read: number;
}

/**
 * Prices by `<provider>/<model>` (the provider's name in `LLM_PROVIDER`, the model id the
 * provider reports), or `<provider>/*` for every model of a provider (`echo/*`: free), with the
 * date they were read and where.
 */
export interface PriceTable {
  /** When the prices were read, `YYYY-MM-DD`. */
  date: string;
  /** Where they were read: the pages' addresses. */
  source: string;
  models: Record<string, ModelPrice>;
}

/** The one unit a price file may state. */
const UNIT = "USD per million tokens";
const PRICE_FIELDS = ["input", "output", "cache_write", "cache_read"] as const;

/** Tokens in the unit of the prices. */
const MILLION = 1_000_000;

/**
 * Checks `value` is a price table (the parsed JSON of a price file) and returns it as one;
 * throws an `Error` naming `origin` and the first wrong entry otherwise.
 */
function checkedTable(value: unknown, origin: string): PriceTable {
  const wrong = (what: string, current: unknown) =>
    new Error(
      `Cannot read the price table ${origin} as ${what}: current value is ${
        JSON.stringify(current)
      }`,
    );
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw wrong("it must be a JSON object", value);
  }
  const table = value as Record<string, unknown>;
  if (typeof table.date !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(table.date)) {
    throw wrong(`"date" must be the day the prices were read, YYYY-MM-DD`, table.date);
  }
  if (typeof table.source !== "string" || table.source.trim() === "") {
    throw wrong(`"source" must say where the prices were read`, table.source);
  }
  if (table.unit !== undefined && table.unit !== UNIT) {
    throw wrong(`"unit" must be "${UNIT}"`, table.unit);
  }
  const models = table.models;
  if (typeof models !== "object" || models === null || Array.isArray(models)) {
    throw wrong(`"models" must be an object of prices by "<provider>/<model>"`, models);
  }
  for (const [id, price] of Object.entries(models)) {
    if (!/^[^/\s]+\/\S+$/.test(id)) {
      throw wrong(`a model's id must be "<provider>/<model>" or "<provider>/*"`, id);
    }
    if (typeof price !== "object" || price === null || Array.isArray(price)) {
      throw wrong(`"models.${id}" must be an object of ${PRICE_FIELDS.join(", ")}`, price);
    }
    const unknown = Object.keys(price).find((field) =>
      !(PRICE_FIELDS as readonly string[]).includes(field)
    );
    if (unknown !== undefined) {
      throw wrong(`"models.${id}" may hold only ${PRICE_FIELDS.join(", ")}`, unknown);
    }
    for (const field of PRICE_FIELDS) {
      const amount = (price as Record<string, unknown>)[field];
      if (typeof amount !== "number" || !Number.isFinite(amount) || amount < 0) {
        throw wrong(
          `"models.${id}.${field}" must be a number >= 0 (USD per million tokens)`,
          amount,
        );
      }
    }
  }
  return {
    date: table.date,
    source: table.source,
    models: models as Record<string, ModelPrice>,
  };
}

/**
 * The prices shipped with this build (`economics/prices.json`, read on its `date` from its
 * `source`): the Claude and OpenAI models the README names and their current siblings, and echo
 * at 0. Part of the module graph, so `deno compile` carries it.
 */
export const SHIPPED_PRICES: PriceTable = checkedTable(shipped, "economics/prices.json");

/**
 * Parses the text of a price file (the JSON form of `economics/prices.json`: `date`, `source`,
 * an optional `unit` that can only be "USD per million tokens", and `models`). Throws an
 * `Error` naming `origin` (the file) and the first wrong entry.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parsePriceTable } from "./prices.ts";
 *
 * const table = parsePriceTable(
 *   '{"date": "2026-12-06", "source": "our contract", "models": {"openai/local-llama": ' +
 *     '{"input": 0, "output": 0, "cache_write": 0, "cache_read": 0}}}',
 *   "prices.json",
 * );
 * assert.equal(table.models["openai/local-llama"].output, 0);
 * assert.throws(
 *   () => parsePriceTable('{"date": "2026-12-06", "source": "x", "models": {"a/b": {"input": -1}}}', "prices.json"),
 *   /^Error: Cannot read the price table prices.json as "models.a\/b.input" must be a number >= 0/,
 * );
 * ```
 */
export function parsePriceTable(text: string, origin: string): PriceTable {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `Cannot read the price table ${origin} as it is not JSON: ${(error as Error).message}`,
    );
  }
  return checkedTable(value, origin);
}

/**
 * The price table in force: the shipped one when `path` is undefined; else the operator's file
 * at `path` (`LLM_PRICES`) over it. Each model the operator's file lists REPLACES the shipped
 * entry of that id whole; the shipped entries it does not list stay. The table's `date` and
 * `source` are the operator's. Throws an `Error` naming the file when it cannot be read or is
 * wrong.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { loadPriceTable, SHIPPED_PRICES } from "./prices.ts";
 *
 * assert.equal(await loadPriceTable(undefined), SHIPPED_PRICES);
 * ```
 */
export async function loadPriceTable(path: string | undefined): Promise<PriceTable> {
  if (path === undefined) return SHIPPED_PRICES;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(`Cannot read the price table ${path}: ${(error as Error).message}`);
  }
  const own = parsePriceTable(text, path);
  return {
    date: own.date,
    source: own.source,
    models: { ...SHIPPED_PRICES.models, ...own.models },
  };
}

/** A dated snapshot's suffix (`20250929`, `2024-07-18`), or `latest`: the same model's price. */
const SNAPSHOT_SUFFIX = /^(\d{8}|\d{4}-\d{2}-\d{2}|latest)$/;

/**
 * The price of `model` of `provider`: its own entry (`claude/claude-sonnet-5-5`); else the entry
 * of the longest id it starts with followed by `-` and a dated suffix, as providers report a
 * snapshot (`claude-sonnet-4-5-20250929`, `gpt-4o-mini-2024-07-18`); else the provider's
 * `<provider>/*`; else `undefined`: its cost is unknown. Never a neighbour's price:
 * `claude-sonnet-5-5` does not fall back to `claude-sonnet-5`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { priceOf, SHIPPED_PRICES } from "./prices.ts";
 *
 * const sonnet = priceOf(SHIPPED_PRICES, "claude", "claude-sonnet-4-5");
 * assert.equal(priceOf(SHIPPED_PRICES, "claude", "claude-sonnet-4-5-20250929"), sonnet);
 * assert.equal(priceOf(SHIPPED_PRICES, "echo", "echo")?.input, 0);
 * assert.equal(priceOf(SHIPPED_PRICES, "claude", "claude-unknown-9"), undefined);
 * ```
 */
export function priceOf(
  table: PriceTable,
  provider: string,
  model: string,
): ModelPrice | undefined {
  const id = `${provider}/${model}`;
  const own = table.models[id];
  if (own) return own;
  let snapshotOf: string | undefined;
  for (const candidate of Object.keys(table.models)) {
    const matches = id.startsWith(`${candidate}-`) &&
      SNAPSHOT_SUFFIX.test(id.slice(candidate.length + 1));
    if (matches && candidate.length > (snapshotOf?.length ?? 0)) snapshotOf = candidate;
  }
  return table.models[snapshotOf ?? `${provider}/*`];
}

/**
 * What a call with `usage` cost at `price`, in US dollars: each count at its own price, times
 * `multiplier` (0.5 for a batch lane's discount). Rounded to 12 decimal places, so sums of
 * products such as 0.15 × 1,200 do not carry float noise.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { costOf } from "./prices.ts";
 *
 * const price = { input: 3, output: 15, cache_write: 3.75, cache_read: 0.3 };
 * const usage = {
 *   input_tokens: 1_000,
 *   output_tokens: 200,
 *   cache_creation_input_tokens: 0,
 *   cache_read_input_tokens: 10_000,
 * };
 * assert.equal(costOf(usage, price), 0.009); // $0.003 + $0.003 + $0.003
 * assert.equal(costOf(usage, price, { multiplier: 0.5 }), 0.0045);
 * ```
 */
export function costOf(
  usage: Usage,
  price: ModelPrice,
  options: {
    /** A factor on the whole cost: 0.5 for a batch discount. @default {1} */
    multiplier?: number;
  } = {},
): number {
  const multiplier = options.multiplier ?? 1;
  if (!Number.isFinite(multiplier) || multiplier < 0) {
    throw new RangeError(
      `Cannot calculate the cost as 'multiplier' must be a finite number >= 0: current value is ${multiplier}`,
    );
  }
  const perMillion = usage.input_tokens * price.input +
    usage.output_tokens * price.output +
    usage.cache_creation_input_tokens * price.cache_write +
    usage.cache_read_input_tokens * price.cache_read;
  return roundUsd(perMillion / MILLION * multiplier);
}

/**
 * What a request costs in a provider's batch API, as a share of its direct price: Anthropic's
 * Message Batches and OpenAI's Batch API both charge half, for every kind of usage.
 */
export const BATCH_PRICE_SHARE = 0.5;

/**
 * The most a call can cost before it is made, in US dollars: every one of its `inputTokens` at
 * the dearest input-side price (a cache write costs more than input) and `maxOutputTokens` (its
 * `max_tokens`) at the output price. What a budget reserves before the call.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { worstCaseUsd } from "./prices.ts";
 *
 * const price = { input: 2, output: 10, cache_write: 2.5, cache_read: 0.2 };
 * assert.equal(worstCaseUsd(price, 10_000, 1_000), 0.035); // 10,000 × $2.50 + 1,000 × $10, per million
 * ```
 */
export function worstCaseUsd(
  price: ModelPrice,
  inputTokens: number,
  maxOutputTokens: number,
): number {
  for (
    const [name, count] of [["inputTokens", inputTokens], ["maxOutputTokens", maxOutputTokens]]
  ) {
    if (!Number.isFinite(count) || (count as number) < 0) {
      throw new RangeError(
        `Cannot calculate the worst case as '${name}' must be a finite number >= 0: current value is ${count}`,
      );
    }
  }
  const inputPrice = Math.max(price.input, price.cache_write);
  return roundUsd((inputTokens * inputPrice + maxOutputTokens * price.output) / MILLION);
}

/** `usd` to 12 decimal places: float products of prices and counts lose their noise. */
function roundUsd(usd: number): number {
  return Number(usd.toFixed(12));
}
