import { strict as assert } from "node:assert";
import { batchRecord, recordBatch } from "../../testing/batch_records.ts";
import { startRedis } from "../../testing/redis.ts";
import { batchCostText, batchStateText, batchView, readBatchListing } from "./listing.ts";
import { BATCH_KEEP_MS, markDone } from "./store.ts";

const NOW = Date.parse("2026-12-07T12:00:00Z");

/** An open batch of 3 jobs, created an hour before NOW, nothing read yet. */
const OPEN = batchRecord({ jobs: ["llm:1", "llm:2", "llm:3"], createdMs: NOW - 3_600_000 });

Deno.test("batchView: the job count, the provider's id and status, ISO times, the age in seconds; what is missing is null", () => {
  const view = batchView(OPEN, NOW);
  assert.equal(view.jobs, 3);
  assert.equal(view.provider_batch_id, "msgbatch_01");
  assert.equal(view.provider_status, "in_progress");
  assert.equal(view.created_at, "2026-12-07T11:00:00.000Z");
  assert.equal(view.ended_at, null);
  assert.equal(view.age_s, 3600);
  assert.equal(view.error, null);
  const submitting = batchView(
    { ...OPEN, phase: "submitting", providerId: undefined, providerStatus: undefined },
    NOW,
  );
  assert.equal(submitting.provider_batch_id, null);
  assert.equal(submitting.provider_status, null);
});

Deno.test("batchStateText: the phase with the provider's status; submitting alone; a refused batch says refused", () => {
  assert.equal(batchStateText(batchView(OPEN, NOW)), "open (in_progress)");
  assert.equal(
    batchStateText(batchView({ ...OPEN, providerStatus: "canceling" }, NOW)),
    "open (canceling)",
  );
  assert.equal(
    batchStateText(batchView({ ...OPEN, phase: "done", providerStatus: "ended" }, NOW)),
    "done (ended)",
  );
  assert.equal(
    batchStateText(batchView({ ...OPEN, phase: "submitting", providerStatus: undefined }, NOW)),
    "submitting",
  );
  assert.equal(
    batchStateText(
      batchView({ ...OPEN, phase: "done", providerStatus: undefined, error: "too big" }, NOW),
    ),
    "done (refused)",
  );
});

Deno.test("batchCostText: dollars when every answer is priced, an unknown part for unpriced answers (never a bare $0), '-' before any answer is read", () => {
  const done = { ...OPEN, phase: "done" as const, stored: 3 };
  assert.equal(
    batchCostText(batchView({ ...done, costUsd: 0.0042, succeeded: 3 }, NOW)),
    "$0.0042",
  );
  assert.equal(
    batchCostText(batchView({ ...done, costUsd: 0.0042, succeeded: 3, unpriced: 1 }, NOW)),
    "$0.0042 + unknown (1 unpriced)",
  );
  assert.equal(
    batchCostText(batchView({ ...done, costUsd: 0, succeeded: 3, unpriced: 3 }, NOW)),
    "unknown (3 unpriced)",
  );
  assert.equal(batchCostText(batchView({ ...done, failed: 3 }, NOW)), "$0.0000", "all failed");
  assert.equal(batchCostText(batchView(OPEN, NOW)), "-");
  assert.equal(
    batchCostText(batchView({ ...OPEN, stored: 1, succeeded: 1, costUsd: 0.001 }, NOW)),
    "$0.0010",
    "an open batch being read shows what is read so far",
  );
});

Deno.test(
  "readBatchListing: open batches newest first, then those done within 7 days; one done longer ago is left out",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    /** A batch of `refs`, created at `createdMs`, open with provider id `p-<id>`. */
    const open = (id: string, refs: string[], createdMs: number) =>
      recordBatch(redis, id, refs, { createdMs, providerId: `p-${id}`, nextPollMs: NOW });
    await open("older", ["llm:1"], NOW - 60_000);
    await open("newer", ["llm:2", "llm:3"], NOW - 1000);
    await open("ended", ["llm:4"], NOW - 86_400_000);
    await markDone(redis, "ended", { providerStatus: "ended", nowMs: NOW - 3_600_000 });
    await open("ancient", ["llm:5"], NOW - BATCH_KEEP_MS - 86_400_000);
    await markDone(redis, "ancient", { providerStatus: "ended", nowMs: NOW - BATCH_KEEP_MS - 1 });
    const listing = await readBatchListing(redis, { recent: 20, nowMs: NOW });
    assert.deepEqual(listing.open.map((view) => view.id), ["newer", "older"]);
    assert.deepEqual(listing.open.map((view) => view.jobs), [2, 1]);
    assert.deepEqual(listing.recent.map((view) => view.id), ["ended"]);
    assert.equal(listing.recent[0].ended_at, new Date(NOW - 3_600_000).toISOString());
  },
);
