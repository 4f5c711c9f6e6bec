/** The `claude` provider: the Claude API when `ANTHROPIC_API_KEY` is set, else the Claude CLI and its login. */

import type { Config, ConfigOf } from "../config/config.ts";
import { duration, httpUrl, integer, oneOf, pattern } from "../config/rules.ts";
import {
  callClaudeApi,
  claudeApiAuthStatus,
  DEFAULT_CLAUDE_MODEL,
  DEFAULT_MAX_TOKENS,
} from "./claude_api.ts";
import { messageBatchesClient } from "./batch/message_batches.ts";
import { CLI_MODES } from "./claude_cli/args.ts";
import { claudeAuthStatus } from "./claude_cli/auth.ts";
import { createClaudeCliClient } from "./claude_cli/client.ts";
import { claudeConfigDir } from "./claude_cli/env.ts";
import { defineProvider, type ProviderContext, withSettingsOf } from "./provider.ts";

/** The settings of the `claude` provider, in both modes. */
export const CLAUDE_SETTINGS = {
  anthropicApiKey: {
    env: "ANTHROPIC_API_KEY",
    fixedAtStart: true,
    help: "Claude API key; when set, claude jobs use the API instead of the CLI",
    secret: true,
    ...pattern("a non-empty key", /^\S+$/),
  },
  anthropicBaseUrl: {
    env: "ANTHROPIC_BASE_URL",
    fixedAtStart: true,
    help: "Anthropic API base URL (the SDK's default when unset)",
    ...httpUrl(),
  },
  claudeCli: {
    env: "CLAUDE_CLI",
    fixedAtStart: true,
    default: "claude",
    help: "path of the Claude CLI (CLI mode)",
    ...pattern("a path or command name", /\S/),
  },
  claudeCliMode: {
    env: "CLAUDE_CLI_MODE",
    default: "warm",
    help: "warm: long-lived CLI processes serve one job after another; cold: one process per job",
    ...oneOf(CLI_MODES),
  },
  claudeCliMaxJobs: {
    env: "CLAUDE_CLI_MAX_JOBS",
    default: "100",
    help: "a warm CLI process is replaced after this many jobs",
    ...integer(1, 100_000),
  },
  claudeCliIdleMs: {
    env: "CLAUDE_CLI_IDLE",
    default: "60s",
    help: "a warm CLI process idle this long is stopped (it holds ~200 MB)",
    ...duration(1000, 86_400_000),
  },
};

/** The model the pinned Claude CLI (2.1.332) asks for when it is given none, as the stub sees it. */
export const CLI_DEFAULT_MODEL = "claude-opus-5-5";
/** The Claude CLI's output token ceiling (its CLAUDE_CODE_MAX_OUTPUT_TOKENS default): it takes no max_tokens. */
export const CLI_MAX_OUTPUT_TOKENS = 32_000;
/** Input tokens the Claude CLI adds to a call on its own (its context), rounded up from the stub's requests. */
export const CLI_CONTEXT_TOKENS = 2000;

/** Peak RSS of one Claude CLI call, rounded up from the bench (190 MB cold, 277 MB warm). */
export const CLI_CALL_MB = 300;

/** The configuration as the `claude` provider reads it (for `auth login`, which runs its CLI). */
export const claudeConfig = (config: Config) => withSettingsOf(config, CLAUDE_SETTINGS);

type ClaudeContext = ProviderContext<ConfigOf<typeof CLAUDE_SETTINGS>>;

/** API mode: with `ANTHROPIC_API_KEY`; CLI mode (a subscription login) without. */
function apiOptions({ config }: ClaudeContext, timeoutMs = config.llmTimeoutMs) {
  return config.anthropicApiKey === undefined
    ? undefined
    : { apiKey: config.anthropicApiKey, baseUrl: config.anthropicBaseUrl, timeoutMs };
}

/** `claude`: API mode with a key, CLI mode (a subscription login shared by every worker) without. */
export const claudeProvider = defineProvider({
  name: "claude",
  settings: CLAUDE_SETTINGS,
  pauses: ["auth_failed", "quota_exceeded"],
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
  // API mode only: the Claude CLI has no batch API.
  batch(context) {
    const api = apiOptions(context);
    return api ? messageBatchesClient(api) : undefined;
  },
  describe({ config, subprocessEnv }) {
    if (config.anthropicApiKey !== undefined) {
      return { mode: "Claude API (ANTHROPIC_API_KEY)", configDir: null, spendsTokens: true };
    }
    return {
      mode: `Claude CLI (${config.claudeCli})`,
      configDir: claudeConfigDir(subprocessEnv),
      spendsTokens: true,
      extraContext: "the Claude CLI adds its own context: a few hundred input tokens",
    };
  },
  defaultModel: (config) =>
    config.anthropicApiKey === undefined ? CLI_DEFAULT_MODEL : DEFAULT_CLAUDE_MODEL,
  // The CLI passes no max_tokens on: its own ceiling (CLAUDE_CODE_MAX_OUTPUT_TOKENS) holds.
  outputTokenLimit: (config, requested) =>
    config.anthropicApiKey === undefined ? CLI_MAX_OUTPUT_TOKENS : requested ?? DEFAULT_MAX_TOKENS,
  extraInputTokens: (config) => config.anthropicApiKey === undefined ? CLI_CONTEXT_TOKENS : 0,
  keepsCostCeiling: (config) => config.anthropicApiKey === undefined,
  callProcess: (config) =>
    config.anthropicApiKey === undefined
      ? { what: "Claude CLI call", memoryMb: CLI_CALL_MB }
      : undefined,
  reportsLoginAs: "claude_authenticated",
});
