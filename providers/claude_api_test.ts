import { strict as assert } from "node:assert";
import { startStubAnthropic } from "../testing/stub_anthropic.ts";
import { callClaudeApi } from "./claude_api.ts";
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
