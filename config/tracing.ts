/** The OpenTelemetry variables a worker child gets, so that one variable turns tracing on. */

import { boolean } from "./rules.ts";

/** The service name of the workers' spans when `OTEL_SERVICE_NAME` is not set. */
export const WORKER_SERVICE_NAME = "ppr-worker";

/**
 * What a worker child's environment `env` gains for tracing: `OTEL_DENO=true` (Deno reads it only
 * when a process starts, so the supervisor sets it for the children) when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_DENO` is set, and `OTEL_SERVICE_NAME` when it is not;
 * nothing while tracing is off. Made from the environment, not the parsed configuration, so that
 * a reload (`ENV_FILE`) that sets the endpoint turns tracing on in the restarted workers.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { workerTracingEnv } from "./tracing.ts";
 *
 * assert.deepEqual(workerTracingEnv({ REDIS_URL: "redis://127.0.0.1:6379" }), {});
 * assert.deepEqual(
 *   workerTracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }),
 *   { OTEL_DENO: "true", OTEL_SERVICE_NAME: "ppr-worker" },
 * );
 * ```
 */
export function workerTracingEnv(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const otelDeno = env.OTEL_DENO !== undefined && boolean().parse(env.OTEL_DENO) === true;
  if (!endpoint && !otelDeno) return {};
  return {
    OTEL_DENO: "true",
    ...(env.OTEL_SERVICE_NAME ? {} : { OTEL_SERVICE_NAME: WORKER_SERVICE_NAME }),
  };
}
