/** The pause watch of one worker process against a real redis-server, on a fake clock. */

import { strict as assert } from "node:assert";
import type { Redis } from "ioredis";
import { type Pause, pauseProvider } from "../providers/pause.ts";
import { quotaStrikesKey } from "../redis/keys.ts";
import { createFakeClock } from "../testing/fake_clock.ts";
import { recordingLogger } from "../testing/logger.ts";
import { startRedis } from "../testing/redis.ts";
import { waitUntil } from "../testing/wait.ts";
import { PAUSE_POLL_MS, startPauseWatch } from "./pauses.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const NOW = Date.parse("2026-01-01T12:00:00Z");
const PAUSE_MS = 60_000;

/** A watch of default provider `echo` on a fake clock at NOW, recording what it tells the intake. */
function watch(redis: Redis, state: { draining?: boolean; redisDown?: boolean } = {}) {
  const clock = createFakeClock(NOW);
  const { logger, lines } = recordingLogger();
  const intake: boolean[] = [];
  const pauses = startPauseWatch({
    redis,
    defaultProvider: "echo",
    logger,
    clock,
    isRedisDown: () => state.redisDown === true,
    isDraining: () => state.draining === true,
    setIntakePaused: (paused) => void intake.push(paused),
  });
  return { pauses, clock, intake, lines, state };
}

/** Pauses `provider` in Redis as another worker would, from NOW for PAUSE_MS. */
function pauseElsewhere(redis: Redis, provider: string, state: Pause["state"] = "auth_failed") {
  return pauseProvider(redis, provider, state, "test", {
    now: NOW,
    authRetryMs: PAUSE_MS,
    resetInMs: PAUSE_MS,
  });
}

Deno.test(
  "the default provider paused elsewhere stops the intake at the next poll, every 2 s, not 1 ms sooner, and once",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    await pauseElsewhere(redis, "echo");
    const test = watch(redis);
    try {
      assert.equal(PAUSE_POLL_MS, 2000);
      await test.clock.tickAsync(PAUSE_POLL_MS - 1);
      assert.deepEqual(test.intake, []);
      await test.clock.tickAsync(1);
      await waitUntil(() => test.intake.length > 0, { what: "the poll", timeoutMs: 5000 });
      assert.deepEqual(test.intake, [true]);
      await test.pauses.poll();
      assert.deepEqual(test.intake, [true], "told once");
    } finally {
      test.pauses.stop();
    }
  },
);

Deno.test(
  "the intake resumes at the first poll from the pause's retry_at on, not 1 ms sooner, and says so once",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    await pauseElsewhere(redis, "echo");
    const test = watch(redis);
    try {
      await test.pauses.poll();
      assert.deepEqual(test.intake, [true]);
      test.clock.tick(PAUSE_MS - 1);
      await test.pauses.poll();
      assert.deepEqual(test.intake, [true]);
      test.clock.tick(1);
      await test.pauses.poll();
      assert.deepEqual(test.intake, [true, false]);
      assert.deepEqual(
        test.lines.filter((line) => line.message.includes("resumes")).length,
        1,
      );
    } finally {
      test.pauses.stop();
    }
  },
);

Deno.test(
  "a draining worker neither pauses nor resumes its intake; while Redis is down nothing is read",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    await pauseElsewhere(redis, "echo");
    const draining = watch(redis, { draining: true });
    const down = watch(redis, { redisDown: true });
    try {
      await draining.pauses.poll();
      await down.pauses.poll();
      assert.deepEqual(draining.intake, []);
      assert.deepEqual(down.intake, []);
      assert.equal(await down.pauses.pauseOf("echo"), undefined, "nothing read");
      assert.equal((await draining.pauses.pauseOf("echo"))?.state, "auth_failed");
    } finally {
      draining.pauses.stop();
      down.pauses.stop();
    }
  },
);

Deno.test(
  "another provider's pause is read from Redis at its first pauseOf, ends by the clock without Redis, and never stops the intake",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    await pauseElsewhere(redis, "openai");
    const test = watch(redis);
    try {
      assert.equal((await test.pauses.pauseOf("openai"))?.retry_at, NOW + PAUSE_MS);
      test.clock.tick(PAUSE_MS - 1);
      assert.ok(await test.pauses.pauseOf("openai"));
      test.clock.tick(1);
      assert.equal(await test.pauses.pauseOf("openai"), undefined);
      assert.deepEqual(test.intake, []);
    } finally {
      test.pauses.stop();
    }
  },
);

Deno.test(
  "a pause recorded by this process stops the intake at once, without a poll",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    const test = watch(redis);
    try {
      test.pauses.record("echo", {
        state: "auth_failed",
        reason: "test",
        since: NOW,
        retry_at: NOW + PAUSE_MS,
      });
      assert.deepEqual(test.intake, [true]);
    } finally {
      test.pauses.stop();
    }
  },
);

Deno.test(
  "the first success after a quota pause was seen ends the provider's run of quota strikes; other successes leave it",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    const test = watch(redis);
    const strikes = quotaStrikesKey("echo");
    try {
      await redis.set(strikes, "2");
      await test.pauses.succeeded("echo");
      assert.equal(await redis.get(strikes), "2", "no quota pause seen");
      test.pauses.record("echo", await pauseElsewhere(redis, "echo", "quota_exceeded"));
      await test.pauses.succeeded("echo");
      assert.equal(await redis.exists(strikes), 0);
      await redis.set(strikes, "1");
      await test.pauses.succeeded("echo");
      assert.equal(await redis.get(strikes), "1", "once per pause seen");
    } finally {
      test.pauses.stop();
    }
  },
);
