/** The result cache: an identical LLM request answered from Redis, shared by every worker of the fleet. */

import type { RedisClient } from "../redis/connection.ts";
import type { LlmRequest, ProviderResult } from "../providers/provider.ts";
import { resultCacheKeyOf } from "./keys.ts";

/** What makes two requests the same question. */
export interface CacheIdentity {
  provider: string;
  model: string;
  request: Pick<LlmRequest, "messages" | "format" | "temperature" | "maxTokens">;
  /** The producer's own key for the content (a hash of the page): used instead of the messages. */
  contentHash?: string;
}

/** What the cache keeps of an answer: the provider's result and what it cost then. */
export interface CachedAnswer {
  result: ProviderResult;
  /** US dollars the answer cost when it was paid for; `null` when that was unknown. */
  cost_usd: number | null;
  /** Epoch ms it was stored. */
  stored_at: number;
}

/** JSON with object keys sorted, so that the same value always gives the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, each]) => each !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${
      entries.map(([key, each]) => `${JSON.stringify(key)}:${canonicalJson(each)}`).join(",")
    }}`;
  }
  return JSON.stringify(value);
}

/**
 * The Redis key of a request's answer: `ppr:{llm}:cache:` and the SHA-256 of the provider, the
 * model, the output schema, the parameters, the system prompt, and the other messages, or the
 * producer's `content_hash` in their place (so a changed system prompt is a new question either
 * way).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { resultCacheKey } from "./result_cache.ts";
 *
 * const ask = (content: string) => ({
 *   provider: "claude",
 *   model: "claude-haiku-4-5",
 *   request: { messages: [{ role: "user" as const, content }] },
 * });
 * assert.equal(await resultCacheKey(ask("a page")), await resultCacheKey(ask("a page")));
 * assert.notEqual(await resultCacheKey(ask("a page")), await resultCacheKey(ask("another")));
 * assert.match(await resultCacheKey(ask("a page")), /^ppr:\{llm\}:cache:[0-9a-f]{64}$/);
 * ```
 */
export async function resultCacheKey(identity: CacheIdentity): Promise<string> {
  const { request } = identity;
  const text = canonicalJson({
    provider: identity.provider,
    model: identity.model,
    schema: request.format?.schema,
    temperature: request.temperature,
    max_tokens: request.maxTokens,
    ...(identity.contentHash !== undefined
      ? {
        content_hash: identity.contentHash,
        system: request.messages.filter((message) => message.role === "system"),
      }
      : { messages: request.messages }),
  });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  const hex = [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
  return resultCacheKeyOf(hex);
}

/** The answer stored under `key`, or `undefined` (none, expired, or not ppr-worker's JSON). */
export async function readCachedAnswer(
  redis: RedisClient,
  key: string,
): Promise<CachedAnswer | undefined> {
  return parseCachedAnswer(await redis.get(key));
}

/** The answer in `text` as the result cache stores it, or `undefined` (none, or not ppr-worker's JSON). */
export function parseCachedAnswer(text: string | null | undefined): CachedAnswer | undefined {
  if (!text) return undefined;
  try {
    const answer = JSON.parse(text) as CachedAnswer;
    return typeof answer?.result?.text === "string" ? answer : undefined;
  } catch {
    return undefined;
  }
}

/** Stores an answer under `key` for `ttlMs`. */
export async function storeCachedAnswer(
  redis: RedisClient,
  key: string,
  answer: CachedAnswer,
  ttlMs: number,
): Promise<void> {
  await redis.set(key, JSON.stringify(answer), "PX", ttlMs);
}
