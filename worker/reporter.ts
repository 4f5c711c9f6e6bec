/** A worker's events to its supervisor on stdout: ready, heartbeats with the jobs it holds, draining, stopped. */

import { type ChildEvent, formatEvent } from "../protocol/messages.ts";
import type { WorkerStats } from "../protocol/stats.ts";
import { liveProcessGroups } from "../providers/process_groups.ts";
import type { InFlight } from "./in_flight.ts";

/** How often a worker tells the supervisor it is alive. */
export const HEARTBEAT_INTERVAL_MS = 1000;

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
export function createReporter(options: {
  supervised: boolean;
  inFlight: InFlight;
  tally: Tally;
  /** Where event lines go. @default {synchronous writes to stdout} */
  write?: (line: string) => void;
  /** Job and provider figures, sent with the periodic beat. */
  stats?: WorkerStats;
}) {
  const { inFlight, tally } = options;
  const write = options.write ?? ((line: string) => Deno.stdout.writeSync(encoder.encode(line)));
  const emit = (event: ChildEvent) => {
    if (options.supervised) write(formatEvent(event));
  };
  // RSS is sampled by the periodic beat only: reading it costs more than the rest of an event.
  let rss = Deno.memoryUsage().rss;
  const heartbeat = (withStats = false) =>
    emit({
      event: "heartbeat",
      active: inFlight.held(),
      processed: tally.processed,
      failed: tally.failed,
      rss,
      subprocesses: liveProcessGroups(),
      ...(withStats && options.stats ? { stats: options.stats } : {}),
    });
  // Reported within the same tick, batched with whatever else happens in it.
  let soonQueued = false;
  const soon = () => {
    if (soonQueued) return;
    soonQueued = true;
    queueMicrotask(() => {
      soonQueued = false;
      heartbeat();
    });
  };
  let beatTimer: ReturnType<typeof setInterval> | undefined;
  return {
    emit,
    start() {
      heartbeat();
      beatTimer = setInterval(() => {
        rss = Deno.memoryUsage().rss;
        heartbeat(true);
      }, HEARTBEAT_INTERVAL_MS);
    },
    /** A job started: if this process dies, the supervisor must know what to give back. */
    jobStarted: soon,
    /** A job finished: its count must not be lost if this process dies a moment later. */
    countsChanged: soon,
    /** Stops the beat after one last heartbeat with the final counts. */
    stop() {
      clearInterval(beatTimer);
      heartbeat(true);
    },
  };
}

/** The worker's channel to its supervisor. */
export type Reporter = ReturnType<typeof createReporter>;
