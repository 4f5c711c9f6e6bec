/** The default command: start the pool, the health server and the signal handlers, and run until drained. */

import { deadline } from "../async/mod.ts";
import type { Config } from "../config/config.ts";
import { VERSION } from "../config/version.ts";
import { startRedisProbe } from "../health/redis_probe.ts";
import { startHealthServer } from "../health/server.ts";
import type { HealthInputs } from "../health/status.ts";
import { isJsonFormat, log } from "../log/log.ts";
import { workerName } from "../protocol/worker_name.ts";
import { connectRedis } from "../redis/connection.ts";
import { redactUrl } from "../redis/url.ts";
import { startAuthProbe } from "./auth_probe.ts";
import { spawnChild } from "./child.ts";
import { forwardLog } from "./forward_log.ts";
import { createJobGiver } from "./give_back.ts";
import { createPool } from "./pool.ts";
import { currentInvocation, workerCommand } from "./self_command.ts";
import { removeStaleRegistrations } from "./sweep.ts";

/** Most worker processes one container runs, as WORKER_COUNT allows. */
export const MAX_WORKERS = 20;

/** What the pool command runs with. */
export interface SuperviseOptions {
  config: Config;
  hostname: string;
  /** The environment children get (the supervisor's, with flag values written in). */
  childEnv: Record<string, string>;
  /** Environment of LLM subprocesses (the Claude CLI's auth probe). */
  subprocessEnv: Record<string, string>;
}

const logger = log("supervisor");
/** Runs the pool until a signal drains it. Resolves with the exit code. */
export async function supervise(options: SuperviseOptions): Promise<number> {
  const { config, hostname } = options;
  const startedAt = Date.now();
  const json = isJsonFormat(config.logFormat);
  logger.info(
    "ppr-worker {version}: {count} worker(s) x {concurrency} on {queues} at {redis}, provider {provider}",
    {
      version: VERSION,
      count: config.workerCount,
      concurrency: config.concurrency,
      queues: config.queues.join(","),
      redis: redactUrl(config.redisUrl),
      provider: config.provider,
    },
  );

  const redis = connectRedis(config.redisUrl, { name: `ppr-supervisor-${hostname}` });
  let redisDown = false;
  redis.on("error", (error: Error) => {
    if (!redisDown) {
      logger.warn("Redis at {url} unreachable ({error}); workers keep retrying", {
        url: redactUrl(config.redisUrl),
        error: error.message,
      });
    }
    redisDown = true;
  });
  redis.on("ready", () => (redisDown = false));

  try {
    const removed = await deadline(
      removeStaleRegistrations(redis, { hostname }),
      5000,
      "Redis did not answer in 5 s",
    );
    if (removed.length > 0) {
      logger.info("removed {count} stale worker registration(s): {names}", {
        count: removed.length,
        names: removed,
      });
    }
  } catch (error) {
    logger.warn("stale registrations not swept ({error}); their TTL removes them", {
      error: error instanceof Error ? error.message : String(error),
    });
  }

  const jobGiver = createJobGiver(redis, config.prefix);
  const childEnv = { ...options.childEnv, LOG_FORMAT: json ? "json" : "pretty" };
  const self = currentInvocation();
  const pool = createPool({
    size: config.workerCount,
    nameOf: (index) => workerName(hostname, index),
    spawn: (name, { onEvent }) =>
      spawnChild({
        ...workerCommand(self, name),
        env: childEnv,
        onEvent,
        onLog: forwardLog(name, json),
      }),
    onJobsLost: async (name, jobs) => {
      const count = await jobGiver.giveBack(jobs);
      logger.info("{worker}: {count} of {held} held job(s) given back to the queue", {
        worker: name,
        count,
        held: jobs.length,
      });
    },
    restartDelayMs: config.restartDelayMs,
    restartMaxDelayMs: config.restartMaxDelayMs,
    restartIntensity: config.restartIntensity,
    restartPeriodMs: config.restartPeriodMs,
    drainTimeoutMs: config.drainTimeoutMs,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
  });

  const probe = startRedisProbe(redis);
  const llm = startAuthProbe({ config, subprocessEnv: options.subprocessEnv }, redis);
  const inputs = (): HealthInputs => ({
    pool: pool.snapshot(),
    redis: probe.state,
    llm: llm.state,
    queues: config.queues,
    provider: config.provider,
    redisGraceMs: config.redisGraceMs,
    startedAt,
    version: VERSION,
  });
  let health: ReturnType<typeof startHealthServer> | undefined;
  if (config.healthEnabled) {
    try {
      health = startHealthServer({
        hostname: config.healthHost,
        port: config.healthPort,
        inputs,
        onListen: ({ hostname, port }) =>
          logger.info("health server on http://{hostname}:{port}/health", { hostname, port }),
      });
    } catch (error) {
      logger.error("cannot serve health on {host}:{port}: {error}", {
        host: config.healthHost,
        port: config.healthPort,
        error: error instanceof Error ? error.message : String(error),
      });
      probe.stop();
      llm.stop();
      redis.disconnect();
      return 1;
    }
  }

  let stopRequests = 0;
  const onStop = (signal: string) => () => {
    stopRequests++;
    if (stopRequests === 1) {
      logger.info("{signal}: draining; jobs in flight have {seconds} s to finish", {
        signal,
        seconds: config.drainTimeoutMs / 1000,
      });
      void pool.drain();
    } else {
      logger.warn("{signal} again: stopping now; jobs in flight are given back to the queue", {
        signal,
      });
      void pool.stopNow();
    }
  };
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGTERM", onStop("SIGTERM")],
    ["SIGINT", onStop("SIGINT")],
    ["SIGHUP", () => {
      logger.info("SIGHUP: rolling restart");
      void pool.rollingRestart();
    }],
    [
      "SIGTTIN",
      () => logger.info("SIGTTIN: pool size now {size}", { size: pool.grow(MAX_WORKERS) }),
    ],
    ["SIGTTOU", () => logger.info("SIGTTOU: pool size now {size}", { size: pool.shrink() })],
  ];
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);

  pool.start();
  await pool.stopped();

  for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  probe.stop();
  llm.stop();
  await health?.close();
  await jobGiver.close();
  redis.disconnect();
  logger.info("all workers stopped; bye");
  return 0;
}
