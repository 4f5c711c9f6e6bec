import { registrationAged } from "../testing/registrations.ts";
import { strict as assert } from "node:assert";
import { decideCleanup, renderCleanup, STALE_AFTER_MS } from "./cleanup.ts";

const NOW = Date.parse("2026-01-01T12:00:00Z");

const registration = (name: string, heartbeatAgoMs: number | undefined) =>
  registrationAged(name, heartbeatAgoMs, NOW);

Deno.test("decideCleanup: a registration with a TTL is never stale, however old its heartbeat looks (clock skew)", () => {
  const [decision] = decideCleanup(
    [{ registration: registration("w-1", 3_600_000), ttlMs: 9000 }],
    {
      now: NOW,
    },
  );
  assert.equal(decision.stale, false);
});

Deno.test("decideCleanup: without a TTL, stale once the heartbeat is older than 3 x the TTL (45 s), kept while fresh", () => {
  assert.equal(STALE_AFTER_MS, 45_000);
  const decisions = decideCleanup([
    { registration: registration("old", 46_000), ttlMs: -1 },
    { registration: registration("fresh", 44_000), ttlMs: -1 },
    { registration: registration("unreadable", undefined), ttlMs: -1 },
  ], { now: NOW });
  assert.deepEqual(decisions.map((decision) => [decision.name, decision.stale]), [
    ["old", true],
    ["fresh", false],
    ["unreadable", true],
  ]);
  assert.match(decisions[0].reason, /no TTL, heartbeat 46s ago \(over 45s\)/);
});

Deno.test("renderCleanup: what was removed and why, or would be with --dry-run, and how many were kept", () => {
  const decisions = decideCleanup([
    { registration: registration("worker-gone-1", 3_600_000), ttlMs: -1 },
    { registration: registration("worker-live-1", 1000), ttlMs: 14_000 },
  ], { now: NOW });
  assert.equal(
    renderCleanup(decisions, false),
    "removed 1 stale registration:\n" +
      "  worker-gone-1 (host h, pid 1): no TTL, heartbeat 1h ago (over 45s)\n" +
      "kept 1 registration of live workers",
  );
  assert.match(renderCleanup(decisions, true), /^would remove 1 stale registration:/);
});
