import { strict as assert } from "node:assert";
import { decideRetry } from "./retry_policy.ts";

Deno.test("decideRetry: a permanent failure fails at once, whatever the attempts", () => {
  assert.deepEqual(decideRetry("exit 64: bad row", [], 5, true), {
    action: "fail",
    message: "exit 64: bad row",
  });
});

Deno.test("decideRetry: transient without producer attempts: delays of 2 s then 4 s, then fails listing every try", () => {
  assert.deepEqual(decideRetry("a", [], undefined, false), {
    action: "delay",
    delayMs: 2000,
    message: "a",
  });
  assert.deepEqual(decideRetry("b", ["a"], 1, false), {
    action: "delay",
    delayMs: 4000,
    message: "b",
  });
  assert.deepEqual(decideRetry("c", ["a", "b"], undefined, false), {
    action: "fail",
    message: "failed 3 times; try 1: a; try 2: b; try 3: c",
  });
});

Deno.test("decideRetry: transient with producer attempts: BullMQ retries until the last attempt", () => {
  assert.deepEqual(decideRetry("x", [], 2, false), { action: "retry", message: "x" });
  assert.equal(decideRetry("x", ["a"], 2, false).action, "fail");
});
