/**
 * The start-up claim of a hostname against a real redis-server, on a fake clock that moves only
 * while the claim sleeps between two reads of a watched registration.
 */

import { strict as assert } from "node:assert";
import type { Redis } from "ioredis";
import { workerKey } from "../redis/keys.ts";
import { register, type Registration, REGISTRATION_REFRESH_MS } from "../redis/registrations.ts";
import { createFakeClock } from "../testing/fake_clock.ts";
import { startRedis } from "../testing/redis.ts";
import { claimHostname, type ClaimOptions, HostnameInUseError, WATCH_POLL_MS } from "./sweep.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const NOW = Date.parse("2026-01-01T12:00:00Z");

function registration(name: string, heartbeatAt: number): Registration {
  return {
    name,
    hostname: name.split("-")[1],
    pid: 4242,
    queues: ["llm"],
    started_at: "2026-01-01T00:00:00Z",
    heartbeat_at: new Date(heartbeatAt).toISOString(),
    active_jobs: 0,
    processed: 0,
    failed: 0,
  };
}

/** Writes a registration as a live worker does (with its TTL). */
const withTtl = (redis: Redis, name: string, heartbeatAt: number) =>
  register(redis, registration(name, heartbeatAt));
/** Writes a registration left without a TTL (by hand, an old version, `PERSIST`). */
const withoutTtl = (redis: Redis, name: string, heartbeatAt: number) =>
  redis.set(workerKey(name), JSON.stringify(registration(name, heartbeatAt)));

/** `claimHostname` for host `a` on a fake clock at NOW; `onSleep` runs after each sleep. */
function claim(
  redis: Redis,
  options: Partial<ClaimOptions> & { onSleep?: () => Promise<void> } = {},
) {
  const clock = createFakeClock(NOW);
  const slept: number[] = [];
  const result = claimHostname(redis, {
    hostname: "a",
    now: clock.now,
    sleep: async (ms) => {
      slept.push(ms);
      clock.tick(ms);
      await options.onSleep?.();
    },
    ...options,
  });
  return { result, slept };
}

const exists = async (redis: Redis, name: string) => (await redis.exists(workerKey(name))) === 1;

Deno.test(
  "another host's registration with a TTL is kept, however old its heartbeat looks by this machine's clock",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    await withTtl(redis, "worker-b-1", NOW - 86_400_000);
    await withTtl(redis, "worker-c-1", NOW + 86_400_000);
    const { result, slept } = claim(redis);
    assert.deepEqual(await result, []);
    assert.deepEqual(slept, [], "nothing of this host to watch");
    assert.equal(await exists(redis, "worker-b-1"), true);
    assert.equal(await exists(redis, "worker-c-1"), true);
  },
);

Deno.test(
  "another host's registration without a TTL is removed once its heartbeat is older than 45 s, not 1 ms sooner, or when it has none readable",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    await withoutTtl(redis, "worker-b-1", NOW - 45_001);
    await withoutTtl(redis, "worker-b-2", NOW - 45_000);
    await redis.set(workerKey("worker-b-3"), JSON.stringify({ name: "worker-b-3" }));
    const { result } = claim(redis);
    assert.deepEqual((await result).toSorted(), ["worker-b-1", "worker-b-3"]);
    assert.equal(await exists(redis, "worker-b-2"), true);
  },
);

Deno.test(
  "every registration of this host whose heartbeat is older than two refresh intervals is removed at once, TTL or not, without watching; other hostnames that share a prefix are not this host's",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    await withTtl(redis, "worker-a-1", NOW - 2 * REGISTRATION_REFRESH_MS);
    await withoutTtl(redis, "worker-a-2", NOW - 3_600_000);
    await withTtl(redis, "worker-ab-1", NOW - 3_600_000);
    await withTtl(redis, "worker-a-b-1", NOW - 3_600_000);
    const { result, slept } = claim(redis);
    assert.deepEqual((await result).toSorted(), ["worker-a-1", "worker-a-2"]);
    assert.deepEqual(slept, []);
    assert.equal(await exists(redis, "worker-ab-1"), true);
    assert.equal(await exists(redis, "worker-a-b-1"), true);
  },
);

Deno.test(
  "a fresh registration of this host that is not refreshed is watched for 2 refresh intervals + 1 s (11 s), read every 0.5 s, then removed as a leftover",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    await withTtl(redis, "worker-a-1", NOW - 2 * REGISTRATION_REFRESH_MS + 1);
    let readsWhileWatched = 0;
    const { result, slept } = claim(redis, {
      onSleep: async () => {
        if (await exists(redis, "worker-a-1")) readsWhileWatched++;
      },
    });
    assert.deepEqual(await result, ["worker-a-1"]);
    assert.equal(slept.length, 11_000 / WATCH_POLL_MS);
    assert.ok(slept.every((ms) => ms === WATCH_POLL_MS));
    assert.equal(readsWhileWatched, slept.length, "still there through the whole watch");
    assert.equal(await exists(redis, "worker-a-1"), false);
  },
);

Deno.test(
  "a fresh registration of this host refreshed during the watch: HostnameInUseError names it and nothing at all is removed",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    await withTtl(redis, "worker-a-1", NOW - 1000);
    await withTtl(redis, "worker-a-2", NOW - 3_600_000);
    await withoutTtl(redis, "worker-b-1", NOW - 3_600_000);
    let sleeps = 0;
    const { result } = claim(redis, {
      onSleep: async () => {
        // The live worker of the other supervisor refreshes it at its next interval.
        if (++sleeps === 3) await withTtl(redis, "worker-a-1", NOW + 500);
      },
    });
    await assert.rejects(
      result,
      (error: Error) =>
        error instanceof HostnameInUseError &&
        error.message.startsWith("worker-a-1 is registered by a live worker (pid 4242") &&
        error.message.includes("Give each supervisor its own --hostname (WORKER_HOSTNAME)"),
    );
    assert.equal(sleeps, 3, "stops watching at the refresh");
    for (const name of ["worker-a-1", "worker-a-2", "worker-b-1"]) {
      assert.equal(await exists(redis, name), true, name);
    }
  },
);
