/** The pool: N worker slots, each restarted on its own with backoff, bounded by restart intensity. */

import { type Clock, systemClock } from "../async/clock.ts";
import { exceedsIntensity, recordRestart, restartDelayMs } from "./backoff.ts";
import type { ChildHandle } from "./child.ts";
import type { PoolSnapshot, SlotState } from "../health/status.ts";
import type { ChildEvent, HeldJob } from "../protocol/messages.ts";
import { emptyStats, mergeStats, type WorkerStats } from "../protocol/stats.ts";
import { killProcessGroup as killGroup } from "../providers/process_groups.ts";
import { log } from "../log/log.ts";

/** The child spec and restart strategy of a pool. */
export interface PoolOptions {
  size: number;
  /** Slot names: `worker-<hostname>-<index>`. */
  nameOf(index: number): string;
  /**
   * Starts the process of slot `index` (1-based), named `name`; the edge where processes are
   * made. `replacing`: an older process of the slot still runs; the new one is sent
   * `take-llm-jobs` once none does.
   */
  spawn(
    name: string,
    callbacks: { onEvent(event: ChildEvent): void },
    replacing: boolean,
    index: number,
  ): ChildHandle;
  /**
   * Gives back the jobs of a child that died: called once per death that was not a clean exit
   * (or left jobs behind), with the jobs of its last heartbeat (up to a heartbeat old) and how
   * it died (`signal SIGKILL`, `code 1`, `hung`), and the ids of its BullMQ Workers. The caller
   * reads what it really held in Redis: only lock tokens of those Workers, since the slot's
   * other process (a replacement) runs under the same name.
   */
  giveBackJobsOf(name: string, jobs: HeldJob[], cause: string, workerIds: string[]): Promise<void>;
  /**
   * Removes the registration of a child that died without removing it (a clean exit does), so
   * that it is not taken for a live worker until its TTL ends: by the next supervisor on this
   * hostname, which would watch it before starting, or by `info`.
   */
  unregisterDead?(name: string, pid: number): Promise<void>;
  /** Replace a child gracefully (its replacement ready first) past these limits. */
  recycle?: {
    /** Resident memory of the child, from its heartbeat. */
    maxRssBytes?: number;
    /** Jobs the child has finished, completed or failed. */
    maxJobs?: number;
  };
  /**
   * A slot whose children all died before they were ever ready went past the restart
   * intensity: nothing will get better by restarting. The supervisor stops with the reason.
   */
  onCrashLoop?(name: string, cause: string): void;
  /** Kills a process group a dead child left behind (its LLM CLI). @default {SIGKILL to -pgid} */
  killProcessGroup?(pgid: number): void;
  restartDelayMs: number;
  restartMaxDelayMs: number;
  restartIntensity: number;
  restartPeriodMs: number;
  drainTimeoutMs: number;
  heartbeatTimeoutMs: number;
  /** How long a new child may take to send its first event. @default {60000} */
  startTimeoutMs?: number;
  /** The time and every timer of the pool (restart backoff, heartbeat watchdog, drain deadlines). @default {systemClock} */
  clock?: Clock;
  /** The source of the restart delay's jitter, in [0, 1). @default {Math.random} */
  random?: () => number;
}

/** One process of a slot. A slot may briefly have two during a rolling restart. */
interface Process {
  handle: ChildHandle;
  startedAt: number;
  lastEventAt: number | undefined;
  ready: boolean;
  draining: boolean;
  active: HeldJob[];
  processed: number;
  failed: number;
  rssBytes: number;
  killedAsHung: boolean;
  /** Process groups the child runs (LLM CLIs), from its last heartbeat. */
  subprocesses: number[];
  /** Its job and provider figures, from its last periodic heartbeat. */
  stats: WorkerStats | undefined;
  /** The ids of its BullMQ Workers: the prefix of every lock token it holds. */
  workerIds: string[];
  /** Kills it if, retiring, it outlives the drain deadline. */
  retireTimer: unknown;
}

interface Slot {
  index: number;
  name: string;
  state: SlotState;
  current: Process | undefined;
  /** Processes being replaced (rolling restart) or removed (scale down); they drain and are not restarted. */
  retiring: Set<Process>;
  restarts: number;
  crashesInARow: number;
  restartTimer: unknown;
  processedBefore: number;
  failedBefore: number;
  removeWhenStopped: boolean;
  /** A child of this slot has been ready at least once. */
  readyEver: boolean;
  /** A replacement is on its way (recycling or a rolling restart). */
  replacing: boolean;
  /** The figures of the slot's processes that have exited. */
  statsBefore: WorkerStats;
}

/** The pool's controls, as the supervisor's signal handlers use them. */
export interface Pool {
  start(): void;
  /** Graceful drain: children finish in-flight jobs until the drain timeout, then are stopped. */
  drain(): Promise<void>;
  /** After a drain has begun: children give their jobs back now and exit. */
  stopNow(): Promise<void>;
  /** Replaces every child one at a time, each replacement ready before the old one drains. */
  rollingRestart(): Promise<void>;
  /** One more slot, up to `max`. Returns the new size. */
  grow(max: number): number;
  /**
   * One fewer slot, down to 1: the slot that costs least to lose drains and goes (one without a
   * process, else the one holding the fewest jobs, the last of equals). Returns the new size.
   */
  shrink(): number;
  snapshot(): PoolSnapshot;
  /** The slots that stay (not those draining away after a shrink), each with its current process. */
  serving(): { index: number; process: ChildHandle | undefined }[];
  /** Resolves when every process of the pool has exited after `drain`. */
  stopped(): Promise<void>;
}

const logger = log("supervisor");

/** How long past the drain deadline children may take to exit before they are killed. */
export const DRAIN_BACKSTOP_MS = 3000;
/** How long killed children may take to be reaped. */
const KILL_WAIT_MS = 1000;

/** Creates a pool of `options.size` slots. Nothing runs until `start()`. */
export function createPool(options: PoolOptions): Pool {
  const clock = options.clock ?? systemClock;
  const killProcessGroup = options.killProcessGroup ?? killGroup;
  const now = () => clock.now();
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const slots: Slot[] = [];
  let restartTimes: number[] = [];
  let draining = false;
  let watchdog: unknown;
  const exits = new Set<Promise<void>>();
  /** The slots that stay: not those draining away after a shrink. */
  const staying = () => slots.filter((slot) => !slot.removeWhenStopped);
  /** The figures of the slots a shrink removed: the pool's counters never go down. */
  let removedStats = emptyStats();
  /** Takes `slot` out of the pool, keeping its figures in the pool's. */
  const removeSlot = (slot: Slot): void => {
    const index = slots.indexOf(slot);
    if (index >= 0) slots.splice(index, 1);
    removedStats = mergeStats([removedStats, slot.statsBefore]);
    slot.statsBefore = emptyStats();
  };
  // What a rolling restart waits on instead of polling: settled by every event, exit, shrink and drain.
  let changed = Promise.withResolvers<void>();
  const notifyChange = (): void => {
    changed.resolve();
    changed = Promise.withResolvers<void>();
  };

  const newSlot = (index: number): Slot => ({
    index,
    name: options.nameOf(index),
    state: "stopped",
    current: undefined,
    retiring: new Set(),
    restarts: 0,
    crashesInARow: 0,
    restartTimer: undefined,
    processedBefore: 0,
    failedBefore: 0,
    removeWhenStopped: false,
    readyEver: false,
    replacing: false,
    statsBefore: emptyStats(),
  });
  for (let index = 1; index <= options.size; index++) slots.push(newSlot(index));

  function onEvent(slot: Slot, process: Process, event: ChildEvent): void {
    process.lastEventAt = now();
    switch (event.event) {
      case "ready":
        process.ready = true;
        slot.readyEver = true;
        if (slot.current === process && slot.state === "starting") slot.state = "running";
        logger.info("{worker} ready (pid {pid})", { worker: slot.name, pid: event.pid });
        // Its first heartbeat's RSS may already be past MAX_WORKER_MEMORY.
        if (slot.current === process) recycleIfDue(slot, process);
        break;
      case "heartbeat":
        process.active = event.active;
        process.processed = event.processed;
        process.failed = event.failed;
        process.rssBytes = event.rss;
        process.subprocesses = event.subprocesses;
        if (event.workers) process.workerIds = event.workers;
        if (event.stats) process.stats = event.stats;
        if (slot.current === process) recycleIfDue(slot, process);
        break;
      case "draining":
        process.draining = true;
        if (slot.current === process) slot.state = "draining";
        break;
      case "stopped":
        logger.info("{worker} stopped, {givenBack} job(s) given back", {
          worker: slot.name,
          givenBack: event.givenBack,
        });
        break;
    }
    notifyChange();
  }

  function spawnInto(slot: Slot, replacing = false): Process {
    const process: Process = {
      handle: undefined as unknown as ChildHandle,
      startedAt: now(),
      lastEventAt: undefined,
      ready: false,
      draining: false,
      active: [],
      processed: 0,
      failed: 0,
      rssBytes: 0,
      killedAsHung: false,
      subprocesses: [],
      stats: undefined,
      workerIds: [],
      retireTimer: undefined,
    };
    process.handle = options.spawn(
      slot.name,
      {
        onEvent: (event) => onEvent(slot, process, event),
      },
      replacing,
      slot.index,
    );
    const exit = process.handle.exited.then((status) => onExit(slot, process, status));
    exits.add(exit);
    exit.finally(() => {
      exits.delete(exit);
      notifyChange();
    });
    return process;
  }

  function startSlot(slot: Slot): void {
    slot.restartTimer = undefined;
    if (draining) return;
    slot.state = "starting";
    // A process of the slot still finishing its calls (a replacement that died, a drain): the
    // new one waits for it before it takes LLM jobs.
    slot.current = spawnInto(slot, slot.retiring.size > 0);
    logger.info("{worker} starting (pid {pid})", {
      worker: slot.name,
      pid: slot.current.handle.pid,
    });
  }

  async function onExit(slot: Slot, process: Process, status: Deno.CommandStatus): Promise<void> {
    // Jobs it finished after its last heartbeat are in its counts file.
    const final = process.handle.finalCounts?.();
    if (final) {
      process.processed = Math.max(process.processed, final.processed);
      process.failed = Math.max(process.failed, final.failed);
    }
    const lost = process.active;
    process.active = [];
    const clean = status.code === 0 && !status.signal;
    const cause = process.killedAsHung
      ? "hung"
      : status.signal
      ? `signal ${status.signal}`
      : `code ${status.code}`;
    if (!clean) {
      // What it ran in process groups of their own (LLM CLIs) does not die with it.
      for (const pgid of process.subprocesses) killProcessGroup(pgid);
      await options.unregisterDead?.(slot.name, process.handle.pid).catch((error) =>
        logger.warn("{worker}: its registration stays until its TTL ends: {error}", {
          worker: slot.name,
          error: String(error),
        })
      );
    }
    if (lost.length > 0 || !clean) {
      await options.giveBackJobsOf(slot.name, lost, cause, process.workerIds).catch((error) =>
        logger.error("{worker}: could not give back jobs {ids}: {error}", {
          worker: slot.name,
          ids: lost.map((job) => job.id),
          error: String(error),
        })
      );
    }
    slot.processedBefore += process.processed;
    slot.failedBefore += process.failed;
    slot.statsBefore = mergeStats([slot.statsBefore, process.stats]);
    process.stats = undefined;
    // A process that outlived its slot's removal (it was retiring already): its figures still count.
    if (!slots.includes(slot)) removeSlot(slot);
    clock.clearTimeout(process.retireTimer);
    if (slot.retiring.delete(process) || slot.current !== process) {
      // The slot's older processes have all gone: their share of LLM_MAX_IN_FLIGHT is free.
      if (slot.retiring.size === 0) slot.current?.handle.send("take-llm-jobs");
      if (slot.removeWhenStopped && slot.current === undefined && slot.retiring.size === 0) {
        removeSlot(slot);
      }
      return;
    }
    slot.current = undefined;
    const how = status.signal ? `signal ${status.signal}` : `code ${status.code}`;
    if (draining) {
      slot.state = "stopped";
      logger.info("{worker} exited ({how})", { worker: slot.name, how });
      return;
    }
    const ranForMs = now() - process.startedAt;
    slot.crashesInARow = ranForMs >= options.restartPeriodMs ? 1 : slot.crashesInARow + 1;
    restartTimes = recordRestart(restartTimes, now(), options.restartPeriodMs);
    const storm = exceedsIntensity(
      restartTimes,
      now(),
      options.restartIntensity,
      options.restartPeriodMs,
    );
    const delayMs = storm ? options.restartMaxDelayMs : restartDelayMs(slot.crashesInARow, {
      baseMs: options.restartDelayMs,
      maxMs: options.restartMaxDelayMs,
      random: options.random ?? Math.random,
    });
    slot.state = storm ? "fatal" : "backoff";
    const why = process.killedAsHung ? "was hung and was killed" : `died (${how})`;
    if (storm && !slot.readyEver && options.onCrashLoop) {
      logger.error("{worker} {why} again, and none of its processes was ever ready: a crash loop", {
        worker: slot.name,
        why,
      });
      options.onCrashLoop(slot.name, why);
      return;
    }
    if (storm) {
      logger.error(
        "{worker} {why}; restart intensity exceeded ({restarts} restarts in {periodS} s): next try in {delayS} s",
        {
          worker: slot.name,
          why,
          restarts: restartTimes.length,
          periodS: options.restartPeriodMs / 1000,
          delayS: delayMs / 1000,
        },
      );
    } else {
      logger.warn("{worker} {why}; restarting in {delayS} s", {
        worker: slot.name,
        why,
        delayS: delayMs / 1000,
      });
    }
    slot.restartTimer = clock.setTimeout(() => {
      slot.restarts++;
      startSlot(slot);
    }, delayMs);
  }

  /** Starts replacing a slot's child past `recycle`'s limits: its replacement first, then it drains. */
  function recycleIfDue(slot: Slot, process: Process): void {
    const limits = options.recycle;
    if (!limits || draining || slot.replacing || !process.ready || process.draining) return;
    const jobs = process.processed + process.failed;
    const why = limits.maxRssBytes !== undefined && process.rssBytes > limits.maxRssBytes
      ? `RSS ${Math.round(process.rssBytes / 1048576)} MB is over MAX_WORKER_MEMORY (${
        Math.round(limits.maxRssBytes / 1048576)
      } MB)`
      : limits.maxJobs !== undefined && jobs >= limits.maxJobs
      ? `${jobs} jobs reached MAX_JOBS_PER_WORKER (${limits.maxJobs})`
      : undefined;
    if (why) void replace(slot, `recycling: ${why}`);
  }

  /**
   * Tells a retiring process of `slot` to drain, and kills it (with its process groups) if it
   * has not gone by the drain deadline and the backstop: a hung old process must not hold its
   * slot, or its replacement's share of LLM_MAX_IN_FLIGHT, forever.
   */
  function retire(slot: Slot, process: Process): void {
    process.handle.send("drain");
    process.retireTimer = clock.setTimeout(() => {
      if (!slot.retiring.has(process)) return;
      logger.error("{worker} (pid {pid}) still running past the drain deadline: killing it", {
        worker: slot.name,
        pid: process.handle.pid,
      });
      process.killedAsHung = true;
      process.handle.kill("SIGKILL");
    }, options.drainTimeoutMs + DRAIN_BACKSTOP_MS);
  }

  /**
   * Replaces the slot's child: a new one starts, and once it is ready (or after the start
   * timeout) the old one drains. Capacity never dips below the pool's size.
   */
  async function replace(slot: Slot, why: string): Promise<void> {
    const old = slot.current;
    if (!old || slot.replacing || draining) return;
    slot.replacing = true;
    logger.info("{worker}: {why}", { worker: slot.name, why });
    const replacement = spawnInto(slot, true);
    slot.current = replacement;
    slot.retiring.add(old);
    slot.state = "starting";
    let readyTimedOut = false;
    const readyTimer = clock.setTimeout(() => {
      readyTimedOut = true;
      notifyChange();
    }, startTimeoutMs);
    try {
      while (!replacement.ready && !readyTimedOut && slot.current === replacement && !draining) {
        await changed.promise;
      }
      clock.clearTimeout(readyTimer);
      retire(slot, old);
      while (slot.retiring.has(old)) await changed.promise;
      slot.restarts++;
    } finally {
      slot.replacing = false;
    }
  }

  function checkHeartbeats(): void {
    const at = now();
    for (const slot of slots) {
      const process = slot.current;
      if (!process || process.draining || process.killedAsHung) continue;
      const silentMs = at - (process.lastEventAt ?? process.startedAt);
      const limitMs = process.lastEventAt === undefined
        ? startTimeoutMs
        : options.heartbeatTimeoutMs;
      if (silentMs > limitMs) {
        logger.error("{worker} sent nothing for {silentS} s: killing it as hung", {
          worker: slot.name,
          silentS: Math.round(silentMs / 100) / 10,
        });
        process.killedAsHung = true;
        process.handle.kill("SIGKILL");
      }
    }
  }

  function liveProcesses(): Process[] {
    return slots.flatMap((slot) => [
      ...(slot.current ? [slot.current] : []),
      ...slot.retiring,
    ]);
  }

  async function waitForExits(deadlineMs: number): Promise<boolean> {
    let timer: unknown;
    const timeout = new Promise<false>((resolve) => {
      timer = clock.setTimeout(() => resolve(false), deadlineMs);
    });
    const all = (async () => {
      while (exits.size > 0) await Promise.allSettled([...exits]);
      return true as const;
    })();
    const done = await Promise.race([all, timeout]);
    clock.clearTimeout(timer);
    return done;
  }

  let drained: Promise<void> | undefined;
  let resolveStopped!: () => void;
  const stoppedPromise = new Promise<void>((resolve) => (resolveStopped = resolve));

  return {
    start() {
      for (const slot of slots) startSlot(slot);
      watchdog = clock.setInterval(checkHeartbeats, 500);
    },

    drain() {
      if (drained) return drained;
      draining = true;
      notifyChange();
      drained = (async () => {
        for (const slot of slots) {
          clock.clearTimeout(slot.restartTimer);
          slot.restartTimer = undefined;
          slot.state = slot.current ? "draining" : "stopped";
        }
        for (const process of liveProcesses()) process.handle.send("drain");
        // Each child keeps the drain deadline itself; this is the backstop if one cannot
        // (Redis does not answer, the child hangs): the stop stays bounded.
        const clean = await waitForExits(options.drainTimeoutMs + DRAIN_BACKSTOP_MS);
        if (!clean) {
          logger.error("workers still running after the drain deadline: killing them");
          for (const process of liveProcesses()) process.handle.kill("SIGKILL");
          await waitForExits(KILL_WAIT_MS);
        }
        clock.clearInterval(watchdog);
        resolveStopped();
      })();
      return drained;
    },

    async stopNow() {
      const pending = this.drain();
      for (const process of liveProcesses()) process.handle.send("stop");
      if (!(await waitForExits(5000))) {
        for (const process of liveProcesses()) process.handle.kill("SIGKILL");
      }
      await pending;
    },

    async rollingRestart() {
      for (const slot of [...slots]) {
        if (draining) return;
        while (slot.replacing) await changed.promise;
        await replace(slot, "rolling restart");
      }
    },

    grow(max) {
      if (draining || staying().length >= max) return staying().length;
      const index = Math.max(0, ...slots.map((slot) => slot.index)) + 1;
      const slot = newSlot(index);
      slots.push(slot);
      startSlot(slot);
      return staying().length;
    },

    shrink() {
      const kept = staying();
      if (draining || kept.length <= 1) return kept.length;
      // Of the slots that stay (one already draining away is not shrunk twice), the one that
      // costs least to lose: no process, else the fewest jobs held (at its last heartbeat), else
      // the last.
      const cost = (slot: Slot) => slot.current ? 1 + slot.current.active.length : 0;
      const slot = kept.reduce((cheapest, each) => cost(each) <= cost(cheapest) ? each : cheapest);
      clock.clearTimeout(slot.restartTimer);
      slot.removeWhenStopped = true;
      if (slot.current) {
        slot.retiring.add(slot.current);
        retire(slot, slot.current);
        slot.current = undefined;
        slot.state = "draining";
      } else {
        removeSlot(slot);
      }
      notifyChange();
      return staying().length;
    },

    snapshot() {
      const at = now();
      return {
        size: staying().length,
        draining,
        intensityExceeded: exceedsIntensity(
          restartTimes,
          at,
          options.restartIntensity,
          options.restartPeriodMs,
        ),
        restartsInPeriod: restartTimes.filter((time) => at - time < options.restartPeriodMs)
          .length,
        stats: mergeStats([
          removedStats,
          ...slots.flatMap((slot) => [
            slot.statsBefore,
            slot.current?.stats,
            ...[...slot.retiring].map((process) => process.stats),
          ]),
        ]),
        slots: slots.map((slot) => {
          const process = slot.current;
          return {
            name: slot.name,
            index: slot.index,
            state: slot.state,
            pid: process?.handle.pid,
            restarts: slot.restarts,
            uptimeS: process ? Math.round((at - process.startedAt) / 100) / 10 : 0,
            activeJobs: process?.active.length ?? 0,
            processed: slot.processedBefore + (process?.processed ?? 0),
            failed: slot.failedBefore + (process?.failed ?? 0),
            rssBytes: process?.rssBytes ?? 0,
          };
        }),
      };
    },

    serving() {
      return staying().map((slot) => ({ index: slot.index, process: slot.current?.handle }));
    },

    stopped() {
      return stoppedPromise;
    },
  };
}
