/** The LLM job payload contract: validation with messages that name the field. */

import { z } from "zod";
import { PROVIDERS } from "../config/config.ts";

/** Longest prompt accepted, in characters, all messages together. */
export const MAX_PROMPT_CHARS = 2_000_000;

const message = z.object({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string(),
});

export const llmJobSchema = z.object({
  prompt: z.union([
    z.string().min(1, "must not be empty"),
    z.array(message).min(1, "must have at least one message"),
  ], { error: "must be a string or a list of {role, content} messages" }),
  format: z.record(z.string(), z.unknown()).optional(),
  provider: z.object({
    name: z.enum(PROVIDERS, { error: `must be one of ${PROVIDERS.join(", ")}` }).optional(),
    model: z.string().min(1).optional(),
    temperature: z.number().min(0).max(2).optional(),
    max_tokens: z.number().int().min(1).optional(),
    latency_ms: z.number().int().min(0).max(3_600_000).optional(),
  }).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

export type LlmJob = z.output<typeof llmJobSchema>;
export type Message = z.output<typeof message>;

export type PayloadResult = { ok: true; job: LlmJob } | { ok: false; error: string };

/**
 * Validates job data against the LLM job contract.
 * The error names every field that is wrong, e.g. `prompt: must not be empty`.
 */
export function parsePayload(data: unknown): PayloadResult {
  const result = llmJobSchema.safeParse(data);
  if (!result.success) {
    const problems = result.error.issues.map((issue) =>
      `${issue.path.length > 0 ? issue.path.join(".") : "data"}: ${issue.message}`
    );
    return { ok: false, error: `invalid job data: ${problems.join("; ")}` };
  }
  const chars = typeof result.data.prompt === "string"
    ? result.data.prompt.length
    : result.data.prompt.reduce((sum, each) => sum + each.content.length, 0);
  if (chars > MAX_PROMPT_CHARS) {
    return {
      ok: false,
      error:
        `invalid job data: prompt: ${chars} characters is over the limit of ${MAX_PROMPT_CHARS}`,
    };
  }
  return { ok: true, job: result.data };
}

/** The prompt as a list of messages (a string prompt is one user message). */
export function messagesOf(job: LlmJob): Message[] {
  return typeof job.prompt === "string" ? [{ role: "user", content: job.prompt }] : job.prompt;
}
