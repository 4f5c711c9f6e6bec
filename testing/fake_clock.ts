/** A fake clock for unit tests: time stands still until the test ticks it, and due timers run in order. */

/**
 * A clock whose time moves only by {@linkcode FakeClock.tick} or
 * {@linkcode FakeClock.tickAsync}. It replaces no globals: hand it to the code
 * under test wherever that code takes a clock. The model is std's `FakeTime`.
 */
export interface FakeClock {
  /** The fake time in milliseconds. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): number;
  clearTimeout(id: number | undefined): void;
  setInterval(callback: () => void, delayMs: number): number;
  clearInterval(id: number | undefined): void;
  /**
   * Advances the time by `ms`, running every timer that falls due on the way,
   * in the order of their due times (then of their creation), each at its due time.
   */
  tick(ms?: number): void;
  /**
   * Like {@linkcode FakeClock.tick}, but lets pending promises settle before
   * the first timer, after each one and at the end: code that awaits between
   * timers runs as it would in real time.
   */
  tickAsync(ms?: number): Promise<void>;
  /** Runs every pending promise callback, including the ones those queue. */
  runMicrotasks(): Promise<void>;
  /** How many timers are set and neither run (timeouts) nor cleared. */
  readonly timerCount: number;
}

interface Timer {
  id: number;
  dueAt: number;
  callback: () => void;
  /** Set for an interval: it is due again this long after it ran. */
  intervalMs: number | undefined;
}

/**
 * Creates a fake clock at `startMs`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { createFakeClock } from "./fake_clock.ts";
 *
 * const clock = createFakeClock();
 * const fired: number[] = [];
 * clock.setTimeout(() => fired.push(clock.now()), 1000);
 * clock.setInterval(() => fired.push(clock.now()), 400);
 * clock.tick(1000);
 * assert.deepEqual(fired, [400, 800, 1000]);
 * await clock.tickAsync(200);
 * assert.deepEqual(fired, [400, 800, 1000, 1200]);
 * ```
 */
export function createFakeClock(startMs = 0): FakeClock {
  let now = startMs;
  let lastId = 0;
  const timers = new Map<number, Timer>();

  const add = (callback: () => void, delayMs: number, repeat: boolean): number => {
    // As the real timers do: a negative or missing delay is 0, and an interval never repeats at once.
    const delay = Math.max(0, Number(delayMs) || 0);
    const id = ++lastId;
    timers.set(id, {
      id,
      dueAt: now + delay,
      callback,
      intervalMs: repeat ? Math.max(1, delay) : undefined,
    });
    return id;
  };

  /** The next timer due by `until`, taken off (timeout) or rescheduled (interval). */
  const takeNextDue = (until: number): Timer | undefined => {
    let next: Timer | undefined;
    for (const timer of timers.values()) {
      if (timer.dueAt > until) continue;
      if (!next || timer.dueAt < next.dueAt || (timer.dueAt === next.dueAt && timer.id < next.id)) {
        next = timer;
      }
    }
    if (!next) return undefined;
    now = next.dueAt;
    if (next.intervalMs === undefined) timers.delete(next.id);
    else next.dueAt = now + next.intervalMs;
    return next;
  };

  const runMicrotasks = (): Promise<void> => {
    // One real macrotask: it runs only once the microtask queue is empty. A message is
    // used rather than setTimeout(0), which waits a millisecond or more each time.
    const { port1, port2 } = new MessageChannel();
    return new Promise((resolve) => {
      port1.onmessage = () => {
        port1.close();
        port2.close();
        resolve();
      };
      port2.postMessage(undefined);
    });
  };

  const clear = (id: number | undefined) => {
    if (id !== undefined) timers.delete(id);
  };

  return {
    now: () => now,
    setTimeout: (callback, delayMs) => add(callback, delayMs, false),
    setInterval: (callback, delayMs) => add(callback, delayMs, true),
    clearTimeout: clear,
    clearInterval: clear,
    tick(ms = 0) {
      const until = now + ms;
      for (let timer = takeNextDue(until); timer; timer = takeNextDue(until)) timer.callback();
      now = until;
    },
    async tickAsync(ms = 0) {
      const until = now + ms;
      await runMicrotasks();
      for (let timer = takeNextDue(until); timer; timer = takeNextDue(until)) {
        timer.callback();
        await runMicrotasks();
      }
      now = until;
    },
    runMicrotasks,
    get timerCount() {
      return timers.size;
    },
  };
}
