/** Where code with timers reads the time and sets them: the system's clock, or a fake one in tests. */

/**
 * The time and the timers, handed to code that has rules about time so that tests can pass
 * `testing/fake_clock.ts` instead. A timer handle means something only to the clock that
 * returned it.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(callback: () => void, delayMs: number): unknown;
  clearInterval(handle: unknown): void;
}

type SystemTimer = ReturnType<typeof setTimeout>;

/** `Date.now` and the global timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as SystemTimer),
  setInterval: (callback, delayMs) => setInterval(callback, delayMs),
  clearInterval: (handle) => clearInterval(handle as SystemTimer),
};
