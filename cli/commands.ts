/**
 * The operator commands' command line (info, jobs, requeue, cleanup, auth, config, pause,
 * resume): flags, help and exit codes. Each command's module is loaded only when it runs, so a
 * worker process never loads them.
 */

import { type Command, Option } from "commander";
import type { Config, FlagValues } from "../config/config.ts";
import { names } from "../config/rules.ts";
import { REGISTRATION_TTL_S, STALE_AFTER_MS } from "../redis/registrations.ts";
import { claudeCliEnv } from "../providers/claude_cli/env.ts";
import { durationAtLeast, EXIT_USAGE, flagValues, integerOption, JOB_STATES } from "./options.ts";

/** What the entry point lends the operator commands. */
export interface CommandLine {
  /** ppr-worker's environment, read once by the entry point. */
  env: Record<string, string>;
  /** Flags over environment over defaults, validated; on a problem, the pool's message and exit 2. */
  configOrExit(flags: FlagValues): Config;
  /** Adds every setting's flag (hidden) and the settings table to a command's help. */
  withSettings(command: Command): Command;
  /** Ends the program with `code`. */
  exit(code: number): never;
}

const EXIT_CODES = "\nExit status: 0 ok; 1 failed or not found (or Redis unreachable); " +
  "2 usage or configuration error.\n";

/** The Redis settings every operator command takes, as the pool does. */
function withRedisOptions(command: Command, queueHelp?: string): Command {
  if (queueHelp) command.option("-q, --queue <names>", queueHelp);
  return command
    .option("--redis-url <url>", "Redis server [default: REDIS_URL, else redis://127.0.0.1:6379]")
    .option("--prefix <prefix>", "BullMQ key prefix [default: BULL_PREFIX, else bull]");
}

/** Adds `info`, `jobs`, `requeue`, `cleanup`, `auth`, `config`, `pause` and `resume` to `root`. */
export function addOperatorCommands(root: Command, commandLine: CommandLine): void {
  const { env, exit } = commandLine;
  // The operator's --queue names queues to look at, not queues to serve: it is checked as names
  // only, never against QUEUE_PROCESSORS (a results queue has no processor and may be inspected).
  const redisConfig = (options: { queue?: string; redisUrl?: string; prefix?: string }) => {
    const config = commandLine.configOrExit(
      flagValues({ redisUrl: options.redisUrl, prefix: options.prefix }),
    );
    if (options.queue === undefined) return config;
    const queues = names("queue").parse(options.queue);
    if (!queues) {
      console.error(
        `ppr-worker: --queue = ${JSON.stringify(options.queue)}: must be ${names("queue").rule}`,
      );
      return exit(EXIT_USAGE);
    }
    return { ...config, queues };
  };
  const target = (config: Config) => ({ redisUrl: config.redisUrl, prefix: config.prefix });

  withRedisOptions(
    root.command("info")
      .description(
        "Queue counts and every worker on this Redis, from every container (like 'rq info').",
      ),
    "queues, comma-separated [default: QUEUE_NAME and every queue a registered worker serves]",
  )
    .option(
      "--interval <duration>",
      "refresh every this long (e.g. 2s) until Ctrl-C; in place on a terminal",
      durationAtLeast(100),
    )
    .option("--json", "print JSON (one line per refresh with --interval)")
    .addHelpText("after", `${EXIT_CODES}\nExample:\n  ppr-worker info --interval 2s\n`)
    .action(async (options) => {
      const config = redisConfig(options);
      const { runInfo } = await import("./info.ts");
      exit(
        await runInfo({
          ...target(config),
          queues: config.queues,
          discoverQueues: options.queue === undefined,
          intervalMs: options.interval,
          json: options.json === true,
        }),
      );
    });

  const jobs = root.command("jobs")
    .description("Look at jobs: 'jobs show ID', 'jobs list --state failed'.");
  withRedisOptions(
    jobs.command("show")
      .description("One job: data, state, attempts, result or error with its stack, timestamps.")
      .argument("<id>", "job id"),
    "queues to look in, comma-separated [default: QUEUE_NAME]",
  )
    .option("--full", "do not shorten long prompts and results")
    .option("--json", "print the job as JSON")
    .addHelpText("after", EXIT_CODES)
    .action(async (id: string, options) => {
      const config = redisConfig(options);
      const { runJobsShow } = await import("./jobs.ts");
      exit(
        await runJobsShow({
          ...target(config),
          id,
          queues: config.queues,
          full: options.full === true,
          json: options.json === true,
        }),
      );
    });
  withRedisOptions(
    jobs.command("list")
      .description("The newest jobs in one state.")
      .addOption(
        new Option("--state <state>", "jobs in this state").choices(JOB_STATES)
          .makeOptionMandatory(),
      ),
    "queues, comma-separated [default: QUEUE_NAME]",
  )
    .option("--limit <n>", "at most this many jobs, newest first", integerOption(1), 20)
    .option("--full", "do not shorten long prompts and results (JSON)")
    .option("--json", "print one JSON line per job")
    .addHelpText("after", `${EXIT_CODES}\nExample:\n  ppr-worker jobs list --state failed\n`)
    .action(async (options) => {
      const config = redisConfig(options);
      const { runJobsList } = await import("./jobs.ts");
      exit(
        await runJobsList({
          ...target(config),
          state: options.state,
          queues: config.queues,
          limit: options.limit,
          full: options.full === true,
          json: options.json === true,
        }),
      );
    });

  withRedisOptions(
    root.command("requeue")
      .description(
        "Move failed jobs back to waiting with their attempts reset (like 'rq requeue').",
      ),
    "queues, comma-separated [default: QUEUE_NAME]",
  )
    .option("--failed", "requeue failed jobs (required: the only state requeue moves)")
    .option("--id <ids...>", "these jobs (ids of jobs in other states are left as they are)")
    .option("--all", "every job failed now")
    .option("--json", "print what was done as JSON")
    .addHelpText(
      "after",
      `${EXIT_CODES}\nExamples:\n  ppr-worker requeue --failed --id 42 43\n` +
        "  ppr-worker requeue --failed --all --queue llm\n",
    )
    .action(async (options) => {
      const config = redisConfig(options);
      const { runRequeue } = await import("./requeue.ts");
      exit(
        await runRequeue({
          ...target(config),
          queues: config.queues,
          failed: options.failed === true,
          ids: options.id,
          all: options.all === true,
          json: options.json === true,
        }),
      );
    });

  withRedisOptions(
    root.command("cleanup")
      .description(
        "Remove stale worker registrations (ppr:worker:<name>) of every host; never a live one's.",
      ),
  )
    .option("--dry-run", "only say what would be removed")
    .option("--json", "print what was (or would be) removed as JSON")
    .addHelpText(
      "after",
      `${EXIT_CODES}\nA registration is stale when its key has no TTL (every live worker sets one) ` +
        `and its heartbeat is older than ${
          STALE_AFTER_MS / 1000
        } s (3 x the ${REGISTRATION_TTL_S} s TTL).\n`,
    )
    .action(async (options) => {
      const config = redisConfig(options);
      const { runCleanup } = await import("./cleanup.ts");
      exit(
        await runCleanup({
          ...target(config),
          dryRun: options.dryRun === true,
          json: options.json === true,
        }),
      );
    });

  addAuthCommands(root, commandLine);

  commandLine.withSettings(
    root.command("config")
      .description(
        "Show the effective configuration and where each value came from (flag, environment, " +
          "default), secrets hidden; --check only validates.",
      )
      .option("--check", "only validate: exit 0, or 2 with every problem")
      .option("--json", "print JSON: {settings, problems}")
      .addHelpText(
        "after",
        "\nExit status: 0 the configuration is valid; 2 it is not (every problem is listed, as " +
          "the pool lists them).\n",
      ),
  ).action(async (options) => {
    const flags = flagValues(options);
    if (options.check !== true) {
      const { printConfig } = await import("./show_config.ts");
      printConfig(flags, env, { json: options.json === true });
    }
    commandLine.configOrExit(flags);
    if (options.check === true) console.log("ppr-worker: the configuration is valid");
    exit(0);
  });

  for (const paused of [true, false]) {
    const name = paused ? "pause" : "resume";
    withRedisOptions(
      root.command(name)
        .description(
          paused
            ? "Pause queues for every worker of every container (BullMQ's Queue.pause()): " +
              "jobs in flight finish, no new ones start; producers can still add."
            : "Resume paused queues (BullMQ's Queue.resume()).",
        ),
    )
      .requiredOption("-q, --queue <names>", "queues, comma-separated")
      .addHelpText("after", EXIT_CODES)
      .action(async (options) => {
        const config = redisConfig(options);
        const { runPause } = await import("./pause.ts");
        exit(await runPause({ ...target(config), queues: config.queues, paused }));
      });
  }
}

/** `auth status`, `auth test`, `auth login`: the provider's login, as the workers use it. */
function addAuthCommands(root: Command, commandLine: CommandLine): void {
  const { env, exit } = commandLine;
  const providerConfig = (options: { provider?: string; redisUrl?: string }) =>
    commandLine.configOrExit(
      flagValues({ provider: options.provider, redisUrl: options.redisUrl }),
    );
  const subprocessEnv = claudeCliEnv(env);
  const auth = root.command("auth")
    .description("The LLM provider's login: 'auth status', 'auth test', 'auth login'.");

  auth.command("status")
    .description(
      "The provider's login (the Claude CLI's 'claude auth status', or the key's model list; " +
        "no tokens spent) and the shared pause in Redis, as the workers see them.",
    )
    .option("--provider <name>", "provider [default: LLM_PROVIDER]")
    .option("--redis-url <url>", "Redis server [default: REDIS_URL]")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExit status: 0 the workers can use the provider; 1 they cannot; 2 usage or configuration error.\n",
    )
    .action(async (options) => {
      const config = providerConfig(options);
      const { runAuthStatus } = await import("./auth.ts");
      exit(await runAuthStatus({ config, subprocessEnv, json: options.json === true }));
    });

  auth.command("test")
    .description(
      "One real, tiny request through the provider, as a worker makes it (it costs a few " +
        "tokens: it says so and asks first).",
    )
    .option("--provider <name>", "provider [default: LLM_PROVIDER]")
    .option("-y, --yes", "do not ask (required without a terminal)")
    .option("--json", "print the outcome as JSON")
    .addHelpText(
      "after",
      "\nExit status: 0 the call worked; 1 it failed (or you said no); 2 no --yes and no " +
        "terminal to ask on, or a configuration error.\n",
    )
    .action(async (options) => {
      const config = providerConfig(options);
      const { runAuthTest } = await import("./auth.ts");
      exit(
        await runAuthTest({
          config,
          subprocessEnv,
          yes: options.yes === true,
          json: options.json === true,
          confirm: Deno.stdin.isTerminal()
            ? (question) => /^y(es)?$/i.test(prompt(question)?.trim() ?? "")
            : undefined,
        }),
      );
    });

  auth.command("login")
    .description(
      "Run the Claude CLI's own login (claude auth login) on this terminal, with the HOME and " +
        "CLAUDE_CONFIG_DIR the workers use, so every worker sees the login.",
    )
    .option("--token", "run 'claude setup-token' instead: a long-lived CLAUDE_CODE_OAUTH_TOKEN")
    .addHelpText(
      "after",
      "\nIn the container: docker compose exec -it worker /app/ppr-worker auth login\n" +
        "Exit status: the CLI's (0 logged in, 1 not); 2 without a terminal.\n",
    )
    .action(async (options) => {
      const config = providerConfig({});
      const { runAuthLogin } = await import("./auth_login.ts");
      exit(
        await runAuthLogin({
          config,
          subprocessEnv,
          env,
          token: options.token === true,
          interactive: Deno.stdin.isTerminal(),
        }),
      );
    });
}
