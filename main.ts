/** ppr-worker's entry point: parses the command line and hands one validated Config to the command. */

import { Command, CommanderError, Option } from "commander";
import { addOperatorCommands } from "./cli/commands.ts";
import { durationOption, EXIT_USAGE, flagValues, integerOption } from "./cli/options.ts";
import {
  childEnv,
  type Config,
  type FlagValues,
  llmQueuesOf,
  parseConfig,
  secretsOf,
  settingsHelp,
} from "./config/config.ts";
import { VERSION } from "./config/version.ts";
import {
  type DashboardFlags,
  type DashboardSettings,
  dashboardSettingsHelp,
  DEFAULT_DASHBOARD_PORT,
  parseDashboardSettings,
  withoutDashboardCredentials,
} from "./dashboard/settings.ts";
import { setupLogging } from "./log/log.ts";
import { addSecrets } from "./log/redact.ts";
import { parseLlmSlots, splitShare } from "./protocol/llm_share.ts";
import { workerName } from "./protocol/worker_name.ts";
import { claudeCliEnv } from "./providers/claude_cli/env.ts";
import { CONFIG_SCHEMA, PROVIDER_NAMES, SETTINGS } from "./providers/registry.ts";

/** Exit status for anything the user got wrong on the command line or in the environment. */
export { EXIT_USAGE };

const env: Record<string, string> = Deno.env.toObject();

class ExitRequest extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Adds every setting's flag to `command`; the settings table in the help lists them. */
function withSettings(command: Command): Command {
  for (
    const setting of Object.values(SETTINGS) as {
      flag?: string;
      short?: string;
      valueName?: string;
    }[]
  ) {
    if (setting.flag === undefined) continue;
    if (setting.flag === "health") {
      command.addOption(new Option("--health").hideHelp());
      command.addOption(new Option("--no-health").hideHelp());
      continue;
    }
    const short = setting.short ? `-${setting.short}, ` : "";
    command.addOption(
      new Option(`${short}--${setting.flag} <${setting.valueName ?? "value"}>`).hideHelp(),
    );
  }
  return command.addHelpText(
    "after",
    `\nSettings (environment variable, flag; flags win over the environment):\n${
      settingsHelp(CONFIG_SCHEMA)
    }\n`,
  );
}

/** Validates the configuration or ends the program with every problem listed. */
function configOrExit(flags: FlagValues): Config {
  return settingsOrExit(flags).config;
}

/**
 * Validates the configuration and, with `dashboardFlags`, the dashboard's settings, or ends the
 * program with every problem of both listed.
 */
function settingsOrExit(
  flags: FlagValues,
  dashboardFlags?: DashboardFlags,
  options: { besidePool?: boolean } = {},
): { config: Config; dashboard?: DashboardSettings } {
  const result = parseConfig(flags, env, CONFIG_SCHEMA);
  const dashboard = dashboardFlags && parseDashboardSettings(dashboardFlags, env, options);
  const errors = [
    ...(result.ok ? [] : result.errors),
    ...(dashboard && !dashboard.ok ? dashboard.errors : []),
  ];
  if (result.ok && errors.length === 0) {
    // Hidden from every log line, error message and Redis record this process writes.
    addSecrets([
      ...secretsOf(result.config, CONFIG_SCHEMA),
      env.CLAUDE_CODE_OAUTH_TOKEN,
      env.DASHBOARD_PASSWORD,
    ]);
    return { config: result.config, dashboard: dashboard?.ok ? dashboard.settings : undefined };
  }
  console.error(
    `ppr-worker: invalid configuration (${errors.length} problem${
      errors.length === 1 ? "" : "s"
    }):\n${errors.map((error) => `  - ${error}`).join("\n")}\n` +
      "Run 'ppr-worker --help' for the rules of every setting.",
  );
  throw new ExitRequest(EXIT_USAGE);
}

/**
 * A worker's calls per LLM queue: the supervisor's `--llm-slots`, else (run alone: the worker
 * is the whole container) all of `LLM_MAX_IN_FLIGHT`; `undefined`: no bound.
 */
function llmSlotsOf(flag: string | undefined, config: Config): number[] | undefined {
  if (flag !== undefined) {
    const slots = parseLlmSlots(flag);
    if (!slots) {
      console.error(
        `ppr-worker: --llm-slots = "${flag}": must be integers of 0 or more, comma-separated`,
      );
      throw new ExitRequest(EXIT_USAGE);
    }
    return slots;
  }
  if (config.llmMaxInFlight === undefined) return undefined;
  return splitShare(config.llmMaxInFlight, llmQueuesOf(config).length, 0);
}

function hostnameOf(config: Config): string {
  return config.hostname ?? Deno.hostname();
}

function program(): Command {
  const root = withSettings(
    new Command("ppr-worker")
      .description(
        "Supervises a pool of BullMQ worker processes that run LLM jobs from Redis.\n" +
          "With no command it runs the pool: ppr-worker --count 4",
      )
      .version(VERSION, "-V, --version")
      .enablePositionalOptions()
      .exitOverride()
      .showHelpAfterError("(run with --help for usage)"),
  )
    .option(
      "--dashboard",
      `also serve the dashboard (see 'ppr-worker dashboard --help') [default: DASHBOARD_ENABLED]`,
    )
    .action(async (options) => {
      const flags = flagValues(options);
      const { config, dashboard: dashboardSettings } = settingsOrExit(
        flags,
        { dashboard: options.dashboard },
        { besidePool: true },
      );
      setupLogging({ format: config.logFormat, level: config.logLevel });
      let dashboard: AsyncDisposable | undefined;
      if (dashboardSettings?.enabled) {
        const { startDashboardBesidePool } = await import("./dashboard/run.ts");
        dashboard = await startDashboardBesidePool({
          config,
          settings: dashboardSettings,
          providers: PROVIDER_NAMES,
        });
        if (!dashboard) throw new ExitRequest(1);
      }
      try {
        const { supervise } = await import("./supervisor/supervise.ts");
        throw new ExitRequest(
          await supervise({
            config,
            hostname: hostnameOf(config),
            // Workers never serve the dashboard: its credentials stay with the supervisor.
            childEnv: withoutDashboardCredentials(childEnv(flags, env, CONFIG_SCHEMA)),
            subprocessEnv: claudeCliEnv(env),
          }),
        );
      } finally {
        await dashboard?.[Symbol.asyncDispose]();
      }
    });

  withSettings(
    root.command("worker")
      .description(
        "Run one worker process (what the supervisor starts; also handy alone for debugging).",
      )
      .option("--name <name>", `worker name [default: ${workerName("<hostname>", 1)}]`)
      .addOption(new Option("--supervised", "started by the supervisor").hideHelp())
      .addOption(
        new Option("--counts-file <path>", "where the supervisor reads the job counts").hideHelp(),
      )
      .addOption(
        new Option("--llm-slots <n>", "this worker's share of LLM_MAX_IN_FLIGHT").hideHelp(),
      )
      .addOption(
        new Option("--llm-held", "no LLM jobs until the supervisor says so").hideHelp(),
      ),
  ).action(async (options) => {
    const config = configOrExit(flagValues(options));
    const name = options.name ?? workerName(hostnameOf(config), 1);
    setupLogging({ format: config.logFormat, level: config.logLevel, worker: name });
    const { runWorker } = await import("./worker/run.ts");
    throw new ExitRequest(
      await runWorker(config, {
        name,
        supervised: options.supervised === true,
        hostname: hostnameOf(config),
        subprocessEnv: claudeCliEnv(env),
        countsFile: options.countsFile,
        // Run alone, the worker is the whole container: LLM_MAX_IN_FLIGHT is all its own.
        llmSlots: llmSlotsOf(options.llmSlots, config),
        llmHeld: options.llmHeld === true,
      }),
    );
  });

  root.command("enqueue")
    .description("Add LLM jobs to a queue, as any BullMQ producer would.")
    .option("-q, --queue <name>", "queue [default: first of QUEUE_NAME]")
    .option("-p, --prompt <text>", "the prompt")
    .option(
      "--data <json>",
      "the whole job data (instead of --prompt): JSON, @file.json, or - for stdin",
    )
    .option(
      "--format <schema>",
      "the job's format: a JSON Schema file (or @file), inline JSON, or - for stdin",
    )
    .option(
      "--metadata <key=value>",
      "adds metadata.key = value (a string); repeatable",
      (pair: string, pairs: string[] = []) => [...pairs, pair],
    )
    .option("--provider <name>", "provider.name of the job")
    .option("--latency-ms <ms>", "provider.latency_ms (echo provider)", integerOption(0))
    .option("-n, --count <n>", "how many copies of the job", integerOption(1), 1)
    .option("--attempts <n>", "attempts before a job fails", integerOption(1), 3)
    .option(
      "--priority <n>",
      "BullMQ priority, 1 (highest) to 2097152",
      integerOption(1, 2_097_152),
    )
    .option("--delay <duration>", "run no sooner than this from now (e.g. 30s, 5m)", durationOption)
    .option(
      "-w, --wait",
      "wait and print each result as a JSON line (progress on a terminal's stderr); exit 1 if any failed",
    )
    .option("--timeout <duration>", "how long --wait waits for each job", durationOption, 600_000)
    .option("--redis-url <url>", "Redis server [default: REDIS_URL]")
    .option("--prefix <prefix>", "BullMQ key prefix [default: BULL_PREFIX]")
    .addHelpText(
      "after",
      "\nExit status: 0 added (with --wait: all completed); 1 a job failed or Redis unreachable; " +
        "2 invalid job data or flags.\n\nExamples:\n" +
        "  ppr-worker enqueue --prompt 'hello' --count 10 --wait\n" +
        "  ppr-worker enqueue --data @page.json --format org.schema.json --metadata scraper_id=x\n" +
        "  cat page.json | ppr-worker enqueue --data - --priority 1 --delay 5m\n",
    )
    .action(async (options) => {
      const config = configOrExit(
        flagValues({ redisUrl: options.redisUrl, prefix: options.prefix }),
      );
      const { runEnqueue } = await import("./cli/enqueue.ts");
      throw new ExitRequest(
        await runEnqueue({
          redisUrl: config.redisUrl,
          prefix: config.prefix,
          queue: options.queue ?? config.queues[0],
          data: options.data,
          format: options.format,
          metadata: options.metadata,
          prompt: options.prompt,
          provider: options.provider,
          latencyMs: options.latencyMs,
          count: options.count,
          attempts: options.attempts,
          priority: options.priority,
          delayMs: options.delay,
          wait: options.wait === true,
          timeoutMs: options.timeout,
        }),
      );
    });

  root.command("healthcheck")
    .description(
      "GET the local /health; print the status; exit 0 on HTTP 200, else 1 (for images without curl).",
    )
    .option("--url <url>", "health URL [default: http://127.0.0.1:<HEALTH_PORT>/health]")
    .option("--health-host <host>", "[default: HEALTH_HOST]")
    .option("--health-port <port>", "[default: HEALTH_PORT]")
    .option("--timeout <duration>", "give up after this long", durationOption, 5000)
    .action(async (options) => {
      const config = configOrExit(
        flagValues({ healthHost: options.healthHost, healthPort: options.healthPort }),
      );
      const { runHealthcheck } = await import("./cli/healthcheck.ts");
      throw new ExitRequest(
        await runHealthcheck({
          url: options.url,
          host: config.healthHost,
          port: config.healthPort,
          timeoutMs: options.timeout,
        }),
      );
    });

  withSettings(
    root.command("dashboard")
      .description(
        `Serve the dashboard on port ${DEFAULT_DASHBOARD_PORT}: bull-board's queues and jobs ` +
          "(inspect, retry, promote) and every worker, provider pause and queue processor (/ppr).",
      )
      .option("--port <port>", `port [default: DASHBOARD_PORT, else ${DEFAULT_DASHBOARD_PORT}]`)
      .option(
        "--host <host>",
        "listen address [default: DASHBOARD_HOST, else 0.0.0.0 with DASHBOARD_USER and " +
          "DASHBOARD_PASSWORD, 127.0.0.1 without; without them only a loopback address is allowed]",
      )
      .option(
        "--read-only",
        "turn off every action (retry, promote, clean, pause, add, remove): bull-board's " +
          "read-only mode [default: DASHBOARD_READ_ONLY]",
      )
      .addHelpText(
        "after",
        "\nDashboard settings (environment variable, flag; flags win over the environment):\n" +
          `${dashboardSettingsHelp()}\n` +
          "\nExit status: 0 stopped by SIGINT or SIGTERM; 1 Redis unreachable, the port taken " +
          "or bull-board's files missing; 2 usage or configuration error.\n",
      ),
  ).action(async (options) => {
    const { config, dashboard: settings } = settingsOrExit(flagValues(options), {
      port: options.port,
      host: options.host,
      readOnly: options.readOnly,
    });
    setupLogging({ format: config.logFormat, level: config.logLevel });
    const { runDashboard } = await import("./dashboard/run.ts");
    throw new ExitRequest(
      await runDashboard({ config, settings: settings!, providers: PROVIDER_NAMES }),
    );
  });

  addOperatorCommands(root, {
    env,
    configOrExit,
    withSettings,
    exit(code) {
      throw new ExitRequest(code);
    },
  });

  return root;
}

/** Runs the command line and returns the exit status. */
export async function main(args: string[]): Promise<number> {
  try {
    await program().parseAsync(args, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof ExitRequest) return error.code;
    if (error instanceof CommanderError) {
      return error.code === "commander.helpDisplayed" || error.code === "commander.version" ||
          error.code === "commander.help"
        ? 0
        : EXIT_USAGE;
    }
    throw error;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
