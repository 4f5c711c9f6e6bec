/** Hands each result to the downstream queues (`LLM_RESULT_QUEUES`), e.g. `recorder`. */

import type { Job } from "bullmq";
import type { RedisClient } from "../redis/connection.ts";
import type { LlmResult } from "../providers/provider.ts";
import { loadQueueClass } from "../redis/bullmq_internals.ts";
import { bullmqTelemetry, withSpan } from "../telemetry/tracing.ts";

/** What a downstream queue receives for each successful LLM job. */
export interface ResultMessage {
  job_id: string;
  job: unknown;
  result: LlmResult;
}

/**
 * Returns a router that adds `{job_id, job, result}` to every result queue,
 * with the source job's retention settings. The downstream job id is derived
 * from the source job, so a retried hand-off never adds a result twice. An
 * error is thrown to the caller: the job then fails its try and is retried,
 * rather than its result being dropped.
 */
export function createResultRouter(redis: RedisClient, prefix: string, queueNames: string[]) {
  const routeSpan = { name: "ppr.route_result", attributes: { "ppr.result_queues": queueNames } };
  // Loaded only when results are routed: a worker without result queues stays lean.
  let queues:
    | Promise<
      {
        add: (name: string, data: unknown, opts: object) => Promise<unknown>;
        close: () => Promise<void>;
      }[]
    >
    | undefined;
  const open = () =>
    queues ??= loadQueueClass().then((Queue) =>
      queueNames.map((name) => new Queue(name, { connection: redis, prefix, ...bullmqTelemetry() }))
    );
  return {
    async route(job: Job, result: LlmResult): Promise<void> {
      if (queueNames.length === 0) return;
      const message: ResultMessage = { job_id: String(job.id), job: job.data, result };
      await withSpan(routeSpan, async () => {
        for (const queue of await open()) {
          await queue.add("llm-result", message, {
            jobId: `${job.queueName}-${job.id}`,
            removeOnComplete: job.opts.removeOnComplete,
            removeOnFail: job.opts.removeOnFail,
          });
        }
      });
    },
    async close(): Promise<void> {
      if (!queues) return;
      await Promise.allSettled((await queues).map((queue) => queue.close()));
    },
  };
}
