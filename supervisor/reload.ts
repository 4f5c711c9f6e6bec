/** SIGHUP: with an env file, read it again, check it, log what changed and roll the workers onto it; without one, roll them as they are. */

import { type FlagValues, invalidConfigurationMessage, parseConfig } from "../config/config.ts";
import { log } from "../log/log.ts";
import { CONFIG_SCHEMA } from "../providers/registry.ts";
import { planReload, type SettingChange } from "./reload_plan.ts";
import { createRestartQueue, type RestartRequestOutcome } from "./restart_queue.ts";

/** Where a reload reads the configuration again: the pool's env file, over its environment. */
export interface ReloadSource {
  /** The env file's path, as logs name it. */
  file: string;
  /** The settings given as flags: they win over the file, and never change. */
  flags: FlagValues;
  /** The environment the pool runs with: ppr-worker's own, with the file's variables over it. */
  env: Readonly<Record<string, string>>;
  /**
   * Reads the file again and validates the whole configuration as at start (secrets registered
   * for redaction): the new environment, or every problem.
   */
  read(): Promise<{ ok: true; env: Record<string, string> } | { ok: false; errors: string[] }>;
  /** The environment a worker gets for `env`: flags written in, the supervisor's own variables out. */
  workerEnvOf(env: Record<string, string>): Record<string, string>;
}

/** What a reload acts on. */
export interface ReloadOptions {
  /** Replaces every worker, one at a time, each replacement ready before the old one drains. */
  rollingRestart(): Promise<void>;
  /** The env file; without one, SIGHUP rolls the workers with the environment they have. */
  source?: ReloadSource;
  /** Gives the workers started from now on (replacements, restarts) this environment. */
  setWorkerEnv(env: Record<string, string>): void;
}

/** The SIGHUP handler's side: each request is started, queued or folded into the queued one. */
export interface Reloader {
  request(): RestartRequestOutcome;
  /** Resolves once no reload runs and none waits. */
  idle(): Promise<void>;
}

const logger = log("supervisor");

/**
 * Creates the reloader behind SIGHUP. A reload with an env file reads it when it starts (a queued
 * one reads the newest content); a file that cannot be read, or a configuration that breaks a
 * rule, is logged with every problem, as at start, and the running pool stays as it is.
 */
export function createReloader(options: ReloadOptions): Reloader {
  const { source } = options;
  let runningEnv = source?.env ?? {};
  const rollingRestart = async () => {
    await options.rollingRestart();
    logger.info("SIGHUP: rolling restart done");
  };
  const reload = async (): Promise<void> => {
    if (source === undefined) {
      logger.info("SIGHUP: rolling restart");
      return await rollingRestart();
    }
    const read = await source.read();
    // The workers get the new values but for the settings left for the next start: that mix
    // must be valid too (no rule joins the two kinds today; one added later could).
    const plan = read.ok
      ? planReload({
        running: runningEnv,
        next: read.env,
        flags: source.flags,
        schema: CONFIG_SCHEMA,
      })
      : undefined;
    const mixed = plan && parseConfig(source.flags, plan.env, CONFIG_SCHEMA);
    const problems = !read.ok ? read.errors : mixed && !mixed.ok ? mixed.errors : [];
    if (!plan || problems.length > 0) {
      logger.error(
        "SIGHUP: {file} not applied, the pool keeps running as it is: {problems}",
        { file: source.file, problems: invalidConfigurationMessage(problems) },
      );
      return;
    }
    logger.info(
      "SIGHUP: {file} read; rolling restart with {changes}",
      {
        file: source.file,
        changes: plan.applied.length + plan.otherVariables.length === 0 ? "no setting changed" : [
          ...plan.applied.map(describe),
          ...plan.otherVariables.map((variable) => `${variable} (changed, not shown)`),
        ].join(", "),
        applied: plan.applied.map((change) => change.variable),
        otherVariables: plan.otherVariables,
      },
    );
    for (const change of plan.atNextStart) {
      logger.warn(
        "SIGHUP: {variable} changed in {file} ({change}) but takes effect at the next start: the supervisor shaped the pool with it; the workers keep its running value",
        { variable: change.variable, file: source.file, change: `${change.from} -> ${change.to}` },
      );
    }
    // Settings left for the next start keep their running values: the next reload warns again.
    runningEnv = plan.env;
    options.setWorkerEnv(source.workerEnvOf(plan.env));
    await rollingRestart();
  };
  const queue = createRestartQueue(
    reload,
    (error) =>
      logger.error("SIGHUP: the reload failed: {error}", {
        error: error instanceof Error ? error.message : String(error),
      }),
  );
  return {
    request() {
      const outcome = queue.request();
      if (outcome === "queued") {
        logger.info("SIGHUP: a rolling restart is running; one more follows it");
      } else if (outcome === "coalesced") {
        logger.info(
          "SIGHUP: a rolling restart is running and one follows it already; this one joins it",
        );
      }
      return outcome;
    },
    idle: () => queue.idle(),
  };
}

function describe(change: SettingChange): string {
  return `${change.variable} ${change.from} -> ${change.to}`;
}
