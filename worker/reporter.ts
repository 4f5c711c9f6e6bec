/**
 * A worker's events to its supervisor on stdout: ready, heartbeats (the jobs it holds, its
 * counts, its process groups), draining, stopped. A job's start or end sends no event: the
 * supervisor finds a dead worker's jobs in Redis, and its counts in the counts file.
 */

import { pipeWriter } from "../log/pipe.ts";
import type { CountsFile } from "../protocol/counts_file.ts";
import { type ChildEvent, formatEvent } from "../protocol/messages.ts";
import type { WorkerStats } from "../protocol/stats.ts";
import { liveProcessGroups, onProcessGroupStarted } from "../providers/process_groups.ts";
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

/** Event lines to stdout; dropped, not thrown, once the supervisor stopped reading. */
function writeToStdout(): (line: string) => void {
  const write = pipeWriter(Deno.stdout);
  return (line) => void write(encoder.encode(line));
}

/**
 * Reports to the supervisor (only when `supervised`: run alone, a worker
 * writes no events). The heartbeat runs from the first moment, whatever Redis
 * does: silence means hung.
 */
export function createReporter(options: {
  supervised: boolean;
  inFlight: InFlight;
  tally: Tally;
  /**
   * Where event lines go. @default {synchronous writes to stdout, dropped once the supervisor
   * is gone: `log/pipe.ts`}
   */
  write?: (line: string) => void;
  /** Job and provider figures, sent with the periodic beat. */
  stats?: WorkerStats;
  /**
   * Where each change of the counts is written at once, for the supervisor to read if this
   * process dies between heartbeats. Without it (a supervisor that could not make the file),
   * each change is sent as a heartbeat instead, at the cost of an event per job.
   */
  countsFile?: CountsFile;
  /**
   * `MAX_JOBS_PER_WORKER`: when the jobs finished reach it, the counts go to the supervisor at
   * once (one event), which replaces this worker.
   */
  recycleAtJobs?: number;
}) {
  const { inFlight, tally } = options;
  const write = options.write ?? writeToStdout();
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
      ...(workerIds ? { workers: workerIds } : {}),
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
  let workerIds: string[] | undefined;
  let beatTimer: ReturnType<typeof setInterval> | undefined;
  let stopListening = () => {};
  return {
    emit,
    start() {
      // A process group (an LLM CLI) is reported as soon as it starts: none may outlive a kill.
      if (options.supervised) stopListening = onProcessGroupStarted(soon);
      heartbeat();
      beatTimer = setInterval(() => {
        rss = Deno.memoryUsage().rss;
        heartbeat(true);
      }, HEARTBEAT_INTERVAL_MS);
    },
    /**
     * The BullMQ Workers are made: their ids go out at once, before any of them can take a job
     * (taking one needs Redis, so a later tick).
     */
    workersMade(ids: string[]): void {
      workerIds = ids;
      heartbeat();
    },
    /** A job finished: its count must not be lost if this process dies a moment later. */
    countsChanged() {
      if (!options.supervised) return;
      const due = options.recycleAtJobs !== undefined &&
        tally.processed + tally.failed === options.recycleAtJobs;
      if (options.countsFile) options.countsFile.write(tally);
      if (due || !options.countsFile) soon();
    },
    /** Stops the beat after one last heartbeat with the final counts. */
    stop() {
      clearInterval(beatTimer);
      stopListening();
      heartbeat(true);
    },
  };
}

/** The worker's channel to its supervisor. */
export type Reporter = ReturnType<typeof createReporter>;
