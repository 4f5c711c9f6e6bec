/** The batch lane's Redis steps against a real Redis: what a late answer to a create may and may not change. */

import { strict as assert } from "node:assert";
import { startRedis } from "../../testing/redis.ts";
import {
  batchKey,
  collectJob,
  dueBatches,
  isKnownProviderBatch,
  markDone,
  markSubmitted,
  readBatch,
  returnToCollection,
  takeIntoBatch,
} from "./store.ts";

const BATCH = { provider: "claude", model: "claude-x", queue: "llm" };

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
