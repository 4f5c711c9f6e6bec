/** Small async helpers, modelled on Deno std's `delay`, `deadline`, `abortable` and `TextLineStream` (JSR is not reachable to build with). */

/**
 * Resolves after `ms` milliseconds; rejects with the signal's reason as soon as
 * `signal` aborts (at once when it already has).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { delay } from "./mod.ts";
 *
 * await delay(10);
 * const signal = AbortSignal.timeout(10);
 * await assert.rejects(delay(60_000, { signal }), { name: "TimeoutError" });
 * ```
 */
export function delay(ms: number, options: { signal?: AbortSignal } = {}): Promise<void> {
  const { signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The signal of one call, bounded by a deadline; see {@link callDeadline}. */
export interface CallDeadline extends Disposable {
  /** Aborts when the caller's signal does (with its reason) or at the deadline (`TimeoutError`). */
  signal: AbortSignal;
  /** Whether the deadline, not the caller, aborted it. */
  readonly timedOut: boolean;
}

/**
 * The signal of one call: aborted when `signal` is (with its reason) or `ms` milliseconds from
 * now (with a `TimeoutError`, as `AbortSignal.timeout`'s). Disposing of it, when the call has
 * ended, clears its timer and its listener on `signal`. `AbortSignal.timeout` cannot be
 * cleared: its timer, and the signals it holds, stay until it fires, so a worker that finishes
 * r calls a second under a deadline of d seconds holds r × d of them (500,000 held 280 MB).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { callDeadline, delay } from "./mod.ts";
 *
 * const drain = new AbortController();
 * {
 *   using call = callDeadline(drain.signal, 10);
 *   await assert.rejects(delay(60_000, { signal: call.signal }), { name: "TimeoutError" });
 *   assert.equal(call.timedOut, true);
 * }
 * const ended = callDeadline(drain.signal, 10);
 * ended[Symbol.dispose]();
 * drain.abort();
 * assert.equal(ended.signal.aborted, false);
 * ```
 */
export function callDeadline(signal: AbortSignal, ms: number): CallDeadline {
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = () => controller.abort(signal.reason);
  const timer = setTimeout(() => {
    if (controller.signal.aborted) return;
    timedOut = true;
    controller.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
  }, ms);
  // Like AbortSignal.timeout's, the deadline alone does not keep the process alive.
  Deno.unrefTimer(timer);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    [Symbol.dispose]() {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    },
  };
}

/**
 * Waits for `promise`, or rejects with the signal's reason as soon as `signal` aborts (at once
 * when it already has). The promise itself goes on.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { abortable } from "./mod.ts";
 *
 * assert.equal(await abortable(Promise.resolve("exited"), new AbortController().signal), "exited");
 * const never = new Promise<string>(() => {});
 * await assert.rejects(abortable(never, AbortSignal.timeout(10)), { name: "TimeoutError" });
 * ```
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** What `deadline` rejects with when the time is up. */
export class DeadlineError extends Error {
  override name = "DeadlineError";
}

/**
 * `promise`, or a rejection with `DeadlineError(message)` if it has not
 * settled within `ms` milliseconds. The timer never outlives the race.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { deadline } from "./mod.ts";
 *
 * assert.equal(await deadline(Promise.resolve("PONG"), 2000), "PONG");
 * const noAnswer = new Promise<string>(() => {});
 * await assert.rejects(deadline(noAnswer, 10, "Redis did not answer in 10 ms"), {
 *   name: "DeadlineError",
 *   message: "Redis did not answer in 10 ms",
 * });
 * ```
 */
export function deadline<T>(
  promise: Promise<T>,
  ms: number,
  message = `no answer within ${ms} ms`,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(message)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/**
 * Whether `promise` settled (fulfilled or rejected) within `ms` milliseconds.
 * For backstops: the caller goes on either way and only needs to know which.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { settlesWithin } from "./mod.ts";
 *
 * assert.equal(await settlesWithin(Promise.reject(new Error("closed badly")), 100), true);
 * assert.equal(await settlesWithin(new Promise(() => {}), 10), false);
 * ```
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  try {
    await deadline(promise.then(() => {}, () => {}), ms);
    return true;
  } catch {
    return false;
  }
}

/**
 * Splits a text stream into lines, without their `\n` or `\r\n`; a last line
 * without a newline is emitted too. The model is std's `TextLineStream`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { TextLineStream } from "./mod.ts";
 *
 * const lines = ReadableStream.from(["one\r\ntw", "o\nthree"]).pipeThrough(new TextLineStream());
 * assert.deepEqual(await Array.fromAsync(lines), ["one", "two", "three"]);
 * ```
 */
export class TextLineStream extends TransformStream<string, string> {
  constructor() {
    let buffer = "";
    super({
      transform(chunk, controller) {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf("\n")) >= 0) {
          controller.enqueue(buffer.slice(0, end).replace(/\r$/, ""));
          buffer = buffer.slice(end + 1);
        }
      },
      flush(controller) {
        if (buffer !== "") controller.enqueue(buffer.replace(/\r$/, ""));
      },
    });
  }
}

/**
 * Calls `onLine` with each line of a byte stream until the stream ends.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { forEachLine } from "./mod.ts";
 *
 * const stdout = ReadableStream.from([new TextEncoder().encode("ready\ndone\n")]);
 * const seen: string[] = [];
 * await forEachLine(stdout, (line) => seen.push(line));
 * assert.deepEqual(seen, ["ready", "done"]);
 * ```
 */
export async function forEachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const lines = stream.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream());
  for await (const line of lines) onLine(line);
}

/**
 * Runs `task` now and then every `intervalMs`, never two at once: a tick that finds the last run
 * still going is skipped. A run that throws is the task's business (it should catch). Returns
 * the function that stops it.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { everyInterval } from "./mod.ts";
 *
 * let runs = 0;
 * const stop = everyInterval(() => {
 *   runs++;
 *   return Promise.resolve();
 * }, 1000);
 * assert.equal(runs, 1); // the first run is at once
 * stop();
 * ```
 */
export function everyInterval(task: () => Promise<void>, intervalMs: number): () => void {
  let busy = false;
  const run = async () => {
    if (busy) return;
    busy = true;
    try {
      await task();
    } finally {
      busy = false;
    }
  };
  void run();
  const timer = setInterval(run, intervalMs);
  return () => clearInterval(timer);
}
