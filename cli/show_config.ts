/** The `config` command: the effective configuration, where each value came from, secrets hidden. */

import { type FlagValues, parseConfig, rawValues } from "../config/config.ts";
import { CONFIG_SCHEMA } from "../providers/registry.ts";
import { redactUrl } from "../redis/url.ts";
import { printJson } from "./_util.ts";
import { table } from "../text/format.ts";

/** One setting as `config` shows it. */
export interface SettingReport {
  env: string;
  /** The long flag, `null` for an environment-only setting. */
  flag: string | null;
  /** The raw value as given, secrets hidden; `null` when unset. */
  value: string | null;
  source: "flag" | "env file" | "environment" | "default";
  secret: boolean;
}

/** The shown form of a raw value: REDIS_URL without its password, other secrets `(hidden)`. */
function shownValue(
  setting: { env: string; secret?: boolean },
  raw: string | undefined,
): string | null {
  if (raw === undefined) return null;
  if (setting.env === "REDIS_URL") return redactUrl(raw);
  return setting.secret ? "(hidden)" : raw;
}

/**
 * Every setting's raw value and its source, in the order of `--help`, with secrets hidden; a
 * value of `env` whose variable is in `fromEnvFile` came from the env file.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { configReport } from "./show_config.ts";
 *
 * const rows = configReport({ count: "4" }, { REDIS_URL: "redis://:pw@cache", QUEUE_NAME: "x" }, [
 *   "QUEUE_NAME",
 * ]);
 * assert.equal(rows.find((row) => row.env === "REDIS_URL")?.value, "redis://:***@cache");
 * assert.equal(rows.find((row) => row.env === "REDIS_URL")?.source, "environment");
 * assert.equal(rows.find((row) => row.env === "QUEUE_NAME")?.source, "env file");
 * ```
 */
export function configReport(
  flags: FlagValues,
  env: Record<string, string | undefined>,
  fromEnvFile: readonly string[] = [],
): SettingReport[] {
  const raws = rawValues(flags, env, CONFIG_SCHEMA);
  return Object.entries(CONFIG_SCHEMA.settings).map(([key, setting]) => {
    const { raw, source } = raws[key];
    return {
      env: setting.env,
      flag: setting.flag ?? null,
      value: shownValue(setting, raw),
      source: source.startsWith("--")
        ? "flag"
        : source.startsWith("default of")
        ? "default"
        : fromEnvFile.includes(setting.env)
        ? "env file"
        : "environment",
      secret: setting.secret === true,
    };
  });
}

/** The report as a table: variable, value, and where it came from. */
export function renderConfigReport(rows: readonly SettingReport[]): string {
  return table([
    ["variable", "value", "from"],
    ...rows.map((row) => [
      row.env,
      row.value === null ? "(unset)" : row.secret ? row.value : JSON.stringify(row.value),
      row.source === "flag" ? `flag --${row.flag}` : row.source,
    ]),
  ]);
}

/**
 * Prints the effective configuration (JSON: `{settings, problems}`); the problems are the
 * pool's own messages, secrets hidden. The caller exits 2 when there are problems.
 */
export function printConfig(
  flags: FlagValues,
  env: Record<string, string | undefined>,
  options: { json: boolean; fromEnvFile?: readonly string[] },
): void {
  const settings = configReport(flags, env, options.fromEnvFile);
  if (options.json) {
    const result = parseConfig(flags, env, CONFIG_SCHEMA);
    printJson({ settings, problems: result.ok ? [] : result.errors });
  } else console.log(renderConfigReport(settings));
}
