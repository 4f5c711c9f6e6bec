/** The `claude` provider: the Claude API when `ANTHROPIC_API_KEY` is set, else the Claude CLI and its login. */

import { callClaudeApi, claudeApiAuthStatus } from "./claude_api.ts";
import { claudeAuthStatus } from "./claude_cli/auth.ts";
import { createClaudeCliClient } from "./claude_cli/client.ts";
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
    if (api) return { call: (request) => callClaudeApi(api, request) };
    const { config } = context;
    return createClaudeCliClient({
      cli: config.claudeCli,
      env: context.subprocessEnv,
      mode: config.claudeCliMode,
      // One job at a time per process: as many as the LLM calls this worker makes at once.
      maxProcesses: context.llmCallsInFlight ?? config.concurrency * config.queues.length,
      maxJobsPerProcess: config.claudeCliMaxJobs,
      idleMs: config.claudeCliIdleMs,
    });
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
