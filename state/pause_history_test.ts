import { strict as assert } from "node:assert";
import {
  clearPause,
  PAUSE_HISTORY_KEEP_MS,
  PAUSE_HISTORY_MAX_EVENTS,
  pauseProvider,
} from "../providers/pause.ts";
import { PAUSE_HISTORY_KEY } from "../redis/keys.ts";
import { startRedis } from "../testing/redis.ts";
import { type PauseEvent, pauseHistories, readPauseHistories } from "./pause_history.ts";

const HOUR = 3_600_000;
const NOW = 100 * HOUR;
const WINDOW = { fromMs: NOW - 24 * HOUR, nowMs: NOW };

function start(provider: string, sinceMs: number, retryAtMs: number): PauseEvent {
  return { atMs: sinceMs, provider, event: "start", state: "quota_exceeded", sinceMs, retryAtMs };
}

const iso = (ms: number) => new Date(ms).toISOString();

Deno.test("a pause that ran its course lasts until its planned end", () => {
  const [claude] = pauseHistories(
    [start("claude", NOW - 5 * HOUR, NOW - 4 * HOUR)],
    new Map(),
    ["claude"],
    WINDOW,
  );
  assert.deepEqual(claude.spans, [{
    state: "quota_exceeded",
    start: iso(NOW - 5 * HOUR),
    end: iso(NOW - 4 * HOUR),
    ongoing: false,
  }]);
});

Deno.test("a pause ended early (an end event) ends then, and another provider's end does not end it", () => {
  const [claude, openai] = pauseHistories(
    [
      start("claude", NOW - 5 * HOUR, NOW - 2 * HOUR),
      start("openai", NOW - 5 * HOUR, NOW - 2 * HOUR),
      { atMs: NOW - 4 * HOUR, provider: "claude", event: "end" },
    ],
    new Map(),
    ["claude", "openai"],
    WINDOW,
  );
  assert.equal(claude.spans[0].end, iso(NOW - 4 * HOUR));
  assert.equal(openai.spans[0].end, iso(NOW - 2 * HOUR));
});

Deno.test("a pause in force is ongoing and drawn up to now; one before the window is left out, one across its start is cut to it", () => {
  const [claude] = pauseHistories(
    [
      start("claude", NOW - 30 * HOUR, NOW - 29 * HOUR),
      start("claude", NOW - 25 * HOUR, NOW - 23 * HOUR),
      start("claude", NOW - HOUR, NOW + HOUR),
    ],
    new Map(),
    ["claude"],
    WINDOW,
  );
  assert.deepEqual(claude.spans, [
    {
      state: "quota_exceeded",
      start: iso(NOW - 24 * HOUR),
      end: iso(NOW - 23 * HOUR),
      ongoing: false,
    },
    { state: "quota_exceeded", start: iso(NOW - HOUR), end: iso(NOW), ongoing: true },
  ]);
});

Deno.test("a pause in force that the history lacks is shown from its start; one the history has is shown once", () => {
  const budget = {
    state: "budget" as const,
    reason: "spent",
    since: NOW - 2 * HOUR,
    retry_at: NOW + HOUR,
  };
  const [claude] = pauseHistories([], new Map([["claude", budget]]), ["claude"], WINDOW);
  assert.deepEqual(claude.spans, [
    { state: "budget", start: iso(NOW - 2 * HOUR), end: iso(NOW), ongoing: true },
  ]);
  const [again] = pauseHistories(
    [{ ...start("claude", NOW - 2 * HOUR, NOW + HOUR), state: "budget" }],
    new Map([["claude", budget]]),
    ["claude"],
    WINDOW,
  );
  assert.equal(again.spans.length, 1);
});

const integration = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "the history records a pause once however many workers set it, and its early end once; a pause in force is drawn as ongoing",
  integration,
  async () => {
    await using redis = await startRedis();
    const client = redis.client();
    await pauseProvider(client, "openai", "quota_exceeded", "usage limit", {
      resetInMs: 3_600_000,
    });
    // A second worker failing at the same moment keeps the first pause: no second start.
    await pauseProvider(client, "openai", "quota_exceeded", "usage limit", {
      resetInMs: 3_600_000,
    });
    await clearPause(client, "openai");
    // Nothing left to end: no second end.
    await clearPause(client, "openai");
    const auth = await pauseProvider(client, "claude", "auth_failed", "401", {
      authRetryMs: 60_000,
    });
    assert.equal(await client.xlen(PAUSE_HISTORY_KEY), 3);
    const [openai, claude] = await readPauseHistories(client, ["openai", "claude"]);
    assert.equal(openai.spans.length, 1);
    assert.equal(openai.spans[0].ongoing, false);
    assert.ok(Date.parse(openai.spans[0].end) <= Date.now());
    assert.deepEqual(claude.spans, [{
      state: "auth_failed",
      start: iso(auth.since),
      end: claude.spans[0].end,
      ongoing: true,
    }]);
  },
);

Deno.test(
  "the history keeps at most PAUSE_HISTORY_MAX_EVENTS events, and none older than PAUSE_HISTORY_KEEP_MS",
  integration,
  async () => {
    await using redis = await startRedis();
    const client = redis.client();
    // An event written 8 days ago (its id is its time).
    await client.xadd(
      PAUSE_HISTORY_KEY,
      `${Date.now() - 8 * 86_400_000}-0`,
      "provider",
      "claude",
      "event",
      "end",
    );
    await pauseProvider(client, "claude", "auth_failed", "401", { authRetryMs: 60_000 });
    const ids = (await client.xrange(PAUSE_HISTORY_KEY, "-", "+")).map(([id]) => id);
    assert.equal(ids.length, 1);
    assert.ok(Number(ids[0].split("-")[0]) > Date.now() - PAUSE_HISTORY_KEEP_MS);
    for (let pause = 0; pause < PAUSE_HISTORY_MAX_EVENTS; pause++) {
      await clearPause(client, "claude");
      await pauseProvider(client, "claude", "auth_failed", "401", { authRetryMs: 60_000 });
    }
    assert.equal(await client.xlen(PAUSE_HISTORY_KEY), PAUSE_HISTORY_MAX_EVENTS);
  },
);
