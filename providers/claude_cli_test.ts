import { strict as assert } from "node:assert";
import { claudeArgs, claudeStdin, parseCliOutput } from "./claude_cli.ts";
import { LlmError } from "./errors.ts";

Deno.test("the prompt never goes into argv; tools off, no session, JSON out", () => {
  const args = claudeArgs({ messages: [{ role: "user", content: "secret page text" }] });
  assert.deepEqual(args, [
    "-p",
    "--output-format",
    "json",
    "--tools",
    "",
    "--no-session-persistence",
  ]);
  assert.ok(!args.join(" ").includes("secret"));
});

Deno.test("model, system prompt and JSON schema become flags", () => {
  const args = claudeArgs({
    model: "claude-haiku-4-5",
    format: { schema: { type: "object" } },
    messages: [{ role: "system", content: "be terse" }, { role: "user", content: "x" }],
  });
  assert.deepEqual(args.slice(6), [
    "--model",
    "claude-haiku-4-5",
    "--system-prompt",
    "be terse",
    "--json-schema",
    '{"type":"object"}',
  ]);
});

Deno.test("stdin: the user message, or the labelled conversation", () => {
  assert.equal(
    claudeStdin([{ role: "system", content: "s" }, { role: "user", content: "hi" }]),
    "hi",
  );
  assert.equal(
    claudeStdin([
      { role: "user", content: "a" },
      { role: "assistant", content: "b" },
      { role: "user", content: "c" },
    ]),
    "User: a\n\nAssistant: b\n\nUser: c",
  );
});

function failureOf(output: { code: number; stdout: string; stderr: string }): LlmError {
  try {
    parseCliOutput(output, undefined, 1_700_000_000_000);
  } catch (error) {
    assert.ok(error instanceof LlmError);
    return error;
  }
  throw new Error("expected a failure");
}

// The real CLI's logged-out answer (claude 2.1.332, `claude -p --output-format json`).
const REAL_LOGGED_OUT =
  '{"duration_api_ms":0,"stop_reason":"stop_sequence","total_cost_usd":0,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0},"modelUsage":{},"terminal_reason":"api_error","is_error":true,"num_turns":1,"subtype":"success","api_error_status":null,"result":"Not logged in · Please run /login","type":"result"}';

Deno.test("success: text, usage (cache reads count as input), model", () => {
  const result = parseCliOutput({
    code: 0,
    stderr: "",
    stdout:
      '{"type":"result","is_error":false,"result":"hello","stop_reason":"end_turn","usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":3},"modelUsage":{"claude-x":{}}}',
  }, undefined);
  assert.deepEqual(result, {
    text: "hello",
    parsed: undefined,
    model: "claude-x",
    provider: "claude",
    usage: { input_tokens: 15, output_tokens: 3 },
    stop_reason: "end_turn",
  });
});

Deno.test("structured_output is taken as the parsed answer", () => {
  const result = parseCliOutput({
    code: 0,
    stderr: "",
    stdout: '{"is_error":false,"result":"","structured_output":{"a":1},"usage":{}}',
  }, "m");
  assert.deepEqual(result.parsed, { a: 1 });
  assert.equal(result.text, '{"a":1}');
});

Deno.test("logged out (the real CLI's output) is auth", () => {
  const failure = failureOf({ code: 1, stdout: REAL_LOGGED_OUT, stderr: "" });
  assert.equal(failure.kind, "auth");
  assert.match(failure.message, /Not logged in/);
  assert.equal(
    failureOf({ code: 1, stdout: "", stderr: "Invalid API key · Fix external API key" }).kind,
    "auth",
  );
});

Deno.test("usage limits are quota, with the reset time when the CLI gives one", () => {
  const withReset = failureOf({
    code: 1,
    stderr: "",
    stdout: '{"is_error":true,"result":"Claude AI usage limit reached|1700000060"}',
  });
  assert.equal(withReset.kind, "quota");
  assert.equal(withReset.retryAfterMs, 60_000);
  const without = failureOf({
    code: 1,
    stderr: "",
    stdout: '{"is_error":true,"result":"Claude AI usage limit reached"}',
  });
  assert.equal(without.kind, "quota");
  assert.equal(without.retryAfterMs, undefined);
  assert.equal(
    failureOf({
      code: 1,
      stderr: "",
      stdout: '{"is_error":true,"result":"x","api_error_status":429}',
    }).kind,
    "quota",
  );
});

Deno.test("garbage, empty and truncated output are transient", () => {
  assert.equal(failureOf({ code: 2, stdout: "Segmentation fault", stderr: "" }).kind, "transient");
  assert.equal(
    failureOf({ code: 0, stdout: '{"is_error":false,"result":"  "}', stderr: "" }).kind,
    "transient",
  );
  const truncated = failureOf({
    code: 0,
    stdout: '{"is_error":false,"result":"abc","stop_reason":"max_tokens"}',
    stderr: "",
  });
  assert.equal(truncated.kind, "transient");
  assert.match(truncated.message, /truncated/);
  assert.match(
    failureOf({ code: 1, stdout: "", stderr: "error: unknown option '--tools'" }).message,
    /refused its arguments/,
  );
});
