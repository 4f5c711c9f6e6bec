/** One hostname, one supervisor, even when two start at the same moment (as compose does after a reboot). */

import { strict as assert } from "node:assert";
import { startRedis } from "../testing/redis.ts";
import { logRecords, startSupervisor } from "../testing/ppr.ts";
import { waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "two supervisors started at the same moment with the same hostname: exactly one runs, the other exits 2 naming the hostname",
  integration,
  async () => {
    await using redis = await startRedis();
    // startSupervisor gives both --hostname test.
    await using first = startSupervisor(["--count", "1"], { redisUrl: redis.url });
    await using second = startSupervisor(["--count", "1"], { redisUrl: redis.url });
    const exitCodes = new Map<string, number>();
    void first.exited.then((code) => exitCodes.set("first", code));
    void second.exited.then((code) => exitCodes.set("second", code));
    await waitUntil(() => exitCodes.size === 1, {
      what: "one of the two supervisors to exit",
      timeoutMs: 45_000,
    });
    const [[loser, code]] = [...exitCodes];
    assert.equal(code, 2);
    const refused = loser === "first" ? first : second;
    const winner = loser === "first" ? second : first;
    const refusal = logRecords(refused.logs).find((record) => record.level === "ERROR");
    assert.match(String(refusal?.reason ?? ""), /another supervisor runs with the hostname 'test'/);
    const health = await winner.waitForHealth(
      (body) => body.workers_alive === 1,
      "the winner's worker",
    );
    assert.equal(health.status, "healthy");
    assert.equal(exitCodes.size, 1, "the winner still runs");
  },
);
