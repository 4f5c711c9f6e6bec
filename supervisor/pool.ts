/** The pool: N worker slots, each restarted on its own with backoff, bounded by restart intensity. */

import { exceedsIntensity, recordRestart, restartDelayMs } from "./backoff.ts";
import type { ChildHandle } from "./child.ts";
import type { ChildEvent, HeldJob } from "./protocol.ts";
import { log } from "../log/log.ts";

/** The states of a slot, as OTP, supervisord and PM2 users know them. */
export type SlotState = "starting" | "running" | "backoff" | "draining" | "stopped" | "fatal";

/** What the health server sees of one slot. */
export interface SlotSnapshot {
  name: string;
  index: number;
  state: SlotState;
  pid: number | undefined;
  restarts: number;
  /** Seconds since the current process started; 0 when none runs. */
  uptimeS: number;
  activeJobs: number;
  processed: number;
  failed: number;
  rssBytes: number;
}

export interface PoolSnapshot {
  size: number;
  slots: SlotSnapshot[];
  draining: boolean;
  /** More than `restartIntensity` restarts happened within `restartPeriodMs`. */
  intensityExceeded: boolean;
  restartsInPeriod: number;
}

export interface PoolOptions {
  size: number;
  /** Slot names: `worker-<hostname>-<index>`. */
  nameOf(index: number): string;
  /** Starts the process of a slot; the edge where processes are made. */
  spawn(name: string, callbacks: { onEvent(event: ChildEvent): void }): ChildHandle;
  /** Puts back the jobs a dead child held. Called once per death, with the jobs of its last heartbeat. */
  onJobsLost(name: string, jobs: HeldJob[]): Promise<void>;
  restartDelayMs: number;
  restartMaxDelayMs: number;
  restartIntensity: number;
  restartPeriodMs: number;
  drainTimeoutMs: number;
  heartbeatTimeoutMs: number;
  /** How long a new child may take to send its first event. @default {60000} */
  startTimeoutMs?: number;
  /** @default {Date.now} */
  now?: () => number;
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
  restartTimer: ReturnType<typeof setTimeout> | undefined;
  processedBefore: number;
  failedBefore: number;
  removeWhenStopped: boolean;
}

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
  /** One fewer slot, down to 1: the last slot drains and goes. Returns the new size. */
  shrink(): number;
  snapshot(): PoolSnapshot;
  /** Resolves when every process of the pool has exited after `drain`. */
  stopped(): Promise<void>;
}

const logger = log("supervisor");

/** Creates a pool of `options.size` slots. Nothing runs until `start()`. */
export function createPool(options: PoolOptions): Pool {
  const now = options.now ?? Date.now;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const slots: Slot[] = [];
  let restartTimes: number[] = [];
  let draining = false;
  let watchdog: ReturnType<typeof setInterval> | undefined;
  const exits = new Set<Promise<void>>();

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
  });
  for (let index = 1; index <= options.size; index++) slots.push(newSlot(index));

  function onEvent(slot: Slot, process: Process, event: ChildEvent): void {
    process.lastEventAt = now();
    switch (event.event) {
      case "ready":
        process.ready = true;
        if (slot.current === process && slot.state === "starting") slot.state = "running";
        logger.info("{worker} ready (pid {pid})", { worker: slot.name, pid: event.pid });
        break;
      case "heartbeat":
        process.active = event.active;
        process.processed = event.processed;
        process.failed = event.failed;
        process.rssBytes = event.rss;
        break;
      case "draining":
        process.draining = true;
        if (slot.current === process) slot.state = "draining";
        break;
      case "stopped":
        logger.info("{worker} stopped, {requeued} job(s) given back", {
          worker: slot.name,
          requeued: event.requeued,
        });
        break;
    }
  }

  function spawnInto(slot: Slot): Process {
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
    };
    process.handle = options.spawn(slot.name, {
      onEvent: (event) => onEvent(slot, process, event),
    });
    const exit = process.handle.exited.then((status) => onExit(slot, process, status));
    exits.add(exit);
    exit.finally(() => exits.delete(exit));
    return process;
  }

  function startSlot(slot: Slot): void {
    slot.restartTimer = undefined;
    if (draining) return;
    slot.state = "starting";
    slot.current = spawnInto(slot);
    logger.info("{worker} starting (pid {pid})", {
      worker: slot.name,
      pid: slot.current.handle.pid,
    });
  }

  async function onExit(slot: Slot, process: Process, status: Deno.CommandStatus): Promise<void> {
    const lost = process.active;
    process.active = [];
    if (lost.length > 0) {
      logger.warn("{worker} exited holding {count} job(s); putting them back", {
        worker: slot.name,
        count: lost.length,
      });
      await options.onJobsLost(slot.name, lost).catch((error) =>
        logger.error("{worker}: could not put back jobs {ids}: {error}", {
          worker: slot.name,
          ids: lost.map((job) => job.id),
          error: String(error),
        })
      );
    }
    slot.processedBefore += process.processed;
    slot.failedBefore += process.failed;
    if (slot.retiring.delete(process) || slot.current !== process) {
      if (slot.removeWhenStopped && slot.current === undefined && slot.retiring.size === 0) {
        slots.splice(slots.indexOf(slot), 1);
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
    });
    slot.state = storm ? "fatal" : "backoff";
    const why = process.killedAsHung ? "was hung and was killed" : `died (${how})`;
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
    slot.restartTimer = setTimeout(() => {
      slot.restarts++;
      startSlot(slot);
    }, delayMs);
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
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), deadlineMs);
    });
    const all = (async () => {
      while (exits.size > 0) await Promise.allSettled([...exits]);
      return true as const;
    })();
    const done = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return done;
  }

  let drained: Promise<void> | undefined;
  let resolveStopped!: () => void;
  const stoppedPromise = new Promise<void>((resolve) => (resolveStopped = resolve));

  return {
    start() {
      for (const slot of slots) startSlot(slot);
      watchdog = setInterval(checkHeartbeats, 500);
    },

    drain() {
      if (drained) return drained;
      draining = true;
      drained = (async () => {
        for (const slot of slots) {
          clearTimeout(slot.restartTimer);
          slot.restartTimer = undefined;
          slot.state = slot.current ? "draining" : "stopped";
        }
        for (const process of liveProcesses()) process.handle.send("drain");
        // Each child keeps the drain deadline itself; this is the backstop if one cannot.
        const clean = await waitForExits(options.drainTimeoutMs + 10_000);
        if (!clean) {
          logger.error("workers still running after the drain deadline: killing them");
          for (const process of liveProcesses()) process.handle.kill("SIGKILL");
          await waitForExits(10_000);
        }
        clearInterval(watchdog);
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
        const old = slot.current;
        if (!old) continue;
        logger.info("{worker}: rolling restart", { worker: slot.name });
        const replacement = spawnInto(slot);
        slot.current = replacement;
        slot.retiring.add(old);
        slot.state = "starting";
        const readyBy = now() + startTimeoutMs;
        while (!replacement.ready && now() < readyBy && slot.current === replacement && !draining) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        old.handle.send("drain");
        while (slot.retiring.has(old)) await new Promise((resolve) => setTimeout(resolve, 100));
        slot.restarts++;
      }
    },

    grow(max) {
      if (draining || slots.length >= max) return slots.length;
      const index = Math.max(0, ...slots.map((slot) => slot.index)) + 1;
      const slot = newSlot(index);
      slots.push(slot);
      startSlot(slot);
      return slots.length;
    },

    shrink() {
      if (draining || slots.length <= 1) return slots.length;
      const slot = slots[slots.length - 1];
      clearTimeout(slot.restartTimer);
      slot.removeWhenStopped = true;
      if (slot.current) {
        slot.retiring.add(slot.current);
        slot.current.handle.send("drain");
        slot.current = undefined;
        slot.state = "draining";
      } else {
        slots.splice(slots.indexOf(slot), 1);
      }
      return slots.filter((each) => !each.removeWhenStopped).length;
    },

    snapshot() {
      const at = now();
      return {
        size: slots.filter((slot) => !slot.removeWhenStopped).length,
        draining,
        intensityExceeded: exceedsIntensity(
          restartTimes,
          at,
          options.restartIntensity,
          options.restartPeriodMs,
        ),
        restartsInPeriod: restartTimes.filter((time) => at - time < options.restartPeriodMs)
          .length,
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

    stopped() {
      return stoppedPromise;
    },
  };
}
