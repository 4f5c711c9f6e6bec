/** The supervisor–worker pipe protocol: events a child writes to stdout and commands the supervisor writes to its stdin, one JSON object per line. */

import { isWorkerStats, type WorkerStats } from "./stats.ts";

/** A job a child holds: enough for the supervisor to give it back if the child dies. */
export interface HeldJob {
  queue: string;
  id: string;
  /** BullMQ lock token; only its holder may move the job out of `active`. */
  token: string;
}

/** What a child tells the supervisor, one JSON line each on its stdout. */
export type ChildEvent =
  | { event: "ready"; pid: number; queues: string[] }
  | {
    event: "heartbeat";
    active: HeldJob[];
    processed: number;
    failed: number;
    rss: number;
    /** Process groups the child runs (LLM CLIs): the supervisor kills them if the child dies. */
    subprocesses: number[];
    /** The child's job and provider figures since it started (on the periodic beat only). */
    stats?: WorkerStats;
    /**
     * The ids of its BullMQ Workers, once made (the prefix of each lock token it takes): what
     * tells its jobs from those of the slot's other process, which runs under the same name.
     */
    workers?: string[];
  }
  | { event: "draining" }
  | { event: "stopped"; givenBack: number }
  | {
    /**
     * The child now makes at most `slots` LLM calls at once per LLM queue, and its calls in
     * flight fit: the answer to the `llm-slots` command numbered `seq`.
     */
    event: "llm-slots";
    slots: number[];
    seq: number;
  };

/**
 * Parses one stdout line of a child. Returns `undefined` for a line that is
 * not an event (a stray `console.log` in a dependency must not break the pool).
 */
export function parseEvent(line: string): ChildEvent | undefined {
  if (!line.startsWith("{")) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const event = value as Record<string, unknown>;
  switch (event.event) {
    case "ready":
      return typeof event.pid === "number" && Array.isArray(event.queues)
        ? value as ChildEvent
        : undefined;
    case "heartbeat":
      return Array.isArray(event.active) && event.active.every(isHeldJob) &&
          typeof event.processed === "number" && typeof event.failed === "number"
        ? {
          ...event,
          rss: typeof event.rss === "number" ? event.rss : 0,
          subprocesses: Array.isArray(event.subprocesses)
            ? event.subprocesses.filter((pgid) => Number.isInteger(pgid) && pgid > 1)
            : [],
          ...(isWorkerStats(event.stats) ? { stats: event.stats } : {}),
          ...(Array.isArray(event.workers) &&
              event.workers.every((id) => typeof id === "string" && id !== "")
            ? { workers: event.workers }
            : {}),
        } as ChildEvent
        : undefined;
    case "draining":
      return { event: "draining" };
    case "stopped":
      return { event: "stopped", givenBack: Number(event.givenBack) || 0 };
    case "llm-slots":
      return isSlots(event.slots) && Number.isInteger(event.seq)
        ? { event: "llm-slots", slots: event.slots, seq: event.seq as number }
        : undefined;
    default:
      return undefined;
  }
}

function isSlots(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((slots) => Number.isInteger(slots) && slots >= 0);
}

function isHeldJob(value: unknown): value is HeldJob {
  if (typeof value !== "object" || value === null) return false;
  const job = value as Record<string, unknown>;
  return typeof job.queue === "string" && typeof job.id === "string" &&
    typeof job.token === "string";
}

/** Serialises an event as the one line a child writes. */
export function formatEvent(event: ChildEvent): string {
  return JSON.stringify(event) + "\n";
}

/**
 * What the supervisor asks of a child on its stdin: `drain` (finish jobs in
 * flight until the drain timeout, then give the rest back), `stop` (give
 * every job back now), `take-llm-jobs` (the worker it replaced has gone: its share of
 * `LLM_MAX_IN_FLIGHT` is free), or `llm-slots` (its share changed: at most `slots` LLM calls
 * at once per LLM queue from now on; it answers with the `llm-slots` event of the same `seq`
 * once its calls in flight fit). EOF on stdin means the supervisor is gone: drain.
 */
export type ChildCommand =
  | "drain"
  | "stop"
  | "take-llm-jobs"
  | { command: "llm-slots"; slots: number[]; seq: number };

const COMMANDS: readonly string[] = ["drain", "stop", "take-llm-jobs"];

/** Serialises a command as the one line the supervisor writes to a child's stdin. */
export function formatCommand(command: ChildCommand): string {
  return JSON.stringify(typeof command === "string" ? { command } : command) + "\n";
}

/** Parses one stdin line of a child; `undefined` for anything else. */
export function parseCommand(line: string): ChildCommand | undefined {
  try {
    const value = JSON.parse(line);
    if (value?.command === "llm-slots") {
      return isSlots(value.slots) && Number.isInteger(value.seq)
        ? { command: "llm-slots", slots: value.slots, seq: value.seq }
        : undefined;
    }
    return COMMANDS.includes(value?.command) ? value.command : undefined;
  } catch {
    return undefined;
  }
}
