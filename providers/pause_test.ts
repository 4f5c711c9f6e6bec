import { strict as assert } from "node:assert";
import { startRedis } from "../testing/redis.ts";
import { clearPause, clearQuotaStrikes, pauseProvider, quotaPauseMs, readPause } from "./pause.ts";
import { delay } from "../async/mod.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

Deno.test("quota pauses: the reset time when given, else 1 h growing x1.5 up to 4 h", () => {
  assert.equal(quotaPauseMs(1, undefined), 3_600_000);
  assert.equal(quotaPauseMs(2, undefined), 5_400_000);
  assert.equal(quotaPauseMs(3, undefined), 8_100_000);
  assert.equal(quotaPauseMs(5, undefined), 14_400_000);
  assert.equal(quotaPauseMs(4, 90_000), 90_000);
});

Deno.test(
  "a pause is shared, set once, expires by itself, and quota strikes grow it",
  integration,
  async () => {
    await using redis = await startRedis();
    const client = redis.client();
    const now = Date.now();
    const first = await pauseProvider(client, "claude", "quota_exceeded", "usage limit", { now });
    assert.equal(first.retry_at - first.since, 3_600_000);
    const ttl = await client.pttl("ppr:llm:pause:claude");
    assert.ok(ttl > 3_590_000 && ttl <= 3_600_000, `TTL ${ttl}`);
    // A second worker failing at the same moment keeps the first pause.
    const again = await pauseProvider(client, "claude", "quota_exceeded", "usage limit", {
      now: now + 10,
    });
    assert.deepEqual(again, first);
    await clearPause(client, "claude");
    const second = await pauseProvider(client, "claude", "quota_exceeded", "usage limit", { now });
    assert.equal(second.retry_at - second.since, 5_400_000);
    // A success ends the run of strikes.
    await clearPause(client, "claude");
    await clearQuotaStrikes(client, "claude");
    const fresh = await pauseProvider(client, "claude", "quota_exceeded", "usage limit", { now });
    assert.equal(fresh.retry_at - fresh.since, 3_600_000);
    // An auth pause is not lifted by clearing only auth when it is a quota pause.
    await clearPause(client, "claude", "auth_failed");
    assert.equal((await readPause(client, "claude"))?.state, "quota_exceeded");
    const auth = await pauseProvider(client, "openai", "auth_failed", "401", { authRetryMs: 1000 });
    assert.equal(auth.retry_at - auth.since, 1000);
    await delay(1200);
    assert.equal(await readPause(client, "openai"), undefined);
  },
);
