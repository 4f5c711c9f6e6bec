import { strict as assert } from "node:assert";
import { CONFIG_SCHEMA } from "../providers/registry.ts";
import { parseConfig } from "./config.ts";
import {
  budgetName,
  budgetPeriod,
  budgets,
  parseBudgetPeriod,
  parseBudgets,
  parseRateLimits,
  rateLimits,
  rateScopeName,
} from "./economics_rules.ts";

const KNOWN = { providers: ["claude", "openai", "echo"] };

Deno.test("LLM_BUDGET_USD: a bare amount is overall, <provider>= a provider's, queue:<name>= a queue's", () => {
  assert.deepEqual(budgets().parse("50, Claude=30 ,queue:llm=5,openai=0.25", KNOWN), [
    { scope: "overall", limitUsd: 50 },
    { scope: "provider", provider: "claude", limitUsd: 30 },
    { scope: "queue", queue: "llm", limitUsd: 5 },
    { scope: "provider", provider: "openai", limitUsd: 0.25 },
  ]);
  assert.deepEqual(budgets().parse("", KNOWN), []);
  assert.deepEqual(budgets().parse("queue:{ppr}.x=1,", KNOWN), [
    { scope: "queue", queue: "{ppr}.x", limitUsd: 1 },
  ]);
});

Deno.test("LLM_BUDGET_USD problems name the entry and what is wrong with it", () => {
  const cases: [string, string][] = [
    [
      "50,fifty",
      'entry "fifty": is neither an amount of dollars (e.g. 50) nor <provider>=<usd> nor queue:<name>=<usd>',
    ],
    ["claude=", 'entry "claude=": "" is not an amount of dollars (e.g. 30 or 12.50)'],
    ["claude=$30", 'entry "claude=$30": "$30" is not an amount of dollars (e.g. 30 or 12.50)'],
    [
      "-5",
      'entry "-5": is neither an amount of dollars (e.g. 50) nor <provider>=<usd> nor queue:<name>=<usd>',
    ],
    [
      "gemini=3",
      'entry "gemini=3": "gemini" is not a provider of this build (claude, openai, echo)',
    ],
    ["=3", 'entry "=3": the provider name is empty'],
    ["queue:a/b=3", 'entry "queue:a/b=3": "a/b" is not a queue name (letters, digits, _ . - { })'],
    ["50,20", 'entry "20": the overall budget is given twice'],
    ["claude=1,CLAUDE=2", 'entry "CLAUDE=2": the provider claude budget is given twice'],
    ["queue:llm=1,queue:llm=2", 'entry "queue:llm=2": the queue llm budget is given twice'],
  ];
  for (const [raw, problem] of cases) {
    assert.equal(budgets().parse(raw, KNOWN), undefined, raw);
    assert.equal(budgets().problem(raw, KNOWN), problem);
  }
  // Without the providers' names (config.ts's call) a name is left to the rule, which lists them.
  assert.equal(budgets().problem("gemini=3"), undefined);
  assert.equal(budgets().problem("50,20"), 'entry "20": the overall budget is given twice');
  assert.match(budgets().rule(KNOWN), /provider one of claude, openai, echo/);
});

Deno.test("LLM_BUDGET_PERIOD: hour, day, day@HH:MM, week, month; day by default", () => {
  assert.deepEqual(budgetPeriod().parse("DAY"), { unit: "day", startsAtMinute: 0 });
  assert.deepEqual(budgetPeriod().parse("day@00:00"), { unit: "day", startsAtMinute: 0 });
  assert.deepEqual(budgetPeriod().parse("day@23:59"), { unit: "day", startsAtMinute: 1439 });
  assert.deepEqual(budgetPeriod().parse(" hour "), { unit: "hour" });
  assert.deepEqual(budgetPeriod().parse("month"), { unit: "month" });
  assert.deepEqual(parseBudgetPeriod("week"), { ok: true, value: { unit: "week" } });
  const cases: [string, string][] = [
    ["daily", '"daily" is not a period'],
    ["day@24:00", '"24:00" is not a UTC time HH:MM from 00:00 to 23:59'],
    ["day@6:00", '"6:00" is not a UTC time HH:MM from 00:00 to 23:59'],
    ["day@06:60", '"06:60" is not a UTC time HH:MM from 00:00 to 23:59'],
  ];
  for (const [raw, problem] of cases) {
    assert.equal(budgetPeriod().parse(raw), undefined, raw);
    assert.equal(budgetPeriod().problem(raw), problem);
  }
});

Deno.test("LLM_RATE_LIMITS: provider, provider/model and key entries, each with its units", () => {
  const raw = "claude=rpm:50,itpm:30000,otpm:8000; openai/gpt-4o-mini=ITPM:200000;\n" +
    "key=itpm:5000;openai/meta-llama/llama-3:8b=rpm:5";
  assert.deepEqual(rateLimits().parse(raw, KNOWN), [
    { scope: "provider", provider: "claude", limits: { rpm: 50, itpm: 30000, otpm: 8000 } },
    { scope: "model", provider: "openai", model: "gpt-4o-mini", limits: { itpm: 200000 } },
    { scope: "key", limits: { itpm: 5000 } },
    { scope: "model", provider: "openai", model: "meta-llama/llama-3:8b", limits: { rpm: 5 } },
  ]);
  assert.deepEqual(rateLimits().parse("", KNOWN), []);
});

Deno.test("LLM_RATE_LIMITS problems name the entry and what is wrong with it", () => {
  const cases: [string, string][] = [
    ["claude", 'entry "claude": does not start with <provider>=, <provider>/<model>= or key='],
    ["claude=", 'entry "claude=": no limit is given (rpm:<n>, itpm:<n> or otpm:<n>)'],
    ["claude=tpm:5", 'entry "claude=tpm:5": "tpm:5" is not a limit rpm:<n>, itpm:<n> or otpm:<n>'],
    ["claude=rpm:5,", 'entry "claude=rpm:5,": "" is not a limit rpm:<n>, itpm:<n> or otpm:<n>'],
    [
      "claude=rpm:-5",
      'entry "claude=rpm:-5": "rpm:-5" is not a limit rpm:<n>, itpm:<n> or otpm:<n>',
    ],
    ["claude=rpm:0", 'entry "claude=rpm:0": rpm must be at least 1: current value is 0'],
    ["claude=rpm:5,rpm:6", 'entry "claude=rpm:5,rpm:6": rpm is given twice'],
    [
      "gemini=rpm:5",
      'entry "gemini=rpm:5": "gemini" is not a provider of this build (claude, openai, echo)',
    ],
    ["claude/=rpm:5", 'entry "claude/=rpm:5": "" is not a model name (no spaces, ";", "," or "=")'],
    ["claude=rpm:5;claude=itpm:5", 'entry "claude=itpm:5": claude is limited twice'],
    ["key=rpm:5;KEY=itpm:5", 'entry "KEY=itpm:5": key is limited twice'],
  ];
  for (const [raw, problem] of cases) {
    assert.equal(rateLimits().parse(raw, KNOWN), undefined, raw);
    assert.equal(rateLimits().problem(raw, KNOWN), problem);
  }
  assert.equal(rateLimits().problem("gemini=rpm:5"), undefined);
  assert.equal(parseRateLimits("x=rpm:1").ok, true, "unchecked without the providers' names");
});

Deno.test("budgets and rate-limit scopes are named the way the settings write them", () => {
  assert.equal(budgetName({ scope: "overall" }), "overall");
  assert.equal(budgetName({ scope: "provider", provider: "claude" }), "provider claude");
  assert.equal(budgetName({ scope: "queue", queue: "llm" }), "queue llm");
  assert.equal(
    rateScopeName({ scope: "model", provider: "openai", model: "gpt-4o" }),
    "openai/gpt-4o",
  );
  assert.equal(rateScopeName({ scope: "provider", provider: "claude" }), "claude");
  assert.equal(rateScopeName({ scope: "key" }), "key");
  assert.deepEqual(parseBudgets("1", KNOWN), {
    ok: true,
    value: [{ scope: "overall", limitUsd: 1 }],
  });
});

Deno.test("the economics settings in the Config: unset is no budget and no limit, a day's period", () => {
  const result = parseConfig({}, { LLM_PROVIDER: "echo" }, CONFIG_SCHEMA);
  assert(result.ok);
  assert.deepEqual(result.config.llmBudgets, []);
  assert.deepEqual(result.config.llmBudgetPeriod, { unit: "day", startsAtMinute: 0 });
  assert.deepEqual(result.config.llmRateLimits, []);
  const set = parseConfig({}, {
    LLM_BUDGET_USD: "50,claude=30",
    LLM_BUDGET_PERIOD: "week",
    LLM_RATE_LIMITS: "claude=rpm:50",
  }, CONFIG_SCHEMA);
  assert(set.ok);
  assert.deepEqual(set.config.llmBudgets[1], {
    scope: "provider",
    provider: "claude",
    limitUsd: 30,
  });
  assert.deepEqual(set.config.llmBudgetPeriod, { unit: "week" });
  assert.deepEqual(set.config.llmRateLimits[0].limits, { rpm: 50 });
});

Deno.test("the economics settings' errors name the variable, the value, the rule and the entry", () => {
  const result = parseConfig({}, {
    LLM_BUDGET_USD: "50,claude=lots",
    LLM_BUDGET_PERIOD: "fortnight",
    LLM_RATE_LIMITS: "gemini=rpm:5",
  }, CONFIG_SCHEMA);
  assert(!result.ok);
  assert.deepEqual(result.errors.map((error) => error.split(" = ")[0]), [
    "LLM_BUDGET_USD",
    "LLM_BUDGET_PERIOD",
    "LLM_RATE_LIMITS",
  ]);
  assert.match(
    result.errors[0],
    /: must be comma-separated budgets in dollars: .* \(entry "claude=lots": "lots" is not an amount of dollars/,
  );
  assert.match(
    result.errors[1],
    /^LLM_BUDGET_PERIOD = "fortnight": must be hour, day, day@HH:MM \(a UTC time\), week or month \("fortnight" is not a period\)$/,
  );
  assert.match(
    result.errors[2],
    /^LLM_RATE_LIMITS = "gemini=rpm:5": must be .*provider one of claude, openai, echo/,
  );
});
