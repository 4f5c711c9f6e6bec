/** One worker process: a BullMQ Worker per queue, heartbeats to the supervisor, drain on request. */

import { Worker } from "bullmq/worker";
import { DelayedError, UnrecoverableError, WaitingError } from "bullmq/errors";
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
import { prepareJob, runJob } from "./process.ts";
import { decide, TRY_LOG_PREFIX } from "./outcome.ts";
import { clearQuotaStrikes, type Pause, pauseProvider, readPause } from "./pause.ts";
import { createResultRouter } from "./results.ts";
import { register, REGISTRATION_REFRESH_MS, unregister } from "./registry.ts";

export interface WorkerOptions {
  name: string;
  /** Started by the supervisor: events go to stdout, stdin EOF means the supervisor is gone, SIGINT is the supervisor's to handle. */
  supervised: boolean;
  hostname: string;
  /** Environment of LLM subprocesses (the Claude CLI). */
  subprocessEnv: Record<string, string>;
}

/** How often a worker reads the shared provider pauses. */
export const PAUSE_POLL_MS = 2000;

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

  // RSS is sampled by the periodic beat only: reading it costs more than the rest of an event.
  let rss = Deno.memoryUsage().rss;
  const heartbeat = () =>
    emit({
      event: "heartbeat",
      active: [...inFlight.values()].map(({ queue, id, token }) => ({ queue, id, token })),
      processed,
      failed,
      rss,
    });
  // A job that starts is reported within the same tick: if this process dies, the supervisor
  // must know what to put back. Finished jobs can wait for the next beat (a stale entry only
  // costs a put-back that BullMQ's lock check refuses), so they are batched.
  let reportQueued = false;
  const reportSoon = () => {
    if (reportQueued) return;
    reportQueued = true;
    queueMicrotask(() => {
      reportQueued = false;
      heartbeat();
    });
  };
  let countsTimer: ReturnType<typeof setTimeout> | undefined;
  const reportLater = () => {
    countsTimer ??= setTimeout(() => {
      countsTimer = undefined;
      heartbeat();
    }, 250);
  };
  // The heartbeat runs from the first moment, whatever Redis does: silence means hung.
  heartbeat();
  const heartbeatTimer = setInterval(() => {
    rss = Deno.memoryUsage().rss;
    heartbeat();
  }, HEARTBEAT_INTERVAL_MS);

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

  // Shared provider pauses (auth, quota), read from Redis; while the default provider is
  // paused this process takes no jobs.
  const pauses = new Map<string, Pause>();
  const watched = new Set<string>([config.provider]);
  const isPaused = (provider: string) => (pauses.get(provider)?.retry_at ?? 0) > Date.now();
  const results = createResultRouter(redis, config.prefix, config.resultQueues);
  // Providers this process saw under a quota pause: their next success ends the run of
  // strikes that makes each pause 1.5 times longer (one DEL per pause, not per job).
  const quotaSeen = new Set<string>();

  /** Puts a job back at the front of its queue untouched (no attempt spent) and tells BullMQ so. */
  const giveBack = async (job: Job, token: string): Promise<never> => {
    await job.moveToWait(token);
    requeued++;
    throw new WaitingError();
  };

  /** Handles a failed try; always throws, as BullMQ expects of a processor. */
  const onFailure = async (
    job: Job,
    token: string,
    provider: string,
    error: unknown,
  ): Promise<never> => {
    if (error instanceof UnrecoverableError) throw error;
    const logsKey = `${config.prefix}:${job.queueName}:${job.id}:logs`;
    const earlier = (await redis.lrange(logsKey, 0, -1))
      .filter((line) => line.startsWith(TRY_LOG_PREFIX))
      .map((line) => line.slice(TRY_LOG_PREFIX.length));
    const decision = decide(error, earlier, job.opts.attempts);
    switch (decision.action) {
      case "give_back": {
        const pause = await pauseProvider(
          redis,
          provider,
          decision.pause,
          decision.reason,
          { resetInMs: decision.resetInMs, authRetryMs: config.llmProbeIntervalMs },
        );
        pauses.set(provider, pause);
        if (pause.state === "quota_exceeded") quotaSeen.add(provider);
        logger.warn(
          "{provider} paused ({state}) until {until}: {reason}; job {id} goes back untouched",
          {
            provider,
            state: pause.state,
            until: new Date(pause.retry_at).toISOString(),
            reason: pause.reason,
            id: job.id,
          },
        );
        applyPauses();
        return await giveBack(job, token);
      }
      case "fail":
        throw new UnrecoverableError(decision.message);
      case "retry":
        await job.log(TRY_LOG_PREFIX + decision.message);
        throw new Error(decision.message);
      case "delay":
        await job.log(TRY_LOG_PREFIX + decision.message);
        logger.info("job {id}: {message}; retrying in {seconds} s", {
          id: job.id,
          message: decision.message,
          seconds: decision.delayMs / 1000,
        });
        await job.moveToDelayed(Date.now() + decision.delayMs, token);
        throw new DelayedError();
    }
  };

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
        reportSoon();
        let provider: string = config.provider;
        try {
          const prepared = prepareJob(job.data, config);
          provider = prepared.providerName;
          watched.add(provider);
          if (isPaused(provider)) return await giveBack(job, entry.token);
          const result = await runJob(
            prepared,
            config,
            options.subprocessEnv,
            entry.controller.signal,
          );
          await results.route(job, result);
          if (quotaSeen.delete(provider)) await clearQuotaStrikes(redis, provider).catch(() => {});
          return result;
        } catch (error) {
          if (error instanceof WaitingError || error instanceof DelayedError) throw error;
          if (entry.giveBack) return await giveBack(job, entry.token);
          return await onFailure(job, entry.token, provider, error);
        } finally {
          inFlight.delete(key);
          reportLater();
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
      reportLater();
    });
    worker.on("failed", (job: Job | undefined, error: Error) => {
      failed++;
      reportLater();
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

  let pausedLocally = false;
  function applyPauses() {
    const shouldPause = isPaused(config.provider) && !drainStarted;
    if (shouldPause && !pausedLocally) {
      pausedLocally = true;
      for (const worker of workers) void worker.pause(true);
    } else if (!shouldPause && pausedLocally && !drainStarted) {
      pausedLocally = false;
      logger.info("{provider} resumes", { provider: config.provider });
      for (const worker of workers) worker.resume();
    }
  }
  let polling = false;
  const pollPauses = async () => {
    if (polling || redisDown) return;
    polling = true;
    try {
      for (const provider of watched) {
        const pause = await readPause(redis, provider);
        if (pause) pauses.set(provider, pause);
        else pauses.delete(provider);
        if (pause?.state === "quota_exceeded") quotaSeen.add(provider);
      }
      applyPauses();
    } catch {
      // Redis trouble is logged by the connection; the next poll tries again.
    } finally {
      polling = false;
    }
  };
  const pauseTimer = setInterval(pollPauses, PAUSE_POLL_MS);

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
    clearInterval(pauseTimer);
    await results.close();
    if (!redisDown) await unregister(redis, name).catch(() => {});
    redis.disconnect();
    clearInterval(heartbeatTimer);
    clearTimeout(countsTimer);
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
