/** The recorder's input: `{job_id, job, result}`, exactly what `LLM_RESULT_QUEUES` receive, and its check. */

import type { ResultMessage } from "../results.ts";
import { compileSchema } from "../schema.ts";

/** The scraper of a result whose job has no `metadata.scraper_id`. */
export const UNKNOWN_SCRAPER = "unknown";

/** The recorder's job data as a JSON Schema (`ResultMessage` in `jobs/results.ts`). */
export const RESULT_MESSAGE_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "ppr-worker recorder job ({job_id, job, result})",
  type: "object",
  required: ["job_id", "job", "result"],
  properties: {
    job_id: { type: ["string", "integer"], minLength: 1 },
    job: {
      type: "object",
      properties: {
        metadata: {
          type: "object",
          properties: { scraper_id: { type: ["string", "integer", "null"] } },
        },
      },
    },
    result: { type: "object" },
  },
} as const;

const checkMessage = compileSchema(RESULT_MESSAGE_SCHEMA);

/** A result to record: the message, and the ids its file is named by (not yet made safe as paths). */
export interface ResultToRecord {
  message: ResultMessage;
  jobId: string;
  scraperId: string;
}

/**
 * Checks recorder job data. The error names every wrong field, e.g.
 * `invalid result message: job_id: is required`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseResultMessage } from "./message.ts";
 *
 * const data = { job_id: "7", job: { metadata: { scraper_id: "s1" } }, result: { text: "" } };
 * assert.deepEqual(parseResultMessage(data), {
 *   ok: true,
 *   result: { jobId: "7", scraperId: "s1", message: data },
 * });
 * assert.deepEqual(parseResultMessage({ job: {}, result: {} }), {
 *   ok: false,
 *   error: "invalid result message: job_id: is required",
 * });
 * ```
 */
export function parseResultMessage(
  data: unknown,
): { ok: true; result: ResultToRecord } | { ok: false; error: string } {
  const problems = checkMessage(data);
  if (problems.length > 0) {
    return { ok: false, error: `invalid result message: ${problems.join("; ")}` };
  }
  const message = data as ResultMessage & { job: { metadata?: { scraper_id?: unknown } } };
  const scraperId = message.job.metadata?.scraper_id;
  return {
    ok: true,
    result: {
      message,
      jobId: String(message.job_id),
      scraperId: scraperId === undefined || scraperId === null || scraperId === ""
        ? UNKNOWN_SCRAPER
        : String(scraperId),
    },
  };
}
