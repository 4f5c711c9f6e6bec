/** A stub of Anthropic's Message Batches API on 127.0.0.1, in the API's documented shapes, for the official SDK. */

import type Anthropic from "@anthropic-ai/sdk";
import { contentText, type MessagesBody, systemTextOf } from "./stub_anthropic.ts";
import {
  heldJsonLines,
  holdUntil,
  listLimit,
  listPage,
  serveStub,
  StubApiError,
  type StubHttpRequest,
  type StubResultsHold,
} from "./stub_batch_server.ts";
import {
  answerText,
  cutAt,
  type Cutoff,
  entryDoneAt,
  type EntryOutcome,
  entryOutcome,
  type EntryResult,
  entryResult,
  stubId,
  tokensOf,
  userTextOf,
  wallTimeOf,
  WINDOW_MS,
} from "./stub_batch_entry.ts";

type MessageBatch = Anthropic.Messages.MessageBatch;

/** One request of a batch, as `POST /v1/messages/batches` takes it. */
export interface BatchRequest {
  custom_id: string;
  params: MessagesBody;
}

/** A Messages API answer in a `succeeded` result: the fields the stub fills in. */
export interface StubBatchMessage {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: { type: "text"; text: string }[];
  stop_reason: "end_turn";
  stop_sequence: null;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_creation_input_tokens: number;
    cache_read_input_tokens: number;
    service_tier: "batch";
  };
}

/** One line of a batch's results (`.jsonl`). */
export interface BatchResultLine {
  custom_id: string;
  result:
    | { type: "succeeded"; message: StubBatchMessage }
    | { type: "errored"; error: AnthropicErrorBody }
    | { type: "canceled" }
    | { type: "expired" };
}

/** The API's error body (its "standard error shape"), also each `errored` result's `error`. */
export interface AnthropicErrorBody {
  type: "error";
  error: { type: string; message: string };
  request_id: string;
}

/** A batch as the stub holds it, for a test to inspect. */
export interface StubMessageBatch {
  /** The batch as `GET /v1/messages/batches/{id}` would report it now. */
  batch: MessageBatch;
  /** The requests it was created with. */
  requests: BatchRequest[];
  /** Its results as its `results_url` serves them, once it has ended; before, `[]`. */
  results: BatchResultLine[];
}

/** Options of {@link startStubMessageBatches}. */
export interface StubMessageBatchesOptions {
  /**
   * How long a batch is `in_progress`: its requests are done one after another over this time
   * (see {@link entryDoneAt}) and it ends with the last one: a batch that takes hours, compressed.
   * @default {0}
   */
  processingMs?: number;
  /** How long a canceled batch is `canceling` before it ends. @default {0} */
  cancelingMs?: number;
  /**
   * Every batch expires: none of its requests is run, and after `processingMs` it ends with all
   * of them `expired`, as a batch does that the API could not process within 24 hours.
   * @default {false}
   */
  expireBatches?: boolean;
  /** The clock batches progress by (a test's fake clock). @default {performance} */
  clock?: { now(): number };
  /** The most requests a batch may hold (the API's limit; a test may lower it). @default {100000} */
  maxRequests?: number;
  /** The largest create request in bytes (the API's 256 MB; a test may lower it). @default {268435456} */
  maxBytes?: number;
  /**
   * Holds the answer to each create that makes a batch (`POST /v1/messages/batches`): the batch
   * exists at once (listed, retrievable, in {@link StubMessageBatches.batches}), but the response
   * is sent only when the promise this returns (called once the batch exists) settles, so that a
   * test can kill a submitter after the API accepted its batch but before it heard so. A refused
   * create is answered at once. Disposing the stub stops the waiting (and closes the connection
   * unanswered).
   */
  holdCreated?: () => Promise<void>;
  /**
   * Holds each results download (`GET /v1/messages/batches/{id}/results`) part-way: its first
   * `afterLines` lines are sent at once, the rest and the body's end when `until()` settles
   * (see {@link StubResultsHold}). Disposing the stub breaks a held download off.
   */
  holdResults?: StubResultsHold;
}

/** The stub server. Dispose it (`await using`) to stop it. */
export interface StubMessageBatches extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`: the SDK's `baseURL`. */
  url: string;
  /** Every HTTP request received, in order of arrival. */
  requests: StubHttpRequest[];
  /** Every batch created, oldest first, as it stands now. */
  batches(): StubMessageBatch[];
  /**
   * Makes a batch expire now, as one does that its 24 hours run out on: it ends, its requests
   * done so far keep their results and the others are `expired`. Throws if it has ended.
   */
  expire(batchId: string): void;
}

/**
 * The settings that point ppr-worker's Claude API at the stub at `url` (with a test key).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { claudeApiEnv } from "./stub_message_batches.ts";
 *
 * assert.equal(claudeApiEnv("http://127.0.0.1:1").LLM_PROVIDER, "claude");
 * ```
 */
export function claudeApiEnv(url: string): Record<string, string> {
  return { LLM_PROVIDER: "claude", ANTHROPIC_API_KEY: "sk-ant-test", ANTHROPIC_BASE_URL: url };
}

/** The API's `custom_id` pattern (its reference: 1 to 64 letters, digits, `_` and `-`). */
const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;

/** A batch as the stub keeps it; what it reports is derived from this and the clock. */
interface BatchRecord {
  id: string;
  createdMs: number;
  requests: BatchRequest[];
  outcomes: EntryOutcome[];
  /** When it ends: processing done, canceling done, or expired. */
  endMs: number;
  cutoff: Cutoff | undefined;
  cancelInitiatedMs: number | undefined;
}

/** An error of the API: its status, and its error body with `type` and `message`. */
const apiError = (status: number, type: string, message: string) =>
  new StubApiError(status, errorBody(type, message));

const invalid = (message: string) => apiError(400, "invalid_request_error", message);

/** Why a request's `params` would be refused, as the API finds out only while processing. */
function paramsProblem(params: MessagesBody): string | undefined {
  if (typeof params.model !== "string" || params.model === "") {
    return "params.model: Field required";
  }
  const maxTokens = params.max_tokens;
  if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < 1) {
    return "params.max_tokens: must be an integer of at least 1 in a batch";
  }
  if (!Array.isArray(params.messages) || params.messages.length === 0) {
    return "params.messages: Field required";
  }
  if (params.stream === true) return "params.stream: streaming is not supported in a batch";
  return undefined;
}

/** The requests of a create body, validated as the API does when the batch is created. */
function parseRequests(body: unknown, maxRequests: number): BatchRequest[] {
  const requests = (body as { requests?: unknown } | null)?.requests;
  if (!Array.isArray(requests)) throw invalid("requests: Field required");
  if (requests.length === 0) throw invalid("requests: at least 1 request is required");
  if (requests.length > maxRequests) {
    throw invalid(
      `requests: a Message Batch holds at most ${maxRequests} requests: this one has ` +
        `${requests.length}`,
    );
  }
  const seen = new Set<string>();
  requests.forEach((request, index) => {
    const customId = request?.custom_id;
    if (typeof customId !== "string" || !CUSTOM_ID.test(customId)) {
      throw invalid(
        `requests.${index}.custom_id: must match ${CUSTOM_ID.source}: current value is ` +
          JSON.stringify(customId ?? null),
      );
    }
    if (seen.has(customId)) {
      throw invalid(
        `requests.${index}.custom_id: "${customId}" is used by more than one request: ` +
          "each custom_id must be unique within the Message Batch",
      );
    }
    seen.add(customId);
    const params = request.params;
    if (params === null || typeof params !== "object" || Array.isArray(params)) {
      throw invalid(`requests.${index}.params: Field required`);
    }
  });
  return requests as BatchRequest[];
}

/**
 * Starts the stub on 127.0.0.1, on a free port: `POST /v1/messages/batches` (create),
 * `GET /v1/messages/batches` (list, newest first, paged by `before_id`/`after_id`/`limit`),
 * `GET /v1/messages/batches/{id}` (retrieve), `POST /v1/messages/batches/{id}/cancel` and
 * `GET /v1/messages/batches/{id}/results` (the `results_url` of an ended batch, JSON Lines),
 * with the API's error body (`{type: "error", error: {type, message}, request_id}`) on errors.
 *
 * A create is refused (400 `invalid_request_error`) without requests, with more than 100,000, with a
 * `custom_id` not of the API's pattern or used twice, or without `params`; a body over 256 MB
 * is refused 413 `request_too_large`. As the API validates each request's `params` only while
 * processing, one without `model`, `messages` or a `max_tokens` of at least 1 (or with `stream`)
 * ends `errored` (`invalid_request_error`). Markers in a request's user text choose its end
 * ({@link entryOutcome}); the others succeed with a message in the Messages API's shape
 * (text `stub: <user text>`, or JSON text when `output_config.format` asks for a `json_schema`,
 * see {@link answerText}).
 *
 * The response to a create shows the batch `in_progress`, to a cancel `canceling`, as the API's
 * do; from then on what the stub reports follows the clock: see {@link StubMessageBatchesOptions}.
 * A crash test can hold the response to a create, or a results download part-way, until it lets
 * them go: see {@link StubMessageBatchesOptions.holdCreated} and `holdResults`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import Anthropic from "@anthropic-ai/sdk";
 * import { startStubMessageBatches } from "./stub_message_batches.ts";
 *
 * await using stub = startStubMessageBatches();
 * const anthropic = new Anthropic({ apiKey: "x", baseURL: stub.url, maxRetries: 0 });
 * const created = await anthropic.messages.batches.create({
 *   requests: [{
 *     custom_id: "a",
 *     params: { model: "claude-stub", max_tokens: 64, messages: [{ role: "user", content: "hi" }] },
 *   }],
 * });
 * assert.equal((await anthropic.messages.batches.retrieve(created.id)).processing_status, "ended");
 * for await (const line of await anthropic.messages.batches.results(created.id)) {
 *   assert.equal(line.result.type, "succeeded");
 * }
 * ```
 */
export function startStubMessageBatches(
  options: StubMessageBatchesOptions = {},
): StubMessageBatches {
  const {
    processingMs = 0,
    cancelingMs = 0,
    expireBatches = false,
    clock = performance,
    maxRequests = 100_000,
    maxBytes = 256 * 1024 * 1024,
    holdCreated,
    holdResults,
  } = options;
  const wallTime = wallTimeOf(clock);
  const iso = (clockMs: number) => new Date(wallTime(clockMs)).toISOString();
  const records: BatchRecord[] = [];

  const findRecord = (id: string): BatchRecord => {
    const record = records.find((candidate) => candidate.id === id);
    if (!record) throw apiError(404, "not_found_error", `stub: no Message Batch ${id}`);
    return record;
  };

  /** What each request came to; meaningful once the batch has ended. */
  const resultsOf = (record: BatchRecord): EntryResult[] =>
    record.outcomes.map((outcome, index) =>
      entryResult(
        outcome,
        entryDoneAt(record.createdMs, processingMs, index, record.outcomes.length),
        record.cutoff,
      )
    );

  /**
   * The batch as the API reports it at `atMs`. `entered`: the response to the create or cancel
   * that just put it in its state, which no processing time has passed since.
   */
  const view = (record: BatchRecord, atMs: number, entered = false): MessageBatch => {
    const ended = !entered && atMs >= record.endMs;
    const counts = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 };
    // As the API documents: every request is `processing` until the whole batch has ended.
    if (ended) resultsOf(record).forEach((result) => counts[result.type]++);
    else counts.processing = record.requests.length;
    return {
      id: record.id,
      type: "message_batch",
      processing_status: ended
        ? "ended"
        : record.cancelInitiatedMs !== undefined
        ? "canceling"
        : "in_progress",
      request_counts: counts,
      ended_at: ended ? iso(record.endMs) : null,
      created_at: iso(record.createdMs),
      expires_at: iso(record.createdMs + WINDOW_MS),
      archived_at: null,
      cancel_initiated_at: record.cancelInitiatedMs === undefined
        ? null
        : iso(record.cancelInitiatedMs),
      results_url: ended ? `${url}/v1/messages/batches/${record.id}/results` : null,
    };
  };

  const messageOf = (record: BatchRecord, index: number): StubBatchMessage => {
    const params = record.requests[index].params;
    const userText = userTextOf(params);
    const text = answerText(userText, params.output_config?.format?.type === "json_schema");
    // Counted as the Messages stub counts the same request: an absent system prompt adds nothing.
    const system = systemTextOf(params);
    const input = [
      ...(system ? [system] : []),
      ...params.messages!.map((m) => contentText(m.content)),
    ];
    return {
      id: `msg_${record.id.slice("msgbatch_".length)}_${index}`,
      type: "message",
      role: "assistant",
      model: params.model!,
      content: [{ type: "text", text }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: {
        input_tokens: tokensOf(input.join("\n")),
        output_tokens: tokensOf(text),
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        service_tier: "batch",
      },
    };
  };

  /** The results file: one line a request, in reverse order (the API promises no order). */
  const resultLines = (record: BatchRecord): BatchResultLine[] =>
    resultsOf(record).map((result, index): BatchResultLine => {
      const custom_id = record.requests[index].custom_id;
      if (result.type === "succeeded") {
        return { custom_id, result: { type: "succeeded", message: messageOf(record, index) } };
      }
      if (result.type === "errored") {
        const type = result.status === 400 ? "invalid_request_error" : "api_error";
        return {
          custom_id,
          result: { type: "errored", error: errorBody(type, result.message) },
        };
      }
      return { custom_id, result: { type: result.type } };
    }).reverse();

  const create = (body: unknown): MessageBatch => {
    const batchRequests = parseRequests(body, maxRequests);
    const createdMs = clock.now();
    const record: BatchRecord = {
      id: stubId("msgbatch_"),
      createdMs,
      requests: batchRequests,
      outcomes: batchRequests.map((request) =>
        entryOutcome(userTextOf(request.params), paramsProblem(request.params))
      ),
      endMs: createdMs + processingMs,
      cutoff: expireBatches ? { atMs: -Infinity, as: "expired" } : undefined,
      cancelInitiatedMs: undefined,
    };
    records.push(record);
    return view(record, createdMs, true);
  };

  const cancel = (record: BatchRecord): MessageBatch => {
    const now = clock.now();
    if (now >= record.endMs) {
      throw invalid(`stub: Message Batch ${record.id} has ended: it can no longer be canceled`);
    }
    if (record.cancelInitiatedMs !== undefined) return view(record, now);
    record.cancelInitiatedMs = now;
    record.cutoff = cutAt(record.cutoff, now, "canceled");
    record.endMs = now + cancelingMs;
    return view(record, now, true);
  };

  const list = (query: URLSearchParams) => {
    const limit = listLimit(query, 1000);
    if (limit === undefined) {
      throw invalid(
        `limit: must be an integer from 1 to 1000: current value is ${query.get("limit")}`,
      );
    }
    const beforeId = query.get("before_id");
    const afterId = query.get("after_id");
    if (beforeId !== null && afterId !== null) {
      throw invalid("stub: give before_id or after_id, not both");
    }
    const found = listPage(records.toReversed(), { beforeId, afterId }, limit);
    if (!found) throw invalid(`stub: no Message Batch ${beforeId ?? afterId} to page from`);
    const now = clock.now();
    return {
      data: found.page.map((record) => view(record, now)),
      has_more: found.hasMore,
      first_id: found.page[0]?.id ?? null,
      last_id: found.page.at(-1)?.id ?? null,
    };
  };

  const route = async (request: Request, entry: StubHttpRequest, disposing: AbortSignal) => {
    const { method } = request;
    const { pathname: path, searchParams: query } = new URL(request.url);
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.length > maxBytes) {
      throw apiError(
        413,
        "request_too_large",
        `stub: the request is ${bytes.length} bytes: a Message Batch may be at most ${maxBytes} bytes`,
      );
    }
    if (bytes.length > 0) {
      try {
        entry.body = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        throw invalid("stub: the request body is not JSON");
      }
    }
    const [, id, action] = /^\/v1\/messages\/batches(?:\/([^/]+)(?:\/([^/]+))?)?$/.exec(path) ??
      [];
    if (path === "/v1/messages/batches" && method === "POST") {
      const created = create(entry.body);
      if (holdCreated) await holdUntil(holdCreated, disposing);
      return Response.json(created);
    }
    if (path === "/v1/messages/batches" && method === "GET") return Response.json(list(query));
    if (id !== undefined && action === undefined && method === "GET") {
      return Response.json(view(findRecord(id), clock.now()));
    }
    if (id !== undefined && action === "cancel" && method === "POST") {
      return Response.json(cancel(findRecord(id)));
    }
    if (id !== undefined && action === "results" && method === "GET") {
      const record = findRecord(id);
      if (clock.now() < record.endMs) {
        throw invalid(`stub: Message Batch ${id} has not ended: its results are not ready`);
      }
      const lines = resultLines(record).map((line) => JSON.stringify(line));
      const body = holdResults
        ? heldJsonLines(lines, holdResults, disposing)
        : lines.map((line) => line + "\n").join("");
      // What the SDK asks for (`Accept: application/binary`): it reads the body as JSON Lines.
      return new Response(body, { headers: { "content-type": "application/binary" } });
    }
    throw apiError(404, "not_found_error", `stub: no route ${method} ${path}`);
  };

  const server = serveStub(route, "request-id");
  // Known once the server listens; `view` reads it only when answering, so after that.
  const url = server.url;

  return {
    url,
    requests: server.requests,
    batches: () => {
      const now = clock.now();
      return records.map((record) => ({
        batch: view(record, now),
        requests: record.requests,
        results: now >= record.endMs ? resultLines(record) : [],
      }));
    },
    expire(batchId) {
      const record = records.find((candidate) => candidate.id === batchId);
      if (!record) throw new Error(`stub: no Message Batch ${batchId} to expire`);
      const now = clock.now();
      if (now >= record.endMs) throw new Error(`stub: Message Batch ${batchId} has already ended`);
      record.cutoff = cutAt(record.cutoff, now, "expired");
      record.endMs = now;
    },
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}

/** The API's error body, with a request id as the API's carry. */
function errorBody(type: string, message: string): AnthropicErrorBody {
  return { type: "error", error: { type, message }, request_id: stubId("req_") };
}
