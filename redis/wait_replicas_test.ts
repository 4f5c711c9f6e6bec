import { strict as assert } from "node:assert";
import { startReplicatedRedis } from "../testing/redis.ts";
import { connectRedis } from "./connection.ts";
import { connectionMarkOf, waitForReplicas } from "./wait_replicas.ts";
import { waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const KEY = "bull:llm:meta";

Deno.test({
  name: "waitForReplicas: acknowledged once the replica has the connection's writes",
  ...integration,
  async fn() {
    await using servers = await startReplicatedRedis();
    const redis = connectRedis(servers.master.url);
    try {
      await redis.ping();
      const since = connectionMarkOf(redis, KEY);
      await redis.set("written", "1");
      assert.deepEqual(await waitForReplicas(redis, KEY, since, { replicas: 1, timeoutMs: 5000 }), {
        acknowledged: true,
        replicas: 1,
      });
      assert.equal(await servers.replica.client().get("written"), "1");
    } finally {
      redis.disconnect();
    }
  },
});

Deno.test({
  name: "waitForReplicas: not acknowledged when the replica cannot answer (frozen) by the timeout",
  ...integration,
  async fn() {
    await using servers = await startReplicatedRedis();
    const redis = connectRedis(servers.master.url);
    try {
      await redis.ping();
      const since = connectionMarkOf(redis, KEY);
      servers.replica.freeze();
      await redis.set("written", "1");
      assert.deepEqual(await waitForReplicas(redis, KEY, since, { replicas: 1, timeoutMs: 200 }), {
        acknowledged: false,
        replicas: 0,
        reason: "0 of 1 replica(s) within 200 ms",
      });
    } finally {
      servers.replica.thaw();
      redis.disconnect();
    }
  },
});

Deno.test({
  name: "waitForReplicas: writes made before a reconnect are never acknowledged by a WAIT after it",
  ...integration,
  async fn() {
    await using servers = await startReplicatedRedis();
    const redis = connectRedis(servers.master.url);
    try {
      await redis.ping();
      const since = connectionMarkOf(redis, KEY);
      await redis.set("written", "1");
      redis.disconnect(true);
      await waitUntil(
        () => redis.status === "ready" && connectionMarkOf(redis, KEY) !== since,
        { what: "the reconnect", timeoutMs: 10_000 },
      );
      assert.deepEqual(await waitForReplicas(redis, KEY, since, { replicas: 1, timeoutMs: 5000 }), {
        acknowledged: false,
        replicas: 0,
        reason: "the connection was replaced meanwhile",
      });
    } finally {
      redis.disconnect();
    }
  },
});

Deno.test({
  name: "waitForReplicas: with 0 replicas asked, acknowledged without sending WAIT",
  ...integration,
  async fn() {
    await using servers = await startReplicatedRedis();
    const redis = connectRedis(servers.master.url);
    try {
      await redis.ping();
      servers.replica.freeze();
      const result = await waitForReplicas(redis, KEY, undefined, { replicas: 0, timeoutMs: 5000 });
      assert.deepEqual(result, { acknowledged: true, replicas: 0 });
      assert.doesNotMatch(await redis.info("commandstats"), /cmdstat_wait:/);
    } finally {
      servers.replica.thaw();
      redis.disconnect();
    }
  },
});
