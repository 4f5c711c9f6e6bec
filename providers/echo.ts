/** The echo provider: answers with the prompt's text, for dry runs, demos and benchmarks. */

import { delay } from "../async/mod.ts";
import { duration } from "../config/rules.ts";
import { defineProvider, type LlmRequest, type ProviderResult, usageOf } from "./provider.ts";

/**
 * Returns the text of the last user message (the prompt itself for a string
 * prompt) after `request.latencyMs`, else `defaultLatencyMs`. Spends no tokens and calls nothing.
 */
export async function callEcho(
  request: LlmRequest,
  defaultLatencyMs = 0,
): Promise<ProviderResult> {
  const latencyMs = request.latencyMs ?? defaultLatencyMs;
  if (latencyMs > 0) await delay(latencyMs, { signal: request.signal });
  request.signal.throwIfAborted();
  const lastUser = request.messages.findLast((message) => message.role === "user");
  return {
    text: lastUser?.content ?? "",
    model: "echo",
    provider: "echo",
    usage: usageOf(),
    stop_reason: "end_turn",
  };
}

/** `echo`: answers with the prompt; for dry runs, demos and benchmarks. No login, no limits. */
export const echoProvider = defineProvider({
  name: "echo",
  settings: {
    echoLatencyMs: {
      env: "ECHO_LATENCY",
      default: "0ms",
      help: "how long the echo provider waits before answering",
      ...duration(0, 3_600_000),
    },
  },
  pauses: [],
  create: ({ config }) => ({ call: (request) => callEcho(request, config.echoLatencyMs) }),
  defaultModel: () => "echo",
  outputTokenLimit: () => 0,
  describe: () => ({
    mode: "echo (answers with the prompt)",
    configDir: null,
    spendsTokens: false,
  }),
});
