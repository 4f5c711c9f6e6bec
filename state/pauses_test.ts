import { strict as assert } from "node:assert";
import { addSecrets } from "../log/redact.ts";
import { pauseProvider } from "../providers/pause.ts";
import { pauseKey } from "../redis/keys.ts";
import { startRedis } from "../testing/redis.ts";
import { providerPause, readProviderPauses, secondsLeft } from "./pauses.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

Deno.test("secondsLeft rounds up: 1 ms left is 1 s, a pause never shows 0 until it ends", () => {
  assert.equal(secondsLeft(10_001, 0), 11);
  assert.equal(secondsLeft(10_000, 0), 10);
  assert.equal(secondsLeft(1, 0), 1);
  assert.equal(secondsLeft(0, 0), 0);
  assert.equal(secondsLeft(0, 5_000), 0);
});

Deno.test("a provider's pause shows its reason and time left; a pause past its end is ok", () => {
  const pause = {
    state: "auth_failed" as const,
    reason: "Not logged in",
    since: Date.parse("2026-11-30T09:00:00Z"),
    retry_at: Date.parse("2026-11-30T09:05:00Z"),
  };
  assert.deepEqual(providerPause("claude", pause, Date.parse("2026-11-30T09:01:00.500Z")), {
    provider: "claude",
    state: "auth_failed",
    reason: "Not logged in",
    since: "2026-11-30T09:00:00.000Z",
    resumes_at: "2026-11-30T09:05:00.000Z",
    retry_in_s: 240,
  });
  assert.equal(providerPause("claude", pause, pause.retry_at).state, "ok");
  assert.equal(providerPause("claude", pause, pause.retry_at).retry_in_s, 0);
  assert.equal(providerPause("echo", undefined, 0).retry_in_s, 0);
});

Deno.test("a provider's pause reason never shows a secret", () => {
  addSecrets(["pause-secret-0123456789abcdef"]);
  const pause = {
    state: "quota_exceeded" as const,
    reason: "key pause-secret-0123456789abcdef",
    since: 0,
    retry_at: 60_000,
  };
  assert.equal(providerPause("openai", pause, 0).reason, "key ***");
});

Deno.test(
  "readProviderPauses: each provider in order, a paused one with its state and time left, the others ok, an unreadable record ok",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    try {
      const now = Date.now();
      await pauseProvider(redis, "claude", "quota_exceeded", "limit reached", {
        resetInMs: 90_000,
        now,
      });
      await redis.set(pauseKey("openai"), "not json", "PX", 60_000);
      const pauses = await readProviderPauses(redis, ["echo", "claude", "openai"], () => now);
      assert.deepEqual(pauses.map((pause) => [pause.provider, pause.state, pause.retry_in_s]), [
        ["echo", "ok", 0],
        ["claude", "quota_exceeded", 90],
        ["openai", "ok", 0],
      ]);
      assert.equal(pauses[1].reason, "limit reached");
      assert.equal(pauses[1].resumes_at, new Date(now + 90_000).toISOString());
    } finally {
      redis.disconnect();
    }
  },
);
