/** What a provider's batch API takes and returns: the interface every batch-capable provider implements. */

import { classifySdkError, LlmError } from "../errors.ts";
import type { LlmRequest, ProviderResult } from "../provider.ts";

/** One request of a batch: the call the direct lane would make, under an id of the caller's. */
export interface BatchRequest {
  /**
   * Matches the request's result to it (results come back in any order): unique in its batch,
   * 1 to 64 letters, digits, `_` or `-` ({@link CUSTOM_ID_PATTERN}).
   */
  customId: string;
  request: Omit<LlmRequest, "signal">;
}

/**
 * Where a batch stands, in the words both APIs share:
 * - `in_progress`: its requests are being run (OpenAI's `validating` and `finalizing` too);
 * - `canceling`: a cancel was asked for; requests already running may still succeed;
 * - `ended`: every request succeeded, errored, was canceled or expired: its results can be read.
 */
export type BatchState = "in_progress" | "canceling" | "ended";

/** A batch's requests by outcome; they add up to its number of requests. */
export interface BatchCounts {
  processing: number;
  succeeded: number;
  errored: number;
  canceled: number;
  expired: number;
}

/** A batch as the provider reports it. */
export interface BatchStatus {
  id: string;
  state: BatchState;
  /**
   * The provider's own word for the state, for operators: Anthropic's `processing_status`,
   * OpenAI's `status` (`validating`, `finalizing`, `failed`, `expired`, ...).
   */
  providerStatus: string;
  /**
   * The provider's tallies, for display: Anthropic counts the outcomes only once the batch has
   * ended; OpenAI counts only what succeeded and what failed, so the rest of an expired or a
   * canceled batch counts as expired or canceled. Only {@link BatchClient.results} is exact.
   */
  counts: BatchCounts;
  /** Epoch milliseconds. */
  createdAt: number;
  /** When it ended, in epoch milliseconds. */
  endedAt?: number;
  /** When its unfinished requests expire (24 h after it was created), in epoch milliseconds. */
  expiresAt?: number;
}

/** What became of one request of an ended batch. */
export type BatchEntryResult =
  | { customId: string; outcome: "succeeded"; result: ProviderResult }
  /** Failed, or answered in a way the direct lane would refuse too (truncated, empty). */
  | { customId: string; outcome: "errored"; error: LlmError }
  /** The batch was canceled, or expired, before the request ran. */
  | { customId: string; outcome: "canceled" | "expired" };

/** How much one batch may hold. */
export interface BatchLimits {
  maxRequests: number;
  /** Of the request body (Anthropic) or the uploaded file (OpenAI), in bytes. */
  maxBytes: number;
}

/**
 * A provider's batch API. Every method throws an `LlmError` that names its failure class, as a
 * call of the direct lane does, and stops when `signal` aborts.
 */
export interface BatchClient {
  /** The provider's limits per batch: Anthropic's 100,000 requests or 256 MB, OpenAI's 50,000 or 200 MB. */
  limits: BatchLimits;
  /**
   * Submits `requests` as one batch; throws a `RangeError` or a `TypeError`, before anything is
   * sent, when they break a limit or a rule of custom ids (see {@link assertBatchFits}).
   */
  create(requests: readonly BatchRequest[], signal?: AbortSignal): Promise<BatchStatus>;
  retrieve(id: string, signal?: AbortSignal): Promise<BatchStatus>;
  /**
   * The results of an ended batch, streamed (a batch may hold 100,000): exactly one entry per
   * request, in any order. A request the provider reports nothing for (OpenAI's, in an expired,
   * canceled or failed batch) gets the entry its batch's end implies. Throws a transient
   * `LlmError` when the batch has not ended.
   */
  results(id: string, signal?: AbortSignal): AsyncIterable<BatchEntryResult>;
  /** Asks the provider to cancel the batch; it is `canceling` until what runs has finished. */
  cancel(id: string, signal?: AbortSignal): Promise<BatchStatus>;
  /**
   * The most recent batches of the account (or workspace), newest first; `limit` (the API's
   * default 20) caps them.
   */
  list(options?: { limit?: number }, signal?: AbortSignal): Promise<BatchStatus[]>;
  /** Bytes `request` takes in the batch's body or file, separator included, for `maxBytes`. */
  requestBytes(request: BatchRequest): number;
}

/** What a custom id may be: Anthropic's rule, which OpenAI's ids meet too. */
export const CUSTOM_ID_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

const encoder = new TextEncoder();

/**
 * The UTF-8 length of `text`: what it takes in a request body.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { utf8Bytes } from "./batch.ts";
 *
 * assert.equal(utf8Bytes("né"), 3);
 * ```
 */
export function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}

/**
 * Throws when `requests` cannot be one batch of `client`: none, more than `limits.maxRequests`,
 * more than `limits.maxBytes`, or a custom id that breaks {@link CUSTOM_ID_PATTERN} or is there
 * twice. The caller should never get here (it sizes batches with `requestBytes`); the provider
 * would refuse the whole batch.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { assertBatchFits } from "./batch.ts";
 *
 * const client = { limits: { maxRequests: 1, maxBytes: 1000 }, requestBytes: () => 100 };
 * const request = { messages: [{ role: "user" as const, content: "Hi" }] };
 * assert.throws(
 *   () => assertBatchFits([{ customId: "a", request }, { customId: "b", request }], client),
 *   /Cannot create a batch as it holds more than 1 requests: current value is 2/,
 * );
 * ```
 */
export function assertBatchFits(
  requests: readonly BatchRequest[],
  client: Pick<BatchClient, "limits" | "requestBytes">,
): void {
  const { maxRequests, maxBytes } = client.limits;
  if (requests.length === 0) {
    throw new RangeError("Cannot create a batch as it holds no request: current value is 0");
  }
  if (requests.length > maxRequests) {
    throw new RangeError(
      `Cannot create a batch as it holds more than ${maxRequests} requests: current value is ${requests.length}`,
    );
  }
  const seen = new Set<string>();
  let bytes = 0;
  for (const { customId, request } of requests) {
    if (!CUSTOM_ID_PATTERN.test(customId)) {
      throw new TypeError(
        `Cannot create a batch as a custom id must be 1 to 64 letters, digits, '_' or '-': current value is '${customId}'`,
      );
    }
    if (seen.has(customId)) {
      throw new TypeError(
        `Cannot create a batch as a custom id must be unique in it: '${customId}' is there twice`,
      );
    }
    seen.add(customId);
    bytes += client.requestBytes({ customId, request });
  }
  if (bytes > maxBytes) {
    throw new RangeError(
      `Cannot create a batch as it takes more than ${maxBytes} bytes: current value is ${bytes}`,
    );
  }
}

/**
 * Runs an SDK call of a batch API: its failure as an `LlmError` of the right class (see
 * `classifySdkError`), the abort of `signal` as it is.
 */
export async function classified<T>(
  signal: AbortSignal | undefined,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (signal?.aborted) throw error;
    throw classifySdkError(error);
  }
}

/**
 * The entry of a request that succeeded as far as the provider is concerned, mapped by `toResult`
 * (the direct lane's own mapping): errored when that refuses the answer (truncated, empty).
 */
export function answeredEntry(customId: string, toResult: () => ProviderResult): BatchEntryResult {
  try {
    return { customId, outcome: "succeeded", result: toResult() };
  } catch (error) {
    if (!(error instanceof LlmError)) throw error;
    return { customId, outcome: "errored", error };
  }
}

/**
 * A batch client whose every call fails with `error`: for a provider that has a batch API but not
 * what it needs in this configuration (a key), so the lane reports why, as the direct lane does.
 * `sizing` is the real client's limits and `requestBytes`, which need no call.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { unavailableBatchClient } from "./batch.ts";
 * import { LlmError } from "../errors.ts";
 *
 * const client = unavailableBatchClient(new LlmError("invalid", "no key"), {
 *   limits: { maxRequests: 10, maxBytes: 1000 },
 *   requestBytes: () => 100,
 * });
 * await assert.rejects(client.retrieve("batch_1"), /no key/);
 * ```
 */
export function unavailableBatchClient(
  error: LlmError,
  sizing: Pick<BatchClient, "limits" | "requestBytes">,
): BatchClient {
  const fail = () => Promise.reject(error);
  return {
    ...sizing,
    create: fail,
    retrieve: fail,
    cancel: fail,
    list: fail,
    results: () => ({ [Symbol.asyncIterator]: () => ({ next: fail }) }),
  };
}
