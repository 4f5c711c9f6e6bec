/** One worker process: a BullMQ Worker per queue, heartbeats to the supervisor, drain on request. */

import { Worker } from "bullmq/worker";
import { WaitingError } from "bullmq/errors";
import type { Job } from "bullmq";
import type { Config } from "../config/config.ts";
import { connectRedis } from "../redis/connection.ts";
import { redactUrl } from "../redis/url.ts";
import {
  type ChildEvent,
  formatEvent,
  type HeldJob,
  parseCommand,
} from "../supervisor/protocol.ts";
import { forEachLine } from "../supervisor/_util.ts";
import { log } from "../log/log.ts";
import { processLlmJob } from "./process.ts";
import { register, REGISTRATION_REFRESH_MS, unregister } from "./registry.ts";

export interface WorkerOptions {
  name: string;
  /** Started by the supervisor: events go to stdout, stdin EOF means the supervisor is gone, SIGINT is the supervisor's to handle. */
  supervised: boolean;
  hostname: string;
}

/** How often a worker tells the supervisor it is alive. */
export const HEARTBEAT_INTERVAL_MS = 1000;

interface InFlight extends HeldJob {
  controller: AbortController;
  /** Set when the job is to go back to the queue instead of finishing. */
  giveBack: boolean;
}

const logger = log("worker");
const encoder = new TextEncoder();

/** Runs until drained; resolves with the process exit code. */
export async function runWorker(config: Config, options: WorkerOptions): Promise<number> {
  const { name } = options;
  const emit = (event: ChildEvent) => {
    if (options.supervised) Deno.stdout.writeSync(encoder.encode(formatEvent(event)));
  };
  const inFlight = new Map<string, InFlight>();
  let processed = 0;
  let failed = 0;
  let requeued = 0;
  const startedAt = new Date().toISOString();

  const heartbeat = () =>
    emit({
      event: "heartbeat",
      active: [...inFlight.values()].map(({ queue, id, token }) => ({ queue, id, token })),
      processed,
      failed,
      rss: Deno.memoryUsage().rss,
    });
  // The heartbeat runs from the first moment, whatever Redis does: silence means hung.
  heartbeat();
  const heartbeatTimer = setInterval(heartbeat, HEARTBEAT_INTERVAL_MS);

  const redis = connectRedis(config.redisUrl, { blocking: true, name });
  let redisDown = false;
  redis.on("error", (error: Error) => {
    if (!redisDown) {
      logger.warn("Redis at {url} unreachable ({error}); reconnecting", {
        url: redactUrl(config.redisUrl),
        error: error.message,
      });
    }
    redisDown = true;
  });
  redis.on("ready", () => {
    if (redisDown) logger.info("Redis is back");
    redisDown = false;
  });

  const workers = config.queues.map((queue) => {
    const worker = new Worker(
      queue,
      async (job: Job, token?: string) => {
        const key = `${queue}\u0000${job.id}`;
        const entry: InFlight = {
          queue,
          id: String(job.id),
          token: token ?? "0",
          controller: new AbortController(),
          giveBack: false,
        };
        inFlight.set(key, entry);
        heartbeat();
        try {
          return await processLlmJob(job.data, config, entry.controller.signal);
        } catch (error) {
          if (entry.giveBack) {
            await job.moveToWait(entry.token);
            requeued++;
            throw new WaitingError();
          }
          throw error;
        } finally {
          inFlight.delete(key);
          heartbeat();
        }
      },
      {
        connection: redis,
        prefix: config.prefix,
        concurrency: config.concurrency,
        name,
        autorun: true,
      },
    );
    worker.on("completed", () => {
      processed++;
      heartbeat();
    });
    worker.on("failed", (job: Job | undefined, error: Error) => {
      failed++;
      heartbeat();
      logger.warn("job {id} on {queue} failed: {error}", {
        id: job?.id,
        queue,
        error: error.message,
      });
    });
    // Without a listener an error event would crash the process; reconnects are logged above.
    worker.on("error", (error: Error) => {
      if (!redisDown) logger.debug("worker error: {error}", { error: error.message });
    });
    return worker;
  });

  const registration = () => ({
    name,
    hostname: options.hostname,
    pid: Deno.pid,
    queues: config.queues,
    started_at: startedAt,
    heartbeat_at: new Date().toISOString(),
    active_jobs: inFlight.size,
    processed,
    failed,
  });
  let refreshing = false;
  const refresh = async () => {
    if (refreshing || redisDown) return;
    refreshing = true;
    await register(redis, registration()).catch(() => {}).finally(() => (refreshing = false));
  };
  const refreshTimer = setInterval(refresh, REGISTRATION_REFRESH_MS);

  /** Gives every job in flight back to its queue now. */
  const giveBackAll = (why: string) => {
    if (inFlight.size === 0) return;
    logger.warn("{why}: giving {count} job(s) back to the queue", { why, count: inFlight.size });
    for (const entry of inFlight.values()) {
      entry.giveBack = true;
      entry.controller.abort(new Error(why));
    }
  };

  let drainStarted = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));

  const drain = async (reason: string) => {
    if (drainStarted) {
      giveBackAll("second stop request");
      return;
    }
    drainStarted = true;
    emit({ event: "draining" });
    logger.info("draining ({reason}): no new jobs; {count} in flight", {
      reason,
      count: inFlight.size,
    });
    const deadline = setTimeout(
      () => giveBackAll(`drain timeout of ${config.drainTimeoutMs} ms reached`),
      config.drainTimeoutMs,
    );
    // Bounded even when Redis is down and BullMQ cannot finish closing.
    const closed = Promise.all(workers.map((worker) => worker.close()));
    let backstop: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      closed,
      new Promise((resolve) => (backstop = setTimeout(resolve, config.drainTimeoutMs + 5000))),
    ]);
    clearTimeout(deadline);
    clearTimeout(backstop);
    clearInterval(refreshTimer);
    if (!redisDown) await unregister(redis, name).catch(() => {});
    redis.disconnect();
    clearInterval(heartbeatTimer);
    heartbeat();
    emit({ event: "stopped", requeued });
    logger.info("stopped: {processed} processed, {failed} failed, {requeued} given back", {
      processed,
      failed,
      requeued,
    });
    resolveDone();
  };

  if (options.supervised) {
    // The supervisor speaks on stdin. Signals sent to the whole process group (Ctrl-C,
    // `timeout`, `kill -- -pgid`) are the supervisor's to act on, so SIGINT is ignored and
    // SIGTERM (someone stopping this one worker) drains without ever escalating.
    Deno.addSignalListener("SIGINT", () => {});
    Deno.addSignalListener("SIGTERM", () => {
      if (!drainStarted) void drain("SIGTERM");
    });
    (async () => {
      try {
        await forEachLine(Deno.stdin.readable, (line) => {
          const command = parseCommand(line);
          if (command === "drain" && !drainStarted) void drain("asked by the supervisor");
          if (command === "stop") {
            if (!drainStarted) void drain("asked by the supervisor to stop now");
            giveBackAll("asked by the supervisor to stop now");
          }
        });
      } catch {
        // A broken pipe is EOF too.
      }
      if (!drainStarted) void drain("supervisor gone (stdin closed)");
    })();
  } else {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      Deno.addSignalListener(signal, () => void drain(signal));
    }
  }

  Promise.all(workers.map((worker) => worker.waitUntilReady())).then(() => {
    if (drainStarted) return;
    void refresh();
    logger.info("ready: queues {queues}, concurrency {concurrency}", {
      queues: config.queues,
      concurrency: config.concurrency,
    });
    emit({ event: "ready", pid: Deno.pid, queues: config.queues });
  }).catch((error) => logger.error("could not start: {error}", { error: String(error) }));

  await done;
  return 0;
}
