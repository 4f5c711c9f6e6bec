import { strict as assert } from "node:assert";
import { classifyHttp, classifyText, resetInMs, retryAfterMs } from "./errors.ts";

Deno.test("provider texts: auth, quota, anything else transient", () => {
  assert.equal(classifyText("Not logged in · Please run /login"), "auth");
  assert.equal(classifyText("OAuth token has expired"), "auth");
  assert.equal(classifyText("Claude AI usage limit reached|1700000000"), "quota");
  assert.equal(classifyText("Your credit balance is too low"), "quota");
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

Deno.test("HTTP statuses: 401/403 auth, 429 quota, 400/404 invalid, 5xx transient", () => {
  const headers = new Headers({ "retry-after": "7" });
  assert.equal(classifyHttp(401, "no").kind, "auth");
  assert.equal(classifyHttp(403, "no").kind, "auth");
  const quota = classifyHttp(429, "slow down", headers);
  assert.equal(quota.kind, "quota");
  assert.equal(quota.retryAfterMs, 7000);
  assert.equal(classifyHttp(400, "prompt is too long").kind, "invalid");
  assert.equal(classifyHttp(400, "Your credit balance is too low").kind, "quota");
  assert.equal(classifyHttp(404, "model not found").kind, "invalid");
  assert.equal(classifyHttp(500, "oops").kind, "transient");
  assert.equal(classifyHttp(529, "overloaded").kind, "transient");
  assert.equal(classifyHttp(undefined, "ECONNREFUSED").kind, "transient");
});
