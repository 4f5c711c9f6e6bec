/** What each command declares (name, help, typed options, action) for `main.ts` to compose. */

import { Option } from "commander";
import type { Config, FlagValues } from "../config/config.ts";
import { SETTINGS } from "../providers/registry.ts";
import type { DashboardFlags, DashboardSettings } from "../dashboard/settings.ts";

/** The flag of every setting that has one (`count`, `redis-url`, ...). */
export const SETTING_FLAGS: readonly string[] = (Object.values(SETTINGS) as { flag?: string }[])
  .flatMap((setting) => setting.flag === undefined ? [] : [setting.flag]);

/** One option of a command: commander's flags and help, and its value, typed. */
export interface OptionSpec<T> {
  /** commander's flags: `-q, --queue <names>`, `--json`, `--id <ids...>`. */
  readonly flags: string;
  readonly description: string;
  /** The rest of commander's option: parser, default, choices, hidden, mandatory. */
  readonly configure?: (option: Option) => Option;
  /** The key of the option's value in commander's options (`redisUrl` for `--redis-url`). */
  readonly attribute: string;
  /** The option's value, from commander's (`undefined` when it was not given and has no default). */
  readonly read: (value: unknown) => T;
  /** The setting this option gives (its flag in `SETTINGS`, e.g. `redis-url`): it feeds the Config. */
  readonly setting?: string;
}

/** A command's options by the name its action reads them under. */
export type OptionSpecs = Readonly<Record<string, OptionSpec<unknown>>>;

/** The values of `O`'s options, each of its own type. */
export type OptionValues<O extends OptionSpecs> = {
  readonly [K in keyof O]: O[K] extends OptionSpec<infer T> ? T : never;
};

/** What a command's action gets: everything the command line and the environment said, validated. */
export interface Run<O extends OptionSpecs = OptionSpecs> {
  readonly options: OptionValues<O>;
  /** The command's arguments (`jobs show <id>`), in their order. */
  readonly args: readonly string[];
  /** Flags over environment over defaults, validated (an invalid one never reaches an action). */
  readonly config: Config;
  /** The settings given as flags, by flag name: children resolve the same Config from them. */
  readonly flags: FlagValues;
  /** The dashboard's settings, validated, for a command that declares `dashboard`. */
  readonly dashboard?: DashboardSettings;
  /**
   * The environment the settings came from: ppr-worker's own, read once by the entry point,
   * with the variables of `ENV_FILE` over it.
   */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Reads the env file again and validates the settings as at start (its secrets registered for
   * redaction): what a reload of the pool runs with.
   */
  readonly readSettings: () => Promise<SettingsResult>;
}

/** The settings of a run, validated, or every problem found. */
export type SettingsResult =
  | {
    ok: true;
    config: Config;
    dashboard?: DashboardSettings;
    /** The environment they came from: ppr-worker's own, with the env file's variables over it. */
    env: Record<string, string>;
    /** The variables of `env` that the env file set. */
    fromEnvFile: string[];
  }
  | {
    ok: false;
    errors: string[];
    /** The environment the invalid settings came from, for `config` to show them. */
    env: Record<string, string>;
    /** The variables of `env` that the env file set. */
    fromEnvFile: string[];
  };

/** One command of ppr-worker (the pool, `worker`, `info`, ...): its command line and its action. */
export interface CommandSpec<O extends OptionSpecs = OptionSpecs> {
  readonly name: string;
  readonly description: string;
  /**
   * Commands under this one, which also runs by itself: `batches` lists, `batches cancel <id>`
   * cancels. A name that is none of them is a usage error (it is no argument of this one).
   */
  readonly subcommands?: readonly (CommandSpec | CommandGroup)[];
  /** Positional arguments, such as `<id>`, each with its help. */
  readonly arguments?: readonly { readonly name: string; readonly description: string }[];
  /** The options, in the order `--help` lists them. */
  readonly options: O;
  /** Text `--help` shows after the options: exit statuses, examples. */
  readonly help?: string;
  /**
   * Takes every setting's flag, as the pool does: hidden from the options, listed in the settings
   * table that ends `--help`. Otherwise only the options made with {@link setting} feed the Config.
   * @default {false}
   */
  readonly everySetting?: boolean;
  /** Also validates the dashboard's settings from these flags, each problem listed with the Config's. */
  readonly dashboard?: {
    /** Beside the pool, nothing but `enabled` is read while it is false. */
    readonly besidePool: boolean;
    flags(options: OptionValues<O>): DashboardFlags;
  };
  /**
   * Logs as the pool does (`LOG_FORMAT`, `LOG_LEVEL`) from before the action; `worker` names the
   * worker each line is of. Without it the command sets up no logging.
   */
  logging?(options: OptionValues<O>, config: Config): { worker?: string };
  /** Runs before the Config is validated: `config` shows an invalid configuration too. */
  beforeConfig?(
    run: Pick<Run<O>, "options" | "flags" | "env"> & { fromEnvFile: readonly string[] },
  ): Promise<void>;
  /**
   * Does the command's work; returns its exit status. It imports the module that does the work
   * when it runs (`await import`), so that no other command, a worker process least of all,
   * loads it.
   */
  action(run: Run<O>): Promise<number>;
}

/** A command that only groups others: `jobs show`, `jobs list`. */
export interface CommandGroup {
  readonly name: string;
  readonly description: string;
  readonly subcommands: readonly (CommandSpec | CommandGroup)[];
}

/**
 * Declares a command; the types of its options reach its action.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { defineCommand, flag, readOptions } from "./command.ts";
 *
 * const hello = defineCommand({
 *   name: "hello",
 *   description: "Says hello.",
 *   options: { loud: flag("--loud", "shout") },
 *   action({ options }) { // options.loud: boolean
 *     console.log(options.loud ? "HELLO" : "hello");
 *     return Promise.resolve(0);
 *   },
 * });
 * assert.deepEqual(readOptions(hello.options, { loud: true }), { loud: true });
 * ```
 */
export function defineCommand<O extends OptionSpecs>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}

/**
 * Reads commander's options (`Record<string, unknown>`) once into the command's typed values.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { flag, readOptions } from "./command.ts";
 *
 * assert.deepEqual(readOptions({ json: flag("--json", "print JSON") }, {}), { json: false });
 * ```
 */
export function readOptions<O extends OptionSpecs>(
  specs: O,
  values: Record<string, unknown>,
): OptionValues<O> {
  const read: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) read[key] = spec.read(values[spec.attribute]);
  return read as OptionValues<O>;
}

/** commander's option for `spec`. */
export function commanderOption(spec: OptionSpec<unknown>): Option {
  const option = new Option(spec.flags, spec.description);
  return spec.configure ? spec.configure(option) : option;
}

function optionSpec<T>(
  flags: string,
  description: string,
  read: (value: unknown) => T,
  configure?: (option: Option) => Option,
): OptionSpec<T> {
  return { flags, description, configure, attribute: new Option(flags).attributeName(), read };
}

const hide = (hidden: boolean | undefined) => (option: Option) => option.hideHelp(hidden ?? false);

/**
 * A switch: `true` when given, else `false`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { flag } from "./command.ts";
 *
 * assert.equal(flag("--json", "print JSON").read(undefined), false);
 * ```
 */
export function flag(
  flags: string,
  description: string,
  options: { hidden?: boolean } = {},
): OptionSpec<boolean> {
  return optionSpec(flags, description, (value) => value === true, hide(options.hidden));
}

/**
 * A switch that overrides a setting: `true` when given, `undefined` when not, so that the
 * environment decides (`--dashboard` over `DASHBOARD_ENABLED`).
 */
export function switchOverride(flags: string, description: string): OptionSpec<true | undefined> {
  return optionSpec(flags, description, (value) => value === true ? true : undefined);
}

/**
 * An option with a text value; `undefined` when not given.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { text } from "./command.ts";
 *
 * assert.equal(text("--name <name>", "worker name").read("worker-a-1"), "worker-a-1");
 * ```
 */
export function text(
  flags: string,
  description: string,
  options: { hidden?: boolean } = {},
): OptionSpec<string | undefined> {
  return optionSpec(flags, description, asText, hide(options.hidden));
}

/** An option with a text value that must be given (commander refuses the command line without it). */
export function requiredText(flags: string, description: string): OptionSpec<string> {
  return optionSpec(
    flags,
    description,
    (value) => asText(value) ?? "",
    (option) => option.makeOptionMandatory(),
  );
}

/**
 * An option that gives the setting of the same flag (`--redis-url` gives `REDIS_URL`): its value
 * feeds the Config. Throws when no setting has that flag.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { setting } from "./command.ts";
 *
 * const redisUrl = setting("--redis-url <url>", "Redis server [default: REDIS_URL]");
 * assert.equal(redisUrl.setting, "redis-url");
 * ```
 */
export function setting(flags: string, description: string): OptionSpec<string | undefined> {
  const name = new Option(flags).long?.slice(2);
  if (name === undefined || !SETTING_FLAGS.includes(name)) {
    throw new Error(
      `Cannot declare '${flags}' as a setting's option: no setting has the flag --${name}`,
    );
  }
  return { ...optionSpec(flags, description, asText), setting: name };
}

/**
 * An option whose value `parse` turns into a `T` (commander reports what `parse` throws as a usage
 * error); `undefined` when not given, unless there is a `defaultValue`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { commanderOption, parsed } from "./command.ts";
 *
 * const limit = parsed("--limit <n>", "at most this many", Number, 20);
 * assert.equal(commanderOption(limit).defaultValue, 20); // commander gives it when --limit is not
 * assert.equal(limit.read(5), 5);
 * ```
 */
export function parsed<T>(
  flags: string,
  description: string,
  parse: (raw: string) => T,
): OptionSpec<T | undefined>;
export function parsed<T>(
  flags: string,
  description: string,
  parse: (raw: string) => T,
  defaultValue: T,
  /** The default as `--help` shows it, when the value itself would mislead (`10m`, not 600000). */
  shownDefault?: string,
): OptionSpec<T>;
export function parsed<T>(
  flags: string,
  description: string,
  parse: (raw: string) => T,
  defaultValue?: T,
  shownDefault?: string,
): OptionSpec<T | undefined> {
  return optionSpec(flags, description, (value) => value as T | undefined, (option) => {
    option.argParser(parse);
    return defaultValue === undefined ? option : option.default(defaultValue, shownDefault);
  });
}

/**
 * The values of a variadic option (`--id <ids...>`) or of a repeatable one (`--metadata k=v`
 * given several times), in order; `undefined` when not given.
 */
export function strings(flags: string, description: string): OptionSpec<string[] | undefined> {
  const variadic = /\.\.\.[>\]]/.test(flags);
  return optionSpec(
    flags,
    description,
    (value) => Array.isArray(value) ? value.map(String) : undefined,
    (option) =>
      variadic ? option : option.argParser((value: string, previous: string[] = []) => [
        ...previous,
        value,
      ]),
  );
}

/** An option that must be given, with one of `choices` (commander lists them in the help). */
export function requiredChoice<const C extends readonly string[]>(
  flags: string,
  description: string,
  choices: C,
): OptionSpec<C[number]> {
  return optionSpec(
    flags,
    description,
    (value) => value as C[number],
    (option) => option.choices(choices).makeOptionMandatory(),
  );
}

function asText(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
