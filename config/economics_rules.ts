/** The rules of the LLM economics settings: budgets (`LLM_BUDGET_USD`), their period and the token-rate limits. */

import type { KnownNames } from "./rules.ts";

/** What a budget covers: every call, one provider's calls, or one queue's. */
export type BudgetScope =
  | { scope: "overall" }
  | { scope: "provider"; provider: string }
  | { scope: "queue"; queue: string };

/** One budget of `LLM_BUDGET_USD`: a scope and the dollars it may spend per period. */
export type BudgetSpec = BudgetScope & { limitUsd: number };

/**
 * When every budget starts over (`LLM_BUDGET_PERIOD`), in UTC: each hour, each day at
 * `startsAtMinute` minutes past midnight, each week on Monday at midnight, each month on the 1st.
 */
export type BudgetPeriod =
  | { unit: "hour" }
  | { unit: "day"; startsAtMinute: number }
  | { unit: "week" }
  | { unit: "month" };

/** The units providers limit calls by: requests, input tokens and output tokens per minute. */
export const RATE_UNITS = ["rpm", "itpm", "otpm"] as const;

/** One of {@link RATE_UNITS}. */
export type RateUnit = typeof RATE_UNITS[number];

/**
 * What a rate limit applies to: each model of a provider (each its own bucket, as providers limit
 * per model), one model (overriding its provider's entry unit by unit), or each `rate_key` a job
 * carries in its metadata (each key its own bucket).
 */
export type RateLimitScope =
  | { scope: "provider"; provider: string }
  | { scope: "model"; provider: string; model: string }
  | { scope: "key" };

/** One entry of `LLM_RATE_LIMITS`: a scope and its limit per unit, per minute. */
export type RateLimitSpec = RateLimitScope & { limits: Partial<Record<RateUnit, number>> };

/** A parse: the value, or what is wrong with the text. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * A setting's rule (as `config/rules.ts` makes them) from a parser that says what is wrong.
 * Without `known`, provider names go unchecked: `config.ts` parses with them, but calls
 * `problem(raw)` without, so that a wrong name is left to the rule, which lists the names.
 */
function ruleOf<Rule extends string | ((known: KnownNames) => string), T>(
  rule: Rule,
  parser: (text: string, known?: KnownNames) => Parsed<T>,
) {
  return {
    rule,
    parse(raw: string, known?: KnownNames): T | undefined {
      const parsed = parser(raw, known);
      return parsed.ok ? parsed.value : undefined;
    },
    problem(raw: string, known?: KnownNames): string | undefined {
      const parsed = parser(raw, known);
      return parsed.ok ? undefined : parsed.error;
    },
  };
}

// The same names QUEUE_NAME takes (config/rules.ts).
const QUEUE_NAME = /^[A-Za-z0-9_.\-{}]+$/;
// A dollar amount as people write it: 30, 12.50, 0.5 (no sign, no exponent, no currency sign).
const USD = /^\d+(?:\.\d+)?$/;
// A model name as providers spell them (claude-sonnet-4-5, gpt-4o-mini, meta-llama/llama-3:8b).
const MODEL_NAME = /^[^\s;,=]+$/;

/** The provider called `raw` (case-insensitive), or why there is none; unchecked without `known`. */
function provider(raw: string, known: KnownNames | undefined): Parsed<string> {
  const name = raw.trim().toLowerCase();
  if (name === "") return { ok: false, error: "the provider name is empty" };
  if (known && !known.providers.includes(name)) {
    return {
      ok: false,
      error: `"${raw.trim()}" is not a provider of this build (${known.providers.join(", ")})`,
    };
  }
  return { ok: true, value: name };
}

/** How a budget is named in messages and readings: `overall`, `provider claude`, `queue llm`. */
export function budgetName(scope: BudgetScope): string {
  if (scope.scope === "overall") return "overall";
  return scope.scope === "provider" ? `provider ${scope.provider}` : `queue ${scope.queue}`;
}

/**
 * Parses `LLM_BUDGET_USD`: comma-separated entries, a bare amount being the overall budget,
 * `<provider>=<usd>` a provider's and `queue:<name>=<usd>` a queue's. Provider names are
 * checked against `known.providers` (case-insensitive) when `known` is given.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseBudgets } from "./economics_rules.ts";
 *
 * assert.deepEqual(parseBudgets("50,claude=30,queue:llm=5", { providers: ["claude"] }), {
 *   ok: true,
 *   value: [
 *     { scope: "overall", limitUsd: 50 },
 *     { scope: "provider", provider: "claude", limitUsd: 30 },
 *     { scope: "queue", queue: "llm", limitUsd: 5 },
 *   ],
 * });
 * assert.deepEqual(parseBudgets("50,gemini=3", { providers: ["claude"] }), {
 *   ok: false,
 *   error: 'entry "gemini=3": "gemini" is not a provider of this build (claude)',
 * });
 * ```
 */
export function parseBudgets(text: string, known?: KnownNames): Parsed<BudgetSpec[]> {
  const budgets: BudgetSpec[] = [];
  const seen = new Set<string>();
  for (const entry of text.split(",").map((part) => part.trim()).filter((part) => part !== "")) {
    const fail = (error: string) => ({ ok: false as const, error: `entry "${entry}": ${error}` });
    const equals = entry.indexOf("=");
    const amount = equals < 0 ? entry : entry.slice(equals + 1).trim();
    if (!USD.test(amount)) {
      return fail(
        equals < 0
          ? "is neither an amount of dollars (e.g. 50) nor <provider>=<usd> nor queue:<name>=<usd>"
          : `"${amount}" is not an amount of dollars (e.g. 30 or 12.50)`,
      );
    }
    let scope: BudgetScope;
    if (equals < 0) scope = { scope: "overall" };
    else {
      const target = entry.slice(0, equals).trim();
      if (target.startsWith("queue:")) {
        const queue = target.slice("queue:".length).trim();
        if (!QUEUE_NAME.test(queue)) {
          return fail(`"${queue}" is not a queue name (letters, digits, _ . - { })`);
        }
        scope = { scope: "queue", queue };
      } else {
        const name = provider(target, known);
        if (!name.ok) return fail(name.error);
        scope = { scope: "provider", provider: name.value };
      }
    }
    const label = budgetName(scope);
    if (seen.has(label)) return fail(`the ${label} budget is given twice`);
    seen.add(label);
    budgets.push({ ...scope, limitUsd: Number(amount) });
  }
  return { ok: true, value: budgets };
}

/** `LLM_BUDGET_USD`: the budgets in dollars per period (see {@link parseBudgets}); `""`: none. */
export function budgets() {
  return ruleOf(
    (known: KnownNames) =>
      "comma-separated budgets in dollars: <usd> (overall), <provider>=<usd> (provider one of " +
      `${known.providers.join(", ")}) or queue:<name>=<usd>, e.g. 50,claude=30,queue:llm=5`,
    parseBudgets,
  );
}

/**
 * Parses `LLM_BUDGET_PERIOD`: `hour`, `day` (from 00:00 UTC), `day@HH:MM` (from that UTC time),
 * `week` (from Monday 00:00 UTC) or `month` (from the 1st, 00:00 UTC), case-insensitive.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseBudgetPeriod } from "./economics_rules.ts";
 *
 * assert.deepEqual(parseBudgetPeriod("day@06:30"), {
 *   ok: true,
 *   value: { unit: "day", startsAtMinute: 390 },
 * });
 * assert.deepEqual(parseBudgetPeriod("week"), { ok: true, value: { unit: "week" } });
 * assert.equal(parseBudgetPeriod("day@24:00").ok, false);
 * ```
 */
export function parseBudgetPeriod(text: string): Parsed<BudgetPeriod> {
  const value = text.trim().toLowerCase();
  if (value === "hour" || value === "week" || value === "month") {
    return { ok: true, value: { unit: value } };
  }
  if (value === "day") return { ok: true, value: { unit: "day", startsAtMinute: 0 } };
  if (!value.startsWith("day@")) {
    return { ok: false, error: `"${text.trim()}" is not a period` };
  }
  const time = /^(\d{2}):(\d{2})$/.exec(value.slice("day@".length));
  if (!time || Number(time[1]) > 23 || Number(time[2]) > 59) {
    return {
      ok: false,
      error: `"${text.trim().slice("day@".length)}" is not a UTC time HH:MM from 00:00 to 23:59`,
    };
  }
  return {
    ok: true,
    value: { unit: "day", startsAtMinute: Number(time[1]) * 60 + Number(time[2]) },
  };
}

/** `LLM_BUDGET_PERIOD`: when the budgets start over (see {@link parseBudgetPeriod}). */
export function budgetPeriod() {
  return ruleOf("hour, day, day@HH:MM (a UTC time), week or month", parseBudgetPeriod);
}

/** The limits of one entry: `rpm:50,itpm:30000`, each unit at most once, each a whole number ≥ 1. */
function parseLimits(text: string): Parsed<Partial<Record<RateUnit, number>>> {
  const limits: Partial<Record<RateUnit, number>> = {};
  const parts = text.split(",").map((part) => part.trim());
  if (parts.every((part) => part === "")) {
    return { ok: false, error: "no limit is given (rpm:<n>, itpm:<n> or otpm:<n>)" };
  }
  for (const part of parts) {
    const match = /^([a-z]+):(\d+)$/i.exec(part);
    const unit = RATE_UNITS.find((candidate) => candidate === match?.[1].toLowerCase());
    if (!match || !unit) {
      return { ok: false, error: `"${part}" is not a limit rpm:<n>, itpm:<n> or otpm:<n>` };
    }
    if (unit in limits) return { ok: false, error: `${unit} is given twice` };
    const limit = Number(match[2]);
    if (limit < 1) {
      return { ok: false, error: `${unit} must be at least 1: current value is ${limit}` };
    }
    limits[unit] = limit;
  }
  return { ok: true, value: limits };
}

/** How a rate-limit scope is written in `LLM_RATE_LIMITS`: `claude`, `openai/gpt-4o-mini`, `key`. */
export function rateScopeName(scope: RateLimitScope): string {
  if (scope.scope === "key") return "key";
  return scope.scope === "provider" ? scope.provider : `${scope.provider}/${scope.model}`;
}

/**
 * Parses `LLM_RATE_LIMITS`: `;`-separated entries `<scope>=<limit>[,<limit>...]`, the scope
 * being `<provider>` (each of its models, each its own bucket), `<provider>/<model>` (that model,
 * overriding its provider's entry unit by unit) or `key` (each `rate_key` of a job's metadata,
 * each its own bucket), a limit `rpm:<n>`, `itpm:<n>` (input tokens) or `otpm:<n>` (output
 * tokens), per minute. Provider names are checked against `known.providers` when it is given.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseRateLimits } from "./economics_rules.ts";
 *
 * const text = "claude=rpm:50,itpm:30000;openai/gpt-4o-mini=itpm:200000;key=itpm:5000";
 * assert.deepEqual(parseRateLimits(text, { providers: ["claude", "openai"] }), {
 *   ok: true,
 *   value: [
 *     { scope: "provider", provider: "claude", limits: { rpm: 50, itpm: 30000 } },
 *     { scope: "model", provider: "openai", model: "gpt-4o-mini", limits: { itpm: 200000 } },
 *     { scope: "key", limits: { itpm: 5000 } },
 *   ],
 * });
 * ```
 */
export function parseRateLimits(text: string, known?: KnownNames): Parsed<RateLimitSpec[]> {
  const specs: RateLimitSpec[] = [];
  const seen = new Set<string>();
  for (const entry of text.split(/[;\n]/).map((part) => part.trim()).filter((part) => part)) {
    const fail = (error: string) => ({ ok: false as const, error: `entry "${entry}": ${error}` });
    const equals = entry.indexOf("=");
    if (equals < 0) return fail("does not start with <provider>=, <provider>/<model>= or key=");
    const target = entry.slice(0, equals).trim();
    let scope: RateLimitScope;
    if (target.toLowerCase() === "key") scope = { scope: "key" };
    else {
      const slash = target.indexOf("/");
      const name = provider(slash < 0 ? target : target.slice(0, slash), known);
      if (!name.ok) return fail(name.error);
      const model = slash < 0 ? undefined : target.slice(slash + 1).trim();
      if (model !== undefined && !MODEL_NAME.test(model)) {
        return fail(`"${model}" is not a model name (no spaces, ";", "," or "=")`);
      }
      scope = model === undefined
        ? { scope: "provider", provider: name.value }
        : { scope: "model", provider: name.value, model };
    }
    const limits = parseLimits(entry.slice(equals + 1));
    if (!limits.ok) return fail(limits.error);
    const label = rateScopeName(scope);
    if (seen.has(label)) return fail(`${label} is limited twice`);
    seen.add(label);
    specs.push({ ...scope, limits: limits.value });
  }
  return { ok: true, value: specs };
}

/** `LLM_RATE_LIMITS`: the fleet's token-rate limits (see {@link parseRateLimits}); `""`: none. */
export function rateLimits() {
  return ruleOf(
    (known: KnownNames) =>
      '";"-separated entries <scope>=<limit>[,<limit>...], the scope being <provider>, ' +
      `<provider>/<model> or key (provider one of ${known.providers.join(", ")}), a limit ` +
      "rpm:<n>, itpm:<n> or otpm:<n>, e.g. claude=rpm:50,itpm:30000;key=itpm:5000",
    parseRateLimits,
  );
}
