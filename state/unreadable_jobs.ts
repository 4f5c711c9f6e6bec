/**
 * The stand-in data of a job whose own data is not JSON, which says why: what the readers
 * (`ReadingQueue`) and the worker (`SafeWorker`) put in its place. No BullMQ code is loaded here.
 */

import type { JobJson } from "bullmq";
import { redact } from "../log/redact.ts";

/** Where the reason goes in the stand-in data of a job whose own data could not be parsed. */
export const UNPARSABLE_DATA = "__ppr_unparsable_data__";

/** How much of the raw text a reason quotes. */
const QUOTED_CHARS = 100;

/**
 * A job's hash as BullMQ read it, its `data` replaced by stand-in data that says why it could not
 * be parsed (`{ "__ppr_unparsable_data__": "job data is not valid JSON (...): <raw text>" }`),
 * known secrets hidden.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import type { JobJson } from "bullmq";
 * import { withStandInData } from "./unreadable_jobs.ts";
 *
 * const json = { id: "7", name: "llm", data: "{oops" } as JobJson;
 * assert.deepEqual(JSON.parse(withStandInData(json, new SyntaxError("Unexpected token o")).data), {
 *   __ppr_unparsable_data__: "job data is not valid JSON (Unexpected token o): {oops",
 * });
 * ```
 */
export function withStandInData(json: JobJson, error: unknown): JobJson {
  const why = error instanceof Error ? error.message : String(error);
  // The quoted text is shown by commands and pages: a known secret in it is hidden.
  const reason = redact(
    `job data is not valid JSON (${why}): ${String(json.data ?? "").slice(0, QUOTED_CHARS)}`,
  );
  return { ...json, data: JSON.stringify({ [UNPARSABLE_DATA]: reason }) };
}

/**
 * Why a job's data could not be read, when `data` is the stand-in of {@link withStandInData};
 * `undefined` for data that was read.
 *
 * @example
 * ```ts
 * unreadableReason({ __ppr_unparsable_data__: "job data is not valid JSON (x): {" }); // "job data is not valid JSON (x): {"
 * unreadableReason({ prompt: "hi" }); // undefined
 * ```
 */
export function unreadableReason(data: unknown): string | undefined {
  if (typeof data !== "object" || data === null || !(UNPARSABLE_DATA in data)) return undefined;
  return String((data as Record<string, unknown>)[UNPARSABLE_DATA]);
}
