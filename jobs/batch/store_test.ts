/** The batch lane's Redis steps against a real Redis: each script moves a job once, and a late answer to a create changes nothing it may not. */

import { strict as assert } from "node:assert";
import { startRedis } from "../../testing/redis.ts";
import { usageOf } from "../../providers/provider.ts";
import {
  batchKey,
  collectedJobs,
  collectJob,
  customIdOf,
  dueBatches,
  holdDeskLease,
  isKnownProviderBatch,
  jobsAwaitingOutcome,
  jobsToWake,
  listBatches,
  markDone,
  markPolled,
  markSubmitted,
  placeOf,
  readBatch,
  releaseDeskLease,
  returnToCollection,
  type StoredOutcome,
  storeOutcome,
  takeIntoBatch,
} from "./store.ts";

const BATCH = { provider: "claude", model: "claude-x", queue: "llm" };

const succeeded = (batchId: string, costUsd: number | null): StoredOutcome => ({
  outcome: "succeeded",
  batchId,
  result: { text: "{}", model: "claude-x", provider: "claude", usage: usageOf({}) },
  costUsd,
});

Deno.test("collecting a job twice keeps it once, at its first time, and says where it is", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  assert.equal(await collectJob(client, "llm:1", 1000), "collecting");
  assert.equal(await collectJob(client, "llm:1", 2000), "collecting");
  assert.deepEqual(await collectedJobs(client, 10), [{ ref: "llm:1", collectedMs: 1000 }]);
  assert.deepEqual(await placeOf(client, "llm:1"), { place: "collecting" });
  assert.equal(await placeOf(client, "llm:2"), undefined);
});

Deno.test("a batch takes only jobs still collected, and a job in a batch is not collected again", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  await collectJob(client, "llm:1", 1000);
  await collectJob(client, "llm:2", 1001);
  const taken = await takeIntoBatch(client, "b1", BATCH, ["llm:1", "llm:2", "llm:3"], 5000);
  assert.deepEqual(taken, ["llm:1", "llm:2"]);
  // A second desk that read the same collection takes nothing: no job goes in two batches.
  assert.deepEqual(await takeIntoBatch(client, "b2", BATCH, ["llm:1", "llm:2"], 5001), []);
  assert.equal(await readBatch(client, "b2"), undefined);
  assert.equal(await collectJob(client, "llm:1", 6000), "b1");
  assert.deepEqual(await collectedJobs(client, 10), []);
  const record = (await readBatch(client, "b1"))!;
  assert.equal(record.phase, "submitting");
  assert.deepEqual(record.jobs, ["llm:1", "llm:2"]);
  assert.deepEqual(await dueBatches(client, 5000), ["b1"], "a submitting batch is looked at");
});

Deno.test("a batch put back returns its jobs to the collection at their first times and is forgotten", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  await collectJob(client, "llm:1", 1000);
  await collectJob(client, "llm:2", 1001);
  await takeIntoBatch(client, "b1", BATCH, ["llm:1", "llm:2"], 5000);
  await storeOutcome(client, "b1", "llm:2", succeeded("b1", 0.5));
  assert.equal(await returnToCollection(client, "b1"), 1, "only the job without an outcome");
  assert.deepEqual(await collectedJobs(client, 10), [{ ref: "llm:1", collectedMs: 1000 }]);
  assert.equal(await readBatch(client, "b1"), undefined);
  assert.deepEqual(await dueBatches(client, Number.MAX_SAFE_INTEGER), []);
});

Deno.test("an outcome is stored once per job: a second read of the same results stores nothing and counts nothing", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  await collectJob(client, "llm:1");
  await collectJob(client, "llm:2");
  await takeIntoBatch(client, "b1", BATCH, ["llm:1", "llm:2"]);
  await markSubmitted(client, "b1", "claude", "msgbatch_1", 0);
  assert.equal(await storeOutcome(client, "b1", "llm:1", succeeded("b1", 0.25)), true);
  assert.equal(await storeOutcome(client, "b1", "llm:1", succeeded("b1", 0.25)), false);
  assert.equal(
    await storeOutcome(client, "b1", "llm:2", {
      outcome: "expired",
      batchId: "b1",
      kind: "transient",
      message: "expired",
    }),
    true,
  );
  const record = (await readBatch(client, "b1"))!;
  assert.equal(record.stored, 2);
  assert.equal(record.succeeded, 1);
  assert.equal(record.failed, 1);
  assert.equal(record.costUsd, 0.25);
  assert.deepEqual(await jobsAwaitingOutcome(client, record), []);
  assert.deepEqual((await jobsToWake(client)).sort(), ["llm:1", "llm:2"]);
  const place = await placeOf(client, "llm:1");
  assert.ok(place && "outcome" in place && place.outcome.outcome === "succeeded");
});

Deno.test("an unpriced answer is counted as unpriced in its batch, never as $0", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  await collectJob(client, "llm:1");
  await takeIntoBatch(client, "b1", BATCH, ["llm:1"]);
  await storeOutcome(client, "b1", "llm:1", succeeded("b1", null));
  const record = (await readBatch(client, "b1"))!;
  assert.equal(record.unpriced, 1);
  assert.equal(record.costUsd, 0);
});

Deno.test("a done batch leaves the open list for the recent one, with its provider id", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  await collectJob(client, "llm:1");
  await takeIntoBatch(client, "b1", BATCH, ["llm:1"]);
  await markSubmitted(client, "b1", "claude", "msgbatch_1", 0);
  assert.equal((await listBatches(client)).open[0].providerId, "msgbatch_1");
  await markDone(client, "b1", { providerStatus: "ended" });
  const listed = await listBatches(client);
  assert.deepEqual(listed.open, []);
  assert.equal(listed.recent[0].id, "b1");
  assert.equal(listed.recent[0].phase, "done");
  assert.ok((await client.pttl("ppr:{batch}:batch:b1")) > 0, "its record expires");
});

Deno.test("the desk's lease: one holder renews it, another cannot take it until it is released", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  assert.equal(await holdDeskLease(client, "a", 10_000), true);
  assert.equal(await holdDeskLease(client, "a", 10_000), true);
  assert.equal(await holdDeskLease(client, "b", 10_000), false);
  await releaseDeskLease(client, "b");
  assert.equal(await holdDeskLease(client, "b", 10_000), false, "only its holder releases it");
  await releaseDeskLease(client, "a");
  assert.equal(await holdDeskLease(client, "b", 10_000), true);
});

Deno.test("custom ids name the batch and the request: ppr-<batch>-<index>, 64 characters at most", () => {
  const id = customIdOf("0123456789abcdef", 99_999);
  assert.equal(id, "ppr-0123456789abcdef-99999");
  assert.ok(id.length <= 64);
});

Deno.test("a batch taken into submitting records its provider, model, queue and jobs; markSubmitted makes it open", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  await collectJob(client, "llm:1", 1000);
  assert.deepEqual(await takeIntoBatch(client, "b1", BATCH, ["llm:1"], 2000), ["llm:1"]);
  const submitting = await readBatch(client, "b1");
  assert.equal(submitting?.phase, "submitting");
  assert.deepEqual(
    [submitting?.provider, submitting?.model, submitting?.queue, submitting?.jobs],
    ["claude", "claude-x", "llm", ["llm:1"]],
  );
  assert.equal(await markSubmitted(client, "b1", "claude", "msgbatch_1", 3000), true);
  const open = await readBatch(client, "b1");
  assert.equal(open?.phase, "open");
  assert.equal(open?.providerId, "msgbatch_1");
  assert.deepEqual(await dueBatches(client, 3000), ["b1"]);
});

Deno.test("markSubmitted of a batch another desk adopted and read to the end returns false and leaves it done", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  await collectJob(client, "llm:1", 1000);
  await takeIntoBatch(client, "b1", BATCH, ["llm:1"], 2000);
  assert.equal(
    await markSubmitted(client, "b1", "claude", "msgbatch_1", 3000, { adopted: true }),
    true,
  );
  await markDone(client, "b1", { providerStatus: "ended" });
  assert.equal(await markSubmitted(client, "b1", "claude", "msgbatch_1", 4000), false);
  assert.equal((await readBatch(client, "b1"))?.phase, "done");
  assert.deepEqual(await dueBatches(client, Infinity), []);
});

Deno.test("markSubmitted of a batch whose jobs were collected again returns false, makes no record, and records the provider's batch as the fleet's, for no recovery to adopt it", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  await collectJob(client, "llm:1", 1000);
  await takeIntoBatch(client, "b1", BATCH, ["llm:1"], 2000);
  assert.equal(await returnToCollection(client, "b1"), 1);
  assert.equal(await markSubmitted(client, "b1", "claude", "msgbatch_late", 3000), false);
  assert.equal(await client.exists(batchKey("b1")), 0, "no record made");
  assert.deepEqual(await dueBatches(client, Infinity), []);
  assert.equal(await isKnownProviderBatch(client, "claude", "msgbatch_late"), true);
});

Deno.test("a late look at a batch another desk has read to the end leaves it done and out of the open list", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  await collectJob(client, "llm:1");
  await takeIntoBatch(client, "b1", BATCH, ["llm:1"]);
  await markSubmitted(client, "b1", "claude", "msgbatch_1", 0);
  assert.equal(await markPolled(client, "b1", "in_progress", 5000), true);
  await markDone(client, "b1", { providerStatus: "ended" });
  assert.equal(await markPolled(client, "b1", "in_progress", 9000), false);
  assert.equal((await readBatch(client, "b1"))!.phase, "done");
  assert.equal((await readBatch(client, "b1"))!.providerStatus, "ended");
  assert.deepEqual(await dueBatches(client, Number.MAX_SAFE_INTEGER), []);
  assert.equal(await markPolled(client, "gone", "in_progress", 9000), false);
  assert.deepEqual(await dueBatches(client, Number.MAX_SAFE_INTEGER), []);
});
