/** Redis that answers but refuses writes (`maxmemory` reached with `noeviction`): said, logged, survived. */

import { strict as assert } from "node:assert";
import { startRedis } from "../testing/redis.ts";
import { startSupervisor, waitForRecord } from "../testing/ppr.ts";
import { waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "Redis at maxmemory with noeviction: /health is degraded with redis.writable false and the reason, the supervisor logs it, worker registrations stay alive, and all clears when Redis takes writes again",
  integration,
  async () => {
    await using redis = await startRedis();
    const admin = redis.client();
    await using supervisor = startSupervisor(["--count", "1"], { redisUrl: redis.url });
    try {
      await supervisor.waitForHealth((health) => health.status === "healthy", "a healthy pool");
      const registration = "ppr:worker:worker-test-1";
      await waitUntil(async () => (await admin.exists(registration)) === 1, {
        what: "the worker's registration",
      });
      await admin.config("SET", "maxmemory-policy", "noeviction");
      await admin.config("SET", "maxmemory", "1");

      const refused = await supervisor.waitForHealth(
        (health) => (health.redis as { writable?: boolean }).writable === false,
        "/health to say Redis refuses writes",
      );
      assert.equal(refused.status, "degraded");
      const reasons = (refused as unknown as { reasons: string[] }).reasons;
      assert.ok(
        reasons.some((reason) => /Redis refuses writes: OOM/.test(reason)),
        `a reason names the refusal: ${reasons.join("; ")}`,
      );
      const record = await waitForRecord(
        supervisor,
        (each) => each.level === "WARN" && /^OOM/.test(String(each.refusal ?? "")),
        "a warning that Redis refuses writes",
      );
      assert.ok(record);

      // A refresh under OOM keeps the registration's TTL up: its PTTL rises again.
      let lowest = Number.POSITIVE_INFINITY;
      await waitUntil(async () => {
        const ttl = await admin.pttl(registration);
        assert.ok(ttl > 0, `the registration is still there (PTTL ${ttl})`);
        if (ttl > lowest) return true;
        lowest = Math.min(lowest, ttl);
        return false;
      }, { what: "a refresh of the registration while Redis refuses writes", timeoutMs: 20_000 });

      await admin.config("SET", "maxmemory", "0");
      const cleared = await supervisor.waitForHealth(
        (health) => (health.redis as { writable?: boolean }).writable === true,
        "/health to say Redis takes writes again",
      );
      assert.equal(cleared.status, "healthy");
    } finally {
      await admin.config("SET", "maxmemory", "0").catch(() => {});
    }
  },
);
