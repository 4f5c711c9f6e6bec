import { strict as assert } from "node:assert";
import { decide, OVERLOAD_MAX_MS, OVERLOAD_WAITS, overloadWaitMs } from "./failure_decision.ts";
import { LlmError } from "../../providers/errors.ts";

Deno.test("auth and quota give the job back and name the pause", () => {
  assert.deepEqual(decide(new LlmError("auth", "Not logged in"), [], undefined), {
    action: "give_back",
    pause: "auth_failed",
    reason: "Not logged in",
  });
  assert.deepEqual(decide(new LlmError("quota", "HTTP 429", 2000), ["x"], 5), {
    action: "give_back",
    pause: "quota_exceeded",
    reason: "HTTP 429",
    resetInMs: 2000,
  });
});

Deno.test("invalid requests fail at once", () => {
  assert.deepEqual(decide(new LlmError("invalid", "HTTP 400: bad model"), [], 5), {
    action: "fail",
    message: "HTTP 400: bad model",
  });
});

Deno.test("transient failures without producer attempts: 3 tries, 2 s then 4 s, then fail with every reason", () => {
  assert.deepEqual(decide(new Error("timeout"), [], undefined), {
    action: "delay",
    delayMs: 2000,
    message: "timeout",
  });
  assert.deepEqual(decide(new Error("HTTP 500"), ["timeout"], 1), {
    action: "delay",
    delayMs: 4000,
    message: "HTTP 500",
  });
  assert.deepEqual(decide(new Error("empty"), ["timeout", "HTTP 500"], undefined), {
    action: "fail",
    message: "failed 3 times; try 1: timeout; try 2: HTTP 500; try 3: empty",
  });
});

Deno.test("transient failures with producer attempts: BullMQ retries until the last one", () => {
  assert.deepEqual(decide(new Error("x"), [], 5), { action: "retry", message: "x" });
  assert.equal(decide(new Error("x"), ["a", "b", "c"], 5).action, "retry");
  assert.equal(decide(new Error("x"), ["a", "b", "c", "d"], 5).action, "fail");
});

Deno.test("a billing error gives the job back and pauses the provider with reason billing", () => {
  assert.deepEqual(decide(new LlmError("billing", "HTTP 402: credit balance too low"), [], 5), {
    action: "give_back",
    pause: "billing",
    reason: "HTTP 402: credit balance too low",
  });
});

Deno.test("an overloaded provider is waited for with jitter, no try spent, OVERLOAD_WAITS times; then it is a failed try", () => {
  const overloaded = new LlmError("overloaded", "HTTP 529: overloaded");
  assert.deepEqual(decide(overloaded, [], undefined, 0, () => 0.5), {
    action: "wait",
    delayMs: 2500,
    reason: "HTTP 529: overloaded",
  });
  assert.deepEqual(decide(overloaded, [], undefined, OVERLOAD_WAITS - 1, () => 1), {
    action: "wait",
    delayMs: OVERLOAD_MAX_MS,
    reason: "HTTP 529: overloaded",
  });
  assert.deepEqual(decide(overloaded, [], undefined, OVERLOAD_WAITS, () => 1), {
    action: "delay",
    delayMs: 2000,
    message: "HTTP 529: overloaded",
  });
});

Deno.test("an overloaded provider's retry-after is the wait, never under 1 s nor over OVERLOAD_MAX_MS, plus up to a fifth of jitter", () => {
  assert.equal(overloadWaitMs(2, 30_000, () => 0), 30_000);
  assert.equal(overloadWaitMs(2, 30_000, () => 1), 36_000);
  assert.equal(overloadWaitMs(0, 0, () => 0), 1000);
  assert.equal(overloadWaitMs(0, 86_400_000, () => 0), OVERLOAD_MAX_MS);
  assert.equal(overloadWaitMs(0, undefined, () => 0), 1000);
});
