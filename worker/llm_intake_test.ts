import { strict as assert } from "node:assert";
import { createLlmIntake } from "./llm_intake.ts";

Deno.test("the LLM intake stays shut until the provider pauses have been read once, and a pause found then keeps it shut", () => {
  const fresh = createLlmIntake(false, () => {});
  assert.equal(fresh.opens("llm"), false);
  fresh.pausesRead();
  assert.equal(fresh.opens("llm"), true);

  const paused = createLlmIntake(false, () => {});
  paused.setProviderPaused(true);
  paused.pausesRead();
  assert.equal(paused.opens("llm"), false);
  paused.setProviderPaused(false);
  assert.equal(paused.opens("llm"), true);
});

Deno.test("a provider pause shuts the Workers of the LLM queues but not those of the queues collected for batches", () => {
  const intake = createLlmIntake(false, () => {}, ["llm-batch"]);
  intake.pausesRead();
  intake.setProviderPaused(true);
  assert.equal(intake.opens("llm"), false);
  assert.equal(intake.opens("llm-batch"), true);
  assert.equal(intake.shutByPause("llm"), true);
  assert.equal(intake.shutByPause("llm-batch"), false);
  intake.setShare("llm-batch", 0, 1);
  assert.equal(intake.opens("llm-batch"), false, "a queue without a share here takes nothing");
});
