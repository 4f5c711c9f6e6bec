import { strict as assert } from "node:assert";
import { parseConfig } from "../../config/config.ts";
import { LlmError } from "../errors.ts";
import { CONFIG_SCHEMA, providerNamed } from "../registry.ts";
import {
  answeredEntry,
  assertBatchFits,
  type BatchRequest,
  CUSTOM_ID_PATTERN,
  unavailableBatchClient,
} from "./batch.ts";

const request = { messages: [{ role: "user" as const, content: "Hi" }] };
const entries = (...ids: string[]): BatchRequest[] =>
  ids.map((customId) => ({ customId, request }));
/** A client of 3 requests or 300 bytes, each request 100 bytes. */
const small = { limits: { maxRequests: 3, maxBytes: 300 }, requestBytes: () => 100 };

Deno.test("assertBatchFits: a batch at its limits fits, not 1 request or 1 byte more", () => {
  assertBatchFits(entries("a", "b", "c"), small);
  assert.throws(
    () => assertBatchFits(entries("a", "b", "c", "d"), small),
    /Cannot create a batch as it holds more than 3 requests: current value is 4/,
  );
  const oneByteMore = (entry: BatchRequest) => entry.customId === "c" ? 101 : 100;
  assert.throws(
    () => assertBatchFits(entries("a", "b", "c"), { ...small, requestBytes: oneByteMore }),
    /Cannot create a batch as it takes more than 300 bytes: current value is 301/,
  );
  assert.throws(() => assertBatchFits([], small), /it holds no request/);
});

Deno.test("assertBatchFits: custom ids are 1 to 64 of [a-zA-Z0-9_-], each once", () => {
  assertBatchFits(entries("job_1-A", "x".repeat(64)), small);
  for (const bad of ["", "x".repeat(65), "queue:42", "job 1", "é"]) {
    assert.equal(CUSTOM_ID_PATTERN.test(bad), false, bad);
    assert.throws(
      () => assertBatchFits(entries(bad), small),
      (error) => error instanceof TypeError && error.message.includes(`current value is '${bad}'`),
    );
  }
  assert.throws(
    () => assertBatchFits(entries("a", "b", "a"), small),
    /a custom id must be unique in it: 'a' is there twice/,
  );
});

Deno.test("answeredEntry: an answer the direct lane refuses is errored; a bug still throws", () => {
  const refused = answeredEntry("job-1", () => {
    throw new LlmError("transient", "the API returned an empty answer");
  });
  assert.equal(refused.outcome, "errored");
  assert.throws(() =>
    answeredEntry("job-1", () => {
      throw new TypeError("a bug");
    }), /a bug/);
});

Deno.test("unavailableBatchClient: sizes requests, and every call fails with its error", async () => {
  const client = unavailableBatchClient(new LlmError("invalid", "needs a key"), small);
  assert.equal(client.requestBytes(entries("a")[0]), 100);
  for (
    const call of [
      client.create(entries("a")),
      client.retrieve("b"),
      client.cancel("b"),
      client.list(),
      Array.fromAsync(client.results("b")),
    ]
  ) {
    await assert.rejects(call, (error) => error instanceof LlmError && error.kind === "invalid");
  }
});

/** The `batch` hook of the provider `name` with `env` as its environment. */
function batchOf(name: string, env: Record<string, string> = {}) {
  const result = parseConfig({}, { LLM_PROVIDER: name, ...env }, CONFIG_SCHEMA);
  if (!result.ok) throw new Error(result.errors.join("\n"));
  return providerNamed(name)!.batch?.({ config: result.config, subprocessEnv: {} });
}

Deno.test("batch hook: claude in API mode and openai have a batch API; the CLI and echo none", async () => {
  assert.equal(batchOf("claude"), undefined, "the Claude CLI has none");
  assert.equal(batchOf("claude", { ANTHROPIC_API_KEY: "sk-ant" })?.limits.maxRequests, 100_000);
  assert.equal(batchOf("openai", { OPENAI_API_KEY: "sk" })?.limits.maxRequests, 50_000);
  assert.equal(batchOf("echo"), undefined);
  // Without its key, openai's batch API is there but says what it needs, as a direct call does.
  const keyless = batchOf("openai");
  assert.equal(keyless?.limits.maxRequests, 50_000);
  await assert.rejects(keyless!.list(), /needs OPENAI_API_KEY/);
});
