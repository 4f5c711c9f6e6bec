/** The default command: start the pool, the health server and the signal handlers, and run until drained. */

import { deadline, settlesWithin } from "../async/mod.ts";
import { type Config, llmQueuesOf } from "../config/config.ts";
import { unregisterDead } from "../redis/registrations.ts";
import { VERSION } from "../config/version.ts";
import { startQueueStats } from "../health/queue_stats.ts";
import { startRedisProbe } from "../health/redis_probe.ts";
import { probeKey } from "../redis/keys.ts";
import { defaultProviderOf, PROVIDER_NAMES } from "../providers/registry.ts";
import { startHealthServer } from "../health/server.ts";
import type { AutoscaleSnapshot, HealthInputs, LlmState, PoolSnapshot } from "../health/status.ts";
import { isJsonFormat, log } from "../log/log.ts";
import { workerName } from "../protocol/worker_name.ts";
import { connectRedis, redisErrorText } from "../redis/connection.ts";
import { redactUrl } from "../redis/url.ts";
import { startAuthProbe } from "./auth_probe.ts";
import { startBatchDesk } from "./batch_desk.ts";
import type { PriceTable } from "../economics/prices.ts";
import { spawnChild } from "./child.ts";
import { createCountsDir } from "./counts_dir.ts";
import { type LlmBudget, llmBudget, workersMemoryHolds } from "./llm_budget.ts";
import { startAutoscaler } from "./autoscaler.ts";
import { createAutoscalePublisher } from "./autoscale_publisher.ts";
import { listenForScaleRequests } from "./scale_requests.ts";
import { readBacklog } from "../state/backlog.ts";
import { createLlmLedger } from "./llm_ledger.ts";
import type { ChildHandle } from "./child.ts";
import { forwardLog } from "./forward_log.ts";
import { createDeadWorkerGiveBack } from "./give_back_dead_worker.ts";
import { heapLimitMb, memoryLimitBytes } from "./memory_limit.ts";
import { createPool, type Pool } from "./pool.ts";
import { groupPools } from "./pool_group.ts";
import { planPools, type PoolPlan, poolSizeOwner, poolWorkerEnv } from "./pool_plan.ts";
import { createReloader, type ReloadSource } from "./reload.ts";
import { currentInvocation, programRoot, workerCommand } from "./self_command.ts";
import { type BundleCheck, currentWorkerBundle, markBundleUsed } from "./worker_bundle.ts";
import { claimHostname, HostnameInUseError } from "./sweep.ts";
import {
  HOSTNAME_LEASE_MS,
  type HostnameLease,
  LEASE_REFRESH_MS,
  takeHostnameLease,
} from "./hostname_lease.ts";

/** Most worker processes one container runs, as WORKER_COUNT allows. */
export const MAX_WORKERS = 20;

/** What the pool command runs with. */
export interface SuperviseOptions {
  config: Config;
  hostname: string;
  /** The environment children get (the supervisor's, with flag values written in). */
  childEnv: Record<string, string>;
  /** The env file SIGHUP reads again; without it, SIGHUP rolls the workers as they are. */
  reload?: ReloadSource;
  /** Environment of LLM subprocesses (the Claude CLI's auth probe). */
  subprocessEnv: Record<string, string>;
  /** The price table (`LLM_PRICES` over the shipped one): the batch desk prices what it reads. */
  prices: PriceTable;
  /**
   * Called once the pool exists, with the function that gives its snapshot (what /health
   * reads): for the dashboard beside the pool, which shows each worker's restarts from it.
   */
  onPool?: (snapshot: () => PoolSnapshot) => void;
}

const logger = log("supervisor");

/** Exit status when the pool cannot run: a crash loop before any worker was ready. */
export const EXIT_CRASH_LOOP = 1;
/** Exit status when the hostname is in use by another supervisor's live workers (a configuration error). */
export const EXIT_HOSTNAME_IN_USE = 2;
/**
 * How long the supervisor's own steps of a stop may take after its workers have gone (closing
 * the health server and its Redis clients); with the pool's backstop, a stop takes at most
 * DRAIN_TIMEOUT + 5 s, Redis up or not.
 */
const CLOSE_STEP_MS = 500;
/** How long giving back a dead worker's jobs may take before BullMQ's stalled check is left to do it. */
const GIVE_BACK_TIMEOUT_MS = 3000;
/** Runs the pool until a signal drains it. Resolves with the exit code. */
export async function supervise(options: SuperviseOptions): Promise<number> {
  const { config, hostname } = options;
  const startedAt = Date.now();
  const plans = planPools(config, MAX_WORKERS);
  const json = isJsonFormat(config.logFormat);
  for (const plan of plans) {
    logger.info(
      "ppr-worker {version}: {pool}{count} worker(s){autoscale} x {concurrency} on {queues} at {redis}, provider {provider}",
      {
        version: VERSION,
        pool: plan.name === undefined ? "" : `pool ${plan.name}, `,
        count: plan.initialSize,
        autoscale: plan.range ? ` (autoscaling from ${plan.range.min} to ${plan.range.max})` : "",
        concurrency: plan.concurrency,
        queues: plan.queues.join(","),
        redis: redactUrl(config.redisUrl),
        provider: config.provider,
      },
    );
  }

  const self = currentInvocation();
  // Read while the lease and the sweep wait on Redis: hashing the sources takes some 20 ms.
  const root = programRoot(self);
  const bundleChecked = root === undefined ? undefined : currentWorkerBundle(root).catch((
    error,
  ): BundleCheck => ({ unused: `the worker bundle could not be checked (${error.message})` }));
  const redis = connectRedis(config.redisUrl, { name: `ppr-supervisor-${hostname}` });
  let redisDown = false;
  redis.on("error", (error: Error) => {
    if (!redisDown) {
      logger.warn("Redis at {url} unreachable ({error}); workers keep retrying", {
        url: redactUrl(config.redisUrl),
        error: redisErrorText(error),
      });
    }
    redisDown = true;
  });
  redis.on("ready", () => (redisDown = false));

  let lease: HostnameLease | undefined;
  let keepLease: ReturnType<typeof setInterval> | undefined;
  const releaseLease = async () => {
    clearInterval(keepLease);
    await settlesWithin(lease?.release() ?? Promise.resolve(), CLOSE_STEP_MS);
  };
  try {
    // Atomic first (two supervisors started together both pass a check of registrations),
    // then the registrations of this hostname's last run.
    lease = await deadline(
      takeHostnameLease(redis, { hostname, owner: `pid ${Deno.pid} (${crypto.randomUUID()})` }),
      HOSTNAME_LEASE_MS + 15_000,
      "Redis did not answer while the hostname's lease was taken",
    );
    // Renewed from now on: the look at the last run's registrations below may outlast the lease.
    const held = lease;
    keepLease = setInterval(async () => {
      if (await held.refresh().catch(() => true)) return;
      logger.error(
        "the hostname's lease was taken by another supervisor while this one could not renew it: two pools may now run as {hostname}",
        { hostname },
      );
    }, LEASE_REFRESH_MS);
    const removed = await deadline(
      claimHostname(redis, { hostname }),
      15_000,
      "Redis did not answer in 15 s",
    );
    if (removed.length > 0) {
      logger.info("removed {count} stale worker registration(s): {names}", {
        count: removed.length,
        names: removed,
      });
    }
  } catch (error) {
    if (error instanceof HostnameInUseError) {
      logger.error("not starting: {reason}", { reason: error.message });
      await releaseLease();
      redis.disconnect();
      return EXIT_HOSTNAME_IN_USE;
    }
    logger.warn("stale registrations not swept ({error}); their TTL removes them", {
      error: error instanceof Error ? error.message : String(error),
    });
  }

  const giveBack = createDeadWorkerGiveBack(redis, {
    prefix: config.prefix,
    queues: config.queues,
    maxCrashes: config.maxJobCrashes,
  });
  const lastLogLine = new Map<string, string>();
  let crashLoop: string | undefined;
  const workerEnv = (env: Record<string, string>) => ({
    ...env,
    LOG_FORMAT: json ? "json" : "pretty",
  });
  let childEnv = workerEnv(options.childEnv);
  const workerEntry = workerEntryOf(await bundleChecked);
  const memoryBytes = memoryLimitBytes();
  /** The most workers the container runs at once: every pool at its MAX (or its size when fixed). */
  const mostWorkers = plans.reduce((sum, plan) => sum + (plan.range?.max ?? plan.initialSize), 0);
  const heapLimit = memoryBytes === undefined ? undefined : heapLimitMb(memoryBytes, mostWorkers);
  // The pool of the LLM queues (the configuration allows one): LLM_MAX_IN_FLIGHT is split over its workers.
  const llmPlan = plans.find((plan) =>
    plan.queues.some((queue) => llmQueuesOf(config).includes(queue))
  );
  const llmPlanQueues = llmPlan?.queues.filter((queue) => llmQueuesOf(config).includes(queue)) ??
    [];
  const budget = llmBudgetOf(config, {
    memoryBytes,
    workerCount: mostWorkers,
    // What the LLM pool may grow to: the bound is kept whenever it could grow past it.
    maxWorkerCount: (llmPlan ?? plans[0]).maxWorkers,
    llmWorkers: (llmPlan ?? plans[0]).initialSize,
    concurrency: llmPlan?.concurrency ?? config.concurrency,
    llmQueues: llmPlanQueues.length,
  });
  // The bound follows every change of the pool's size: the ledger re-splits it over the workers.
  const ledger = budget.limit === undefined || !llmPlan ? undefined : createLlmLedger<ChildHandle>({
    limit: budget.limit,
    llmQueues: llmPlanQueues.length,
    concurrency: llmPlan.concurrency,
  });
  const countsDir = createCountsDir();
  const poolOf = (plan: PoolPlan): Pool => {
    const bounded = plan === llmPlan ? ledger : undefined;
    const pool: Pool = createPool({
      size: plan.initialSize,
      nameOf: (index) => workerName(hostname, index, plan.name),
      spawn: (name, { onEvent }, _replacing, index) => {
        const forwardLine = forwardLog(name, json);
        const countsFile = countsDir.fileFor(name);
        // What the other processes do not hold now: a replacement gets the rest once the old one has gone.
        const llmSlots = bounded?.admit(index, pool.serving().map((slot) => slot.index));
        const child: ChildHandle = spawnChild({
          ...workerCommand(self, name, {
            v8Mode: config.v8Mode,
            heapLimitMb: heapLimit,
            countsFile,
            llmSlots,
            entry: workerEntry(),
          }),
          countsFile,
          env: { ...childEnv, ...poolWorkerEnv(plan) },
          onEvent: (event) => {
            if (event.event === "llm-slots") bounded?.answered(child, event.slots, event.seq);
            onEvent(event);
            resplitLlm();
          },
          onLog: (line) => {
            lastLogLine.set(name, line);
            forwardLine(line);
          },
        });
        if (bounded && llmSlots) {
          bounded.started(child, llmSlots, (command) => child.send(command));
          child.exited.then(() => {
            bounded.exited(child);
            resplitLlm();
          });
        }
        return child;
      },
      unregisterDead: async (name, pid) => {
        await deadline(
          unregisterDead(redis, name, pid),
          GIVE_BACK_TIMEOUT_MS,
          "Redis did not answer",
        );
      },
      giveBackJobsOf: async (name, jobs, cause, workerIds) => {
        const outcome = await deadline(
          giveBack.giveBackJobsOf(name, jobs, cause, workerIds),
          GIVE_BACK_TIMEOUT_MS,
          "Redis did not answer; BullMQ's stalled-job check will give them back",
        );
        if (outcome.givenBack.length + outcome.failed.length === 0) return;
        logger.info(
          "{worker} ({cause}): {givenBack} job(s) given back to the queue, {failed} failed as poison pills ({unreported} taken after its last heartbeat)",
          {
            worker: name,
            cause,
            givenBack: outcome.givenBack.length,
            failed: outcome.failed.length,
            unreported: outcome.unreported.length,
          },
        );
        for (const id of outcome.failed) {
          logger.error("job {id} failed: its worker crashed {max} times while running it", {
            id,
            max: config.maxJobCrashes,
          });
        }
      },
      onCrashLoop: (name, cause) => {
        crashLoop =
          `${name} ${cause} before it was ever ready, past RESTART_INTENSITY (${config.restartIntensity} restarts in ${
            config.restartPeriodMs / 1000
          } s); its last words: ${lastLogLine.get(name) ?? "(none)"}`;
        logger.error("crash loop: {reason}; stopping", { reason: crashLoop });
        void pools.stopNow();
      },
      recycle: {
        maxRssBytes: config.maxWorkerMemoryBytes,
        maxJobs: config.maxJobsPerWorker,
      },
      restartDelayMs: config.restartDelayMs,
      restartMaxDelayMs: config.restartMaxDelayMs,
      restartIntensity: config.restartIntensity,
      restartPeriodMs: config.restartPeriodMs,
      drainTimeoutMs: config.drainTimeoutMs,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    });
    return pool;
  };
  const units = plans.map((plan) => ({ plan, name: plan.name, pool: poolOf(plan) }));
  const llmPool = units.find((unit) => unit.plan === llmPlan)?.pool;
  const resplitLlm = () => llmPool && ledger?.resplit(llmPool.serving());
  const pools = groupPools(units);

  options.onPool?.(() => pools.snapshot());
  const probe = startRedisProbe(redis, { writeKey: probeKey(hostname), logger });
  const queueStats = startQueueStats(redis, {
    prefix: config.prefix,
    queues: [...new Set([...config.queues, ...config.resultQueues])],
    servedQueues: config.queues,
    providers: PROVIDER_NAMES,
    budgets: { budgets: config.llmBudgets, period: config.llmBudgetPeriod },
  });
  // Only a pool that serves an LLM queue probes the provider: a container of standard queues
  // whose CLI has no login must not pause the provider for every other container.
  const servesLlm = llmQueuesOf(config).length > 0;
  const llm = servesLlm
    ? startAuthProbe({ config, subprocessEnv: options.subprocessEnv }, redis)
    : {
      state: { state: "ok", retryInSeconds: 0, claudeAuthenticated: null } satisfies LlmState,
      stop() {},
    };
  // Every pool with an LLM queue may hold the fleet's batch desk: one of them does at a time.
  const batchDesk = servesLlm
    ? startBatchDesk({
      config,
      context: { config, subprocessEnv: options.subprocessEnv },
      redis,
      prices: options.prices,
      logger: log("batch"),
      owner: `${hostname} pid ${Deno.pid} (${crypto.randomUUID()})`,
    })
    : undefined;
  const memoryMaxWorkers = workersMemoryHolds(
    memoryBytes,
    budget.limit ?? 0,
    defaultProviderOf(config).callProcess?.(config),
  );
  // What `info` shows of the autoscalers, from Redis: every host's, their sizes and reasons.
  const publishers = new Map(units.map(({ plan, pool }) => [
    pool,
    plan.range &&
    createAutoscalePublisher(redis, { hostname, poolName: plan.name, range: plan.range }),
  ]));
  const autoscalers = new Map(units.map(({ plan, pool }) => {
    const range = plan.range;
    return [
      pool,
      range && startAutoscaler({
        poolName: plan.name,
        range,
        scaleDownDelayMs: config.autoscaleDownDelayMs,
        slotsPerWorker: plan.concurrency * plan.queues.length,
        readBacklog: () =>
          deadline(
            readBacklog(redis, config.prefix, plan.queues, Date.now()),
            2000,
            "Redis did not answer",
          ),
        pool: {
          size: () => pool.snapshot().size,
          busySlots: () => pool.snapshot().slots.reduce((sum, slot) => sum + slot.activeJobs, 0),
          grow: () => pool.grow(plan.maxWorkers),
          shrink: () => pool.shrink(),
        },
        providerPaused: () => llm.state.state !== "ok",
        memoryMaxWorkers,
        // A pool of LLM queues only: a worker past the bound's count would get no share.
        llmMaxWorkers: budget.limit !== undefined && plan === llmPlan &&
            llmPlanQueues.length === plan.queues.length
          ? budget.limit
          : undefined,
        onResize: () => resplitLlm(),
        onLook: (size, decision) => void publishers.get(pool)?.publish(size, decision),
      }),
    ];
  }));
  const autoscaleOf = (pool: Pool): AutoscaleSnapshot | undefined => {
    const autoscaler = autoscalers.get(pool);
    return autoscaler
      ? {
        ...autoscaler.state.range,
        desired: autoscaler.state.decision?.desired,
        reason: autoscaler.state.decision?.reason,
        detail: autoscaler.state.decision?.detail,
      }
      : undefined;
  };
  const stopAutoscalers = async () => {
    for (const autoscaler of autoscalers.values()) autoscaler?.stop();
    await Promise.all([...publishers.values()].map((publisher) => publisher?.remove()));
  };
  const inputs = (): HealthInputs => ({
    pool: pools.snapshot(),
    redis: probe.state,
    llm: llm.state,
    queues: config.queues,
    provider: config.provider,
    redisGraceMs: config.redisGraceMs,
    startedAt,
    version: VERSION,
    queueStats: queueStats.stats.state,
    autoscale: plans.length === 1 ? autoscaleOf(units[0].pool) : undefined,
    pools: plans.length === 1 && plans[0].name === undefined ? undefined : units.map((
      { plan, pool },
    ) => ({
      name: plan.name!,
      queues: plan.queues,
      size: pool.snapshot().size,
      concurrency: plan.concurrency,
      autoscale: autoscaleOf(pool),
    })),
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
      await settlesWithin(stopAutoscalers(), CLOSE_STEP_MS);
      probe.stop();
      queueStats.stop();
      llm.stop();
      if (batchDesk) await settlesWithin(batchDesk.stop(), CLOSE_STEP_MS);
      await releaseLease();
      redis.disconnect();
      countsDir.remove();
      return 1;
    }
  }

  const reloader = createReloader({
    rollingRestart: () => pools.rollingRestart(),
    source: options.reload,
    setWorkerEnv: (env) => (childEnv = workerEnv(env)),
  });
  /** After every change of size: the LLM bound is re-split at once, and the change logged. */
  const logResize = (why: string, plan: PoolPlan, size: number) => {
    resplitLlm();
    logger.info("{why}: {pool}size now {size}", {
      why,
      pool: poolSizeOwner(plan.name),
      size,
    });
  };
  /**
   * The most workers `unit`'s pool may have now: its own maximum, and what the other pools leave
   * of MAX_WORKERS (an autoscaled one at its MAX, a fixed one at its size), as at start.
   */
  const mostWorkersOf = (unit: typeof units[number]): { max: number; why?: string } => {
    const others = units.filter((other) => other !== unit).reduce(
      (sum, other) => sum + (other.plan.range?.max ?? other.pool.snapshot().size),
      0,
    );
    const room = MAX_WORKERS - others;
    return room < unit.plan.maxWorkers
      ? { max: room, why: `the other pools may run ${others} of ${MAX_WORKERS}` }
      : { max: unit.plan.maxWorkers };
  };
  const scaleRequests = listenForScaleRequests(redis, {
    hostname,
    pools: units.map((unit) => ({
      name: unit.plan.name,
      maxWorkers: () => mostWorkersOf(unit),
      range: unit.plan.range,
      size: () => unit.pool.snapshot().size,
      stopping: () => unit.pool.snapshot().draining,
      resize(size) {
        const { plan, pool } = unit;
        const to = resizePool(pool, size, mostWorkersOf(unit).max);
        if (to.changed) logResize("ppr-worker scale", plan, to.size);
        return to.size;
      },
    })),
  });
  /** SIGTTIN and SIGTTOU resize the one pool; with several, `scale --pool` names the one to resize. */
  const bySignal = (signal: string, act: (pool: Pool, plan: PoolPlan) => number) => () => {
    if (units.length > 1) {
      logger.warn(
        "{signal} ignored: this supervisor runs {count} pools ({names}); resize one with ppr-worker scale N --pool <name>",
        { signal, count: units.length, names: plans.map((plan) => plan.name).join(", ") },
      );
      return;
    }
    const { plan, pool } = units[0];
    const before = pool.snapshot();
    const size = act(pool, plan);
    if (size !== before.size) return logResize(signal, plan, size);
    logger.info("{signal}: pool size stays {size} ({why})", {
      signal,
      size,
      why: before.draining
        ? "the supervisor is stopping"
        : signal === "SIGTTIN"
        ? `at its most: ${plan.maxWorkers}`
        : "at its fewest: 1",
    });
  };
  let stopRequests = 0;
  const onStop = (signal: string) => () => {
    stopRequests++;
    if (stopRequests === 1) {
      logger.info("{signal}: draining; jobs in flight have {seconds} s to finish", {
        signal,
        seconds: config.drainTimeoutMs / 1000,
      });
      void pools.drain();
    } else {
      logger.warn("{signal} again: stopping now; jobs in flight are given back to the queue", {
        signal,
      });
      void pools.stopNow();
    }
  };
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGTERM", onStop("SIGTERM")],
    ["SIGINT", onStop("SIGINT")],
    ["SIGHUP", () => reloader.request()],
    ["SIGTTIN", bySignal("SIGTTIN", (pool, plan) => pool.grow(plan.maxWorkers))],
    ["SIGTTOU", bySignal("SIGTTOU", (pool) => pool.shrink())],
  ];
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);

  pools.start();
  await pools.stopped();
  countsDir.remove();
  // Its records go before the hostname does: a successor on the name may write its own.
  await settlesWithin(stopAutoscalers(), CLOSE_STEP_MS);
  await releaseLease();

  for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  scaleRequests.stop();
  probe.stop();
  queueStats.stop();
  llm.stop();
  if (batchDesk) await settlesWithin(batchDesk.stop(), CLOSE_STEP_MS);
  // Each step is bounded: a Redis that does not answer must not hold the stop.
  if (health) await settlesWithin(health.close(), CLOSE_STEP_MS);
  await settlesWithin(giveBack.close(), CLOSE_STEP_MS);
  redis.disconnect();
  if (crashLoop) {
    logger.error("exiting with status {code}: {reason}", {
      code: EXIT_CRASH_LOOP,
      reason: crashLoop,
    });
    return EXIT_CRASH_LOOP;
  }
  logger.info("all workers stopped; bye");
  return 0;
}

/** What the LLM budget is worked out from: the container's memory, its workers, the LLM pool's slots. */
interface BudgetInputs {
  memoryBytes: number | undefined;
  /** Every pool's workers (their memory). */
  workerCount: number;
  maxWorkerCount: number;
  /** The LLM pool's workers at start. */
  llmWorkers: number;
  /** The LLM pool's concurrency and LLM queues. */
  concurrency: number;
  llmQueues: number;
}

/**
 * Where a worker child starts from: under `deno run`, the worker bundle's entry while the bundle
 * matched the sources at start (`bundle`) and is still on disk (a newer build prunes old ones),
 * else main.ts's modules (`undefined`). The log says which, and why not the bundle.
 */
function workerEntryOf(bundle: BundleCheck | undefined): () => string | undefined {
  if (bundle === undefined) return () => undefined;
  if ("unused" in bundle) {
    logger.info("workers load the modules: {reason}", { reason: bundle.unused });
    return () => undefined;
  }
  logger.info("workers start from the worker bundle {entry}", { entry: bundle.entry });
  void markBundleUsed(bundle.entry);
  return () => {
    try {
      Deno.statSync(bundle.entry);
      return bundle.entry;
    } catch {
      return undefined;
    }
  };
}

/** The container's LLM budget for `config`, logged once with its arithmetic (and the worst case). */
function llmBudgetOf(config: Config, inputs: BudgetInputs): LlmBudget {
  const { llmWorkers, concurrency, llmQueues } = inputs;
  const budget = llmBudget({
    ...inputs,
    callProcess: defaultProviderOf(config).callProcess?.(config),
    configured: config.llmMaxInFlight,
  });
  if (llmQueues === 0) return { ...budget, limit: undefined };
  logger.info("LLM calls in flight: {bound} ({explanation})", {
    bound: budget.limit === undefined
      ? `up to ${llmWorkers * concurrency * llmQueues}, one per job slot`
      : `at most ${budget.limit} in this container, shared by the workers`,
    explanation: budget.explanation,
  });
  if (budget.warning) logger.warn("memory: {warning}", { warning: budget.warning });
  if (budget.limit !== undefined && budget.limit < llmQueues) {
    logger.warn(
      "LLM_MAX_IN_FLIGHT ({limit}) is less than the {queues} LLM queues: only {limit} of them are served",
      { limit: budget.limit, queues: llmQueues },
    );
  }
  return budget;
}

/**
 * Grows or drains `pool` one worker at a time toward `size` (within 1 and `maxWorkers`), until
 * it gets there or cannot go further (it is draining).
 */
function resizePool(pool: Pool, size: number, maxWorkers: number) {
  const from = pool.snapshot().size;
  let to = from;
  while (to < size) {
    const grown = pool.grow(maxWorkers);
    if (grown === to) break;
    to = grown;
  }
  while (to > size) {
    const shrunk = pool.shrink();
    if (shrunk === to) break;
    to = shrunk;
  }
  return { size: to, changed: to !== from };
}
