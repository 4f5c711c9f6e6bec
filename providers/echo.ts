/** The echo provider: answers with the prompt's text, for dry runs, demos and benchmarks. */

import { delay } from "../async/mod.ts";
import type { LlmRequest, Provider, ProviderDefinition } from "./provider.ts";

/**
 * Returns the text of the last user message (the prompt itself for a string
 * prompt) after `latencyMs`. Spends no tokens and calls nothing.
 */
export const callEcho: Provider = async (request: LlmRequest) => {
  if ((request.latencyMs ?? 0) > 0) await delay(request.latencyMs ?? 0, { signal: request.signal });
  request.signal.throwIfAborted();
  const lastUser = request.messages.findLast((message) => message.role === "user");
  return {
    text: lastUser?.content ?? "",
    model: "echo",
    provider: "echo",
    usage: { input_tokens: 0, output_tokens: 0 },
    stop_reason: "end_turn",
  };
};

/** `echo`: answers with the prompt; for dry runs, demos and benchmarks. */
export const echoProvider: ProviderDefinition = {
  name: "echo",
  create: () => ({ call: callEcho }),
};
