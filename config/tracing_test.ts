import { strict as assert } from "node:assert";
import { workerTracingEnv } from "./tracing.ts";

Deno.test("workerTracingEnv: OTEL_DENO=false and an empty endpoint leave tracing off", () => {
  assert.deepEqual(workerTracingEnv({ OTEL_DENO: "false", OTEL_EXPORTER_OTLP_ENDPOINT: " " }), {});
});

Deno.test("workerTracingEnv: OTEL_DENO alone turns it on; the user's OTEL_SERVICE_NAME is kept", () => {
  assert.deepEqual(workerTracingEnv({ OTEL_DENO: "1", OTEL_SERVICE_NAME: "scraper-workers" }), {
    OTEL_DENO: "true",
  });
});
