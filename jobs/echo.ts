/** The echo provider: answers with the prompt's text, for dry runs, demos and benchmarks. */

import type { LlmRequest, Provider } from "./provider.ts";

/**
 * Returns the text of the last user message (the prompt itself for a string
 * prompt) after `latencyMs`. Spends no tokens and calls nothing.
 */
export const echoProvider: Provider = async (request: LlmRequest) => {
  if ((request.latencyMs ?? 0) > 0) await sleep(request.latencyMs ?? 0, request.signal);
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

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
