/** Runs the dashboard: as the `dashboard` command until SIGINT or SIGTERM, or beside the pool. */

import type { Config } from "../config/config.ts";
import type { PoolSnapshot } from "../health/status.ts";
import { log } from "../log/log.ts";
import { connectRedis, type RedisClient } from "../redis/connection.ts";
import { connectOrFail } from "../state/connection.ts";
import { BULL_BOARD_VERSION, bullBoardUiDir } from "./bull_board.ts";
import { type Dashboard, startDashboard } from "./server.ts";
import type { DashboardSettings } from "./settings.ts";
import { dashboardQueues, type PprViewSource } from "./view.ts";

const logger = log("dashboard");

/** What the dashboard serves: the pool's configuration and the providers of this build. */
export interface DashboardRunOptions {
  config: Config;
  settings: DashboardSettings;
  providers: readonly string[];
}

function sourceOf(
  options: DashboardRunOptions,
  restarts?: PprViewSource["restarts"],
): PprViewSource {
  const { config, settings, providers } = options;
  return {
    redisUrl: config.redisUrl,
    prefix: config.prefix,
    queues: config.queues,
    resultQueues: config.resultQueues,
    processors: config.queueProcessors,
    providers,
    budgets: { budgets: config.llmBudgets, period: config.llmBudgetPeriod },
    readOnly: settings.readOnly,
    restarts,
  };
}

/** Listens, or throws an error that says where it could not. */
function listen(
  options: DashboardRunOptions,
  redis: RedisClient,
  uiDir: string,
  restarts?: PprViewSource["restarts"],
): Dashboard {
  const { settings } = options;
  try {
    return startDashboard({ settings, redis, uiDir, source: sourceOf(options, restarts) });
  } catch (error) {
    throw new Error(
      `cannot listen on ${settings.host}:${settings.port}: ${
        error instanceof Error ? error.message : error
      } (set DASHBOARD_PORT or --port, DASHBOARD_HOST or --host)`,
    );
  }
}

/** Says where the dashboard is and who may use it; never the credentials. */
function announce(dashboard: Dashboard, options: DashboardRunOptions): void {
  const { settings, config } = options;
  logger.info(
    "dashboard listening on {host}:{port}: {url} (bull-board {bullBoard}; queues {queues})",
    {
      host: settings.host,
      port: dashboard.port,
      url: dashboard.url,
      bullBoard: BULL_BOARD_VERSION,
      queues: dashboardQueues(config.queues, config.resultQueues).join(", "),
    },
  );
  if (settings.credentials) {
    logger.info("dashboard: basic auth on (DASHBOARD_USER and DASHBOARD_PASSWORD)");
  } else {
    logger.warn(
      "dashboard: no DASHBOARD_USER and DASHBOARD_PASSWORD, so no basic auth: it listens on " +
        "{host} only, for this machine; set both to serve other hosts",
      { host: settings.host },
    );
  }
  if (settings.readOnly) logger.info("dashboard: read-only, every action is off");
}

/**
 * The `dashboard` command: serves until SIGINT or SIGTERM, then exits 0. Exits 1 when Redis
 * does not answer within 10 s, the port cannot be had, or bull-board's UI files are missing.
 */
export async function runDashboard(options: DashboardRunOptions): Promise<number> {
  try {
    const uiDir = await bullBoardUiDir();
    const redis = await connectOrFail(options.config.redisUrl, "ppr-dashboard");
    try {
      await using dashboard = listen(options, redis, uiDir);
      announce(dashboard, options);
      const { promise: stopped, resolve } = Promise.withResolvers<Deno.Signal>();
      const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
      const handlers = signals.map((signal) => [signal, () => resolve(signal)] as const);
      for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
      try {
        logger.info("dashboard: stopping on {signal}", { signal: await stopped });
      } finally {
        for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
      }
      return 0;
    } finally {
      redis.disconnect();
    }
  } catch (error) {
    console.error(`ppr-worker dashboard: ${error instanceof Error ? error.message : error}`);
    return 1;
  }
}

/** Restart counts by worker name, from the pool's snapshot; `undefined` before the pool has one. */
function restartsOf(pool: () => PoolSnapshot | undefined): PprViewSource["restarts"] {
  return () => {
    const snapshot = pool();
    return snapshot && new Map(snapshot.slots.map((slot) => [slot.name, slot.restarts]));
  };
}

/**
 * Starts the dashboard beside the pool (`--dashboard`): its own Redis connection, which, like
 * the pool's, waits out an outage; the workers' restarts come from `pool`, the pool's own
 * snapshot in this process (`undefined` until the pool has started), `/health` or not.
 * When it cannot listen or bull-board's UI files are missing it logs why and returns
 * `undefined`: the pool then does not start (as when its health server cannot listen).
 */
export async function startDashboardBesidePool(
  options: DashboardRunOptions,
  pool: () => PoolSnapshot | undefined,
): Promise<Dashboard | undefined> {
  const redis = connectRedis(options.config.redisUrl, { name: "ppr-dashboard" });
  redis.on("error", () => {});
  let dashboard: Dashboard;
  try {
    dashboard = listen(options, redis, await bullBoardUiDir(), restartsOf(pool));
  } catch (error) {
    redis.disconnect();
    logger.error("cannot serve the dashboard: {error}", {
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
  announce(dashboard, options);
  const close = async () => {
    await dashboard.close();
    redis.disconnect();
  };
  return { url: dashboard.url, port: dashboard.port, close, [Symbol.asyncDispose]: close };
}
