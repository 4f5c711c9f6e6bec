import { strict as assert } from "node:assert";
import { parseConfig } from "../../config/config.ts";
import { CONFIG_SCHEMA } from "../../providers/registry.ts";
import type { BatchClient } from "../../providers/batch/batch.ts";
import { unavailableBatchClient } from "../../providers/batch/batch.ts";
import { LlmError } from "../../providers/errors.ts";
import { prepareJob } from "../llm/runner.ts";
import { batchPlanOf, batchQueuesProblem, batchRefusal } from "./lane.ts";

function configOf(env: Record<string, string>) {
  const result = parseConfig({}, env, CONFIG_SCHEMA);
  assert.ok(result.ok, result.ok ? "" : result.errors.join("; "));
  return result.config;
}

const API = { LLM_PROVIDER: "claude", ANTHROPIC_API_KEY: "sk-ant-test" };

/** A batch client that takes `maxBytes` at most and needs no server (only its sizing is used). */
const clientOf = (maxBytes: number): BatchClient =>
  unavailableBatchClient(new LlmError("invalid", "unused"), {
    limits: { maxRequests: 10, maxBytes },
    requestBytes: ({ request }) => JSON.stringify(request).length,
  });

Deno.test("a job too large for one batch is refused with its size and the provider's limit", () => {
  const config = configOf(API);
  const prepared = prepareJob({ prompt: "x".repeat(500) }, config);
  const plan = batchPlanOf(prepared, { config }, undefined);
  const refusal = batchRefusal(plan, clientOf(100), prepared.job, false);
  assert.match(
    refusal!,
    /^the request takes \d+ bytes, more than a claude batch may hold \(100 bytes\)/,
  );
  assert.equal(batchRefusal(plan, clientOf(10_000), prepared.job, false), undefined);
});

Deno.test("a provider without a batch API is refused, naming what the lane needs", () => {
  const config = configOf(API);
  const prepared = prepareJob({ prompt: "hi" }, config);
  const plan = batchPlanOf(prepared, { config }, undefined);
  assert.match(
    batchRefusal(plan, undefined, prepared.job, false)!,
    /claude has no batch API in this configuration \(the Claude CLI has none\)/,
  );
});

Deno.test("a batch request always carries max_tokens: the provider's output limit when the job names none", () => {
  const config = configOf(API);
  const plan = batchPlanOf(prepareJob({ prompt: "hi" }, config), { config }, undefined);
  assert.ok(Number.isInteger(plan.request.maxTokens) && plan.request.maxTokens! > 0);
  assert.equal(plan.maxOutputTokens, plan.request.maxTokens);
  const own = batchPlanOf(
    prepareJob({ prompt: "hi", provider: { max_tokens: 77 } }, config),
    { config },
    undefined,
  );
  assert.equal(own.request.maxTokens, 77);
});

Deno.test("LLM_BATCH_QUEUES is refused at start for the Claude CLI and for a queue that is not an LLM queue, and accepted for the Claude API", () => {
  const cli = configOf({ LLM_PROVIDER: "claude", LLM_BATCH_QUEUES: "llm" });
  assert.match(
    batchQueuesProblem({ config: cli, subprocessEnv: {} })!,
    /LLM_PROVIDER claude has no batch API/,
  );
  const recorder = configOf({ ...API, QUEUE_NAME: "llm,recorder", LLM_BATCH_QUEUES: "recorder" });
  assert.match(
    batchQueuesProblem({ config: recorder, subprocessEnv: {} })!,
    /recorder is not an LLM queue/,
  );
  const api = configOf({ ...API, LLM_BATCH_QUEUES: "llm" });
  assert.equal(batchQueuesProblem({ config: api, subprocessEnv: {} }), undefined);
});
