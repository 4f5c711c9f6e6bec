/** How many tokens a request will take, before it is sent: a likely figure for rate limits, an upper bound for budgets. */

import type { LlmRequest } from "../providers/provider.ts";

/** Tokens a provider adds per message for its framing (role markers), counted in the upper bound. */
export const FRAMING_TOKENS_PER_MESSAGE = 8;
/** Tokens a provider adds to a call with structured output (its own instructions), counted in the upper bound. */
export const STRUCTURED_OUTPUT_TOKENS = 1000;

const encoder = new TextEncoder();

/** The text a request sends: its messages and its schema. */
function sentText(request: Pick<LlmRequest, "messages" | "format">): string[] {
  const texts = request.messages.map((message) => message.content);
  if (request.format) texts.push(JSON.stringify(request.format.schema));
  return texts;
}

/**
 * The likely input tokens of a request: 4 characters a token, the rule of thumb the providers
 * publish for English text, plus the framing of each message. For the rate limits, which settle
 * to the real count after the call.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { likelyInputTokens } from "./estimate.ts";
 *
 * assert.equal(likelyInputTokens({ messages: [{ role: "user", content: "x".repeat(400) }] }), 108);
 * ```
 */
export function likelyInputTokens(request: Pick<LlmRequest, "messages" | "format">): number {
  const chars = sentText(request).reduce((sum, text) => sum + text.length, 0);
  return Math.ceil(chars / 4) + FRAMING_TOKENS_PER_MESSAGE * request.messages.length;
}

/**
 * An upper bound of the input tokens a request can be billed for: one token per UTF-8 byte
 * (byte-level tokenizers never make a token of less than one byte), plus the framing of each
 * message, plus `STRUCTURED_OUTPUT_TOKENS` when it asks for a schema, plus `extraTokens` (what
 * the provider adds on its own, such as the Claude CLI's context). About four times the likely
 * count for English text: the price of a budget that is never exceeded by a call's input.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { mostInputTokens } from "./estimate.ts";
 *
 * assert.equal(mostInputTokens({ messages: [{ role: "user", content: "héllo" }] }), 6 + 8);
 * ```
 */
export function mostInputTokens(
  request: Pick<LlmRequest, "messages" | "format">,
  extraTokens = 0,
): number {
  const bytes = sentText(request).reduce((sum, text) => sum + encoder.encode(text).length, 0);
  return bytes + FRAMING_TOKENS_PER_MESSAGE * request.messages.length +
    (request.format ? STRUCTURED_OUTPUT_TOKENS : 0) + extraTokens;
}
