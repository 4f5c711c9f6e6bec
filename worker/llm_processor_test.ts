import { CONFIG_SCHEMA } from "../providers/registry.ts";
import { strict as assert } from "node:assert";
import type { Redis } from "ioredis";
import { getLogger } from "@logtape/logtape";
import { type Config, parseConfig } from "../config/config.ts";
import { emptyStats } from "../protocol/stats.ts";
import { SHIPPED_PRICES } from "../economics/prices.ts";
import { createLlmProcessors, type LlmProcessorsOptions } from "./llm_processor.ts";

function configOf(env: Record<string, string>): Config {
  const result = parseConfig({}, env, CONFIG_SCHEMA);
  if (!result.ok) throw new Error(result.errors.join("\n"));
  return result.config;
}

/**
 * Options whose Redis is never called: it counts as down, so the pause watch's first read
 * opens the intake without reading (see `pausesReadOnce`).
 */
function optionsOf(config: Config, more: Partial<LlmProcessorsOptions>): LlmProcessorsOptions {
  return {
    config,
    prices: SHIPPED_PRICES,
    redis: {} as Redis,
    logger: getLogger(["test"]),
    tally: { processed: 0, failed: 0, givenBack: 0 },
    stats: emptyStats(),
    subprocessEnv: {},
    held: false,
    isRedisDown: () => true,
    isDraining: () => false,
    closeStepMs: 500,
    ...more,
  };
}

/** Lets the first read of the pauses, which opens the LLM intake, settle. */
const pausesReadOnce = () => new Promise((resolve) => setTimeout(resolve, 0));

const threeLlmQueues = {
  QUEUE_NAME: "a,b,c",
  QUEUE_PROCESSORS: "a=llm;b=llm;c=llm",
  LLM_PROVIDER: "echo",
  WORKER_CONCURRENCY: "4",
};

Deno.test("an LLM queue takes the smaller of WORKER_CONCURRENCY and its share of LLM_MAX_IN_FLIGHT at once; a share of 0 keeps its Worker behind the gate", async () => {
  const llm = createLlmProcessors(optionsOf(configOf(threeLlmQueues), { llmSlots: [2, 0, 9] }));
  const a = llm.open("a");
  const b = llm.open("b");
  await pausesReadOnce();
  assert.equal(a.concurrency, 2);
  assert.equal(b.intake?.opens("b"), false);
  assert.equal(a.intake?.opens("a"), true);
  assert.equal(llm.open("c").concurrency, 4);
  await a.close();
});

Deno.test("llm-slots: a new share opens the gate of a queue that had none and closes that of one whose share is 0; the answer comes at once when nothing is in flight", async () => {
  const answers: [number[], number][] = [];
  const llm = createLlmProcessors(
    optionsOf(configOf(threeLlmQueues), {
      llmSlots: [2, 0, 1],
      onSlotsApplied: (slots, seq) => answers.push([slots, seq]),
    }),
  );
  const a = llm.open("a");
  await pausesReadOnce();
  llm.setSlots([0, 3, 1], 1);
  assert.equal(a.intake?.opens("a"), false);
  assert.equal(a.intake?.opens("b"), true);
  assert.deepEqual(answers, [[[0, 3, 1], 1]]);
  await a.close();
});

Deno.test("without shares (run alone, no LLM_MAX_IN_FLIGHT) an LLM queue takes WORKER_CONCURRENCY at once", async () => {
  const llm = createLlmProcessors(optionsOf(configOf(threeLlmQueues), {}));
  const a = llm.open("a");
  assert.equal(a.concurrency, 4);
  await a.close();
});

Deno.test("a held worker's LLM queues share one intake, shut until release() (take-llm-jobs)", async () => {
  const llm = createLlmProcessors(optionsOf(configOf(threeLlmQueues), { held: true }));
  const a = llm.open("a");
  const b = llm.open("b");
  assert.equal(a.intake, b.intake);
  await pausesReadOnce();
  assert.equal(a.intake?.opens("a"), false);
  llm.release();
  assert.equal(a.intake?.opens("a"), true);
  await a.close();
  await b.close();
});
