import { strict as assert } from "node:assert";
import type { RedisClient } from "../redis/connection.ts";
import type { AutoscaleDecision } from "./autoscale.ts";
import { createAutoscalePublisher } from "./autoscale_publisher.ts";

Deno.test("the autoscaler's record is written at each change of size or decision and every 5 s besides, with a 15 s TTL, and deleted at the end", async () => {
  const writes: { key: string; record: Record<string, unknown>; ttl: unknown }[] = [];
  const deleted: string[] = [];
  const redis = {
    set: (key: string, value: string, _ex: string, ttl: number) => {
      writes.push({ key, record: JSON.parse(value), ttl });
      return Promise.resolve("OK");
    },
    del: (key: string) => {
      deleted.push(key);
      return Promise.resolve(1);
    },
  } as unknown as RedisClient;
  let nowMs = 0;
  const publisher = createAutoscalePublisher(redis, {
    hostname: "web1",
    poolName: "recorder",
    range: { min: 1, max: 4 },
    now: () => nowMs,
  });
  const steady: AutoscaleDecision = { desired: 1, reason: "steady", detail: "nothing waiting" };
  const backlog: AutoscaleDecision = { desired: 2, reason: "backlog", detail: "4 jobs wait" };
  await publisher.publish(1, steady);
  nowMs = 1000;
  await publisher.publish(1, steady);
  nowMs = 2000;
  await publisher.publish(2, backlog);
  nowMs = 6999;
  await publisher.publish(2, backlog);
  nowMs = 7000;
  await publisher.publish(2, backlog);
  assert.deepEqual(writes.map((write) => [write.record.size, write.record.reason]), [
    [1, "steady"],
    [2, "backlog"],
    [2, "backlog"],
  ]);
  assert.ok(
    writes.every((write) => write.key === "ppr:autoscale:web1:recorder" && write.ttl === 15),
  );
  assert.deepEqual(writes[1].record, {
    hostname: "web1",
    pool: "recorder",
    min: 1,
    max: 4,
    size: 2,
    desired: 2,
    reason: "backlog",
    detail: "4 jobs wait",
    at: new Date(2000).toISOString(),
  });
  await publisher.remove();
  assert.deepEqual(deleted, ["ppr:autoscale:web1:recorder"]);
});

Deno.test("once removed, the autoscaler's record is not written again, and its delete follows a write in flight", async () => {
  const calls: string[] = [];
  let finishWrite = () => {};
  const redis = {
    set: (key: string) => {
      calls.push(`set ${key}`);
      return new Promise((resolve) => (finishWrite = () => resolve("OK")));
    },
    del: (key: string) => {
      calls.push(`del ${key}`);
      return Promise.resolve(1);
    },
  } as unknown as RedisClient;
  const publisher = createAutoscalePublisher(redis, {
    hostname: "web1",
    range: { min: 1, max: 2 },
  });
  const steady: AutoscaleDecision = { desired: 1, reason: "steady", detail: "nothing waiting" };
  const settled = () => new Promise((resolve) => setTimeout(resolve, 0));
  const inFlight = publisher.publish(1, steady);
  await settled();
  assert.deepEqual(calls, ["set ppr:autoscale:web1"], "the write is in flight");
  const removed = publisher.remove();
  await settled();
  assert.deepEqual(calls, ["set ppr:autoscale:web1"], "the delete waits for the write");
  finishWrite();
  await Promise.all([inFlight, removed]);
  await publisher.publish(2, { desired: 2, reason: "backlog", detail: "4 jobs wait" });
  assert.deepEqual(calls, ["set ppr:autoscale:web1", "del ppr:autoscale:web1"]);
});
