import { strict as assert } from "node:assert";
import type { LlmRequest } from "../provider.ts";
import { utf8Bytes } from "./batch.ts";
import {
  MESSAGE_BATCH_LIMITS,
  messageBatchEntry,
  messageBatchesClient,
  messageBatchRequest,
  messageBatchRequestBytes,
  type MessageBatchResultLine,
  messageBatchStatus,
} from "./message_batches.ts";

const request: Omit<LlmRequest, "signal"> = {
  messages: [{ role: "system", content: "Réponds en JSON." }, { role: "user", content: "page ✓" }],
  format: { schema: { type: "object" } },
  promptCache: true,
};

Deno.test("requestBytes: the requests' bytes add up to the create body's, UTF-8 counted", () => {
  const entries = ["job-1", "job-2", "job-3"].map((customId) => ({ customId, request }));
  const body = JSON.stringify({ requests: entries.map(messageBatchRequest) });
  const envelope = utf8Bytes('{"requests":[]}');
  const commas = entries.length - 1;
  assert.equal(
    entries.map(messageBatchRequestBytes).reduce((sum, bytes) => sum + bytes, 0),
    utf8Bytes(body) - envelope - commas + entries.length,
  );
  // "é" and "✓" take more bytes than characters.
  assert.ok(
    messageBatchRequestBytes(entries[0]) >
      JSON.stringify(messageBatchRequest(entries[0])).length + 1,
  );
  assert.equal(messageBatchesClient({ apiKey: "k", timeoutMs: 1 }).limits, MESSAGE_BATCH_LIMITS);
  assert.deepEqual(MESSAGE_BATCH_LIMITS, { maxRequests: 100_000, maxBytes: 256_000_000 });
});

const counts = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 };

Deno.test("messageBatchStatus: the processing status is the state; the counts and times as given", () => {
  for (const status of ["in_progress", "canceling", "ended"] as const) {
    assert.equal(
      messageBatchStatus({
        id: "msgbatch_1",
        processing_status: status,
        request_counts: counts,
        created_at: "2026-01-01T00:00:00Z",
      }).state,
      status,
    );
  }
  assert.deepEqual(
    messageBatchStatus({
      id: "msgbatch_2",
      processing_status: "ended",
      request_counts: { processing: 0, succeeded: 5, errored: 2, canceled: 1, expired: 3 },
      created_at: "2026-01-01T00:00:00Z",
      ended_at: "2026-01-01T00:40:00.5Z",
      expires_at: "2026-01-02T00:00:00Z",
    }),
    {
      id: "msgbatch_2",
      state: "ended",
      providerStatus: "ended",
      counts: { processing: 0, succeeded: 5, errored: 2, canceled: 1, expired: 3 },
      createdAt: Date.UTC(2026, 0, 1),
      endedAt: Date.UTC(2026, 0, 1, 0, 40, 0, 500),
      expiresAt: Date.UTC(2026, 0, 2),
    },
  );
});

Deno.test("messageBatchEntry: a succeeded message as the direct lane maps it, four counts", () => {
  const entry = messageBatchEntry({
    custom_id: "job-1",
    result: {
      type: "succeeded",
      message: {
        content: [{ type: "text", text: '{"ok":true}' }],
        model: "claude-haiku-5",
        stop_reason: "end_turn",
        usage: {
          input_tokens: 20,
          output_tokens: 6,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 900,
        },
      },
    },
  });
  assert.deepEqual(entry, {
    customId: "job-1",
    outcome: "succeeded",
    result: {
      text: '{"ok":true}',
      model: "claude-haiku-5",
      provider: "claude",
      usage: {
        input_tokens: 20,
        output_tokens: 6,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 900,
      },
      stop_reason: "end_turn",
    },
  });
});

/** The entry's failure class and message, or its outcome when it is no error. */
function said(line: MessageBatchResultLine): string {
  const entry = messageBatchEntry(line);
  assert.equal(entry.customId, line.custom_id);
  return entry.outcome === "errored"
    ? `${entry.error.kind}: ${entry.error.message}`
    : entry.outcome;
}

Deno.test("messageBatchEntry: a truncated or empty answer is errored, transient", () => {
  const succeeded = (stop_reason: string, text: string): MessageBatchResultLine => ({
    custom_id: "job-1",
    result: {
      type: "succeeded",
      message: { content: [{ type: "text", text }], stop_reason, usage: { output_tokens: 64 } },
    },
  });
  assert.equal(
    said(succeeded("max_tokens", "{")),
    "transient: output truncated at max_tokens (64)",
  );
  assert.equal(said(succeeded("end_turn", "")), "transient: the API returned an empty answer");
});

Deno.test("messageBatchEntry: an errored request is classified by its type, as a direct call's error", () => {
  const errored = (type: string, message: string, errorCode?: string): MessageBatchResultLine => ({
    custom_id: "job-1",
    result: {
      type: "errored",
      error: {
        type: "error",
        error: { type, message, ...(errorCode ? { details: { error_code: errorCode } } : {}) },
      },
    },
  });
  const cases: [MessageBatchResultLine, string][] = [
    [errored("invalid_request_error", "bad schema"), "invalid: HTTP 400: bad schema"],
    [errored("authentication_error", "invalid x-api-key"), "auth: HTTP 401: invalid x-api-key"],
    [errored("permission_error", "no access"), "auth: HTTP 403: no access"],
    [errored("billing_error", "low balance"), "billing: HTTP 402: low balance"],
    [errored("not_found_error", "no such model"), "invalid: HTTP 404: no such model"],
    [errored("request_too_large", "too big"), "invalid: HTTP 413: too big"],
    [errored("rate_limit_error", "slow down"), "quota: HTTP 429: slow down"],
    [
      errored("rate_limit_error", "monthly cap", "enforced_spend_limit_reached"),
      "billing: HTTP 429: monthly cap",
    ],
    [
      errored("invalid_request_error", "You have reached your specified API usage limits"),
      "billing: HTTP 400: You have reached your specified API usage limits",
    ],
    [errored("api_error", "internal"), "transient: HTTP 500: internal"],
    [errored("timeout_error", "timed out"), "transient: HTTP 504: timed out"],
    [errored("overloaded_error", "Overloaded"), "overloaded: HTTP 529: Overloaded"],
    [errored("some_new_error", "what"), "transient: what"],
    // The shape of the older docs: the error object itself, without its envelope.
    [
      {
        custom_id: "job-1",
        result: { type: "errored", error: { type: "invalid_request_error", message: "bad" } },
      },
      "invalid: HTTP 400: bad",
    ],
  ];
  for (const [line, expected] of cases) assert.equal(said(line), expected);
});

Deno.test("messageBatchEntry: canceled and expired as they are; an unknown type errored, transient", () => {
  assert.equal(said({ custom_id: "job-1", result: { type: "canceled" } }), "canceled");
  assert.equal(said({ custom_id: "job-1", result: { type: "expired" } }), "expired");
  assert.equal(
    said({ custom_id: "job-1", result: { type: "deferred" } } as unknown as MessageBatchResultLine),
    "transient: unknown result type 'deferred' in the batch",
  );
});
