import { strict as assert } from "node:assert";
import { type CliResult, parseCliOutput, resultOf, SERVER_RATE_LIMIT_PAUSE_MS } from "./result.ts";
import { LlmError } from "../errors.ts";

// The fields ppr-worker reads of the real CLI's results (claude 2.1.332 against a stub API,
// CLAUDE_CODE_MAX_RETRIES=0, `--output-format json`).
const ERROR = { type: "result", subtype: "success", is_error: true, stop_reason: "stop_sequence" };
const REAL: Record<string, CliResult> = {
  oauth401: {
    ...ERROR,
    api_error_status: 401,
    api_error_type: "authentication_error",
    result: "Not logged in · Please run /login",
  },
  key401: { ...ERROR, api_error_status: 401, result: "Invalid API key · Fix external API key" },
  forbidden403: {
    ...ERROR,
    api_error_status: 403,
    api_error_type: "permission_error",
    result: "Failed to authenticate. API Error: 403 stub: your API key does not have permission",
  },
  bad400: { ...ERROR, api_error_status: 400, result: "API Error: 400 stub: invalid request" },
  usage429: {
    ...ERROR,
    api_error_status: 429,
    api_error_type: "rate_limit_error",
    api_error: "usage_limit_reached",
    result: "You've hit your 5-hour limit · resets 9:29am (UTC)",
  },
  server429: {
    ...ERROR,
    api_error_status: 429,
    result: "API Error: Server is temporarily limiting requests (not your usage limit) · stub",
  },
  error500: {
    ...ERROR,
    api_error_status: 500,
    result: "API Error: 500 stub: internal server error.",
  },
  overloaded529: {
    ...ERROR,
    api_error_status: 529,
    api_error_type: "overloaded_error",
    result: "API Error: 529 stub: overloaded. This is a server-side issue, usually temporary — " +
      "try again in a moment. If it persists, check your inference gateway (127.0.0.1:42079).",
  },
  billing402: {
    ...ERROR,
    api_error_status: 402,
    api_error_type: "billing_error",
    result: "Credit balance is too low",
  },
  // Anthropic's answer to an organization's own spend limit: a 400 (the text is the API's).
  spendLimit400: {
    ...ERROR,
    api_error_status: 400,
    api_error_type: "invalid_request_error",
    result: "API Error: 400 You have reached your specified API usage limits. " +
      "You will regain access on 2027-01-01 at 00:00 UTC.",
  },
  brokenStream: {
    ...ERROR,
    api_error_status: null,
    result: "API Error: API returned an empty or malformed response (HTTP 200)",
  },
  schemaExhausted: {
    type: "result",
    subtype: "error_max_structured_output_retries",
    is_error: true,
    errors: ["Failed to provide valid structured output after 5 attempts — /n: must be integer"],
  },
  // `--max-budget-usd 0.0001`: the CLI checks the budget after the model call, so the call was
  // made and paid for; its answer is dropped (no `result`) and its usage zeroed.
  budget: {
    type: "result",
    subtype: "error_max_budget_usd",
    is_error: true,
    errors: ["Reached maximum budget ($0.0001)"],
    total_cost_usd: 0.001308,
    stop_reason: "end_turn",
    usage: { input_tokens: 0, output_tokens: 0 },
  },
  textInstead: {
    type: "result",
    subtype: "success",
    is_error: false,
    api_error_status: null,
    result: "stub: Describe Ada",
    stop_reason: "end_turn",
  },
};

const NINE_AM = Date.UTC(2026, 0, 1, 9, 0);

function failureOf(parsed: CliResult, schemaAsked = false): LlmError {
  try {
    resultOf(parsed, { requestedModel: undefined, schemaAsked, now: NINE_AM });
  } catch (error) {
    assert.ok(error instanceof LlmError);
    return error;
  }
  throw new Error("expected a failure");
}

Deno.test("401 and 403 are auth; 400 is invalid; 500 and a broken stream are transient", () => {
  assert.equal(failureOf(REAL.oauth401).kind, "auth");
  assert.match(failureOf(REAL.oauth401).message, /HTTP 401.*Not logged in/);
  assert.equal(failureOf(REAL.key401).kind, "auth");
  assert.equal(failureOf(REAL.forbidden403).kind, "auth");
  assert.equal(failureOf(REAL.bad400).kind, "invalid");
  assert.equal(failureOf(REAL.error500).kind, "transient");
  assert.equal(failureOf(REAL.brokenStream).kind, "transient");
});

Deno.test("529 overloaded_error is overloaded; 402 billing_error and a spend limit's 400 are billing", () => {
  const overloaded = failureOf(REAL.overloaded529);
  assert.equal(overloaded.kind, "overloaded");
  assert.match(overloaded.message, /^Claude CLI \(HTTP 529\): API Error: 529 stub: overloaded/);
  // The status alone, or the type alone, says as much.
  assert.equal(failureOf({ ...REAL.overloaded529, api_error_type: undefined }).kind, "overloaded");
  assert.equal(
    failureOf({ ...REAL.error500, api_error_type: "overloaded_error" }).kind,
    "overloaded",
  );
  const billing = failureOf(REAL.billing402);
  assert.equal(billing.kind, "billing");
  assert.equal(billing.message, "Claude CLI (HTTP 402): Credit balance is too low");
  assert.equal(failureOf({ ...REAL.billing402, api_error_status: 400 }).kind, "billing");
  assert.equal(failureOf(REAL.spendLimit400).kind, "billing");
});

Deno.test("a usage limit is quota until its reset time; the server's own 429 pauses for a minute", () => {
  const usage = failureOf(REAL.usage429);
  assert.equal(usage.kind, "quota");
  assert.equal(usage.retryAfterMs, 29 * 60_000);
  const server = failureOf(REAL.server429);
  assert.equal(server.kind, "quota");
  assert.equal(server.retryAfterMs, SERVER_RATE_LIMIT_PAUSE_MS);
  const fromEvent = resultOfFailure({ ...REAL.usage429, result: "limit" }, NINE_AM + 5000);
  assert.equal(fromEvent.retryAfterMs, 5000);
});

function resultOfFailure(parsed: CliResult, resetsAt: number): LlmError {
  try {
    resultOf(parsed, { requestedModel: undefined, schemaAsked: false, resetsAt, now: NINE_AM });
  } catch (error) {
    return error as LlmError;
  }
  throw new Error("expected a failure");
}

Deno.test("structured output: retries exhausted and a text answer are transient and say why", () => {
  const exhausted = failureOf(REAL.schemaExhausted, true);
  assert.equal(exhausted.kind, "transient");
  assert.match(exhausted.message, /did not fit the JSON schema.*must be integer/);
  const text = failureOf(REAL.textInstead, true);
  assert.equal(text.kind, "transient");
  assert.match(text.message, /answered in text instead of the JSON.*no structured_output/);
  // Without a schema the same text is the answer.
  const plain = resultOf(REAL.textInstead, { requestedModel: undefined, schemaAsked: false });
  assert.equal(plain.text, "stub: Describe Ada");
});

Deno.test("success: text, this job's usage (cache tokens apart), model and cost from this job's usage", () => {
  const result = resultOf({
    type: "result",
    subtype: "success",
    is_error: false,
    result: "hello",
    stop_reason: "end_turn",
    usage: {
      input_tokens: 10,
      cache_read_input_tokens: 5,
      cache_creation_input_tokens: 7,
      output_tokens: 3,
    },
    total_cost_usd: 0.5,
    modelUsage: { "claude-running-total": { costUSD: 0.5 } },
    model_usage_since_last_result: { "claude-x": { costUSD: 0.125 } },
  }, { requestedModel: undefined, schemaAsked: false });
  assert.deepEqual(result, {
    text: "hello",
    parsed: undefined,
    model: "claude-x",
    provider: "claude",
    usage: {
      input_tokens: 10,
      output_tokens: 3,
      cache_creation_input_tokens: 7,
      cache_read_input_tokens: 5,
    },
    cost_usd: 0.125,
    stop_reason: "end_turn",
  });
});

Deno.test("cost: a one-job process's total_cost_usd; none when the CLI says none", () => {
  const cold = resultOf(
    { is_error: false, result: "hi", total_cost_usd: 0.001264, usage: {} },
    { requestedModel: "m", schemaAsked: false },
  );
  assert.equal(cold.cost_usd, 0.001264);
  const silent = resultOf(
    { is_error: false, result: "hi", usage: {} },
    { requestedModel: "m", schemaAsked: false },
  );
  assert.equal("cost_usd" in silent, false);
  assert.deepEqual(silent.usage, {
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  });
});

Deno.test("structured_output is taken as the parsed answer", () => {
  const result = resultOf(
    { is_error: false, result: "{}", structured_output: { a: 1 }, usage: {} },
    { requestedModel: "m", schemaAsked: true },
  );
  assert.deepEqual(result.parsed, { a: 1 });
  assert.equal(result.text, '{"a":1}');
});

function outputFailure(output: { code: number; stdout: string; stderr: string }): LlmError {
  try {
    parseCliOutput(output, { requestedModel: undefined, schemaAsked: false });
  } catch (error) {
    assert.ok(error instanceof LlmError);
    return error;
  }
  throw new Error("expected a failure");
}

Deno.test("cold output: garbage, empty, truncated and refused arguments are transient; a missing login on stderr is auth", () => {
  assert.equal(
    outputFailure({ code: 2, stdout: "Segmentation fault", stderr: "" }).kind,
    "transient",
  );
  assert.equal(
    outputFailure({ code: 0, stdout: '{"is_error":false,"result":"  "}', stderr: "" }).kind,
    "transient",
  );
  assert.match(
    outputFailure({
      code: 0,
      stdout: '{"is_error":false,"result":"abc","stop_reason":"max_tokens"}',
      stderr: "",
    }).message,
    /truncated/,
  );
  assert.match(
    outputFailure({ code: 1, stdout: "", stderr: "error: unknown option '--tools'" }).message,
    /refused its arguments/,
  );
  assert.equal(
    outputFailure({ code: 1, stdout: "", stderr: "Invalid API key · Fix external API key" }).kind,
    "auth",
  );
  assert.equal(
    outputFailure({ code: 1, stdout: JSON.stringify(REAL.oauth401), stderr: "" }).kind,
    "auth",
  );
});

Deno.test("the job's max_cost_usd reached (error_max_budget_usd) is invalid, naming the ceiling and what the call cost, which the error carries for the budgets", () => {
  let error: unknown;
  try {
    resultOf(REAL.budget, { requestedModel: undefined, schemaAsked: false, maxCostUsd: 0.0001 });
  } catch (thrown) {
    error = thrown;
  }
  assert.ok(error instanceof LlmError);
  assert.equal(error.kind, "invalid");
  assert.equal(
    error.message,
    "the job's max_cost_usd ($0.0001) was reached: Reached maximum budget ($0.0001); " +
      "the call cost $0.001308",
  );
  assert.equal(error.costUsd, 0.001308);
  assert.equal(
    outputFailure({ code: 1, stdout: JSON.stringify(REAL.budget), stderr: "" }).kind,
    "invalid",
  );
});
