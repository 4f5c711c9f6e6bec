import { strict as assert } from "node:assert";
import type { LlmRequest } from "../provider.ts";
import { utf8Bytes } from "./batch.ts";
import {
  OPENAI_BATCH_LIMITS,
  openAiBatchClient,
  openAiBatchEntry,
  openAiBatchLine,
  openAiBatchLineBytes,
  type OpenAiBatchObject,
  type OpenAiBatchOutputLine,
  openAiBatchState,
  openAiBatchStatus,
  unreportedEntry,
} from "./openai_batch.ts";

const request: Omit<LlmRequest, "signal"> = {
  messages: [{ role: "system", content: "Réponds en JSON." }, { role: "user", content: "page ✓" }],
  maxTokens: 200,
};

Deno.test("openAiBatchLine: custom_id, POST, the endpoint and the direct lane's body", () => {
  const line = JSON.parse(openAiBatchLine({ customId: "job-1", request }));
  assert.deepEqual(Object.keys(line), ["custom_id", "method", "url", "body"]);
  assert.deepEqual([line.custom_id, line.method, line.url], [
    "job-1",
    "POST",
    "/v1/chat/completions",
  ]);
  assert.ok(!openAiBatchLine({ customId: "job-1", request }).includes("\n"));
});

Deno.test("requestBytes: the lines' bytes add up to the input file's, UTF-8 counted", () => {
  const entries = ["job-1", "job-2", "job-3"].map((customId) => ({ customId, request }));
  const file = entries.map((entry) => `${openAiBatchLine(entry)}\n`).join("");
  assert.equal(
    entries.map(openAiBatchLineBytes).reduce((sum, bytes) => sum + bytes, 0),
    utf8Bytes(file),
  );
  assert.ok(utf8Bytes(file) > file.length, "é and ✓ take more bytes than characters");
  assert.equal(openAiBatchClient({ apiKey: "k", timeoutMs: 1 }).limits, OPENAI_BATCH_LIMITS);
  assert.deepEqual(OPENAI_BATCH_LIMITS, { maxRequests: 50_000, maxBytes: 200_000_000 });
});

Deno.test("openAiBatchState: every status OpenAI documents, and one it does not", () => {
  const states = Object.fromEntries(
    [
      "validating",
      "in_progress",
      "finalizing",
      "cancelling",
      "completed",
      "failed",
      "expired",
      "cancelled",
      "paused",
    ].map((status) => [status, openAiBatchState(status)]),
  );
  assert.deepEqual(states, {
    validating: "in_progress",
    in_progress: "in_progress",
    finalizing: "in_progress",
    cancelling: "canceling",
    completed: "ended",
    failed: "ended",
    expired: "ended",
    cancelled: "ended",
    // Unknown: polled again, never read too soon.
    paused: "in_progress",
  });
});

const base: OpenAiBatchObject = {
  id: "batch_1",
  status: "in_progress",
  input_file_id: "file-in",
  request_counts: { total: 10, completed: 6, failed: 1 },
  created_at: 1_767_225_600,
  expires_at: 1_767_312_000,
};

Deno.test("openAiBatchStatus: the requests not counted are processing, then as the batch ended", () => {
  const countsWhen = (status: string) => openAiBatchStatus({ ...base, status }).counts;
  assert.deepEqual(countsWhen("in_progress"), {
    processing: 3,
    succeeded: 6,
    errored: 1,
    canceled: 0,
    expired: 0,
  });
  assert.equal(countsWhen("cancelling").processing, 3);
  assert.equal(countsWhen("expired").expired, 3);
  assert.equal(countsWhen("cancelled").canceled, 3);
  assert.equal(countsWhen("completed").errored, 4);
  assert.deepEqual(
    openAiBatchStatus({ ...base, status: "failed", request_counts: null }).counts,
    { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
  );
});

Deno.test("openAiBatchStatus: seconds become milliseconds; the end is whichever end it had", () => {
  assert.deepEqual(openAiBatchStatus(base), {
    id: "batch_1",
    state: "in_progress",
    providerStatus: "in_progress",
    counts: { processing: 3, succeeded: 6, errored: 1, canceled: 0, expired: 0 },
    createdAt: 1_767_225_600_000,
    expiresAt: 1_767_312_000_000,
  });
  for (
    const [status, field] of [["completed", "completed_at"], ["failed", "failed_at"], [
      "expired",
      "expired_at",
    ], ["cancelled", "cancelled_at"]]
  ) {
    const ended = openAiBatchStatus({ ...base, status, [field]: 1_767_230_000 });
    assert.equal(ended.endedAt, 1_767_230_000_000, status);
  }
});

/** The entry's failure class and message, or its outcome when it is no error. */
function said(line: OpenAiBatchOutputLine): string {
  const entry = openAiBatchEntry(line);
  assert.equal(entry.customId, line.custom_id);
  return entry.outcome === "errored"
    ? `${entry.error.kind}: ${entry.error.message}`
    : entry.outcome;
}

const completion = (content: string, finish_reason = "stop") => ({
  id: "chatcmpl-1",
  object: "chat.completion",
  model: "gpt-4o-mini-2024-07-18",
  choices: [{ index: 0, message: { role: "assistant", content }, finish_reason }],
  usage: { prompt_tokens: 50, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 32 } },
});

Deno.test("openAiBatchEntry: a 200 answer as the direct lane maps it, the cache's tokens apart", () => {
  const entry = openAiBatchEntry({
    custom_id: "job-1",
    response: { status_code: 200, body: completion("{}") },
    error: null,
  });
  assert.deepEqual(entry, {
    customId: "job-1",
    outcome: "succeeded",
    result: {
      text: "{}",
      model: "gpt-4o-mini-2024-07-18",
      provider: "openai",
      usage: {
        input_tokens: 18,
        output_tokens: 5,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 32,
      },
      stop_reason: "stop",
    },
  });
});

Deno.test("openAiBatchEntry: a truncated or empty 200 answer is errored, transient", () => {
  const ok = (body: unknown) => ({ custom_id: "job-1", response: { status_code: 200, body } });
  assert.equal(
    said(ok(completion("{", "length"))),
    "transient: output truncated (finish_reason length)",
  );
  assert.equal(said(ok(completion(""))), "transient: the API returned an empty answer");
});

Deno.test("openAiBatchEntry: another status is classified by status, type and code", () => {
  const answered = (status_code: number, message: string, type?: string, code?: string) => ({
    custom_id: "job-1",
    response: { status_code, body: { error: { message, type, code } } },
    error: null,
  });
  const cases: [OpenAiBatchOutputLine, string][] = [
    [answered(400, "Invalid schema", "invalid_request_error"), "invalid: HTTP 400: Invalid schema"],
    [answered(401, "Incorrect API key"), "auth: HTTP 401: Incorrect API key"],
    [answered(404, "The model does not exist"), "invalid: HTTP 404: The model does not exist"],
    [answered(429, "Rate limit reached", "requests"), "quota: HTTP 429: Rate limit reached"],
    [
      answered(429, "You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
      "billing: HTTP 429: You exceeded your current quota",
    ],
    [answered(500, "The server had an error"), "transient: HTTP 500: The server had an error"],
    [answered(503, "Overloaded"), "overloaded: HTTP 503: Overloaded"],
    [
      { custom_id: "job-1", response: { status_code: 502, body: "Bad gateway" } },
      "transient: HTTP 502: status 502",
    ],
  ];
  for (const [line, expected] of cases) assert.equal(said(line), expected);
});

Deno.test("openAiBatchEntry: batch_expired and batch_cancelled never ran; other errors classified", () => {
  const failed = (code: string, message: string) => ({
    custom_id: "job-1",
    response: null,
    error: { code, message },
  });
  assert.equal(said(failed("batch_expired", "not run in the window")), "expired");
  assert.equal(said(failed("batch_cancelled", "the batch was cancelled")), "canceled");
  assert.equal(
    said(failed("request_timeout", "The model timed out")),
    "transient: The model timed out",
  );
  assert.equal(
    said({ custom_id: "job-1", response: null, error: null }),
    "transient: the batch reported neither a response nor an error",
  );
});

Deno.test("unreportedEntry: a request in neither file gets what its batch's end implies", () => {
  const of = (status: string, errors?: OpenAiBatchObject["errors"], line = 1) => {
    const entry = unreportedEntry("job-1", line, { ...base, status, errors });
    assert.equal(entry.customId, "job-1");
    return entry.outcome === "errored"
      ? `${entry.error.kind}: ${entry.error.message}`
      : entry.outcome;
  };
  assert.equal(of("expired"), "expired");
  assert.equal(of("cancelled"), "canceled");
  assert.equal(of("completed"), "transient: batch batch_1 ended without a result for it");
  const refused = {
    data: [
      { code: "invalid_json_line", message: "This line is not parseable as valid JSON.", line: 2 },
      { code: "duplicate_custom_id", message: "The custom_id is a duplicate.", line: 3 },
    ],
  };
  assert.equal(
    of("failed", refused, 2),
    "invalid: HTTP 400: batch batch_1 refused it: line 2: This line is not parseable as valid JSON.",
  );
  assert.equal(
    of("failed", refused, 1),
    "transient: batch batch_1 failed for other requests: line 2: This line is not parseable as " +
      "valid JSON.; line 3: The custom_id is a duplicate.",
  );
  // The Batch API's own queue limit, not the account's: retried, no pause of the provider.
  assert.equal(
    of("failed", {
      data: [{
        code: "token_limit_exceeded",
        message: "Enqueued token limit reached for gpt-4o in organization org-1.",
      }],
    }),
    "transient: batch batch_1 failed: Enqueued token limit reached for gpt-4o in organization org-1.",
  );
  assert.equal(of("failed", null), "transient: batch batch_1 failed for other requests");
});
