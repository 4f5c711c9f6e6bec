/** The LLM job payload contract, as a JSON Schema producers in any language can use, and its check. */

import type { Message } from "../../providers/provider.ts";
import { PROVIDER_NAMES } from "../../providers/registry.ts";
import { compileSchema } from "../schema.ts";

/** One message of a `prompt` list (the providers' type). */
export type { Message };

/** Longest prompt accepted, in characters, all messages together. */
export const MAX_PROMPT_CHARS = 2_000_000;

/** Job data as docs/jobs-and-providers.md describes the job contract. */
export interface LlmJob {
  prompt: string | Message[];
  format?: Record<string, unknown>;
  provider?: {
    name?: string;
    model?: string;
    temperature?: number;
    max_tokens?: number;
    latency_ms?: number;
  };
  metadata?: Record<string, unknown>;
  /** The most this job may cost, in US dollars: a call whose worst case is more is not made. */
  max_cost_usd?: number;
  /** Answer from the result cache when an identical request was answered before. */
  cache?: boolean;
  /** The producer's own key for the result cache (a hash of the page), instead of the request's. */
  content_hash?: string;
  /** Where the job goes while its provider is paused or overloaded. */
  fallback?: { name: string; model?: string };
  /** `batch`: through the provider's batch API, at its batch price (see docs/batch-lane.md). */
  lane?: "direct" | "batch";
  /** The lane of the job's retries after a failed try in the batch lane: `direct` takes the fast one. */
  retry_lane?: "direct" | "batch";
}

/** The payload contract. `errorMessage` is an annotation ppr-worker shows when no branch of an `anyOf` fits. */
export const PAYLOAD_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "ppr-worker LLM job",
  type: "object",
  required: ["prompt"],
  properties: {
    prompt: {
      errorMessage: "must be a string or a list of {role, content} messages",
      anyOf: [
        { type: "string", minLength: 1 },
        {
          type: "array",
          minItems: 1,
          items: {
            type: "object",
            required: ["role", "content"],
            properties: {
              role: { enum: ["system", "user", "assistant"] },
              content: { type: "string" },
            },
          },
        },
      ],
    },
    format: { type: "object" },
    provider: {
      type: "object",
      properties: {
        name: { enum: [...PROVIDER_NAMES] },
        model: { type: "string", minLength: 1 },
        temperature: { type: "number", minimum: 0, maximum: 2 },
        max_tokens: { type: "integer", minimum: 1 },
        latency_ms: { type: "integer", minimum: 0, maximum: 3_600_000 },
      },
    },
    metadata: {
      type: "object",
      properties: { rate_key: { type: "string", minLength: 1, maxLength: 200 } },
    },
    max_cost_usd: { type: "number", exclusiveMinimum: 0 },
    cache: { type: "boolean" },
    content_hash: { type: "string", minLength: 1, maxLength: 200 },
    fallback: {
      type: "object",
      required: ["name"],
      properties: {
        name: { enum: [...PROVIDER_NAMES] },
        model: { type: "string", minLength: 1 },
      },
    },
    lane: { enum: ["direct", "batch"] },
    retry_lane: { enum: ["direct", "batch"] },
  },
} as const;

const checkPayload = compileSchema(PAYLOAD_SCHEMA);

/** Valid job data, or the message that names every wrong field. */
export type PayloadResult = { ok: true; job: LlmJob } | { ok: false; error: string };

/**
 * Validates job data against the LLM job contract.
 * The error names every field that is wrong, e.g. `invalid job data: prompt: must not be shorter than 1 character(s)`.
 */
export function parsePayload(data: unknown): PayloadResult {
  const problems = checkPayload(data);
  if (problems.length > 0) return { ok: false, error: `invalid job data: ${problems.join("; ")}` };
  const job = data as LlmJob;
  const chars = typeof job.prompt === "string"
    ? job.prompt.length
    : job.prompt.reduce((sum, each) => sum + each.content.length, 0);
  if (chars > MAX_PROMPT_CHARS) {
    return {
      ok: false,
      error:
        `invalid job data: prompt: ${chars} characters is over the limit of ${MAX_PROMPT_CHARS}`,
    };
  }
  return { ok: true, job };
}

/** The prompt as a list of messages (a string prompt is one user message). */
export function messagesOf(job: LlmJob): Message[] {
  return typeof job.prompt === "string" ? [{ role: "user", content: job.prompt }] : job.prompt;
}
