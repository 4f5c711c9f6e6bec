/** /health, /ready, /metrics and the healthcheck subcommand against a running pool. */

import { strict as assert } from "node:assert";
import { baseEnv, runPpr, startSupervisor } from "../testing/ppr.ts";
import { freePort, startRedis } from "../testing/redis.ts";
import { waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "/health carries the contract's fields; /ready and /metrics answer; another path is 404, a POST 405",
  integration,
  async () => {
    await using redis = await startRedis();
    await using supervisor = startSupervisor(["--count", "2", "--queue", "llm,recorder"], {
      redisUrl: redis.url,
    });
    const body = await supervisor.waitForHealth(
      (health) =>
        health.status === "healthy" && health.workers.every((worker) => worker.state === "idle"),
      "a healthy pool of idle workers",
    );
    const { httpStatus } = await supervisor.health();
    assert.equal(httpStatus, 200);
    assert.equal(body.claude_authenticated, null);
    assert.equal(body.worker_count, 2);
    assert.equal(body.queue, "llm,recorder");
    assert.equal(body.workers_alive, 2);
    assert.equal(body.provider, "echo");
    assert.equal(body.redis.connected, true);
    assert.equal(typeof body.redis.latency_ms, "number");
    assert.deepEqual(body.llm, {
      state: "ok",
      retry_in_seconds: 0,
      reason: null,
      resumes_at: null,
    });
    assert.equal(typeof body.uptime_s, "number");
    assert.equal(typeof body.version, "string");
    for (const worker of body.workers) {
      assert.match(worker.name, /^worker-test-[12]$/);
      assert.equal(typeof worker.pid, "number");
      assert.equal(worker.state, "idle");
      assert.equal(worker.restarts, 0);
    }
    const base = `http://127.0.0.1:${supervisor.healthPort}`;
    const ready = await fetch(`${base}/ready`);
    assert.equal(ready.status, 200);
    assert.equal((await ready.json()).ready, true);
    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get("content-type") ?? "", /text\/plain/);
    const text = await metrics.text();
    assert.match(text, /^ppr_workers_alive 2$/m);
    assert.match(text, /^ppr_worker_up\{worker="worker-test-1"\} 1$/m);
    assert.match(text, /^ppr_health_status\{status="healthy"\} 1$/m);
    const missing = await fetch(`${base}/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const post = await fetch(`${base}/health`, { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    await post.body?.cancel();
  },
);

Deno.test(
  "healthcheck: exit 0 saying healthy with the workers alive on a healthy pool; exit 1 saying unreachable when nothing listens",
  integration,
  async () => {
    await using redis = await startRedis();
    await using supervisor = startSupervisor(["--count", "1"], { redisUrl: redis.url });
    await supervisor.waitForHealth((health) => health.status === "healthy", "a healthy pool");
    const ok = await runPpr(
      ["healthcheck"],
      baseEnv({ HEALTH_PORT: String(supervisor.healthPort) }),
    );
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /^healthy \(1\/1 workers alive\)/);
    const nothing = await runPpr(["healthcheck", "--health-port", String(freePort())]);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stdout, /^unreachable: /);
  },
);

Deno.test(
  "healthcheck: exit 1 and 503 when Redis is unreachable past the grace period",
  integration,
  async () => {
    await using supervisor = startSupervisor(["--count", "1", "--redis-grace", "0s"], {
      redisUrl: `redis://127.0.0.1:${freePort()}`,
    });
    const body = await supervisor.waitForHealth(
      (health) => health.status === "unhealthy",
      "an unhealthy pool",
    );
    assert.equal(body.redis.connected, false);
    assert.equal((await supervisor.health()).httpStatus, 503);
    const ready = await fetch(`http://127.0.0.1:${supervisor.healthPort}/ready`);
    assert.equal(ready.status, 503);
    await ready.body?.cancel();
    const check = await runPpr(["healthcheck", "--health-port", String(supervisor.healthPort)]);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /^unhealthy/);
    // Redis down is no reason to restart workers: no restart storm.
    assert.equal(body.workers[0].restarts, 0);
  },
);

Deno.test(
  "--no-health: no server listens on the health port while the pool runs",
  integration,
  async () => {
    await using redis = await startRedis();
    await using supervisor = startSupervisor(["--count", "1", "--no-health"], {
      redisUrl: redis.url,
    });
    // The health server would start before the pool; a registered worker means the pool runs.
    const client = redis.client();
    await waitUntil(async () => (await client.exists("ppr:worker:worker-test-1")) === 1, {
      what: "the worker's registration",
    });
    await assert.rejects(fetch(`http://127.0.0.1:${supervisor.healthPort}/health`));
  },
);
