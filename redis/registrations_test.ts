import { registrationAged } from "../testing/registrations.ts";
import { strict as assert } from "node:assert";
import { startRedis } from "../testing/redis.ts";
import { workerKey } from "./keys.ts";
import {
  listStoredRegistrations,
  register,
  type Registration,
  REGISTRATION_TTL_S,
  removeStale,
  STALE_AFTER_MS,
  staleness,
} from "./registrations.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const NOW = Date.parse("2026-01-01T12:00:00Z");

const registration = (name: string, heartbeatAgoMs: number | undefined) =>
  registrationAged(name, heartbeatAgoMs, NOW);

Deno.test("staleness: a registration with a TTL is never stale, however old its heartbeat looks by the reader's clock", () => {
  for (const ageMs of [0, STALE_AFTER_MS + 1, 86_400_000, -86_400_000]) {
    assert.deepEqual(
      staleness({ registration: registration("w-1", ageMs), ttlMs: 9000 }, NOW),
      { stale: false, why: "has_ttl" },
    );
  }
  assert.deepEqual(
    staleness({ registration: registration("w-1", undefined), ttlMs: 0 }, NOW),
    { stale: false, why: "has_ttl" },
    "a TTL of 0 ms left is still a TTL",
  );
});

Deno.test("staleness: without a TTL, stale once the heartbeat is older than 45 s (3 × the TTL), not 1 ms sooner", () => {
  assert.equal(STALE_AFTER_MS, 3 * REGISTRATION_TTL_S * 1000);
  assert.equal(STALE_AFTER_MS, 45_000);
  assert.deepEqual(
    staleness({ registration: registration("w-1", 45_001), ttlMs: -1 }, NOW),
    { stale: true, why: "old_heartbeat", heartbeatAgeMs: 45_001 },
  );
  assert.deepEqual(
    staleness({ registration: registration("w-1", 45_000), ttlMs: -1 }, NOW),
    { stale: false, why: "fresh_heartbeat", heartbeatAgeMs: 45_000 },
  );
  assert.equal(
    staleness({ registration: registration("w-1", 2000), ttlMs: -1 }, NOW, 1000).stale,
    true,
    "maxAgeMs given",
  );
});

Deno.test("staleness: without a TTL and without a readable heartbeat, stale", () => {
  assert.deepEqual(
    staleness({ registration: registration("w-1", undefined), ttlMs: -1 }, NOW),
    { stale: true, why: "no_heartbeat" },
  );
});

Deno.test(
  "removeStale deletes a registration only while it is as read and still without a TTL",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    const write = (entry: Registration) => redis.set(workerKey(entry.name), JSON.stringify(entry));
    await write(registration("unchanged", 60_000));
    await write(registration("refreshed", 60_000));
    await write(registration("rewritten", 60_000));
    const read = new Map(
      (await listStoredRegistrations(redis)).map((stored) => [stored.registration.name, stored]),
    );
    // Meanwhile: one worker refreshes its registration (with a TTL, as every refresh does),
    // something else rewrites another, still without a TTL.
    await register(redis, registration("refreshed", 0));
    await write(registration("rewritten", 50_000));
    assert.equal(await removeStale(redis, read.get("unchanged")!), true);
    assert.equal(await removeStale(redis, read.get("refreshed")!), false);
    assert.equal(await removeStale(redis, read.get("rewritten")!), false);
    assert.equal(await redis.exists(workerKey("unchanged")), 0);
    assert.equal(await redis.exists(workerKey("refreshed")), 1);
    assert.equal(await redis.exists(workerKey("rewritten")), 1);
  },
);
