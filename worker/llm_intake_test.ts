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
