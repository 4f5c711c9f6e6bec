import { strict as assert } from "node:assert";
import { startReplicatedRedis } from "../testing/redis.ts";
import { recordingLogger } from "../testing/logger.ts";
import { connectRedis } from "../redis/connection.ts";
import { connectionMarkOf } from "../redis/wait_replicas.ts";
import { waitUntil } from "../testing/wait.ts";
import { type AckOutcome, createCompletionAcks } from "./completion_acks.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const job = (id: string) => ({ queue: "llm", id, key: "bull:llm:meta" });

/** WAIT commands the server has run so far (`INFO commandstats`). */
async function waitCalls(redis: { info(section: string): Promise<string> }): Promise<number> {
  return Number(/cmdstat_wait:calls=(\d+)/.exec(await redis.info("commandstats"))?.[1] ?? 0);
}

Deno.test({
  name:
    "completion acks: completions queued during a WAIT share the next one (2 WAITs for 5 completions)",
  ...integration,
  async fn() {
    await using servers = await startReplicatedRedis();
    const redis = connectRedis(servers.master.url);
    const { logger } = recordingLogger();
    const outcomes: AckOutcome[] = [];
    const acks = createCompletionAcks(redis, {
      replicas: 1,
      timeoutMs: 5000,
      logger,
      onOutcome: (outcome) => outcomes.push(outcome),
    });
    try {
      await redis.ping();
      for (const id of ["1", "2", "3", "4", "5"]) acks.started(job(id));
      await redis.set("completion", "1");
      for (const id of ["1", "2", "3", "4", "5"]) acks.completed(job(id));
      await acks.idle();
      assert.deepEqual(outcomes, [
        { acknowledged: 1, unacknowledged: [] },
        { acknowledged: 4, unacknowledged: [] },
      ]);
      assert.equal(await waitCalls(servers.master.client()), 2);
    } finally {
      redis.disconnect();
    }
  },
});

Deno.test({
  name:
    "completion acks: a completion the replica did not take in time is logged with its job, never counted acknowledged",
  ...integration,
  async fn() {
    await using servers = await startReplicatedRedis();
    const redis = connectRedis(servers.master.url);
    const { logger, lines } = recordingLogger();
    const outcomes: AckOutcome[] = [];
    const acks = createCompletionAcks(redis, {
      replicas: 1,
      timeoutMs: 100,
      logger,
      onOutcome: (outcome) => outcomes.push(outcome),
    });
    try {
      await redis.ping();
      acks.started(job("7"));
      servers.replica.freeze();
      await redis.set("completion", "1");
      acks.completed(job("7"));
      await acks.idle();
      assert.deepEqual(outcomes, [{
        acknowledged: 0,
        unacknowledged: [job("7")],
        reason: "0 of 1 replica(s) within 100 ms",
      }]);
      assert.deepEqual(lines.map((line) => [line.level, line.properties.jobs]), [
        ["warn", ["llm/7"]],
      ]);
    } finally {
      servers.replica.thaw();
      redis.disconnect();
    }
  },
});

Deno.test({
  name:
    "completion acks: a job that started before a reconnect is not acknowledged by a WAIT after it",
  ...integration,
  async fn() {
    await using servers = await startReplicatedRedis();
    const redis = connectRedis(servers.master.url);
    const { logger } = recordingLogger();
    const outcomes: AckOutcome[] = [];
    const acks = createCompletionAcks(redis, {
      replicas: 1,
      timeoutMs: 5000,
      logger,
      onOutcome: (outcome) => outcomes.push(outcome),
    });
    try {
      await redis.ping();
      acks.started(job("old"));
      const before = connectionMarkOf(redis, job("old").key);
      redis.disconnect(true);
      await waitUntil(
        () => redis.status === "ready" && connectionMarkOf(redis, job("old").key) !== before,
        { what: "the reconnect", timeoutMs: 10_000 },
      );
      acks.started(job("new"));
      await redis.set("completion", "1");
      acks.completed(job("old"));
      acks.completed(job("new"));
      await acks.idle();
      assert.deepEqual(outcomes, [
        {
          acknowledged: 0,
          unacknowledged: [job("old")],
          reason: "the connection was replaced meanwhile",
        },
        { acknowledged: 1, unacknowledged: [] },
      ]);
    } finally {
      redis.disconnect();
    }
  },
});
