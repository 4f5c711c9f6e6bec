/**
 * The stand-in data of a job whose own data is not JSON, which says why: what the readers
 * (`ReadingQueue`) put in its place, and the reason the worker (`SafeWorker`) fails it with. No
 * BullMQ code is loaded here.
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
  return { ...json, data: JSON.stringify({ [UNPARSABLE_DATA]: dataNotJson(json.data, error) }) };
}

/**
 * Why a job's `raw` data could not be parsed (`error`), quoting its start; known secrets hidden,
 * since commands, pages and a failed job's reason show it.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { dataNotJson } from "./unreadable_jobs.ts";
 *
 * assert.equal(dataNotJson("{oops", new SyntaxError("bad")), "job data is not valid JSON (bad): {oops");
 * ```
 */
export function dataNotJson(raw: unknown, error: unknown): string {
  const why = error instanceof Error ? error.message : String(error);
  return redact(`job data is not valid JSON (${why}): ${String(raw ?? "").slice(0, QUOTED_CHARS)}`);
}

/**
 * Why a job's data could not be read, when `data` is the stand-in of {@link withStandInData};
 * `undefined` for data that was read.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { unreadableReason } from "./unreadable_jobs.ts";
 *
 * const standIn = { __ppr_unparsable_data__: "job data is not valid JSON (x): {" };
 * assert.equal(unreadableReason(standIn), "job data is not valid JSON (x): {");
 * assert.equal(unreadableReason({ prompt: "hi" }), undefined);
 * ```
 */
export function unreadableReason(data: unknown): string | undefined {
  if (typeof data !== "object" || data === null || !(UNPARSABLE_DATA in data)) return undefined;
  return String((data as Record<string, unknown>)[UNPARSABLE_DATA]);
}
