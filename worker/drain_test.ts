/** The drain of a worker process on a fake clock: what it gives back, when, and when it ends. */

import { strict as assert } from "node:assert";
import type { ChildEvent } from "../protocol/messages.ts";
import { createFakeClock } from "../testing/fake_clock.ts";
import { recordingLogger } from "../testing/logger.ts";
import { CLOSE_BACKSTOP_MS, createDrain } from "./drain.ts";
import { createInFlight } from "./in_flight.ts";

const DRAIN_TIMEOUT_MS = 10_000;

/** A drain of two jobs in flight whose BullMQ Workers close when the test says. */
function startDrain() {
  const clock = createFakeClock();
  const inFlight = createInFlight();
  const jobs = [inFlight.add("llm", "1", "w:1"), inFlight.add("llm", "2", "w:2")];
  const events: ChildEvent[] = [];
  const { logger, lines } = recordingLogger();
  const workersClosed = Promise.withResolvers<void>();
  const calls = { closeWorkers: 0, closeRest: 0 };
  let isDone = false;
  const drain = createDrain({
    drainTimeoutMs: DRAIN_TIMEOUT_MS,
    inFlight,
    reporter: { emit: (event) => void events.push(event) },
    logger,
    clock,
    closeWorkers: () => {
      calls.closeWorkers++;
      return workersClosed.promise;
    },
    closeRest: () => {
      calls.closeRest++;
      return Promise.resolve();
    },
  });
  drain.done.then(() => (isDone = true));
  return {
    drain,
    clock,
    jobs,
    events,
    lines,
    calls,
    /** The jobs in flight finish (or are given back): BullMQ's Workers are closed. */
    closeWorkers: () => workersClosed.resolve(),
    givenBack: () => jobs.map((job) => job.giveBack),
    isDone: () => isDone,
  };
}

Deno.test("a drain request says draining and stops the intake at once, and gives nothing back before the drain deadline, not 1 ms sooner", async () => {
  const test = startDrain();
  test.drain.request("SIGTERM");
  assert.equal(test.drain.started, true);
  assert.deepEqual(test.events, [{ event: "draining" }]);
  assert.equal(test.calls.closeWorkers, 1);
  await test.clock.tickAsync(DRAIN_TIMEOUT_MS - 1);
  assert.deepEqual(test.givenBack(), [false, false]);
  assert.equal(test.jobs[0].controller.signal.aborted, false);
  await test.clock.tickAsync(1);
  assert.deepEqual(test.givenBack(), [true, true]);
  assert.equal(
    (test.jobs[0].controller.signal.reason as Error).message,
    `drain timeout of ${DRAIN_TIMEOUT_MS} ms reached`,
  );
  assert.ok(test.lines.some((line) => line.level === "warn" && line.properties.count === 2));
});

Deno.test("jobs that finish before the drain deadline: nothing is given back, the deadline is cleared, the rest closes and the drain is done", async () => {
  const test = startDrain();
  test.drain.request("SIGTERM");
  await test.clock.tickAsync(DRAIN_TIMEOUT_MS - 1);
  test.closeWorkers();
  await test.drain.done;
  assert.deepEqual(test.givenBack(), [false, false]);
  assert.equal(test.calls.closeRest, 1);
  assert.equal(test.clock.timerCount, 0, "neither the deadline nor the backstop is left");
});

Deno.test("a second drain request gives every job in flight back at once, and the drain runs once", async () => {
  const test = startDrain();
  test.drain.request("SIGTERM");
  test.drain.request("SIGTERM");
  assert.deepEqual(test.givenBack(), [true, true]);
  assert.equal(
    (test.jobs[0].controller.signal.reason as Error).message,
    "second stop request",
  );
  assert.equal(test.calls.closeWorkers, 1);
  assert.deepEqual(test.events, [{ event: "draining" }]);
  test.closeWorkers();
  await test.drain.done;
});

Deno.test("stopNow starts the drain if need be and gives every job back at once; after a request it gives back without a second drain", async () => {
  const fresh = startDrain();
  fresh.drain.stopNow("stop command");
  assert.equal(fresh.drain.started, true);
  assert.deepEqual(fresh.givenBack(), [true, true]);
  assert.equal(fresh.calls.closeWorkers, 1);

  const requested = startDrain();
  requested.drain.request("SIGTERM");
  requested.drain.stopNow("stop command");
  assert.deepEqual(requested.givenBack(), [true, true]);
  assert.equal(requested.calls.closeWorkers, 1);
  for (const test of [fresh, requested]) {
    test.closeWorkers();
    await test.drain.done;
  }
});

Deno.test("when BullMQ's Workers never finish closing (Redis down), the drain goes on 1.5 s after the deadline, not 1 ms sooner", async () => {
  const test = startDrain();
  test.drain.request("SIGTERM");
  assert.equal(CLOSE_BACKSTOP_MS, 1500);
  await test.clock.tickAsync(DRAIN_TIMEOUT_MS + CLOSE_BACKSTOP_MS - 1);
  assert.equal(test.calls.closeRest, 0);
  assert.equal(test.isDone(), false);
  await test.clock.tickAsync(1);
  await test.drain.done;
  assert.equal(test.calls.closeRest, 1);
});
