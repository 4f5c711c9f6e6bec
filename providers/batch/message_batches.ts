/** The Claude API's batch client: the Message Batches API through the official SDK, with the direct lane's params. */

import type Anthropic from "@anthropic-ai/sdk";
import {
  anthropicClient,
  type ClaudeApiOptions,
  type MessagesParams,
  messagesParams,
  type MessagesResponse,
  messagesResult,
} from "../claude_api.ts";
import { classifyHttp, LlmError } from "../errors.ts";
import {
  answeredEntry,
  assertBatchFits,
  type BatchClient,
  type BatchEntryResult,
  type BatchLimits,
  type BatchRequest,
  type BatchStatus,
  classified,
  utf8Bytes,
} from "./batch.ts";

/**
 * Anthropic's limits per batch: 100,000 requests, 256 MB of request body (counted here in
 * decimal megabytes, the lower reading).
 */
export const MESSAGE_BATCH_LIMITS: BatchLimits = { maxRequests: 100_000, maxBytes: 256_000_000 };

/** The SDK's Message Batches resource. */
type Batches = Anthropic["messages"]["batches"];

/** One request of a Message Batch, as the API takes it. */
export interface MessageBatchRequest {
  custom_id: string;
  params: MessagesParams;
}

/**
 * The request of a batch for `entry`: its params are exactly what the direct lane sends
 * (`messagesParams`), prompt caching included.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { messageBatchRequest } from "./message_batches.ts";
 *
 * const request = { messages: [{ role: "user" as const, content: "Hi" }], maxTokens: 10 };
 * assert.deepEqual(messageBatchRequest({ customId: "job-1", request }), {
 *   custom_id: "job-1",
 *   params: { model: "claude-sonnet-5-5", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] },
 * });
 * ```
 */
export function messageBatchRequest(entry: BatchRequest): MessageBatchRequest {
  return { custom_id: entry.customId, params: messagesParams(entry.request) };
}

/**
 * Bytes `entry` takes in the create request's body: its JSON and the comma after it.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { messageBatchRequest, messageBatchRequestBytes } from "./message_batches.ts";
 *
 * const entry = { customId: "job-1", request: { messages: [{ role: "user" as const, content: "Hi" }] } };
 * assert.equal(messageBatchRequestBytes(entry), JSON.stringify(messageBatchRequest(entry)).length + 1);
 * ```
 */
export function messageBatchRequestBytes(entry: BatchRequest): number {
  return utf8Bytes(JSON.stringify(messageBatchRequest(entry))) + 1;
}

/** A Message Batch, as far as ppr-worker reads it (the SDK's `MessageBatch`). */
export interface MessageBatchObject {
  id: string;
  processing_status: "in_progress" | "canceling" | "ended";
  request_counts: BatchStatus["counts"];
  /** RFC 3339. */
  created_at: string;
  ended_at?: string | null;
  expires_at?: string | null;
}

/** An RFC 3339 time in epoch milliseconds; `undefined` for none. */
function epochMs(time: string | null | undefined): number | undefined {
  if (!time) return undefined;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * A Message Batch as a `BatchStatus`: its `processing_status` is the state, word for word.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { messageBatchStatus } from "./message_batches.ts";
 *
 * const status = messageBatchStatus({
 *   id: "msgbatch_1",
 *   processing_status: "canceling",
 *   request_counts: { processing: 2, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
 *   created_at: "2026-01-01T00:00:00Z",
 *   ended_at: null,
 *   expires_at: "2026-01-02T00:00:00Z",
 * });
 * assert.equal(status.state, "canceling");
 * assert.equal(status.expiresAt, Date.UTC(2026, 0, 2));
 * ```
 */
export function messageBatchStatus(batch: MessageBatchObject): BatchStatus {
  const { processing, succeeded, errored, canceled, expired } = batch.request_counts;
  const endedAt = epochMs(batch.ended_at);
  const expiresAt = epochMs(batch.expires_at);
  return {
    id: batch.id,
    state: batch.processing_status,
    providerStatus: batch.processing_status,
    counts: { processing, succeeded, errored, canceled, expired },
    createdAt: epochMs(batch.created_at) ?? 0,
    ...(endedAt !== undefined ? { endedAt } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  };
}

/**
 * The HTTP status each error type of the Claude API comes with (its errors page): an errored
 * request of a batch carries the type only, and `classifyHttp` reads statuses.
 */
const STATUS_OF_ERROR_TYPE: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** The error of an errored request: the API's error response, or (older docs) its error object. */
interface MessageBatchError {
  type?: string;
  message?: string;
  details?: { error_code?: string } | null;
  error?: { type?: string; message?: string; details?: { error_code?: string } | null };
}

/** One line of a Message Batch's results (the SDK's `MessageBatchIndividualResponse`). */
export interface MessageBatchResultLine {
  custom_id: string;
  result:
    | { type: "succeeded"; message: MessagesResponse }
    | { type: "errored"; error: MessageBatchError }
    | { type: "canceled" | "expired" };
}

/**
 * One line of a batch's results as a `BatchEntryResult`: a succeeded message goes through the
 * direct lane's own mapping (`messagesResult`: truncated or empty is errored, transient); an
 * errored request is classified by its error type, as the same error of a direct call would be.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { messageBatchEntry } from "./message_batches.ts";
 *
 * const entry = messageBatchEntry({
 *   custom_id: "job-1",
 *   result: {
 *     type: "errored",
 *     error: { type: "error", error: { type: "invalid_request_error", message: "bad schema" } },
 *   },
 * });
 * assert.equal(entry.outcome === "errored" && entry.error.kind, "invalid");
 * ```
 */
export function messageBatchEntry(line: MessageBatchResultLine): BatchEntryResult {
  const customId = line.custom_id;
  const result = line.result;
  switch (result.type) {
    case "succeeded":
      return answeredEntry(customId, () => messagesResult(result.message));
    case "errored": {
      const inner = result.error.error ?? result.error;
      const type = inner.type ?? "api_error";
      const codes = [type, inner.details?.error_code].filter((code): code is string => !!code);
      const error = classifyHttp(
        STATUS_OF_ERROR_TYPE[type],
        inner.message ?? type,
        undefined,
        codes,
      );
      return { customId, outcome: "errored", error };
    }
    case "canceled":
    case "expired":
      return { customId, outcome: result.type };
    default: {
      const unknown = (result as { type?: unknown }).type;
      const error = new LlmError("transient", `unknown result type '${unknown}' in the batch`);
      return { customId, outcome: "errored", error };
    }
  }
}

/** The Claude API's batch client, with the direct lane's SDK client (the same key and URL). */
export function messageBatchesClient(options: ClaudeApiOptions): BatchClient {
  /** Runs `call` with the SDK's batches, its failure classified. */
  const sdk = <T>(signal: AbortSignal | undefined, call: (batches: Batches) => Promise<T>) =>
    classified(signal, async () => call((await anthropicClient(options)).messages.batches));
  const client: BatchClient = {
    limits: MESSAGE_BATCH_LIMITS,
    requestBytes: messageBatchRequestBytes,
    async create(requests, signal) {
      assertBatchFits(requests, client);
      const params = { requests: requests.map(messageBatchRequest) };
      return messageBatchStatus(await sdk(signal, (batches) => batches.create(params, { signal })));
    },
    retrieve: async (id, signal) =>
      messageBatchStatus(await sdk(signal, (batches) => batches.retrieve(id, {}, { signal }))),
    cancel: async (id, signal) =>
      messageBatchStatus(await sdk(signal, (batches) => batches.cancel(id, {}, { signal }))),
    async list({ limit } = {}, signal) {
      const page = await sdk(signal, (batches) => batches.list({ limit }, { signal }));
      return page.data.map(messageBatchStatus);
    },
    async *results(id, signal) {
      // The SDK reads the batch first, and refuses when it has no results yet.
      const lines = await sdk(signal, (batches) => batches.results(id, {}, { signal }));
      const iterator = lines[Symbol.asyncIterator]();
      try {
        while (true) {
          const next = await classified(signal, () => iterator.next());
          if (next.done) return;
          yield messageBatchEntry(next.value);
        }
      } finally {
        // A caller that stops early closes the download.
        await iterator.return?.();
      }
    },
  };
  return client;
}
