/** The providers this build has: adding one is a new file and one line here. */

import { claudeProvider } from "./claude.ts";
import { echoProvider } from "./echo.ts";
import { openAiProvider } from "./openai.ts";
import type { ProviderDefinition } from "./provider.ts";

const PROVIDERS: readonly ProviderDefinition[] = [claudeProvider, openAiProvider, echoProvider];

/** The names a job's `provider.name` and `LLM_PROVIDER` may take. */
export const PROVIDER_NAMES: readonly string[] = PROVIDERS.map((provider) => provider.name);

/** The provider called `name`, or `undefined` when this build has none by that name. */
export function providerNamed(name: string): ProviderDefinition | undefined {
  return PROVIDERS.find((provider) => provider.name === name);
}
