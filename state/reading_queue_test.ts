import { strict as assert } from "node:assert";
import { Queue } from "bullmq";
import { breakJobData, failedJobs } from "../testing/jobs.ts";
import { startRedis } from "../testing/redis.ts";
import { ReadingQueue } from "./reading_queue.ts";
import { unreadableReason } from "./unreadable_jobs.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "ReadingQueue reads a job whose data is not JSON with stand-in data that says why, and the other jobs as they are, where BullMQ's Queue throws",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    const [good, bad] = await failedJobs(redis, "llm", [{ prompt: "fine" }, { prompt: "x" }]);
    await breakJobData(redis, "llm", bad, "{not json");
    const plain = new Queue("llm", { connection: redis });
    const reading = new ReadingQueue("llm", { connection: redis });
    try {
      await assert.rejects(plain.getJobs(["failed"]), SyntaxError);
      const jobs = await reading.getJobs(["failed"]);
      const byId = new Map(jobs.map((job) => [job.id, job]));
      assert.deepEqual(byId.get(good)?.data, { prompt: "fine" });
      assert.equal(unreadableReason(byId.get(good)?.data), undefined);
      assert.match(
        unreadableReason(byId.get(bad)?.data) ?? "",
        /^job data is not valid JSON \(.+\): \{not json$/,
      );
      const one = await reading.getJob(bad);
      assert.equal(one?.failedReason, "failed on purpose");
      assert.equal(await one?.getState(), "failed");
    } finally {
      await Promise.all([plain.close(), reading.close()]);
    }
  },
);
