/** The pool's supervision rules with fake children and a fake clock: no processes, no real time. */

import { strict as assert } from "node:assert";
import { createPool, DRAIN_BACKSTOP_MS, type Pool, type PoolOptions } from "./pool.ts";
import type { ChildHandle } from "./child.ts";
import type { ChildCommand, ChildEvent, HeldJob } from "../protocol/messages.ts";
import { createFakeClock, type FakeClock } from "../testing/fake_clock.ts";
import { emptyStats, queueStats } from "../protocol/stats.ts";

/** A worker child that exists only in the test: the test speaks for it and ends it. */
interface FakeChild extends ChildHandle {
  name: string;
  /** Commands the pool wrote to its stdin, in order. */
  sent: ChildCommand[];
  /** Signals the pool sent it, in order. */
  signals: Deno.Signal[];
  /** Delivers `event` as if the child had written it to stdout. */
  emit(event: ChildEvent): void;
  /** Ends the process: `exited` resolves with this code, or as killed by SIGKILL. */
  exit(how: ExitedWith): void;
}

type ExitedWith = { code: number } | { signal: "SIGKILL" };

function fakeChild(name: string, pid: number, onEvent: (event: ChildEvent) => void): FakeChild {
  const { promise: exited, resolve } = Promise.withResolvers<Deno.CommandStatus>();
  const child: FakeChild = {
    name,
    pid,
    exited,
    sent: [],
    signals: [],
    kill: (signal) => void child.signals.push(signal),
    send: (command) => void child.sent.push(command),
    emit: onEvent,
    exit: (how) =>
      resolve(
        "signal" in how
          ? { success: false, code: 137, signal: how.signal }
          : { success: how.code === 0, code: how.code, signal: null },
      ),
  };
  return child;
}

interface TestPool {
  pool: Pool;
  clock: FakeClock;
  /** Every child spawned, oldest first. */
  children: FakeChild[];
  /** Every `giveBackJobsOf` call, in order. */
  givenBack: { name: string; jobs: HeldJob[]; cause: string }[];
  /** Every process group the pool killed. */
  groupsKilled: number[];
  /** For each child spawned, whether it replaced a running one. */
  replacing: boolean[];
}

/** A started pool of fake children on a fake clock at 0, without jitter. */
function startPool(overrides: Partial<PoolOptions> = {}): TestPool {
  const clock = createFakeClock();
  const children: FakeChild[] = [];
  const givenBack: TestPool["givenBack"] = [];
  const groupsKilled: number[] = [];
  const replacing: boolean[] = [];
  const pool = createPool({
    size: 1,
    nameOf: (index) => `worker-test-${index}`,
    spawn: (name, { onEvent }, isReplacement) => {
      const child = fakeChild(name, 1000 + children.length, onEvent);
      children.push(child);
      replacing.push(isReplacement);
      return child;
    },
    giveBackJobsOf: (name, jobs, cause) => {
      givenBack.push({ name, jobs, cause });
      return Promise.resolve();
    },
    killProcessGroup: (pgid) => void groupsKilled.push(pgid),
    restartDelayMs: 1000,
    restartMaxDelayMs: 30_000,
    restartIntensity: 100,
    restartPeriodMs: 60_000,
    drainTimeoutMs: 30_000,
    heartbeatTimeoutMs: 5000,
    startTimeoutMs: 10_000,
    clock,
    random: () => 0,
    ...overrides,
  });
  pool.start();
  return { pool, clock, children, givenBack, groupsKilled, replacing };
}

const ready = (child: FakeChild): ChildEvent => ({
  event: "ready",
  pid: child.pid,
  queues: ["llm"],
});

type Heartbeat = Extract<ChildEvent, { event: "heartbeat" }>;

const heartbeat = (active: HeldJob[] = [], fields: Partial<Heartbeat> = {}): Heartbeat => ({
  event: "heartbeat",
  active,
  processed: 0,
  failed: 0,
  rss: 0,
  subprocesses: [],
  ...fields,
});

const job = (id: string): HeldJob => ({ queue: "llm", id, token: `token-${id}` });

/** Lets `ms` pass while each of `children` sends a heartbeat every second. */
async function heartbeatsFor(clock: FakeClock, children: FakeChild[], ms: number): Promise<void> {
  for (let elapsedMs = 0; elapsedMs < ms; elapsedMs += 1000) {
    for (const child of children) child.emit(heartbeat());
    await clock.tickAsync(Math.min(1000, ms - elapsedMs));
  }
}

/** Asserts that the next child is spawned `delayMs` from now: not 1 ms sooner, and then. */
async function assertSpawnsAfter(test: TestPool, delayMs: number): Promise<FakeChild> {
  const before = test.children.length;
  await test.clock.tickAsync(delayMs - 1);
  assert.equal(test.children.length, before, `no new child 1 ms before ${delayMs} ms`);
  await test.clock.tickAsync(1);
  assert.equal(test.children.length, before + 1, `a new child after ${delayMs} ms`);
  return test.children.at(-1)!;
}

/** Ends `child` (a crash unless told otherwise) and lets the pool handle its exit. */
async function exit(
  test: TestPool,
  child: FakeChild,
  how: ExitedWith = { code: 1 },
): Promise<void> {
  child.exit(how);
  await test.clock.runMicrotasks();
}

Deno.test("a slot whose child keeps crashing at start waits restartDelayMs, then 2x, 4x, ... capped at restartMaxDelayMs", async () => {
  const test = startPool({ restartDelayMs: 1000, restartMaxDelayMs: 8000 });
  for (const delayMs of [1000, 2000, 4000, 8000, 8000]) {
    await exit(test, test.children.at(-1)!);
    assert.equal(test.pool.snapshot().slots[0].state, "backoff");
    await assertSpawnsAfter(test, delayMs);
  }
});

Deno.test("the restart delay is back to restartDelayMs after a child that ran for restartPeriodMs, and not 1 ms sooner", async () => {
  const test = startPool({
    restartDelayMs: 1000,
    restartMaxDelayMs: 30_000,
    restartPeriodMs: 20_000,
  });
  for (const delayMs of [1000, 2000, 4000]) {
    await exit(test, test.children.at(-1)!);
    await assertSpawnsAfter(test, delayMs);
  }
  const almost = test.children.at(-1)!;
  almost.emit(ready(almost));
  await heartbeatsFor(test.clock, [almost], 19_999);
  await exit(test, almost);
  const long = await assertSpawnsAfter(test, 8000);
  long.emit(ready(long));
  await heartbeatsFor(test.clock, [long], 20_000);
  await exit(test, long);
  await assertSpawnsAfter(test, 1000);
});

Deno.test("more than restartIntensity restarts within restartPeriodMs make the slot fatal, set intensityExceeded and wait restartMaxDelayMs for the next try", async () => {
  const test = startPool({
    restartDelayMs: 1000,
    restartMaxDelayMs: 30_000,
    restartIntensity: 3,
    restartPeriodMs: 60_000,
  });
  for (const delayMs of [1000, 2000, 4000]) {
    await exit(test, test.children.at(-1)!);
    assert.equal(test.pool.snapshot().slots[0].state, "backoff");
    assert.equal(test.pool.snapshot().intensityExceeded, false);
    await assertSpawnsAfter(test, delayMs);
  }
  await exit(test, test.children.at(-1)!);
  const snapshot = test.pool.snapshot();
  assert.equal(snapshot.slots[0].state, "fatal");
  assert.equal(snapshot.intensityExceeded, true);
  assert.equal(snapshot.restartsInPeriod, 4);
  // Backoff alone would have waited 8000 ms here.
  await assertSpawnsAfter(test, 30_000);
});

Deno.test("a running child silent for more than heartbeatTimeoutMs is killed once with SIGKILL and its slot restarted", async () => {
  const test = startPool({ heartbeatTimeoutMs: 5000, restartDelayMs: 1000 });
  const [child] = test.children;
  child.emit(ready(child));
  await test.clock.tickAsync(5000);
  assert.deepEqual(child.signals, []);
  // The watchdog looks every 500 ms.
  await test.clock.tickAsync(500);
  assert.deepEqual(child.signals, ["SIGKILL"]);
  await test.clock.tickAsync(2000);
  assert.deepEqual(child.signals, ["SIGKILL"]);
  await exit(test, child, { signal: "SIGKILL" });
  await assertSpawnsAfter(test, 1000);
});

Deno.test("a new child that sends nothing for more than startTimeoutMs is killed with SIGKILL and its slot restarted", async () => {
  const test = startPool({
    startTimeoutMs: 10_000,
    heartbeatTimeoutMs: 5000,
    restartDelayMs: 1000,
  });
  const [child] = test.children;
  await test.clock.tickAsync(10_000);
  assert.deepEqual(child.signals, []);
  await test.clock.tickAsync(500);
  assert.deepEqual(child.signals, ["SIGKILL"]);
  await exit(test, child, { signal: "SIGKILL" });
  await assertSpawnsAfter(test, 1000);
});

Deno.test("a child that sends a heartbeat within every heartbeatTimeoutMs is never killed", async () => {
  const test = startPool({ heartbeatTimeoutMs: 5000 });
  const [child] = test.children;
  child.emit(ready(child));
  for (let elapsedMs = 0; elapsedMs < 60_000; elapsedMs += 4000) {
    await test.clock.tickAsync(4000);
    child.emit(heartbeat());
  }
  assert.deepEqual(child.signals, []);
  assert.equal(test.children.length, 1);
  assert.equal(test.pool.snapshot().slots[0].state, "running");
});

Deno.test("a child that exits holding jobs: giveBackJobsOf is called once, with exactly the jobs of its last heartbeat", async () => {
  const test = startPool();
  const [child] = test.children;
  child.emit(ready(child));
  child.emit(heartbeat([job("a"), job("b")]));
  child.emit(heartbeat([job("b"), job("c")]));
  await exit(test, child);
  await test.clock.tickAsync(1000);
  assert.deepEqual(test.givenBack, [{
    name: "worker-test-1",
    jobs: [job("b"), job("c")],
    cause: "code 1",
  }]);
});

Deno.test("a child that exits cleanly holding no jobs causes no giveBackJobsOf call; one that dies does, to find jobs it never reported", async () => {
  const test = startPool({ size: 2 });
  const [clean, killed] = test.children;
  for (const child of test.children) child.emit(ready(child));
  clean.emit(heartbeat([job("a")]));
  clean.emit(heartbeat([]));
  await exit(test, clean, { code: 0 });
  assert.deepEqual(test.givenBack, []);
  killed.emit(heartbeat([]));
  await exit(test, killed, { signal: "SIGKILL" });
  assert.deepEqual(test.givenBack, [{ name: "worker-test-2", jobs: [], cause: "signal SIGKILL" }]);
});

Deno.test("a child killed between heartbeats keeps the counts of its counts file, not those of its last heartbeat", async () => {
  const test = startPool();
  const [child] = test.children;
  child.emit(ready(child));
  child.emit(heartbeat([], { processed: 10, failed: 1 }));
  child.finalCounts = () => ({ processed: 14, failed: 2 });
  await exit(test, child, { signal: "SIGKILL" });
  const [slot] = test.pool.snapshot().slots;
  assert.equal(slot.processed, 14);
  assert.equal(slot.failed, 2);
});

Deno.test("a child that dies leaves no process group behind: those of its last heartbeat are killed", async () => {
  const test = startPool();
  const [child] = test.children;
  child.emit(ready(child));
  child.emit(heartbeat([], { subprocesses: [4001, 4002] }));
  await exit(test, child, { signal: "SIGKILL" });
  assert.deepEqual(test.groupsKilled, [4001, 4002]);
});

Deno.test("recycling: past maxJobs or maxRssBytes the child is replaced, the new one ready before the old one is sent drain", async () => {
  const test = startPool({ size: 1, recycle: { maxJobs: 10, maxRssBytes: 100 * 1048576 } });
  const [first] = test.children;
  first.emit(ready(first));
  first.emit(heartbeat([], { processed: 9, rss: 50 * 1048576 }));
  assert.equal(test.children.length, 1, "below both limits");
  first.emit(heartbeat([], { processed: 8, failed: 2 }));
  assert.equal(test.children.length, 2, "10 jobs: a replacement starts");
  const second = test.children[1];
  assert.deepEqual(first.sent, [], "the old child keeps working until the new one is ready");
  second.emit(ready(second));
  await test.clock.runMicrotasks();
  assert.deepEqual(first.sent, ["drain"]);
  assert.deepEqual(second.sent, [], "no LLM jobs for the new one while the old one runs its calls");
  assert.equal(test.pool.snapshot().slots[0].pid, second.pid);
  await exit(test, first, { code: 0 });
  assert.equal(test.pool.snapshot().slots[0].restarts, 1);
  assert.deepEqual(second.sent, ["take-llm-jobs"], "the old one gone: its LLM share is free");
  assert.deepEqual(test.replacing, [false, true]);
  second.emit(heartbeat([], { rss: 200 * 1048576 }));
  assert.equal(test.children.length, 3, "over the memory limit: replaced too");
});

Deno.test("recycling: a child whose first heartbeat was already past maxRssBytes is replaced as soon as it is ready", () => {
  const test = startPool({ size: 1, recycle: { maxRssBytes: 40 * 1048576 } });
  const [first] = test.children;
  first.emit(heartbeat([], { rss: 60 * 1048576 }));
  assert.equal(test.children.length, 1, "not ready yet: nothing to replace");
  first.emit(ready(first));
  assert.equal(test.children.length, 2, "ready: replaced without waiting for the next heartbeat");
});

/** A pool of one child past `maxJobs: 1`, its replacement ready and the old child told to drain. */
async function replacing(overrides: Partial<PoolOptions> = {}) {
  const test = startPool({ size: 1, recycle: { maxJobs: 1 }, ...overrides });
  const [old] = test.children;
  old.emit(ready(old));
  old.emit(heartbeat([], { processed: 1 }));
  const replacement = test.children[1];
  replacement.emit(ready(replacement));
  await test.clock.runMicrotasks();
  assert.deepEqual(old.sent, ["drain"]);
  return { test, old, replacement };
}

Deno.test("a replacement that dies while the old process drains is restarted held, and the one left is told take-llm-jobs when the old one exits", async () => {
  const { test, old, replacement } = await replacing({ restartDelayMs: 10 });
  await exit(test, replacement, { signal: "SIGKILL" });
  await test.clock.tickAsync(20);
  const restarted = test.children[2];
  assert.deepEqual(test.replacing, [false, true, true], "restarted while the old one drains");
  assert.deepEqual(restarted.sent, []);
  await exit(test, old, { code: 0 });
  assert.deepEqual(restarted.sent, ["take-llm-jobs"]);
});

Deno.test("a retiring process still running past drainTimeoutMs and the backstop is killed, so it cannot hold its slot", async () => {
  const { test, old } = await replacing({ drainTimeoutMs: 5000 });
  await test.clock.tickAsync(5000 + DRAIN_BACKSTOP_MS - 1);
  assert.deepEqual(old.signals, []);
  await test.clock.tickAsync(1);
  assert.deepEqual(old.signals, ["SIGKILL"]);
});

Deno.test("a crash loop: a slot whose children all die before they are ready, past the intensity, is reported once and not restarted", async () => {
  const crashLoops: string[] = [];
  const test = startPool({
    restartIntensity: 2,
    restartDelayMs: 10,
    onCrashLoop: (name, cause) => void crashLoops.push(`${name}: ${cause}`),
  });
  for (let crash = 0; crash < 3; crash++) {
    await exit(test, test.children.at(-1)!, { code: 3 });
    await test.clock.tickAsync(20);
  }
  assert.deepEqual(crashLoops, ["worker-test-1: died (code 3)"]);
  await test.clock.tickAsync(60_000);
  assert.equal(test.children.length, 3, "no restart after the crash loop");
});

Deno.test("a slot whose child was ready once keeps being restarted past the intensity, as fatal, without a crash loop", async () => {
  const crashLoops: string[] = [];
  const test = startPool({
    restartIntensity: 2,
    restartDelayMs: 10,
    restartMaxDelayMs: 1000,
    onCrashLoop: (name) => void crashLoops.push(name),
  });
  test.children[0].emit(ready(test.children[0]));
  for (let crash = 0; crash < 3; crash++) {
    await exit(test, test.children.at(-1)!, { code: 1 });
    await test.clock.tickAsync(20);
  }
  assert.deepEqual(crashLoops, []);
  assert.equal(test.pool.snapshot().slots[0].state, "fatal");
  await test.clock.tickAsync(1000);
  assert.equal(test.children.length, 4, "tried again after restartMaxDelayMs");
});

Deno.test("rolling restart of 2 slots: slot 1's old child is sent drain only once its replacement is ready, slot 2 is untouched until that old child has exited, and each slot counts one restart, with no child killed", async () => {
  const test = startPool({ size: 2 });
  const [old1, old2] = test.children;
  old1.emit(ready(old1));
  old2.emit(ready(old2));
  let rolled = false;
  const rolling = test.pool.rollingRestart().then(() => (rolled = true));

  assert.deepEqual(test.children.map((child) => child.name), [
    "worker-test-1",
    "worker-test-2",
    "worker-test-1",
  ]);
  const new1 = test.children[2];
  await test.clock.tickAsync(1000);
  assert.deepEqual(old1.sent, [], "no drain before the replacement is ready");
  assert.equal(test.pool.snapshot().slots[0].state, "starting");

  new1.emit(ready(new1));
  await test.clock.runMicrotasks();
  assert.deepEqual(old1.sent, ["drain"]);
  old1.emit({ event: "draining" });
  await heartbeatsFor(test.clock, [new1, old2], 3000);
  assert.equal(test.children.length, 3, "slot 2 waits while slot 1's old child drains");
  assert.deepEqual(old2.sent, []);

  await exit(test, old1, { code: 0 });
  assert.equal(test.children.length, 4);
  const new2 = test.children[3];
  assert.equal(new2.name, "worker-test-2");
  assert.deepEqual(old2.sent, [], "no drain before the replacement is ready");

  new2.emit(ready(new2));
  await test.clock.runMicrotasks();
  assert.deepEqual(old2.sent, ["drain"]);
  assert.equal(rolled, false);
  await exit(test, old2, { code: 0 });
  await rolling;

  const slots = test.pool.snapshot().slots;
  assert.deepEqual(slots.map((slot) => slot.restarts), [1, 1]);
  assert.deepEqual(slots.map((slot) => slot.pid), [new1.pid, new2.pid]);
  assert.deepEqual(slots.map((slot) => slot.state), ["running", "running"]);
  assert.deepEqual([old1, old2, new1, new2].map((child) => child.signals), [[], [], [], []]);
});

Deno.test("rolling restart sends drain to the old child after startTimeoutMs when the replacement is never ready", async () => {
  const test = startPool({ startTimeoutMs: 10_000 });
  const [old] = test.children;
  old.emit(ready(old));
  const rolling = test.pool.rollingRestart();
  await test.clock.tickAsync(9_999);
  assert.deepEqual(old.sent, []);
  await test.clock.tickAsync(1);
  assert.deepEqual(old.sent, ["drain"]);
  await exit(test, old, { code: 0 });
  await rolling;
});

Deno.test("shrink with every slot busy sends drain to the last slot's child instead of killing it; the size drops at once, the slot goes when the child exits and is not restarted", async () => {
  const test = startPool({ size: 2, restartMaxDelayMs: 30_000 });
  const [first, last] = test.children;
  first.emit(ready(first));
  last.emit(ready(last));
  first.emit(heartbeat([job("b")]));
  last.emit(heartbeat([job("a")]));

  assert.equal(test.pool.shrink(), 1);
  assert.deepEqual(last.sent, ["drain"]);
  assert.deepEqual(last.signals, []);
  const shrinking = test.pool.snapshot();
  assert.equal(shrinking.size, 1);
  assert.deepEqual(
    shrinking.slots.map((slot) => [slot.name, slot.state]),
    [["worker-test-1", "running"], ["worker-test-2", "draining"]],
  );

  last.emit({ event: "draining" });
  last.emit(heartbeat([]));
  await exit(test, last, { code: 0 });
  assert.deepEqual(test.pool.snapshot().slots.map((slot) => slot.name), ["worker-test-1"]);
  await heartbeatsFor(test.clock, [first], 30_000);
  assert.equal(test.children.length, 2);
});

Deno.test("shrink drains the slot holding no job, not the last slot, which holds one", () => {
  const test = startPool({ size: 3 });
  const [first, second, third] = test.children;
  for (const child of test.children) child.emit(ready(child));
  first.emit(heartbeat([job("a")]));
  second.emit(heartbeat([]));
  third.emit(heartbeat([job("b")]));

  assert.equal(test.pool.shrink(), 2);
  assert.deepEqual(second.sent, ["drain"]);
  assert.deepEqual(first.sent, []);
  assert.deepEqual(third.sent, []);
  assert.deepEqual(
    test.pool.serving().map((slot) => slot.index),
    [1, 3],
  );
});

Deno.test("shrink takes a slot waiting to restart (no process) before any slot with a process", async () => {
  const test = startPool({ size: 3 });
  const [first, second, third] = test.children;
  for (const child of test.children) child.emit(ready(child));
  await exit(test, first); // crashed: slot 1 waits restartDelayMs
  assert.equal(test.pool.shrink(), 2);
  assert.deepEqual(second.sent, []);
  assert.deepEqual(third.sent, []);
  assert.deepEqual(test.pool.serving().map((slot) => slot.index), [2, 3]);
  await heartbeatsFor(test.clock, [second, third], 5000);
  assert.equal(test.children.length, 3, "the removed slot was not restarted");
});

Deno.test("the pool's figures keep those of a slot a shrink removed: they never go down", async () => {
  const test = startPool({ size: 2 });
  const [first, last] = test.children;
  const completed = (count: number) => {
    const stats = emptyStats();
    queueStats(stats, "llm").completed = count;
    return stats;
  };
  const completedInPool = () => test.pool.snapshot().stats?.queues.llm?.completed;
  first.emit(ready(first));
  last.emit(ready(last));
  first.emit(heartbeat([], { stats: completed(3) }));
  last.emit(heartbeat([], { stats: completed(5) }));
  assert.equal(completedInPool(), 8);

  assert.equal(test.pool.shrink(), 1);
  await exit(test, last, { code: 0 });
  assert.deepEqual(test.pool.snapshot().slots.map((slot) => slot.name), ["worker-test-1"]);
  assert.equal(completedInPool(), 8);
  first.emit(heartbeat([], { stats: completed(4) }));
  assert.equal(completedInPool(), 9);
});

Deno.test("a second shrink while the last slot drains shrinks the slot before it; every draining child stays tracked until it exits", async () => {
  const test = startPool({ size: 3 });
  const [first, second, third] = test.children;
  for (const child of test.children) child.emit(ready(child));

  assert.equal(test.pool.shrink(), 2);
  assert.equal(test.pool.shrink(), 1);
  assert.deepEqual(third.sent, ["drain"]);
  assert.deepEqual(second.sent, ["drain"]);
  assert.deepEqual(first.sent, []);
  assert.equal(test.pool.shrink(), 1, "the last running slot is never shrunk away");
  assert.deepEqual(first.sent, []);

  await exit(test, third, { code: 0 });
  assert.deepEqual(
    test.pool.snapshot().slots.map((slot) => [slot.name, slot.state]),
    [["worker-test-1", "running"], ["worker-test-2", "draining"]],
  );
  await exit(test, second, { code: 0 });
  assert.deepEqual(test.pool.snapshot().slots.map((slot) => slot.name), ["worker-test-1"]);
  assert.equal(test.pool.snapshot().size, 1);
  assert.equal(test.children.length, 3, "no slot was restarted");
});

Deno.test("grow adds a slot with the next index and stops at max", () => {
  const test = startPool({ size: 2 });
  assert.equal(test.pool.grow(3), 3);
  assert.deepEqual(test.children.map((child) => child.name), [
    "worker-test-1",
    "worker-test-2",
    "worker-test-3",
  ]);
  assert.deepEqual(test.pool.snapshot().slots.map((slot) => slot.index), [1, 2, 3]);
  assert.equal(test.pool.grow(3), 3);
  assert.equal(test.children.length, 3);
});

Deno.test("drain sends drain to every child; stopped() resolves once all have exited, leaving no timer set", async () => {
  const test = startPool({ size: 2 });
  const [first, second] = test.children;
  first.emit(ready(first));
  second.emit(ready(second));
  let stopped = false;
  test.pool.stopped().then(() => (stopped = true));

  const drained = test.pool.drain();
  assert.deepEqual([first.sent, second.sent], [["drain"], ["drain"]]);
  const snapshot = test.pool.snapshot();
  assert.equal(snapshot.draining, true);
  assert.deepEqual(snapshot.slots.map((slot) => slot.state), ["draining", "draining"]);

  await exit(test, first, { code: 0 });
  assert.equal(stopped, false);
  await exit(test, second, { code: 0 });
  assert.equal(stopped, true);
  await drained;
  assert.equal(test.clock.timerCount, 0);
});

Deno.test("during a drain no slot is restarted: neither one in backoff nor one whose child dies", async () => {
  const test = startPool({ size: 2, restartDelayMs: 1000 });
  const [crashed, running] = test.children;
  running.emit(ready(running));
  await exit(test, crashed);
  assert.equal(test.pool.snapshot().slots[0].state, "backoff");

  const drained = test.pool.drain();
  running.emit({ event: "draining" });
  await exit(test, running);
  await drained;
  assert.equal(test.clock.timerCount, 0, "the backoff timer was cleared");
  await test.clock.tickAsync(60_000);
  assert.equal(test.children.length, 2);
  assert.deepEqual(test.pool.snapshot().slots.map((slot) => slot.state), ["stopped", "stopped"]);
});

Deno.test("a child still running DRAIN_BACKSTOP_MS after the drain deadline is killed with SIGKILL, and stopped() resolves once it has exited", async () => {
  const test = startPool({ drainTimeoutMs: 30_000 });
  const [child] = test.children;
  child.emit(ready(child));
  let stopped = false;
  test.pool.stopped().then(() => (stopped = true));

  test.pool.drain();
  child.emit({ event: "draining" });
  await test.clock.tickAsync(30_000 + DRAIN_BACKSTOP_MS - 1);
  assert.deepEqual(child.signals, []);
  await test.clock.tickAsync(1);
  assert.deepEqual(child.signals, ["SIGKILL"]);
  assert.equal(stopped, false);
  await exit(test, child, { signal: "SIGKILL" });
  assert.equal(stopped, true);
  assert.equal(test.clock.timerCount, 0);
});
