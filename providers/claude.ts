/** The `claude` provider: the Claude API when `ANTHROPIC_API_KEY` is set, else the Claude CLI and its login. */

import { callClaudeApi, claudeApiAuthStatus } from "./claude_api.ts";
import { callClaudeCli, claudeAuthStatus } from "./claude_cli.ts";
import type { ProviderContext, ProviderDefinition } from "./provider.ts";

function apiOptions({ config }: ProviderContext, timeoutMs = config.llmTimeoutMs) {
  return config.anthropicApiKey === undefined
    ? undefined
    : { apiKey: config.anthropicApiKey, baseUrl: config.anthropicBaseUrl, timeoutMs };
}

/** `claude`: API mode with a key, CLI mode (a subscription login shared by every worker) without. */
export const claudeProvider: ProviderDefinition = {
  name: "claude",
  create(context) {
    const api = apiOptions(context);
    if (api) return (request) => callClaudeApi(api, request);
    const cli = { cli: context.config.claudeCli, env: context.subprocessEnv };
    return (request) => callClaudeCli(cli, request);
  },
  async probe(context) {
    const api = apiOptions(context, 15_000);
    if (api) return claudeApiAuthStatus(api);
    const status = await claudeAuthStatus({
      cli: context.config.claudeCli,
      env: context.subprocessEnv,
    });
    return { ok: status.loggedIn, detail: `Claude CLI: ${status.detail}` };
  },
};
