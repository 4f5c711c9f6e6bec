/** Coalesces rolling-restart requests (SIGHUPs): at most one runs, at most one more waits its turn. */

/** Where the rolling restarts stand: none, one running, or one running and one waiting. */
export type RestartQueueState = "idle" | "running" | "running-one-queued";

/** What a request for a rolling restart does: start one now, queue one, or join the queued one. */
export type RestartRequestOutcome = "started" | "queued" | "coalesced";

/**
 * The rule, as a pure step: a request starts a restart when none runs, queues one behind a
 * running one, and is folded into the queued one when there is one already (the queued restart
 * has not begun: it will read the newest configuration when it starts, so it serves both).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { onRestartRequested } from "./restart_queue.ts";
 *
 * assert.deepEqual(onRestartRequested("idle"), { state: "running", outcome: "started" });
 * assert.deepEqual(onRestartRequested("running"), { state: "running-one-queued", outcome: "queued" });
 * assert.deepEqual(onRestartRequested("running-one-queued"), {
 *   state: "running-one-queued",
 *   outcome: "coalesced",
 * });
 * ```
 */
export function onRestartRequested(
  state: RestartQueueState,
): { state: RestartQueueState; outcome: RestartRequestOutcome } {
  switch (state) {
    case "idle":
      return { state: "running", outcome: "started" };
    case "running":
      return { state: "running-one-queued", outcome: "queued" };
    case "running-one-queued":
      return { state, outcome: "coalesced" };
  }
}

/**
 * The rule when a restart ends: the queued one, if any, starts now.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { onRestartFinished } from "./restart_queue.ts";
 *
 * assert.deepEqual(onRestartFinished("running-one-queued"), { state: "running", startNext: true });
 * assert.deepEqual(onRestartFinished("running"), { state: "idle", startNext: false });
 * ```
 */
export function onRestartFinished(
  state: RestartQueueState,
): { state: RestartQueueState; startNext: boolean } {
  return state === "running-one-queued"
    ? { state: "running", startNext: true }
    : { state: "idle", startNext: false };
}

/** The queue of rolling restarts: `request` answers what became of the request. */
export interface RestartQueue {
  request(): RestartRequestOutcome;
  /** Resolves once no restart runs and none waits. */
  idle(): Promise<void>;
}

/**
 * Runs `restart` by the rules of {@link onRestartRequested} and {@link onRestartFinished}. A
 * restart that throws ends like one that returns (`onError` hears of it): the queue goes on.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { createRestartQueue } from "./restart_queue.ts";
 *
 * let runs = 0;
 * const queue = createRestartQueue(async () => { runs++; await Promise.resolve(); });
 * assert.deepEqual([queue.request(), queue.request(), queue.request()], [
 *   "started",
 *   "queued",
 *   "coalesced",
 * ]);
 * await queue.idle();
 * assert.equal(runs, 2);
 * ```
 */
export function createRestartQueue(
  restart: () => Promise<void>,
  onError: (error: unknown) => void = () => {},
): RestartQueue {
  let state: RestartQueueState = "idle";
  let whenIdle = Promise.withResolvers<void>();
  whenIdle.resolve();
  const run = async (): Promise<void> => {
    try {
      await restart();
    } catch (error) {
      onError(error);
    }
    const next = onRestartFinished(state);
    state = next.state;
    if (next.startNext) void run();
    else whenIdle.resolve();
  };
  return {
    request() {
      const next = onRestartRequested(state);
      if (state === "idle") whenIdle = Promise.withResolvers<void>();
      state = next.state;
      if (next.outcome === "started") void run();
      return next.outcome;
    },
    idle: () => whenIdle.promise,
  };
}
