/** The `jobs show` and `jobs list` commands: one job in full, or the jobs of one state. */

import {
  EXIT_FAILURE,
  forEachQueue,
  printJson,
  type RedisTarget,
  runCommand,
  withRedis,
} from "./_util.ts";
import type { JobState } from "../state/queues.ts";
import { unreadableReason } from "../state/unreadable_jobs.ts";
import { formatAge, oneLine, shortenStrings, table } from "../text/format.ts";

/** Strings in job data and results longer than this are shortened unless `--full`. */
export const SHORTEN_CHARS = 300;

/** The fields of a BullMQ job the commands read (a `Job` has them all). */
export interface JobFields {
  id?: string;
  name: string;
  data: unknown;
  opts: { attempts?: number; priority?: number; delay?: number };
  attemptsMade: number;
  attemptsStarted?: number;
  timestamp: number;
  processedOn?: number;
  finishedOn?: number;
  processedBy?: string;
  returnvalue?: unknown;
  failedReason?: string;
  stacktrace?: string[] | null;
}

/** A job as `jobs show` and `jobs list` print it; the JSON output is this object. */
export interface JobView {
  id: string;
  queue: string;
  name: string;
  state: string;
  /** Attempts spent (BullMQ's `attemptsMade`) and allowed (`opts.attempts`, 1 when unset or 0). */
  attemptsMade: number;
  attempts: number;
  attemptsStarted: number;
  priority: number;
  delay: number;
  /** Epoch ms, as BullMQ keeps them. */
  timestamp: number;
  processedOn: number | null;
  finishedOn: number | null;
  processedBy: string | null;
  /** `null` when it could not be read (see `unreadable`). */
  data: unknown;
  /** Why the job's data could not be read (it is not JSON); `null` when it was. */
  unreadable: string | null;
  returnvalue: unknown;
  failedReason: string | null;
  stacktrace: string[];
  /** The job's log lines (`job.log`): each failed try of an LLM job is one. */
  logs: string[];
}

/**
 * A job as the commands show it: long strings in its data and result shortened unless `full`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { jobView } from "./jobs.ts";
 *
 * const job = { id: "1", name: "llm", data: { prompt: "hi" }, opts: {}, attemptsMade: 0 };
 * const view = jobView({ ...job, timestamp: 0 }, { queue: "llm", state: "waiting" });
 * assert.equal(view.attempts, 1);
 * ```
 */
export function jobView(
  job: JobFields,
  options: { queue: string; state: string; logs?: string[]; full?: boolean },
): JobView {
  const shorten = (value: unknown) => options.full ? value : shortenStrings(value, SHORTEN_CHARS);
  const unreadable = unreadableReason(job.data) ?? null;
  return {
    id: String(job.id),
    queue: options.queue,
    name: job.name,
    state: options.state,
    attemptsMade: job.attemptsMade ?? 0,
    attempts: job.opts.attempts || 1,
    attemptsStarted: job.attemptsStarted ?? 0,
    priority: job.opts.priority ?? 0,
    delay: job.opts.delay ?? 0,
    timestamp: job.timestamp,
    processedOn: job.processedOn ?? null,
    finishedOn: job.finishedOn ?? null,
    processedBy: job.processedBy ?? null,
    data: unreadable === null ? shorten(job.data) : null,
    unreadable,
    returnvalue: shorten(job.returnvalue ?? null),
    failedReason: job.failedReason || null,
    stacktrace: job.stacktrace ?? [],
    logs: options.logs ?? [],
  };
}

/**
 * What a job is about, in a few words: its prompt (the last user message of a conversation),
 * for a failed job its error, for a job whose data is not JSON why it is unreadable.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { jobSummary, type JobView } from "./jobs.ts";
 *
 * const view = { data: { prompt: "Turn this page into JSON" }, failedReason: null } as JobView;
 * assert.equal(jobSummary(view, 12), "Turn this p…");
 * const unreadable = { data: null, unreadable: "job data is not valid JSON", failedReason: null };
 * assert.equal(jobSummary(unreadable as JobView, 30), "unreadable: job data is not v…");
 * ```
 */
export function jobSummary(
  view: Pick<JobView, "data" | "failedReason"> & { unreadable?: string | null },
  maxChars: number,
): string {
  if (view.unreadable) return oneLine(`unreadable: ${view.unreadable}`, maxChars);
  if (view.failedReason) return oneLine(view.failedReason, maxChars);
  // A prompt reads on across its lines; an error's first line says it.
  const flat = (text: string) => oneLine(text.replace(/\s+/g, " "), maxChars);
  const prompt = (view.data as { prompt?: unknown } | null)?.prompt;
  if (typeof prompt === "string") return flat(prompt);
  if (Array.isArray(prompt)) {
    const last = prompt.findLast((message) => message?.role === "user") ?? prompt.at(-1);
    if (typeof last?.content === "string") return flat(last.content);
  }
  return flat(JSON.stringify(view.data) ?? "");
}

function when(epochMs: number | null, now: number): string {
  if (epochMs === null) return "-";
  return `${new Date(epochMs).toISOString()} (${formatAge(now - epochMs)} ago)`;
}

function indent(text: string): string {
  return text.split("\n").map((line) => `  ${line}`).join("\n");
}

/** `jobs show` as text: the fields, then data, error with stack, result and logs. */
export function renderJob(view: JobView, now: number): string {
  const fields = [
    ["state", view.state],
    ["attempts", `${view.attemptsMade} of ${view.attempts} made (${view.attemptsStarted} started)`],
    ...(view.priority ? [["priority", String(view.priority)]] : []),
    ...(view.delay ? [["delay", `${view.delay} ms`]] : []),
    ["created", when(view.timestamp, now)],
    ["processed", when(view.processedOn, now)],
    ["finished", when(view.finishedOn, now)],
    ["worker", view.processedBy ?? "-"],
  ];
  const sections = [
    `job ${view.id} on queue ${view.queue} (name ${view.name})`,
    table(fields),
    view.unreadable === null
      ? `data:\n${indent(JSON.stringify(view.data, null, 2))}`
      : `data:\n${indent(`unreadable: ${view.unreadable}`)}`,
  ];
  if (view.failedReason) sections.push(`error:\n${indent(view.failedReason)}`);
  if (view.stacktrace.length > 0) {
    sections.push(`stack (last try first):\n${indent(view.stacktrace.toReversed().join("\n"))}`);
  }
  if (view.returnvalue !== null) {
    sections.push(`result:\n${indent(JSON.stringify(view.returnvalue, null, 2))}`);
  }
  if (view.logs.length > 0) sections.push(`logs:\n${indent(view.logs.join("\n"))}`);
  return sections.join("\n");
}

/** `jobs list` as a table, one row per job. */
export function renderJobList(views: readonly JobView[], now: number): string {
  if (views.length === 0) return "no jobs";
  return table([
    ["id", "queue", "state", "attempts", "created", "worker", "prompt or error"],
    ...views.map((view) => [
      view.id,
      view.queue,
      view.state,
      `${view.attemptsMade}/${view.attempts}`,
      `${formatAge(now - view.timestamp)} ago`,
      view.processedBy ?? "-",
      jobSummary(view, 60),
    ]),
  ]);
}

/** What `ppr-worker jobs show` was asked for. */
export interface ShowOptions extends RedisTarget {
  id: string;
  /** Looked up in each, in order; every match is shown. */
  queues: string[];
  full: boolean;
  json: boolean;
}

/** Shows one job; exit 1 when no queue has it. */
export function runJobsShow(options: ShowOptions): Promise<number> {
  return runCommand("jobs show", () =>
    withRedis(options, "ppr-jobs", async (redis) => {
      const views: JobView[] = [];
      await forEachQueue(redis, options, options.queues, async (queue, name) => {
        const job = await queue.getJob(options.id);
        if (!job) return;
        const [state, { logs }] = await Promise.all([job.getState(), queue.getJobLogs(job.id!)]);
        views.push(jobView(job, { queue: name, state, logs, full: options.full }));
      });
      if (views.length === 0) {
        console.error(
          `ppr-worker jobs show: no job ${options.id} in queue ${options.queues.join(", ")} ` +
            "(finished jobs are removed after their removeOnComplete/removeOnFail; see 'ppr-worker jobs list')",
        );
        return EXIT_FAILURE;
      }
      for (const view of views) {
        if (options.json) printJson(view);
        else console.log(renderJob(view, Date.now()));
      }
      return 0;
    }));
}

/** What `ppr-worker jobs list` was asked for. */
export interface ListOptions extends RedisTarget {
  state: JobState;
  queues: string[];
  /** At most this many jobs, newest first. */
  limit: number;
  full: boolean;
  json: boolean;
}

/** Lists the newest `limit` jobs in `state` (JSON: one line per job). */
export function runJobsList(options: ListOptions): Promise<number> {
  return runCommand("jobs list", () =>
    withRedis(options, "ppr-jobs", async (redis) => {
      const views: JobView[] = [];
      await forEachQueue(redis, options, options.queues, async (queue, name) => {
        const jobs = await queue.getJobs([options.state], 0, options.limit - 1, false);
        for (const job of jobs) {
          views.push(jobView(job, { queue: name, state: options.state, full: options.full }));
        }
      });
      const newest = views.toSorted((a, b) => b.timestamp - a.timestamp).slice(0, options.limit);
      if (!options.json) console.log(renderJobList(newest, Date.now()));
      else for (const view of newest) printJson(view);
      return 0;
    }));
}
