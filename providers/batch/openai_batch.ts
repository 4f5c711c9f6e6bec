/** The OpenAI-compatible batch client: the Batch API (a JSONL file of Chat Completions requests) through the official SDK. */

import type OpenAI from "openai";
import { TextLineStream } from "../../async/mod.ts";
import { classifyHttp, LlmError } from "../errors.ts";
import {
  type ChatCompletionParams,
  chatCompletionParams,
  type ChatCompletionResponse,
  completionResult,
  openAiClient,
  type OpenAiOptions,
} from "../openai.ts";
import {
  answeredEntry,
  assertBatchFits,
  type BatchClient,
  type BatchEntryResult,
  type BatchLimits,
  type BatchRequest,
  type BatchState,
  type BatchStatus,
  classified,
  utf8Bytes,
} from "./batch.ts";

/**
 * OpenAI's limits per batch: an input file of 50,000 requests and 200 MB (counted here in
 * decimal megabytes, the lower reading).
 */
export const OPENAI_BATCH_LIMITS: BatchLimits = { maxRequests: 50_000, maxBytes: 200_000_000 };

/** The endpoint every request of ppr-worker's batches calls. */
export const OPENAI_BATCH_ENDPOINT = "/v1/chat/completions";

/** One line of a batch's input file. */
export interface OpenAiBatchInputLine {
  custom_id: string;
  method: "POST";
  url: typeof OPENAI_BATCH_ENDPOINT;
  body: ChatCompletionParams;
}

/**
 * The input file's line for `entry` (without its newline): its `body` is exactly what the direct
 * lane sends (`chatCompletionParams`).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { openAiBatchLine } from "./openai_batch.ts";
 *
 * const request = { messages: [{ role: "user" as const, content: "Hi" }] };
 * assert.deepEqual(JSON.parse(openAiBatchLine({ customId: "job-1", request })), {
 *   custom_id: "job-1",
 *   method: "POST",
 *   url: "/v1/chat/completions",
 *   body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] },
 * });
 * ```
 */
export function openAiBatchLine(entry: BatchRequest): string {
  const line: OpenAiBatchInputLine = {
    custom_id: entry.customId,
    method: "POST",
    url: OPENAI_BATCH_ENDPOINT,
    body: chatCompletionParams(entry.request),
  };
  return JSON.stringify(line);
}

/** Bytes `entry` takes in the input file: its line and the newline. */
export function openAiBatchLineBytes(entry: BatchRequest): number {
  return utf8Bytes(openAiBatchLine(entry)) + 1;
}

/** The statuses of an OpenAI batch: the SDK's own. */
export type OpenAiBatchStatusName = OpenAI.Batches.Batch["status"];

/**
 * An OpenAI batch's status as a `BatchState`: `validating`, `in_progress` and `finalizing` are
 * in progress, `cancelling` is canceling, `completed`, `failed` (its input was refused),
 * `expired` and `cancelled` have ended. A status this build does not know counts as in progress,
 * so the batch is polled again rather than read too soon.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { openAiBatchState } from "./openai_batch.ts";
 *
 * assert.equal(openAiBatchState("finalizing"), "in_progress");
 * assert.equal(openAiBatchState("expired"), "ended");
 * ```
 */
export function openAiBatchState(status: string): BatchState {
  switch (status) {
    case "cancelling":
      return "canceling";
    case "completed":
    case "failed":
    case "expired":
    case "cancelled":
      return "ended";
    default:
      return "in_progress";
  }
}

/** An error of a batch's input, found when it was validated (`line` 1-based, when it has one). */
export interface OpenAiBatchError {
  code?: string | null;
  message?: string | null;
  line?: number | null;
}

/** An OpenAI batch, as far as ppr-worker reads it (the SDK's `Batch`; times in epoch seconds). */
export interface OpenAiBatchObject {
  id: string;
  status: OpenAiBatchStatusName | string;
  input_file_id: string;
  output_file_id?: string | null;
  error_file_id?: string | null;
  errors?: { data?: readonly OpenAiBatchError[] | null } | null;
  request_counts?: { total: number; completed: number; failed: number } | null;
  created_at: number;
  expires_at?: number | null;
  completed_at?: number | null;
  failed_at?: number | null;
  expired_at?: number | null;
  cancelled_at?: number | null;
}

/** Epoch seconds in epoch milliseconds; `undefined` for none. */
function epochMs(seconds: number | null | undefined): number | undefined {
  return seconds === null || seconds === undefined ? undefined : seconds * 1000;
}

/**
 * An OpenAI batch as a `BatchStatus`. OpenAI counts only the requests that completed and those
 * that failed: the rest are processing until the batch ends, then expired or canceled as the
 * batch was (errored when it completed or failed without them).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { openAiBatchStatus } from "./openai_batch.ts";
 *
 * const status = openAiBatchStatus({
 *   id: "batch_1",
 *   status: "expired",
 *   input_file_id: "file-in",
 *   request_counts: { total: 10, completed: 6, failed: 1 },
 *   created_at: 1_767_225_600,
 *   expired_at: 1_767_312_000,
 * });
 * assert.deepEqual(status.counts, { processing: 0, succeeded: 6, errored: 1, canceled: 0, expired: 3 });
 * assert.equal(status.endedAt, 1_767_312_000_000);
 * ```
 */
export function openAiBatchStatus(batch: OpenAiBatchObject): BatchStatus {
  const state = openAiBatchState(batch.status);
  const { total = 0, completed = 0, failed = 0 } = batch.request_counts ?? {};
  const rest = Math.max(0, total - completed - failed);
  const restAs = state !== "ended"
    ? "processing"
    : batch.status === "expired"
    ? "expired"
    : batch.status === "cancelled"
    ? "canceled"
    : "errored";
  const counts = { processing: 0, succeeded: completed, errored: failed, canceled: 0, expired: 0 };
  counts[restAs] += rest;
  const endedAt = state === "ended"
    ? epochMs(batch.completed_at ?? batch.failed_at ?? batch.expired_at ?? batch.cancelled_at)
    : undefined;
  const expiresAt = epochMs(batch.expires_at);
  return {
    id: batch.id,
    state,
    providerStatus: batch.status,
    counts,
    createdAt: epochMs(batch.created_at) ?? 0,
    ...(endedAt !== undefined ? { endedAt } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  };
}

/** The error of a Chat Completions response: the body of a non-2xx answer. */
interface ApiErrorBody {
  error?: { message?: string | null; type?: string | null; code?: string | null } | null;
}

/** One line of a batch's output or error file. */
export interface OpenAiBatchOutputLine {
  custom_id: string;
  /** The HTTP answer to the request, when it was made: a completion, or an error body. */
  response?: { status_code?: number | null; body?: unknown } | null;
  /** Why the request was not answered (`batch_expired`, `batch_cancelled`, `request_timeout`). */
  error?: { code?: string | null; message?: string | null } | null;
}

/** The request-level error codes that mean the request never ran. */
const NOT_RUN: Readonly<Record<string, "expired" | "canceled">> = {
  batch_expired: "expired",
  batch_cancelled: "canceled",
};

/**
 * One line of a batch's output or error file as a `BatchEntryResult`: a 2xx completion goes
 * through the direct lane's own mapping (`completionResult`: truncated or empty is errored,
 * transient); another status is classified by status, type and code, as the same answer to a
 * direct call would be; `batch_expired` and `batch_cancelled` are expired and canceled.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { openAiBatchEntry } from "./openai_batch.ts";
 *
 * const entry = openAiBatchEntry({
 *   custom_id: "job-1",
 *   response: {
 *     status_code: 429,
 *     body: { error: { message: "You exceeded your current quota", code: "insufficient_quota" } },
 *   },
 * });
 * assert.equal(entry.outcome === "errored" && entry.error.kind, "billing");
 * assert.equal(
 *   openAiBatchEntry({ custom_id: "job-2", error: { code: "batch_expired" } }).outcome,
 *   "expired",
 * );
 * ```
 */
export function openAiBatchEntry(line: OpenAiBatchOutputLine): BatchEntryResult {
  const customId = line.custom_id;
  const status = line.response?.status_code ?? undefined;
  if (line.response && status !== undefined && status >= 200 && status < 300) {
    const body = line.response.body as ChatCompletionResponse;
    return answeredEntry(customId, () => completionResult(body ?? {}));
  }
  const notRun = NOT_RUN[line.error?.code ?? ""];
  if (notRun) return { customId, outcome: notRun };
  if (line.response) {
    const error = (line.response.body as ApiErrorBody | null)?.error;
    const codes = [error?.type, error?.code].filter((code): code is string => !!code);
    return {
      customId,
      outcome: "errored",
      error: classifyHttp(status, error?.message ?? `status ${status}`, undefined, codes),
    };
  }
  if (line.error) {
    const { code, message } = line.error;
    const error = classifyHttp(undefined, message ?? code ?? "no message", undefined, [code ?? ""]);
    return { customId, outcome: "errored", error };
  }
  const error = new LlmError("transient", "the batch reported neither a response nor an error");
  return { customId, outcome: "errored", error };
}

/**
 * The entry of a request that is in neither the output nor the error file of its ended batch,
 * from the batch's end: expired or canceled with the batch; errored when the batch `failed` (its
 * input was refused: with the error of its own line, `invalid`, else with the batch's errors,
 * else as transient, for it was refused only for the others' sake); errored, transient, when a
 * completed batch left it out.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { unreportedEntry } from "./openai_batch.ts";
 *
 * const failed = {
 *   id: "batch_1",
 *   status: "failed",
 *   input_file_id: "file-in",
 *   created_at: 0,
 *   errors: { data: [{ code: "invalid_json_line", message: "not valid JSON", line: 2 }] },
 * };
 * const second = unreportedEntry("job-2", 2, failed);
 * assert.equal(second.outcome === "errored" && second.error.kind, "invalid");
 * const first = unreportedEntry("job-1", 1, failed);
 * assert.equal(first.outcome === "errored" && first.error.kind, "transient");
 * ```
 */
export function unreportedEntry(
  customId: string,
  lineNumber: number,
  batch: OpenAiBatchObject,
): BatchEntryResult {
  if (batch.status === "expired") return { customId, outcome: "expired" };
  if (batch.status === "cancelled") return { customId, outcome: "canceled" };
  if (batch.status !== "failed") {
    const error = new LlmError("transient", `batch ${batch.id} ended without a result for it`);
    return { customId, outcome: "errored", error };
  }
  const errors = batch.errors?.data ?? [];
  const said = (error: OpenAiBatchError) =>
    `${error.line ? `line ${error.line}: ` : ""}${error.message ?? error.code ?? "no message"}`;
  const codesOf = (found: readonly OpenAiBatchError[]) =>
    found.map((error) => error.code).filter((code): code is string => !!code);
  const own = errors.filter((error) => error.line === lineNumber);
  if (own.length > 0) {
    const message = `batch ${batch.id} refused it: ${own.map(said).join("; ")}`;
    return {
      customId,
      outcome: "errored",
      error: classifyHttp(400, message, undefined, codesOf(own)),
    };
  }
  const whole = errors.filter((error) => !error.line);
  if (whole.length > 0) {
    const message = `batch ${batch.id} failed: ${whole.map(said).join("; ")}`;
    return {
      customId,
      outcome: "errored",
      error: classifyHttp(undefined, message, undefined, codesOf(whole)),
    };
  }
  const others = errors.length > 0 ? `: ${errors.slice(0, 3).map(said).join("; ")}` : "";
  const error = new LlmError("transient", `batch ${batch.id} failed for other requests${others}`);
  return { customId, outcome: "errored", error };
}

/**
 * The lines of a JSONL file of the Files API, parsed as they arrive, with their 1-based numbers
 * (blank lines are skipped but counted). A line that is no JSON is a transient error that names
 * the file and the line.
 */
async function* jsonLines<T>(
  openai: OpenAI,
  fileId: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<{ lineNumber: number; value: T }> {
  const response = await classified(signal, () => openai.files.content(fileId, { signal }));
  if (!response.body) return;
  const lines = response.body.pipeThrough(new TextDecoderStream())
    .pipeThrough(new TextLineStream()).getReader();
  try {
    for (let lineNumber = 1;; lineNumber++) {
      const next = await classified(signal, () => lines.read());
      if (next.done) return;
      if (next.value.trim() === "") continue;
      let value: T;
      try {
        value = JSON.parse(next.value);
      } catch (error) {
        throw new LlmError(
          "transient",
          `Cannot read line ${lineNumber} of file ${fileId} as JSON: ${(error as Error).message}`,
        );
      }
      yield { lineNumber, value };
    }
  } finally {
    // A caller that stops early closes the download.
    await lines.cancel().catch(() => {});
  }
}

/**
 * The OpenAI-compatible batch client, with the direct lane's SDK client (the same key and URL).
 * A server without the Batch API (many local ones) answers `create` with a 404: an `invalid`
 * error that says so.
 */
export function openAiBatchClient(options: OpenAiOptions): BatchClient {
  /** Runs `call` with the SDK client, its failure classified. */
  const sdk = <T>(signal: AbortSignal | undefined, call: (openai: OpenAI) => Promise<T>) =>
    classified(signal, async () => call(await openAiClient(options)));
  const client: BatchClient = {
    limits: OPENAI_BATCH_LIMITS,
    requestBytes: openAiBatchLineBytes,
    async create(requests, signal) {
      assertBatchFits(requests, client);
      const lines = requests.map((entry) => `${openAiBatchLine(entry)}\n`);
      const file = new File(lines, "ppr-worker-batch.jsonl", { type: "application/jsonl" });
      const batch = await sdk(signal, async (openai) => {
        try {
          const uploaded = await openai.files.create({ file, purpose: "batch" }, { signal });
          return await openai.batches.create({
            input_file_id: uploaded.id,
            endpoint: OPENAI_BATCH_ENDPOINT,
            completion_window: "24h",
          }, { signal });
        } catch (error) {
          if ((error as { status?: unknown }).status !== 404) throw error;
          const url = options.baseUrl ?? "the SDK's default URL";
          throw new LlmError(
            "invalid",
            `the server at ${url} has no Batch API (/v1/files or /v1/batches answered 404)`,
          );
        }
      });
      return openAiBatchStatus(batch);
    },
    retrieve: async (id, signal) =>
      openAiBatchStatus(await sdk(signal, (openai) => openai.batches.retrieve(id, { signal }))),
    cancel: async (id, signal) =>
      openAiBatchStatus(await sdk(signal, (openai) => openai.batches.cancel(id, { signal }))),
    async list({ limit } = {}, signal) {
      const page = await sdk(signal, (openai) => openai.batches.list({ limit }, { signal }));
      return page.data.map(openAiBatchStatus);
    },
    async *results(id, signal) {
      const openai = await openAiClient(options);
      const batch = await classified(signal, () => openai.batches.retrieve(id, { signal }));
      if (openAiBatchState(batch.status) !== "ended") {
        throw new LlmError(
          "transient",
          `Cannot read the results of batch ${id} as it has not ended: its status is ${batch.status}`,
        );
      }
      const reported = new Set<string>();
      for (const fileId of [batch.output_file_id, batch.error_file_id]) {
        if (!fileId) continue;
        for await (const { value } of jsonLines<OpenAiBatchOutputLine>(openai, fileId, signal)) {
          const entry = openAiBatchEntry(value);
          reported.add(entry.customId);
          yield entry;
        }
      }
      const total = batch.request_counts?.total;
      if (batch.status !== "failed" && total !== undefined && reported.size >= total) return;
      // The input names every request: those the files left out get what the batch's end implies.
      const input = jsonLines<{ custom_id: string }>(openai, batch.input_file_id, signal);
      for await (const { lineNumber, value } of input) {
        if (!reported.has(value.custom_id)) {
          yield unreportedEntry(value.custom_id, lineNumber, batch);
        }
      }
    },
  };
  return client;
}
