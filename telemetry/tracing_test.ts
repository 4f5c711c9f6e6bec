import { strict as assert } from "node:assert";
import { DelayedError, WaitingChildrenError, WaitingError } from "bullmq/errors";
import {
  addSpanEvent,
  bullmqTelemetry,
  isFailure,
  isTracing,
  setupTracing,
  withoutJobResult,
  withSpan,
} from "./tracing.ts";

Deno.test("tracing off: withSpan runs the work with no span, and BullMQ gets no telemetry option", async () => {
  setupTracing(false);
  assert.equal(isTracing(), false);
  assert.deepEqual(bullmqTelemetry(), {});
  const seen: unknown[] = [];
  assert.equal(await withSpan({ name: "ppr.schema_check" }, (span) => (seen.push(span), 7)), 7);
  assert.deepEqual(seen, [undefined]);
  addSpanEvent("ppr.given_back");
});

Deno.test("tracing off: withSpan passes the work's rejection, a synchronous throw too, on unchanged", async () => {
  setupTracing(false);
  const problem = new Error("schema mismatch");
  await assert.rejects(withSpan({ name: "a" }, () => Promise.reject(problem)), problem);
  await assert.rejects(
    withSpan({ name: "a" }, () => {
      throw problem;
    }),
    problem,
  );
});

Deno.test("tracing on: BullMQ gets a telemetry option", () => {
  setupTracing(true);
  try {
    assert.equal(isTracing(), true);
    assert.ok(bullmqTelemetry().telemetry);
  } finally {
    setupTracing(false);
  }
});

Deno.test("isFailure: BullMQ's errors that move a job on are no failure of its span; others are", () => {
  assert.equal(isFailure(new DelayedError()), false);
  assert.equal(isFailure(new WaitingError()), false);
  assert.equal(isFailure(new WaitingChildrenError()), false);
  assert.equal(isFailure(new Error("provider said no")), true);
  assert.equal(isFailure("a string"), true);
});

Deno.test("withoutJobResult drops only bullmq.job.result, and leaves attributes without it as they are", () => {
  const attributes = { "bullmq.job.attempts.made": 1 };
  assert.equal(withoutJobResult(attributes), attributes);
  assert.equal(withoutJobResult(undefined), undefined);
  assert.deepEqual(
    withoutJobResult({ "bullmq.job.result": '{"text":"an answer"}', "bullmq.job.id": "1" }),
    { "bullmq.job.id": "1" },
  );
});
