import { strict as assert } from "node:assert";
import { queueJobRates } from "../state/job_rates.ts";
import type { ProviderSpend } from "../state/spend.ts";
import { jobRateChart, pauseTimeline, spendChart } from "./charts.ts";
import { costText } from "../state/spend.ts";

const NOW = Date.UTC(2026, 11, 7, 5, 30, 20);
const MINUTE = 60_000;

/** Every `data-*` attribute `name` of an element `tag` in `svg`, as numbers. */
function attributeValues(svg: string, tag: string, name: string): number[] {
  return [...svg.matchAll(new RegExp(`<${tag} [^>]* ${name}="([^"]*)"`, "g"))]
    .map((match) => Number(match[1]));
}

Deno.test("the job rate chart has a group per minute with jobs, with that minute's counts, and the window's sums", () => {
  // Minute 05:28 closed with 3 completed; 05:30 (still open) has 2 more; 1 failed at 05:29.
  const completed = { meta: { count: 5, prevTS: NOW, prevCount: 3 }, data: [0, 3] };
  const failed = { meta: { count: 1, prevTS: NOW - MINUTE, prevCount: 0 }, data: [] };
  const svg = jobRateChart(queueJobRates("llm", { completed, failed }, 180, NOW));
  const minutes = [
    ...svg.matchAll(/<g data-minute="([^"]+)" data-completed="(\d+)" data-failed="(\d+)"/g),
  ]
    .map((
      [, minute, done, failedJobs],
    ) => [minute.slice(11, 16), Number(done), Number(failedJobs)]);
  assert.deepEqual(minutes, [["05:28", 3, 0], ["05:29", 0, 1], ["05:30", 2, 0]]);
  assert.match(svg, /<svg [^>]*data-queue="llm" data-completed="5" data-failed="1"/);
  assert.match(svg, />jobs \/ min</);
  assert.match(svg, /<title>05:28 UTC: 3 completed, 0 failed<\/title>/);
});

Deno.test("a queue whose workers never recorded a job says so instead of showing an empty chart only", () => {
  const none = { meta: { count: 0, prevTS: 0, prevCount: 0 }, data: [] };
  const svg = jobRateChart(queueJobRates("llm", { completed: none, failed: none }, 180, NOW));
  assert.match(svg, /no job of this queue has ended since its workers record metrics/);
  assert.doesNotMatch(svg, /data-minute/);
});

Deno.test("the pause timeline draws each pause from its start to its end, an ongoing one to now, with its reason", () => {
  const svg = pauseTimeline(
    [
      {
        provider: "claude",
        spans: [{
          state: "auth_failed",
          start: new Date(NOW - 2 * 3_600_000).toISOString(),
          end: new Date(NOW - 3_600_000).toISOString(),
          ongoing: false,
        }, {
          state: "quota_exceeded",
          start: new Date(NOW - 600_000).toISOString(),
          end: new Date(NOW).toISOString(),
          ongoing: true,
        }],
      },
      { provider: "openai", spans: [] },
    ],
    NOW,
    24 * 3_600_000,
  );
  const states = [...svg.matchAll(/<rect data-provider="claude" data-state="(\w+)"/g)]
    .map((match) => match[1]);
  assert.deepEqual(states, ["auth_failed", "quota_exceeded"]);
  assert.match(svg, /<title>claude quota_exceeded 05:20–now, ongoing UTC<\/title>/);
  const [first] = attributeValues(svg, "rect", "x");
  const [width] = attributeValues(svg, "rect", "width");
  // The plot is 1058 px from x 110 for 24 h: the pause from 2 h ago to 1 h ago.
  assert.ok(Math.abs(first - (110 + 1058 * 22 / 24)) < 0.01, `x ${first}`);
  assert.ok(Math.abs(width - 1058 / 24) < 0.01, `width ${width}`);
  assert.match(svg, />openai<\/text><text [^>]*>no pause</);
});

/** A provider's spend today. */
function spend(provider: string, usd: number, calls: number, unknownCostCalls: number) {
  return {
    provider,
    usd,
    calls,
    unknownCostCalls,
    failedCalls: 0,
    input_tokens: 1000,
    output_tokens: 200,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 50,
  } satisfies ProviderSpend;
}

Deno.test("the spend chart shows each provider's tokens and dollars, an unpriced provider as unpriced and never $0", () => {
  const svg = spendChart([spend("claude", 0.0123, 3, 0), spend("openai", 0, 2, 2)]);
  const cost = [...svg.matchAll(/data-field="cost"[^>]*>([^<]*)</g)].map((match) => match[1]);
  assert.deepEqual(cost, ["$0.0123", "unpriced (2 calls)"]);
  assert.doesNotMatch(svg, /\$0\.0000/);
  assert.deepEqual(attributeValues(svg, "g", "data-tokens"), [1250, 1250]);
  assert.match(svg, />1,250 tokens</);
});

Deno.test("a provider's cost text keeps its unpriced calls apart from its dollars", () => {
  assert.equal(
    costText({ usd: 0.25, calls: 3, unknownCostCalls: 2 }),
    "$0.2500 + 2 unpriced calls",
  );
  assert.equal(costText({ usd: 0, calls: 1, unknownCostCalls: 1 }), "unpriced (1 call)");
  // A model priced at nothing (echo) costs $0, truly.
  assert.equal(costText({ usd: 0, calls: 4, unknownCostCalls: 0 }), "$0.0000");
});

Deno.test("the spend chart without a call today says so", () => {
  assert.match(spendChart([]), /no LLM call today/);
});
