import { strict as assert } from "node:assert";
import {
  createRestartQueue,
  onRestartFinished,
  onRestartRequested,
  type RestartQueueState,
} from "./restart_queue.ts";

Deno.test("requests while a restart runs: the first queues one, every later one joins it", () => {
  let state: RestartQueueState = "idle";
  const outcomes = [];
  for (let request = 0; request < 5; request++) {
    const next = onRestartRequested(state);
    state = next.state;
    outcomes.push(next.outcome);
  }
  assert.deepEqual(outcomes, ["started", "queued", "coalesced", "coalesced", "coalesced"]);
  assert.deepEqual(onRestartFinished(state), { state: "running", startNext: true });
  assert.deepEqual(onRestartFinished("running"), { state: "idle", startNext: false });
});

Deno.test("three requests during a restart run it and one more, not before the first ends", async () => {
  const releases: (() => void)[] = [];
  let started = 0;
  const queue = createRestartQueue(() => {
    started++;
    return new Promise<void>((resolve) => releases.push(resolve));
  });
  assert.equal(queue.request(), "started");
  assert.equal(queue.request(), "queued");
  assert.equal(queue.request(), "coalesced");
  await Promise.resolve();
  assert.equal(started, 1, "the queued one waits for the running one");
  releases[0]();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(started, 2);
  assert.equal(queue.request(), "queued", "a request during the second queues a third");
  releases[1]();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(started, 3);
  releases[2]();
  await queue.idle();
  assert.equal(started, 3);
  assert.equal(queue.request(), "started", "idle again: the next request starts at once");
  releases[3]();
  await queue.idle();
});

Deno.test("a restart that throws is reported and the queued one still runs", async () => {
  const errors: unknown[] = [];
  let runs = 0;
  const queue = createRestartQueue(() => {
    runs++;
    return runs === 1 ? Promise.reject(new Error("no")) : Promise.resolve();
  }, (error) => errors.push(error));
  queue.request();
  queue.request();
  await queue.idle();
  assert.equal(runs, 2);
  assert.equal(errors.length, 1);
});
