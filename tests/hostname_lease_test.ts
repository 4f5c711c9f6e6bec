/**
 * One hostname, one supervisor, even when two start at the same moment (as compose does after a
 * reboot); and a supervisor restarted on its hostname neither loses its lease while it looks at
 * what the last run left nor finds a registration of a worker that died under the last run.
 */

import { strict as assert } from "node:assert";
import { startRedis } from "../testing/redis.ts";
import { logRecords, startSupervisor } from "../testing/ppr.ts";
import { waitUntil } from "../testing/wait.ts";
import { hostnameLeaseKey, workerKey } from "../redis/keys.ts";
import { register, REGISTRATION_REFRESH_MS } from "../redis/registrations.ts";

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

Deno.test(
  "a supervisor that watches a leftover registration of its hostname for two refresh intervals renews its hostname's lease meanwhile: once ready, the lease is still its own and no lease-lost error is logged",
  integration,
  async () => {
    await using redis = await startRedis();
    // A registration of this hostname that looks fresh and is never refreshed: a worker of the
    // last run that died without unregistering. The supervisor watches it for 11 s, longer than
    // the lease's 10 s.
    const now = new Date().toISOString();
    await register(redis.client(), {
      name: "worker-test-1",
      hostname: "test",
      pid: 999_999,
      queues: ["llm"],
      started_at: now,
      heartbeat_at: now,
      active_jobs: 0,
      processed: 0,
      failed: 0,
    });
    await using supervisor = startSupervisor(["--count", "1"], { redisUrl: redis.url });
    await supervisor.waitForHealth(
      (body) =>
        body.workers.length === 1 && body.workers.every((worker) => worker.state === "idle"),
      "the worker ready after the watch",
      4 * REGISTRATION_REFRESH_MS + 30_000,
    );
    const swept = logRecords(supervisor.logs).find((record) =>
      /stale worker registration/.test(String(record.message))
    );
    assert.deepEqual(swept?.names, ["worker-test-1"], "the leftover was watched, then removed");
    const holder = await redis.client().get(hostnameLeaseKey("test"));
    assert.match(holder ?? "(no lease)", new RegExp(`^pid ${supervisor.pid} `));
    const lost = logRecords(supervisor.logs).filter((record) =>
      /lease was taken/.test(String(record.message))
    );
    assert.deepEqual(lost, []);
  },
);

Deno.test(
  "a worker killed with -9 leaves no registration once its supervisor has reaped it, so a supervisor restarted on the hostname finds nothing of the last run to watch",
  integration,
  async () => {
    await using redis = await startRedis();
    const first = startSupervisor(["--count", "1"], { redisUrl: redis.url });
    try {
      const ready = await first.waitForHealth(
        (body) => body.workers.length === 1 && body.workers[0].state === "idle",
        "the worker",
      );
      const pid = ready.workers[0].pid!;
      assert.equal(JSON.parse((await redis.client().get(workerKey("worker-test-1")))!).pid, pid);
      Deno.kill(pid, "SIGKILL");
      await first.waitForLog(/worker-test-1 died \(signal SIGKILL\)/);
      const left = await redis.client().get(workerKey("worker-test-1"));
      assert.notEqual(left && JSON.parse(left).pid, pid, "the dead worker's registration is gone");
      first.signal("SIGTERM");
      assert.equal(await first.waitForExit(), 0);
    } finally {
      await first[Symbol.asyncDispose]();
    }
    assert.deepEqual(await redis.client().keys("ppr:worker:*"), []);
    await using second = startSupervisor(["--count", "1"], { redisUrl: redis.url });
    await second.waitForHealth((body) => body.workers_alive === 1, "the restarted pool's worker");
    const swept = logRecords(second.logs).filter((record) =>
      /stale worker registration/.test(String(record.message))
    );
    assert.deepEqual(swept, [], "nothing of the last run to watch or remove");
  },
);
