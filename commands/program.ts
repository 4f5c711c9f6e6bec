/**
 * Builds ppr-worker's command line from its commands and runs it. What every command shares is
 * done here once: one validated Config from flags, the env file and the environment (every
 * problem listed, exit 2), its secrets registered for redaction, logging, exit statuses.
 */

import { Command, CommanderError, Option } from "commander";
import {
  type FlagValues,
  invalidConfigurationMessage,
  parseConfig,
  secretsOf,
  settingsHelp,
} from "../config/config.ts";
import { overlayEnvFile } from "../config/env_file.ts";
import { VERSION } from "../config/version.ts";
import { type DashboardFlags, parseDashboardSettings } from "../dashboard/settings.ts";
import { setupLogging } from "../log/log.ts";
import { activeTraceIds, setupTracing } from "../telemetry/tracing.ts";
import { redactConsole } from "../log/console.ts";
import { addSecrets, redact } from "../log/redact.ts";
import { CONFIG_SCHEMA, SETTINGS } from "../providers/registry.ts";
import { EXIT_USAGE, flagValues } from "../cli/options.ts";
import {
  commanderOption,
  type CommandGroup,
  type CommandSpec,
  type OptionSpecs,
  readOptions,
  SETTING_FLAGS,
  type SettingsResult,
} from "./command.ts";

/** What the entry point composes. */
export interface Program {
  /** What `ppr-worker` does with no command: run the pool. Its name is the program's. */
  root: CommandSpec;
  /** The commands, in the order `--help` lists them. */
  commands: readonly (CommandSpec | CommandGroup)[];
  /** ppr-worker's environment, read once by the entry point. */
  env: Readonly<Record<string, string>>;
}

/**
 * Runs the command line `args` (without the program's name) and returns the exit status: the
 * action's, 0 for `--help` and `--version`, 2 for a usage or configuration error.
 */
export async function runProgram(args: string[], program: Program): Promise<number> {
  // Whatever a command prints passes the logs' redaction (secrets are added once parsed).
  redactConsole();
  let status = 0;
  const root = new Command(program.root.name)
    .description(program.root.description)
    .version(VERSION, "-V, --version")
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)");
  const exitWith = (code: number) => (status = code);
  define(root, program.root, program.env, exitWith);
  for (const command of program.commands) add(root, command, program.env, exitWith);
  try {
    await root.parseAsync(args, { from: "user" });
    return status;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === "commander.helpDisplayed" || error.code === "commander.version" ||
          error.code === "commander.help"
        ? 0
        : EXIT_USAGE;
    }
    throw error;
  }
}

/** Adds `command` (with its subcommands) under `parent`; `parent.command()` passes on its settings. */
function add(
  parent: Command,
  command: CommandSpec | CommandGroup,
  env: Program["env"],
  exitWith: (code: number) => void,
): void {
  const target = parent.command(command.name).description(command.description);
  // A group only holds its subcommands; a command runs by itself, and may hold some too.
  if ("action" in command) define(target, command, env, exitWith);
  for (const subcommand of command.subcommands ?? []) add(target, subcommand, env, exitWith);
}

/** Gives `target` the arguments, options, help and action of `spec`. */
function define<O extends OptionSpecs>(
  target: Command,
  spec: CommandSpec<O>,
  env: Program["env"],
  exitWith: (code: number) => void,
): void {
  for (const argument of spec.arguments ?? []) {
    target.argument(argument.name, argument.description);
  }
  for (const option of Object.values(spec.options)) target.addOption(commanderOption(option));
  if (spec.help) target.addHelpText("after", spec.help);
  if (spec.everySetting) withEverySetting(target);
  const settingFlags = spec.everySetting
    ? SETTING_FLAGS
    : Object.values(spec.options).flatMap((option) => option.setting ?? []);
  target.action(async (...params: unknown[]) => {
    const command = params.at(-1) as Command;
    const raw = command.opts();
    const options = readOptions(spec.options, raw);
    const flags = only(flagValues(raw), settingFlags);
    const dashboardFlags = spec.dashboard &&
      { flags: spec.dashboard.flags(options), besidePool: spec.dashboard.besidePool };
    const readSettings = () => resolveSettings(flags, env, dashboardFlags);
    const settings = await readSettings();
    // `config` shows the configuration before it is validated: an invalid one too.
    await spec.beforeConfig?.({
      options,
      flags,
      env: settings.env,
      fromEnvFile: settings.fromEnvFile,
    });
    if (!settings.ok) {
      console.error(
        `${invalidConfigurationMessage(settings.errors)}\n` +
          "Run 'ppr-worker --help' for the rules of every setting.",
      );
      return exitWith(EXIT_USAGE);
    }
    const { config, dashboard } = settings;
    // Deno exports spans only when OTEL_DENO was set as this process started.
    setupTracing(config.otelDeno, { scrub: redact });
    if (spec.logging) {
      setupLogging({
        format: config.logFormat,
        level: config.logLevel,
        traceIds: config.otelDeno ? activeTraceIds : undefined,
        ...spec.logging(options, config),
      });
    }
    exitWith(
      await spec.action({
        options,
        args: command.processedArgs as string[],
        config,
        flags,
        dashboard,
        env: settings.env,
        readSettings,
      }),
    );
  });
}

/** Adds every setting's flag (hidden) and the settings table to the end of the help. */
function withEverySetting(command: Command): void {
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
  command.addHelpText(
    "after",
    `\nSettings (environment variable, flag; flags win over the environment):\n${
      settingsHelp(CONFIG_SCHEMA)
    }\n`,
  );
}

/** The flags of `flags` named in `names`. */
function only(flags: FlagValues, names: readonly string[]): FlagValues {
  return Object.fromEntries(Object.entries(flags).filter(([name]) => names.includes(name)));
}

/**
 * Reads `ENV_FILE` over the environment, validates the configuration and, with `dashboard`, the
 * dashboard's settings, every problem of all three listed; registers the secrets for redaction.
 * `env` of the result is the environment the settings came from (the file's variables in it).
 */
async function resolveSettings(
  flags: FlagValues,
  processEnv: Program["env"],
  dashboard?: { flags: DashboardFlags; besidePool: boolean },
): Promise<SettingsResult> {
  const overlay = await overlayEnvFile(flags, processEnv, CONFIG_SCHEMA);
  const { env } = overlay;
  const result = parseConfig(flags, env, CONFIG_SCHEMA);
  const dashboardResult = dashboard &&
    parseDashboardSettings(dashboard.flags, env, { besidePool: dashboard.besidePool });
  const errors = [
    ...overlay.errors,
    ...(result.ok ? [] : result.errors),
    ...(dashboardResult && !dashboardResult.ok ? dashboardResult.errors : []),
  ];
  const fromEnvFile = overlay.fromFile;
  if (!result.ok || errors.length > 0) return { ok: false, errors, env, fromEnvFile };
  // Hidden from every log line, error message and Redis record this process writes.
  addSecrets([
    ...secretsOf(result.config, CONFIG_SCHEMA),
    env.CLAUDE_CODE_OAUTH_TOKEN,
    env.DASHBOARD_PASSWORD,
  ]);
  return {
    ok: true,
    config: result.config,
    dashboard: dashboardResult?.ok ? dashboardResult.settings : undefined,
    env,
    fromEnvFile,
  };
}
