/** The providers this build has: adding one is a new file and one line here. */

import {
  type Config,
  type ConfigSchema,
  CORE_SETTINGS,
  joinSettings,
  type SettingsTable,
} from "../config/config.ts";
import { claudeProvider } from "./claude.ts";
import { echoProvider } from "./echo.ts";
import { openAiProvider } from "./openai.ts";
import type { ProviderDefinition } from "./provider.ts";

/** Every provider of this build, in the order `--help` lists their settings. */
export const PROVIDERS: readonly ProviderDefinition[] = [
  claudeProvider,
  openAiProvider,
  echoProvider,
];

/** The names a job's `provider.name` and `LLM_PROVIDER` may take. */
export const PROVIDER_NAMES: readonly string[] = PROVIDERS.map((provider) => provider.name);

/**
 * Every setting of this build: the core settings with each provider's joined in. `--help`,
 * the `config` command, the configuration's error messages, the workers' environment and the
 * secrets hidden from every output all read this one table.
 */
export const SETTINGS: SettingsTable = joinSettings(
  CORE_SETTINGS,
  PROVIDERS.map((provider) => [provider.name, provider.settings] as const),
);

/** What every configuration of this build is parsed against (`parseConfig`). */
export const CONFIG_SCHEMA: ConfigSchema = { settings: SETTINGS, providers: PROVIDER_NAMES };

/** The provider called `name`, or `undefined` when this build has none by that name. */
export function providerNamed(name: string): ProviderDefinition | undefined {
  return PROVIDERS.find((provider) => provider.name === name);
}

/**
 * The default provider of `config` (`LLM_PROVIDER`). The configuration checked the name, so
 * this throws only for a configuration made some other way.
 */
export function defaultProviderOf(config: Config): ProviderDefinition {
  const provider = providerNamed(config.provider);
  if (!provider) {
    throw new Error(
      `Cannot find provider '${config.provider}' as this build has none by that name: it has ${
        PROVIDER_NAMES.join(", ")
      }`,
    );
  }
  return provider;
}
