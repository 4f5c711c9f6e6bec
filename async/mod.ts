/** Small async helpers, modelled on Deno std's `delay`, `deadline`, `abortable` and `TextLineStream` (JSR is not reachable to build with). */

/**
 * Resolves after `ms` milliseconds; rejects with the signal's reason as soon as
 * `signal` aborts (at once when it already has).
 *
 * @example
 * ```ts
 * await delay(100);
 * await delay(60_000, { signal: AbortSignal.timeout(10) }); // rejects after 10 ms
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

/**
 * Waits for `promise`, or rejects with the signal's reason as soon as `signal` aborts (at once
 * when it already has). The promise itself goes on.
 *
 * @example
 * ```ts
 * await abortable(processExit, AbortSignal.timeout(1000));
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
 * await deadline(redis.ping(), 2000, "Redis did not answer in 2 s");
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
 * if (!(await settlesWithin(worker.close(), 5000))) console.warn("close is still running");
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
 * const lines = stream.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream());
 * for await (const line of lines) console.log(line);
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
 * await forEachLine(child.stdout, (line) => console.log(line));
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
 * const stop = everyInterval(() => redis.ping(), 1000);
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
