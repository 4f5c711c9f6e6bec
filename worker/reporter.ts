/** A worker's events to its supervisor on stdout: ready, heartbeats with the jobs it holds, draining, stopped. */

import { type ChildEvent, formatEvent } from "../protocol/messages.ts";
import type { InFlight } from "./in_flight.ts";

/** How often a worker tells the supervisor it is alive. */
export const HEARTBEAT_INTERVAL_MS = 1000;
/** How long a finished job may wait before a heartbeat reports the new counts. */
const COUNTS_BATCH_MS = 250;

/** What a worker process has done so far. */
export interface Tally {
  processed: number;
  failed: number;
  givenBack: number;
}

const encoder = new TextEncoder();

/**
 * Reports to the supervisor (only when `supervised`: run alone, a worker
 * writes no events). The heartbeat runs from the first moment, whatever Redis
 * does: silence means hung.
 */
export function createReporter(options: { supervised: boolean; inFlight: InFlight; tally: Tally }) {
  const { inFlight, tally } = options;
  const emit = (event: ChildEvent) => {
    if (options.supervised) Deno.stdout.writeSync(encoder.encode(formatEvent(event)));
  };
  // RSS is sampled by the periodic beat only: reading it costs more than the rest of an event.
  let rss = Deno.memoryUsage().rss;
  const heartbeat = () =>
    emit({
      event: "heartbeat",
      active: inFlight.held(),
      processed: tally.processed,
      failed: tally.failed,
      rss,
    });
  let soonQueued = false;
  let countsTimer: ReturnType<typeof setTimeout> | undefined;
  let beatTimer: ReturnType<typeof setInterval> | undefined;
  return {
    emit,
    start() {
      heartbeat();
      beatTimer = setInterval(() => {
        rss = Deno.memoryUsage().rss;
        heartbeat();
      }, HEARTBEAT_INTERVAL_MS);
    },
    /**
     * A job that starts is reported within the same tick: if this process dies,
     * the supervisor must know what to give back.
     */
    jobStarted() {
      if (soonQueued) return;
      soonQueued = true;
      queueMicrotask(() => {
        soonQueued = false;
        heartbeat();
      });
    },
    /**
     * Finished jobs can wait for a batch (a stale entry only costs a give-back
     * that BullMQ's lock check refuses).
     */
    countsChanged() {
      countsTimer ??= setTimeout(() => {
        countsTimer = undefined;
        heartbeat();
      }, COUNTS_BATCH_MS);
    },
    /** Stops the beat after one last heartbeat with the final counts. */
    stop() {
      clearInterval(beatTimer);
      clearTimeout(countsTimer);
      heartbeat();
    },
  };
}

/** The worker's channel to its supervisor. */
export type Reporter = ReturnType<typeof createReporter>;
