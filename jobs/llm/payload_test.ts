import { strict as assert } from "node:assert";
import { MAX_PROMPT_CHARS, messagesOf, parsePayload } from "./payload.ts";

function errorOf(data: unknown): string {
  const result = parsePayload(data);
  assert.equal(result.ok, false);
  return result.ok ? "" : result.error;
}

Deno.test("a string prompt is one user message", () => {
  const result = parsePayload({ prompt: "hi", metadata: { scraper_id: "s1" } });
  assert.ok(result.ok);
  assert.deepEqual(messagesOf(result.job), [{ role: "user", content: "hi" }]);
  assert.deepEqual(result.job.metadata, { scraper_id: "s1" });
});

Deno.test("a message list is taken as it is", () => {
  const prompt = [{ role: "system", content: "be terse" }, { role: "user", content: "hi" }];
  const result = parsePayload({ prompt });
  assert.ok(result.ok);
  assert.deepEqual(messagesOf(result.job), prompt);
});

Deno.test("invalid payloads name the field", () => {
  assert.match(errorOf({}), /prompt: /);
  assert.match(errorOf(null), /data: /);
  assert.match(errorOf({ prompt: "" }), /prompt: /);
  assert.match(errorOf({ prompt: 42 }), /prompt: must be a string or a list/);
  assert.match(errorOf({ prompt: [{ role: "robot", content: "x" }] }), /prompt/);
  assert.match(
    errorOf({ prompt: "x", provider: { name: "gpt" } }),
    /provider\.name: must be one of/,
  );
  assert.match(errorOf({ prompt: "x", provider: { temperature: 5 } }), /provider\.temperature/);
  assert.match(errorOf({ prompt: "x", provider: { max_tokens: 1.5 } }), /provider\.max_tokens/);
});

Deno.test("a prompt over the size limit is refused with its size", () => {
  assert.match(errorOf({ prompt: "x".repeat(MAX_PROMPT_CHARS + 1) }), /over the limit/);
});
