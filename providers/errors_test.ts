import { strict as assert } from "node:assert";
import { classifyHttp, classifySdkError, classifyText, resetInMs, retryAfterMs } from "./errors.ts";

Deno.test("provider texts: auth, billing, quota, overloaded, anything else transient", () => {
  assert.equal(classifyText("Not logged in · Please run /login"), "auth");
  assert.equal(classifyText("OAuth token has expired"), "auth");
  assert.equal(classifyText("Claude AI usage limit reached|1700000000"), "quota");
  assert.equal(classifyText("rate_limit_error: rate limit exceeded"), "quota");
  assert.equal(classifyText("Your credit balance is too low"), "billing");
  assert.equal(
    classifyText(
      "You have reached your specified API usage limits. You will regain access on 2026-12-01",
    ),
    "billing",
  );
  assert.equal(
    classifyText("You have reached your specified workspace API usage limits"),
    "billing",
  );
  assert.equal(classifyText("You've hit your monthly spend limit"), "billing");
  assert.equal(
    classifyText("You exceeded your current quota, please check your plan and billing details."),
    "billing",
  );
  assert.equal(classifyText("API Error: 529 stub: overloaded."), "overloaded");
  assert.equal(classifyText("socket hang up"), "transient");
});

Deno.test("reset times: epoch after a bar, or 'resets in'", () => {
  assert.equal(resetInMs("limit reached|1700000060", 1_700_000_000_000), 60_000);
  assert.equal(resetInMs("5-hour limit reached, resets in 2h"), 7_200_000);
  assert.equal(resetInMs("try again in 30 seconds"), 30_000);
  assert.equal(resetInMs("usage limit reached"), undefined);
  const nine = Date.UTC(2026, 0, 1, 9, 0);
  assert.equal(resetInMs("You've hit your 5-hour limit · resets 9:29am (UTC)", nine), 29 * 60_000);
  assert.equal(resetInMs("resets 12am (UTC)", nine), 15 * 3_600_000);
  assert.equal(resetInMs("resets 8:59am (UTC)", nine), 86_400_000 - 60_000);
  assert.equal(resetInMs("resets 9:29pm (UTC)", nine), 12 * 3_600_000 + 29 * 60_000);
});

Deno.test("Retry-After in seconds or as a date", () => {
  assert.equal(retryAfterMs("2"), 2000);
  assert.equal(
    retryAfterMs("Wed, 21 Oct 2015 07:28:10 GMT", Date.parse("Wed, 21 Oct 2015 07:28:00 GMT")),
    10_000,
  );
  assert.equal(retryAfterMs(null), undefined);
});

Deno.test("HTTP statuses: 401/403 auth, 429 quota, 400/404 invalid, 500 transient", () => {
  const headers = new Headers({ "retry-after": "7" });
  assert.equal(classifyHttp(401, "no").kind, "auth");
  assert.equal(classifyHttp(403, "no").kind, "auth");
  const quota = classifyHttp(429, "slow down", headers);
  assert.equal(quota.kind, "quota");
  assert.equal(quota.retryAfterMs, 7000);
  assert.equal(
    classifyHttp(429, "rate limit exceeded", undefined, ["rate_limit_error"]).kind,
    "quota",
  );
  assert.equal(classifyHttp(400, "prompt is too long").kind, "invalid");
  assert.equal(classifyHttp(400, "usage limit reached").kind, "quota");
  assert.equal(classifyHttp(404, "model not found").kind, "invalid");
  assert.equal(classifyHttp(500, "oops").kind, "transient");
  assert.equal(classifyHttp(500, "oops", undefined, ["api_error"]).kind, "transient");
  assert.equal(classifyHttp(undefined, "ECONNREFUSED").kind, "transient");
});

Deno.test("overloaded: Anthropic's 529 and overloaded_error, an OpenAI-compatible 503; retry-after kept when sent", () => {
  const overloaded = classifyHttp(529, "Overloaded", new Headers({ "retry-after": "3" }), [
    "overloaded_error",
  ]);
  assert.equal(overloaded.kind, "overloaded");
  assert.equal(overloaded.retryAfterMs, 3000);
  assert.match(overloaded.message, /^HTTP 529: Overloaded$/);
  const unavailable = classifyHttp(503, "Service Unavailable", new Headers());
  assert.equal(unavailable.kind, "overloaded");
  assert.equal(unavailable.retryAfterMs, undefined);
  // A body that says overloaded_error is overloaded whatever the status.
  assert.equal(classifyHttp(500, "Overloaded", undefined, ["overloaded_error"]).kind, "overloaded");
});

Deno.test("billing: Anthropic's 402 billing_error and spend limits, OpenAI's insufficient_quota, a low credit balance; never quota", () => {
  assert.equal(classifyHttp(402, "stub: billing", undefined, ["billing_error"]).kind, "billing");
  assert.equal(classifyHttp(402, "Payment Required").kind, "billing");
  assert.equal(classifyHttp(400, "Your credit balance is too low").kind, "billing");
  assert.equal(classifyHttp(429, "Your credit balance is too low").kind, "billing");
  assert.equal(
    classifyHttp(400, "You have reached your specified API usage limits", undefined, [
      "invalid_request_error",
    ]).kind,
    "billing",
  );
  // Anthropic's monthly spend cap comes as a 429 rate_limit_error without retry-after.
  assert.equal(
    classifyHttp(429, "spend cap", undefined, ["rate_limit_error", "enforced_spend_limit_reached"])
      .kind,
    "billing",
  );
  const openAi = classifyHttp(
    429,
    "You exceeded your current quota, please check your plan and billing details.",
    new Headers({ "retry-after": "20" }),
    ["insufficient_quota", "insufficient_quota"],
  );
  assert.equal(openAi.kind, "billing");
  assert.equal(openAi.retryAfterMs, undefined);
  for (const code of ["credit_balance_exhausted", "project_spend_limit_exceeded"]) {
    assert.equal(classifyHttp(429, "no", undefined, ["insufficient_quota", code]).kind, "billing");
  }
});

Deno.test("SDK errors: status, headers and the body's type and codes are read from either SDK's error", () => {
  const anthropic = Object.assign(new Error("402 billing"), {
    status: 402,
    headers: new Headers(),
    type: "billing_error",
    errorCode: null,
  });
  assert.equal(classifySdkError(anthropic).kind, "billing");
  const openAi = Object.assign(new Error("429 You exceeded your current quota"), {
    status: 429,
    headers: new Headers({ "retry-after": "1" }),
    type: "insufficient_quota",
    code: "insufficient_quota",
  });
  assert.equal(classifySdkError(openAi).kind, "billing");
  const overloaded = Object.assign(new Error("529 Overloaded"), {
    status: 529,
    headers: new Headers({ "retry-after": "2" }),
    type: "overloaded_error",
  });
  assert.deepEqual(
    [classifySdkError(overloaded).kind, classifySdkError(overloaded).retryAfterMs],
    ["overloaded", 2000],
  );
  assert.equal(classifySdkError(new TypeError("fetch failed")).kind, "transient");
  assert.equal(classifySdkError(undefined).kind, "transient");
});
