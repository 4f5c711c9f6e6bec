/** `ppr-worker` with no command: runs the pool (and, with `--dashboard`, the dashboard beside it). */

import { childEnv } from "../config/config.ts";
import { workerTracingEnv } from "../config/tracing.ts";
import { withoutDashboardCredentials } from "../dashboard/settings.ts";
import type { PoolSnapshot } from "../health/status.ts";
import { claudeCliEnv } from "../providers/claude_cli/env.ts";
import { CONFIG_SCHEMA, PROVIDER_NAMES } from "../providers/registry.ts";
import { hostnameOf } from "./_util.ts";
import { EXIT_USAGE } from "../cli/options.ts";
import { loadPriceTable, type PriceTable } from "../economics/prices.ts";
import { batchQueuesProblem } from "../jobs/batch/lane.ts";
import { log } from "../log/log.ts";
import { currentInvocation, v8ModeProblem } from "../supervisor/self_command.ts";
import { defineCommand, switchOverride } from "./command.ts";

/** The pool: what `ppr-worker` runs when no command is named. */
export const pool = defineCommand({
  name: "ppr-worker",
  description: "Supervises a pool of BullMQ worker processes that run LLM jobs from Redis.\n" +
    "With no command it runs the pool: ppr-worker --count 4",
  everySetting: true,
  options: {
    dashboard: switchOverride(
      "--dashboard",
      `also serve the dashboard (see 'ppr-worker dashboard --help') [default: DASHBOARD_ENABLED]`,
    ),
  },
  dashboard: {
    besidePool: true,
    flags: (options) => ({ dashboard: options.dashboard }),
  },
  logging: () => ({}),
  async action({ config, flags, env, dashboard: dashboardSettings, readSettings }) {
    const problem = batchQueuesProblem({ config, subprocessEnv: claudeCliEnv(env) }) ??
      v8ModeProblem(currentInvocation(), config.v8Mode);
    if (problem) {
      console.error(`ppr-worker: ${problem}`);
      return EXIT_USAGE;
    }
    let prices: PriceTable;
    try {
      // Read once here so that a bad LLM_PRICES stops the start, not every worker.
      prices = await loadPriceTable(config.llmPrices);
      log("supervisor").info("prices of {count} models, dated {date}{origin}", {
        count: Object.keys(prices.models).length,
        date: prices.date,
        origin: config.llmPrices === undefined ? "" : ` (with LLM_PRICES ${config.llmPrices})`,
      });
    } catch (error) {
      console.error(`ppr-worker: ${error instanceof Error ? error.message : error}`);
      return EXIT_USAGE;
    }
    let dashboard: AsyncDisposable | undefined;
    // The pool's own snapshot, handed to the dashboard once the pool exists: its restarts.
    let poolSnapshot: (() => PoolSnapshot) | undefined;
    if (dashboardSettings?.enabled) {
      const { startDashboardBesidePool } = await import("../dashboard/run.ts");
      dashboard = await startDashboardBesidePool({
        config,
        settings: dashboardSettings,
        providers: PROVIDER_NAMES,
      }, () => poolSnapshot?.());
      if (!dashboard) return 1;
    }
    try {
      const { supervise } = await import("../supervisor/supervise.ts");
      // Workers never serve the dashboard: its credentials stay with the supervisor.
      // Tracing on in the workers when the environment asks for it (Deno reads OTEL_DENO at start).
      const workerEnvOf = (from: Record<string, string>) => {
        const base = withoutDashboardCredentials(childEnv(flags, from, CONFIG_SCHEMA));
        return { ...base, ...workerTracingEnv(base) };
      };
      return await supervise({
        config,
        hostname: hostnameOf(config),
        childEnv: workerEnvOf(env),
        reload: config.envFile === undefined ? undefined : {
          file: config.envFile,
          flags,
          env,
          read: async () => {
            const settings = await readSettings();
            return settings.ok
              ? { ok: true, env: settings.env }
              : { ok: false, errors: settings.errors };
          },
          workerEnvOf,
        },
        subprocessEnv: claudeCliEnv(env),
        prices,
        onPool: (snapshot) => (poolSnapshot = snapshot),
      });
    } finally {
      await dashboard?.[Symbol.asyncDispose]();
    }
  },
});
