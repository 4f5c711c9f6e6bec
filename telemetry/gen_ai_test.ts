import { strict as assert } from "node:assert";
import { llmRequestAttributes, llmResponseAttributes } from "./gen_ai.ts";

Deno.test("llmResponseAttributes: input_tokens counts the cached input too, each cached kind also apart", () => {
  const attributes = llmResponseAttributes({
    model: "claude-haiku-4-5",
    usage: {
      input_tokens: 10,
      output_tokens: 4,
      cache_creation_input_tokens: 100,
      cache_read_input_tokens: 1000,
    },
    costUsd: 0.25,
  });
  assert.deepEqual(attributes, {
    "gen_ai.response.model": "claude-haiku-4-5",
    "gen_ai.usage.input_tokens": 1110,
    "gen_ai.usage.output_tokens": 4,
    "gen_ai.usage.cache_creation.input_tokens": 100,
    "gen_ai.usage.cache_read.input_tokens": 1000,
    "ppr.cost_usd": 0.25,
  });
});

Deno.test("llmResponseAttributes: an unpriced call has no ppr.cost_usd but ppr.cost_unpriced; a free one has cost 0", () => {
  const usage = { input_tokens: 1, output_tokens: 1 };
  const unpriced = llmResponseAttributes({ model: "m", usage, costUsd: undefined });
  assert.equal("ppr.cost_usd" in unpriced, false);
  assert.equal(unpriced["ppr.cost_unpriced"], true);
  const free = llmResponseAttributes({ model: "m", usage, costUsd: 0 });
  assert.equal(free["ppr.cost_usd"], 0);
  assert.equal("ppr.cost_unpriced" in free, false);
});

Deno.test("llmRequestAttributes: the Claude CLI and API are anthropic; a fallback and the batch lane are said", () => {
  const attributes = llmRequestAttributes({
    provider: "claude",
    model: "claude-sonnet-4-5",
    queue: "llm",
    fallbackFrom: "openai",
    lane: "batch",
    maxOutputTokens: 512,
  });
  assert.equal(attributes["gen_ai.provider.name"], "anthropic");
  assert.equal(attributes["gen_ai.request.max_tokens"], 512);
  assert.equal(attributes["ppr.fallback_from"], "openai");
  assert.equal(attributes["ppr.lane"], "batch");
});
