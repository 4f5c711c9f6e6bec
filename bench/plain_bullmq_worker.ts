/**
 * Plain BullMQ, for the bench's baselines: BullMQ's own Worker under Deno with a no-op processor
 * and default options, nothing of ppr-worker. `deno run -A bench/plain_bullmq_worker.ts URL QUEUE`;
 * SIGTERM closes it.
 */

import { Worker } from "bullmq";
import { Redis } from "ioredis";

const [url, queue] = Deno.args;
const connection = new Redis(url, { maxRetriesPerRequest: null });
const worker = new Worker(queue, (job) => Promise.resolve({ text: job.data.prompt }), {
  connection,
  concurrency: 1,
});
worker.on("error", () => {});
Deno.addSignalListener("SIGTERM", async () => {
  await worker.close();
  connection.disconnect();
  Deno.exit(0);
});
