import { strict as assert } from "node:assert";
import type { ChildCommand } from "../protocol/messages.ts";
import { createLlmLedger, planShares, targetSlots } from "./llm_ledger.ts";

const options = { limit: 3, llmQueues: 1, concurrency: 4 };

Deno.test("targetSlots: the bound split by position among the slots that stay, capped at WORKER_CONCURRENCY", () => {
  assert.deepEqual(targetSlots(options, 1, [1]), [3]);
  assert.deepEqual([1, 2, 3].map((index) => targetSlots(options, index, [1, 2, 3])), [[1], [1], [
    1,
  ]]);
  assert.deepEqual(targetSlots({ ...options, concurrency: 2 }, 1, [1]), [2]);
  // A slot about to start counts among them.
  assert.deepEqual(targetSlots(options, 2, [1]), [1]);
  assert.deepEqual(targetSlots({ limit: 3, llmQueues: 2, concurrency: 4 }, 2, [1, 2]), [0, 1]);
});

Deno.test("planShares: a shrinking share is sent at once, a growing one only gets what no bound holds", () => {
  assert.deepEqual(
    planShares(3, [{ bound: [3], target: [1] }, { bound: [0], target: [1] }, {
      bound: [0],
      target: [1],
    }]),
    [[1], [0], [0]],
  );
  assert.deepEqual(
    planShares(3, [{ bound: [1], target: [3] }, { bound: [2], target: undefined }]),
    [[1], undefined],
    "a process going away keeps its bound until it exits",
  );
});

/** A worker as the ledger sees it: it answers a share once its calls in flight fit. */
interface FakeWorker {
  index: number;
  slots: number[];
  inFlight: number;
  unanswered?: { slots: number[]; seq: number };
}

Deno.test("growing from 1 to 6 workers and back, answered as calls end: the bounds never sum past the limit, and the one left ends with all 3", () => {
  const ledger = createLlmLedger<FakeWorker>(options);
  const workers: FakeWorker[] = [];
  let staying: number[] = [];
  const serving = () =>
    staying.map((index) => ({ index, process: workers.find((worker) => worker.index === index) }));
  const start = (index: number) => {
    const slots = ledger.admit(index, staying);
    const worker: FakeWorker = { index, slots, inFlight: slots[0] };
    workers.push(worker);
    ledger.started(worker, slots, (command: ChildCommand) => {
      if (typeof command === "object") {
        worker.slots = command.slots;
        worker.unanswered = { slots: command.slots, seq: command.seq };
      }
    });
  };
  /** Every worker finishes one call and takes calls up to its share, answering when it fits. */
  const tick = () => {
    for (const worker of workers) {
      const left = Math.max(0, worker.inFlight - 1);
      worker.inFlight = Math.max(left, worker.slots[0]);
      if (worker.unanswered && worker.inFlight <= worker.unanswered.slots[0]) {
        ledger.answered(worker, worker.unanswered.slots, worker.unanswered.seq);
        worker.unanswered = undefined;
      }
    }
    ledger.resplit(serving());
    assert.ok(ledger.inUse() <= 3, `bounds sum to ${ledger.inUse()}`);
    const calls = workers.reduce((sum, worker) => sum + worker.inFlight, 0);
    assert.ok(calls <= 3, `${calls} calls in flight`);
  };
  staying = [1];
  start(1);
  tick();
  for (let index = 2; index <= 6; index++) {
    staying = [...staying, index];
    start(index);
    tick();
    tick();
  }
  assert.deepEqual(workers.map((worker) => worker.slots[0]), [1, 1, 1, 0, 0, 0]);
  for (let index = 6; index >= 2; index--) {
    staying = staying.filter((kept) => kept !== index);
    ledger.resplit(serving());
    tick();
    // The removed worker drains its calls, then exits.
    const gone = workers.findIndex((worker) => worker.index === index);
    ledger.exited(workers[gone]);
    workers.splice(gone, 1);
    tick();
    tick();
  }
  tick();
  tick();
  assert.deepEqual(workers[0].slots, [3]);
  assert.equal(workers[0].inFlight, 3);
});
