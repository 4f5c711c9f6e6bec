import { strict as assert } from "node:assert";
import {
  type HealthInputs,
  healthResponse,
  healthStatus,
  type PoolSnapshot,
  readiness,
  type SlotSnapshot,
} from "./status.ts";

const NOW = 1_000_000;

function slot(index: number, state: SlotSnapshot["state"], activeJobs = 0): SlotSnapshot {
  const alive = state === "running" || state === "starting" || state === "draining";
  return {
    name: `worker-h-${index}`,
    index,
    state,
    pid: alive ? 100 + index : undefined,
    restarts: 0,
    uptimeS: 1,
    activeJobs,
    processed: 0,
    failed: 0,
    rssBytes: 0,
  };
}

function inputs(
  slots: SlotSnapshot[],
  overrides: Partial<HealthInputs> = {},
  pool: Partial<PoolSnapshot> = {},
): HealthInputs {
  return {
    pool: {
      size: slots.length,
      slots,
      draining: false,
      intensityExceeded: false,
      restartsInPeriod: 0,
      ...pool,
    },
    redis: { connected: true, latencyMs: 0.3, downSince: undefined },
    llm: { state: "ok", retryInSeconds: 0, claudeAuthenticated: null },
    queues: ["llm"],
    provider: "echo",
    redisGraceMs: 15_000,
    startedAt: NOW - 5000,
    version: "0.0.0",
    ...overrides,
  };
}

Deno.test("all workers running and Redis up: healthy", () => {
  assert.equal(
    healthStatus(inputs([slot(1, "running"), slot(2, "running")]), NOW).status,
    "healthy",
  );
});

Deno.test("fewer workers alive than configured: degraded", () => {
  const { status, reasons } = healthStatus(inputs([slot(1, "running"), slot(2, "backoff")]), NOW);
  assert.equal(status, "degraded");
  assert.deepEqual(reasons, ["1 of 2 workers alive"]);
});

Deno.test("no worker alive: unhealthy", () => {
  assert.equal(healthStatus(inputs([slot(1, "backoff")]), NOW).status, "unhealthy");
});

Deno.test("Redis down: degraded within the grace period, unhealthy after it", () => {
  const down = (sinceMs: number) => ({
    connected: false,
    latencyMs: undefined,
    downSince: NOW - sinceMs,
  });
  assert.equal(
    healthStatus(inputs([slot(1, "running")], { redis: down(1000) }), NOW).status,
    "degraded",
  );
  assert.equal(
    healthStatus(inputs([slot(1, "running")], { redis: down(15_000) }), NOW).status,
    "unhealthy",
  );
});

Deno.test("Redis answers but refuses writes: degraded, the refusal in the reasons and in redis.write_refusal, writable false", () => {
  const refusal = "OOM command not allowed when used memory > 'maxmemory'.";
  const refusing = inputs([slot(1, "running")], {
    redis: { connected: true, latencyMs: 0.3, downSince: undefined, writeRefusal: refusal },
  });
  assert.deepEqual(healthStatus(refusing, NOW), {
    status: "degraded",
    reasons: [`Redis refuses writes: ${refusal}`],
  });
  const { body } = healthResponse(refusing, NOW);
  assert.equal(body.redis.writable, false);
  assert.equal(body.redis.write_refusal, refusal);
  assert.equal(healthResponse(inputs([slot(1, "running")]), NOW).body.redis.writable, true);
});

Deno.test("restart intensity exceeded: unhealthy", () => {
  const result = healthStatus(
    inputs([slot(1, "running")], {}, { intensityExceeded: true, restartsInPeriod: 11 }),
    NOW,
  );
  assert.equal(result.status, "unhealthy");
  assert.match(result.reasons[0], /restart intensity exceeded \(11 restarts/);
});

Deno.test("LLM paused: degraded", () => {
  const llm = { state: "quota_exceeded" as const, retryInSeconds: 60, claudeAuthenticated: true };
  assert.equal(healthStatus(inputs([slot(1, "running")], { llm }), NOW).status, "degraded");
});

Deno.test("the response carries the four fields of the RQ setup's health server first, and 503 only when unhealthy", () => {
  const ok = healthResponse(inputs([slot(1, "running", 1), slot(2, "running")]), NOW);
  assert.equal(ok.httpStatus, 200);
  assert.deepEqual(Object.keys(ok.body).slice(0, 4), [
    "status",
    "claude_authenticated",
    "worker_count",
    "queue",
  ]);
  assert.equal(ok.body.workers_alive, 2);
  assert.deepEqual(ok.body.workers.map((worker) => worker.state), ["busy", "idle"]);
  assert.equal(ok.body.uptime_s, 5);
  assert.equal(healthResponse(inputs([slot(1, "fatal")]), NOW).httpStatus, 503);
});

Deno.test("ready: Redis answers, a worker is ready, not draining", () => {
  assert.equal(readiness(inputs([slot(1, "running")])).ready, true);
  assert.equal(readiness(inputs([slot(1, "starting")])).ready, false);
  assert.equal(
    readiness(
      inputs([slot(1, "running")], {
        redis: { connected: false, latencyMs: undefined, downSince: NOW },
      }),
    ).ready,
    false,
  );
  assert.equal(readiness(inputs([slot(1, "running")], {}, { draining: true })).ready, false);
});
