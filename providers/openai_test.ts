import { strict as assert } from "node:assert";
import { startStubLlm } from "../testing/stub_llm.ts";
import { openAiBatchLine } from "./batch/openai_batch.ts";
import { LlmError } from "./errors.ts";
import {
  callOpenAi,
  chatCompletionParams,
  completionResult,
  DEFAULT_OPENAI_MODEL,
} from "./openai.ts";
import type { LlmRequest } from "./provider.ts";

// The SDK keeps its HTTP connections for the next call of the same client.
const sdk = { sanitizeOps: false, sanitizeResources: false };

/** Every field the direct lane can send: every role, a schema. */
const FULL_REQUEST: Omit<LlmRequest, "signal"> = {
  messages: [
    { role: "system", content: "Be terse." },
    { role: "user", content: "the page text" },
    { role: "assistant", content: "{" },
    { role: "user", content: "go on" },
  ],
  model: "gpt-5-mini",
  temperature: 0,
  maxTokens: 300,
  format: { name: "page", schema: { type: "object" }, strict: true },
  promptCache: true,
};

/** What the direct lane sent for `FULL_REQUEST` before the body was built by a function of its own. */
const FULL_BODY = {
  model: "gpt-5-mini",
  messages: [
    { role: "system", content: "Be terse." },
    { role: "user", content: "the page text" },
    { role: "assistant", content: "{" },
    { role: "user", content: "go on" },
  ],
  temperature: 0,
  max_tokens: 300,
  response_format: {
    type: "json_schema",
    json_schema: { name: "page", schema: { type: "object" }, strict: true },
  },
};

Deno.test({
  name:
    "the direct lane sends the Chat Completions body it always has: every field, and the defaults",
  ...sdk,
  async fn() {
    await using stub = startStubLlm();
    const options = { apiKey: "sk-test", baseUrl: `${stub.url}/v1`, timeoutMs: 30_000 };
    const signal = AbortSignal.timeout(30_000);
    await callOpenAi(options, { ...FULL_REQUEST, signal });
    await callOpenAi(options, {
      messages: [{ role: "user", content: "hi" }],
      format: { schema: { type: "object" } },
      signal,
    });
    assert.deepEqual(stub.requests.map((request) => request.body), [FULL_BODY, {
      model: DEFAULT_OPENAI_MODEL,
      messages: [{ role: "user", content: "hi" }],
      response_format: {
        type: "json_schema",
        json_schema: { name: "output", schema: { type: "object" }, strict: false },
      },
    }]);
  },
});

Deno.test({
  name: "a batch line's body is exactly what the direct lane sends, for every field",
  ...sdk,
  async fn() {
    await using stub = startStubLlm();
    const options = { apiKey: "sk-test", baseUrl: `${stub.url}/v1`, timeoutMs: 30_000 };
    const requests: Omit<LlmRequest, "signal">[] = [
      FULL_REQUEST,
      { ...FULL_REQUEST, format: { schema: { type: "object" } }, temperature: 1.5 },
      { messages: [{ role: "user", content: "hi" }] },
    ];
    for (const request of requests) {
      await callOpenAi(options, { ...request, signal: AbortSignal.timeout(30_000) });
    }
    const sent = stub.requests.map((request) => request.body);
    assert.deepEqual(requests.map(chatCompletionParams), sent);
    assert.deepEqual(
      requests.map((request) => JSON.parse(openAiBatchLine({ customId: "job-1", request })).body),
      sent,
    );
  },
});

Deno.test("completionResult: the first choice's text, the counts with the cache's taken out", () => {
  const result = completionResult({
    choices: [{ message: { content: "{}" }, finish_reason: "stop" }],
    model: "gpt-5-mini",
    usage: {
      prompt_tokens: 1200,
      completion_tokens: 3,
      prompt_tokens_details: { cached_tokens: 1024 },
    },
  });
  assert.deepEqual(result, {
    text: "{}",
    model: "gpt-5-mini",
    provider: "openai",
    usage: {
      input_tokens: 176,
      output_tokens: 3,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 1024,
    },
    stop_reason: "stop",
  });
  assert.equal(
    completionResult({ choices: [{ message: { content: "x" } }] }, "asked").model,
    "asked",
  );
});

Deno.test("completionResult: cut (finish_reason length) or empty is a transient error", () => {
  for (
    const [completion, message] of [
      [{ choices: [{ message: { content: "{" }, finish_reason: "length" }] }, "output truncated"],
      [{ choices: [{ message: { content: "" }, finish_reason: "stop" }] }, "empty answer"],
      [{ choices: [] }, "empty answer"],
    ] as const
  ) {
    assert.throws(
      () => completionResult(completion),
      (error) =>
        error instanceof LlmError && error.kind === "transient" &&
        error.message.includes(message),
    );
  }
});
