import { strict as assert } from "node:assert";
import { startStubAnthropic } from "../testing/stub_anthropic.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { messageBatchRequest } from "./batch/message_batches.ts";
import {
  callClaudeApi,
  DEFAULT_CLAUDE_MODEL,
  DEFAULT_MAX_TOKENS,
  messagesParams,
  messagesResult,
} from "./claude_api.ts";
import { LlmError } from "./errors.ts";
import type { LlmRequest } from "./provider.ts";

// The SDK keeps its HTTP connections for the next call of the same client.
const sdk = { sanitizeOps: false, sanitizeResources: false };

const SYSTEM = "You turn scraped pages into JSON. Answer with the JSON only. ".repeat(20);

function request(promptCache: boolean | undefined, system = SYSTEM): LlmRequest {
  return {
    messages: [
      ...(system ? [{ role: "system" as const, content: system }] : []),
      { role: "user", content: "the page text" },
    ],
    promptCache,
    signal: AbortSignal.timeout(30_000),
  };
}

Deno.test({
  name: "promptCache: the system prompt goes as one block marked cache_control ephemeral; the " +
    "first call writes the cache, the next reads it, and usage says so",
  ...sdk,
  async fn() {
    await using stub = startStubAnthropic();
    const options = { apiKey: "sk-test", baseUrl: stub.url, timeoutMs: 30_000 };
    const first = await callClaudeApi(options, request(true));
    const second = await callClaudeApi(options, request(true));
    const [sent] = stub.messageRequests();
    assert.deepEqual(sent.body?.system, [
      { type: "text", text: SYSTEM, cache_control: { type: "ephemeral" } },
    ]);
    assert.ok(first.usage.cache_creation_input_tokens > 0, JSON.stringify(first.usage));
    assert.equal(first.usage.cache_read_input_tokens, 0);
    assert.equal(second.usage.cache_creation_input_tokens, 0);
    assert.equal(second.usage.cache_read_input_tokens, first.usage.cache_creation_input_tokens);
    assert.equal(second.usage.input_tokens, first.usage.input_tokens);
  },
});

Deno.test({
  name: "without promptCache the system prompt is plain text, nothing is marked, nothing cached",
  ...sdk,
  async fn() {
    await using stub = startStubAnthropic();
    const options = { apiKey: "sk-test", baseUrl: stub.url, timeoutMs: 30_000 };
    for (const promptCache of [undefined, false]) {
      const result = await callClaudeApi(options, request(promptCache));
      assert.equal(result.usage.cache_creation_input_tokens, 0);
      assert.equal(result.usage.cache_read_input_tokens, 0);
    }
    for (const sent of stub.messageRequests()) {
      assert.equal(sent.body?.system, SYSTEM);
      assert.ok(!JSON.stringify(sent.body).includes("cache_control"));
    }
  },
});

Deno.test({
  name: "promptCache without a system prompt sends no system and marks nothing",
  ...sdk,
  async fn() {
    await using stub = startStubAnthropic();
    const options = { apiKey: "sk-test", baseUrl: stub.url, timeoutMs: 30_000 };
    await callClaudeApi(options, request(true, ""));
    const [sent] = stub.messageRequests();
    assert.equal(sent.body?.system, undefined);
    assert.ok(!JSON.stringify(sent.body).includes("cache_control"));
  },
});

/** Every field the direct lane can send: a system prompt cached, both roles, a schema. */
const FULL_REQUEST: Omit<LlmRequest, "signal"> = {
  messages: [
    { role: "system", content: "Be terse." },
    { role: "system", content: "Answer in JSON." },
    { role: "user", content: "the page text" },
    { role: "assistant", content: "{" },
    { role: "user", content: "go on" },
  ],
  model: "claude-haiku-5",
  temperature: 0.2,
  maxTokens: 300,
  format: { name: "page", schema: { type: "object" }, strict: true },
  promptCache: true,
};

/** What the direct lane sent for `FULL_REQUEST` before the params were built by a function of their own. */
const FULL_PARAMS = {
  model: "claude-haiku-5",
  max_tokens: 300,
  temperature: 0.2,
  system: [{
    type: "text",
    text: "Be terse.\n\nAnswer in JSON.",
    cache_control: { type: "ephemeral" },
  }],
  messages: [
    { role: "user", content: "the page text" },
    { role: "assistant", content: "{" },
    { role: "user", content: "go on" },
  ],
  output_config: { format: { type: "json_schema", schema: { type: "object" } } },
};

Deno.test({
  name: "the direct lane sends the Messages params it always has: every field, and the defaults",
  ...sdk,
  async fn() {
    await using stub = startStubLlm();
    const options = { apiKey: "sk-test", baseUrl: stub.url, timeoutMs: 30_000 };
    const signal = AbortSignal.timeout(30_000);
    await callClaudeApi(options, { ...FULL_REQUEST, signal });
    await callClaudeApi(options, { messages: [{ role: "user", content: "hi" }], signal });
    assert.deepEqual(stub.requests.map((request) => request.body), [FULL_PARAMS, {
      model: DEFAULT_CLAUDE_MODEL,
      max_tokens: DEFAULT_MAX_TOKENS,
      messages: [{ role: "user", content: "hi" }],
    }]);
  },
});

Deno.test({
  name: "a batch request's params are exactly what the direct lane sends, for every field",
  ...sdk,
  async fn() {
    await using stub = startStubLlm();
    const options = { apiKey: "sk-test", baseUrl: stub.url, timeoutMs: 30_000 };
    const requests: Omit<LlmRequest, "signal">[] = [
      FULL_REQUEST,
      { ...FULL_REQUEST, promptCache: false, temperature: 0 },
      { messages: [{ role: "user", content: "hi" }] },
    ];
    for (const request of requests) {
      await callClaudeApi(options, { ...request, signal: AbortSignal.timeout(30_000) });
    }
    const sent = stub.requests.map((request) => request.body);
    assert.deepEqual(requests.map(messagesParams), sent);
    assert.deepEqual(
      requests.map((request) => messageBatchRequest({ customId: "job-1", request }).params),
      sent,
    );
  },
});

Deno.test("messagesResult: the text blocks joined, the four counts, the stop reason", () => {
  const result = messagesResult({
    content: [{ type: "thinking" }, { type: "text", text: '{"a":' }, { type: "text", text: "1}" }],
    model: "claude-haiku-5",
    stop_reason: "end_turn",
    usage: {
      input_tokens: 10,
      output_tokens: 4,
      cache_creation_input_tokens: 300,
      cache_read_input_tokens: null,
    },
  });
  assert.deepEqual(result, {
    text: '{"a":1}',
    model: "claude-haiku-5",
    provider: "claude",
    usage: {
      input_tokens: 10,
      output_tokens: 4,
      cache_creation_input_tokens: 300,
      cache_read_input_tokens: 0,
    },
    stop_reason: "end_turn",
  });
});

Deno.test("messagesResult: cut at max_tokens or empty is a transient error, as in the direct lane", () => {
  const truncated = { content: [{ type: "text", text: "{" }], stop_reason: "max_tokens" };
  const said = (call: () => unknown) => {
    try {
      call();
    } catch (error) {
      assert.ok(error instanceof LlmError);
      return `${error.kind}: ${error.message}`;
    }
    assert.fail("no error");
  };
  assert.equal(
    said(() => messagesResult(truncated, { model: "m", max_tokens: 300 })),
    "transient: output truncated at max_tokens (300)",
  );
  // A batch's answer comes without its request: the output count is the limit it hit.
  assert.equal(
    said(() => messagesResult({ ...truncated, usage: { output_tokens: 300 } })),
    "transient: output truncated at max_tokens (300)",
  );
  assert.equal(
    said(() => messagesResult({ content: [{ type: "text", text: " " }], stop_reason: "end_turn" })),
    "transient: the API returned an empty answer",
  );
});
