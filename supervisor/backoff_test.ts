import { strict as assert } from "node:assert";
import { exceedsIntensity, recordRestart, restartDelayMs } from "./backoff.ts";

Deno.test("restart delay starts at the base and doubles per crash in a row", () => {
  const options = { baseMs: 1000, maxMs: 60_000, jitter: 0 };
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => restartDelayMs(n, options)), [
    1000,
    2000,
    4000,
    8000,
    16000,
  ]);
});

Deno.test("restart delay is capped", () => {
  assert.equal(restartDelayMs(10, { baseMs: 1000, maxMs: 60_000, jitter: 0 }), 60_000);
  assert.equal(restartDelayMs(1000, { baseMs: 1000, maxMs: 60_000, jitter: 0 }), 60_000);
});

Deno.test("jitter adds at most its fraction and never goes below the base", () => {
  const options = { baseMs: 1000, maxMs: 60_000, jitter: 0.2 };
  assert.equal(restartDelayMs(1, { ...options, random: () => 0 }), 1000);
  assert.equal(restartDelayMs(1, { ...options, random: () => 0.999999 }), 1200);
  assert.equal(restartDelayMs(2, { ...options, random: () => 0.5 }), 2200);
  // The cap holds with jitter too.
  assert.equal(restartDelayMs(20, { ...options, random: () => 0.999999 }), 60_000);
});

Deno.test("a 10 s grace period is the default first delay", () => {
  assert.equal(restartDelayMs(1, { jitter: 0 }), 10_000);
});

Deno.test("restart delay rejects a crash count below 1 with the value", () => {
  assert.throws(
    () => restartDelayMs(0),
    /'crashesInARow' must be an integer >= 1: current value is 0/,
  );
});

Deno.test("restart history keeps only the window", () => {
  assert.deepEqual(recordRestart([1000, 5000], 62_000, 60_000), [5000, 62_000]);
  assert.deepEqual(recordRestart([], 10, 60_000), [10]);
});

Deno.test("intensity: R restarts in T are allowed, the next one is a storm", () => {
  const now = 100_000;
  const three = [now - 3000, now - 2000, now - 1000];
  assert.equal(exceedsIntensity(three, now, 3, 60_000), false);
  assert.equal(exceedsIntensity([...three, now], now, 3, 60_000), true);
  // Old restarts no longer count.
  assert.equal(exceedsIntensity([now - 70_000, ...three], now, 3, 60_000), false);
});
