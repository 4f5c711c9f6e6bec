/** The `enqueue` subcommand: adds LLM jobs like any BullMQ producer would, and optionally waits for them. */

import { type Job, Queue, QueueEvents } from "bullmq";
import { metaKey } from "../redis/bullmq_internals.ts";
import { connectRedis } from "../redis/connection.ts";
import { connectionMarkOf, waitForReplicas } from "../redis/wait_replicas.ts";
import { parsePayload } from "../jobs/llm/payload.ts";
import { outputFormatOf, schemaProblem } from "../jobs/llm/structured.ts";
import { connectOrFail, EXIT_FAILURE, EXIT_USAGE, runCommand } from "./_util.ts";
import { progressLine } from "../text/format.ts";
import { bullmqTelemetry } from "../telemetry/tracing.ts";
import { pipeWriter } from "../log/pipe.ts";

/** What `ppr-worker enqueue` was asked to add, from its flags. */
export interface EnqueueOptions {
  redisUrl: string;
  prefix: string;
  queue: string;
  /** The whole job data: JSON text, `@path` of a JSON file, or `-` for stdin. */
  data?: string;
  /** The job's `format`: a JSON Schema file's path (`@path` too), inline JSON, or `-` for stdin. */
  format?: string;
  /** `key=value` pairs merged into the job's `metadata` (values are strings). */
  metadata?: string[];
  prompt?: string;
  provider?: string;
  latencyMs?: number;
  count: number;
  attempts: number;
  /** BullMQ priority: 1 is the highest; unset jobs run before prioritized ones. */
  priority?: number;
  /** Milliseconds before the job may run (BullMQ's `delay`). */
  delayMs?: number;
  wait: boolean;
  /** How long `wait` waits for each job. */
  timeoutMs: number;
  /**
   * Replicas that must acknowledge the jobs (`REDIS_WAIT_REPLICAS`) within `waitTimeoutMs`
   * (`REDIS_WAIT_TIMEOUT`); 0 asks none.
   * @default {0}
   */
  waitReplicas?: number;
  waitTimeoutMs?: number;
}

/** Job options a producer should set: retries with backoff, bounded retention. */
export const DEFAULT_JOB_OPTIONS = {
  backoff: { type: "exponential", delay: 2000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** The texts behind `--data` and `--format`, already read from their file or stdin. */
export interface JobInput {
  /** The whole job data as JSON text. */
  dataText?: string;
  /** The `format` as JSON text. */
  formatText?: string;
  metadata?: string[];
  prompt?: string;
  provider?: string;
  latencyMs?: number;
}

/**
 * `key=value` pairs as an object; the first `=` splits, so values may hold `=`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseMetadata } from "./enqueue.ts";
 *
 * assert.deepEqual(parseMetadata(["scraper_id=food_bank_x", "q=a=b"]), {
 *   ok: true,
 *   metadata: { scraper_id: "food_bank_x", q: "a=b" },
 * });
 * ```
 */
export function parseMetadata(
  pairs: readonly string[],
): { ok: true; metadata: Record<string, string> } | { ok: false; error: string } {
  const metadata: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf("=");
    if (equals <= 0) {
      return { ok: false, error: `--metadata ${JSON.stringify(pair)}: must be key=value` };
    }
    metadata[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return { ok: true, metadata };
}

function parseObject(
  text: string,
  flag: string,
): { ok: true; value: Record<string, unknown> } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `${flag} is not JSON: ${(error as Error).message}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, error: `${flag} must be a JSON object` };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

/**
 * Builds the job data, or says what is wrong with it: the whole data from `dataText`, else
 * `{prompt, provider}`; `formatText` becomes its `format` and `metadata` is merged into its
 * `metadata` (both win over the data's own). Checked like a worker checks it, schema included,
 * so a bad job never reaches Redis.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { jobData } from "./enqueue.ts";
 *
 * assert.deepEqual(jobData({ prompt: "hi", metadata: ["id=7"] }), {
 *   ok: true,
 *   data: { prompt: "hi", metadata: { id: "7" } },
 * });
 * ```
 */
export function jobData(
  input: JobInput,
): { ok: true; data: unknown } | { ok: false; error: string } {
  let data: Record<string, unknown>;
  if (input.dataText !== undefined) {
    const parsed = parseObject(input.dataText, "--data");
    if (!parsed.ok) return parsed;
    data = parsed.value;
  } else {
    if (input.prompt === undefined) return { ok: false, error: "give --prompt or --data" };
    const provider = {
      ...(input.provider ? { name: input.provider } : {}),
      ...(input.latencyMs !== undefined ? { latency_ms: input.latencyMs } : {}),
    };
    data = { prompt: input.prompt, ...(Object.keys(provider).length > 0 ? { provider } : {}) };
  }
  if (input.formatText !== undefined) {
    const format = parseObject(input.formatText, "--format");
    if (!format.ok) return format;
    data = { ...data, format: format.value };
  }
  if (input.metadata && input.metadata.length > 0) {
    const pairs = parseMetadata(input.metadata);
    if (!pairs.ok) return pairs;
    const own = typeof data.metadata === "object" && data.metadata !== null ? data.metadata : {};
    data = { ...data, metadata: { ...own, ...pairs.metadata } };
  }
  const checked = parsePayload(data);
  if (!checked.ok) return { ok: false, error: checked.error };
  const format = outputFormatOf(checked.job.format);
  const problem = format && schemaProblem(format);
  return problem ? { ok: false, error: `invalid job data: ${problem}` } : { ok: true, data };
}

/** Where the text of `--data` or `--format` is: stdin, a file, or the flag's value itself. */
export function inputSource(
  raw: string,
  flag: "--data" | "--format",
): { from: "stdin" } | { from: "file"; path: string } | { from: "inline"; text: string } {
  if (raw === "-") return { from: "stdin" };
  if (raw.startsWith("@")) return { from: "file", path: raw.slice(1) };
  // A schema is usually a file; inline JSON starts with `{`. Job data is inline unless `@`.
  if (flag === "--format" && !raw.trimStart().startsWith("{")) return { from: "file", path: raw };
  return { from: "inline", text: raw };
}

async function readInput(raw: string, flag: "--data" | "--format"): Promise<string> {
  const source = inputSource(raw, flag);
  if (source.from === "inline") return source.text;
  if (source.from === "stdin") {
    if (Deno.stdin.isTerminal()) {
      throw new Error(`${flag} -: reading JSON from stdin, but stdin is a terminal: pipe it in`);
    }
    return await new Response(Deno.stdin.readable).text();
  }
  try {
    return await Deno.readTextFile(source.path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new Error(
        `${flag}: cannot read ${source.path}: this ppr-worker may not read files ` +
          `(no read permission); pass the JSON on stdin instead (${flag} - < ${source.path})`,
      );
    }
    throw new Error(`${flag}: cannot read ${source.path}: ${(error as Error).message}`);
  }
}

const encoder = new TextEncoder();
const writeStdout = pipeWriter(Deno.stdout);

/**
 * Prints a line on stdout without `console`: with `OTEL_DENO=true` Deno exports what `console`
 * prints as OTLP logs, and the results printed here are the users' data.
 */
function printLine(line: string): void {
  writeStdout(encoder.encode(`${line}\n`));
}

/** The progress line of `--wait` on a terminal's stderr; it never touches stdout. */
function progressDisplay(total: number, enabled: boolean) {
  const started = performance.now();
  const counts = { completed: 0, failed: 0 };
  const write = (text: string) => enabled && Deno.stderr.writeSync(encoder.encode(text));
  const draw = () =>
    write(
      `\r\x1b[K${progressLine({ total, ...counts, elapsedMs: performance.now() - started })}`,
    );
  const timer = enabled ? setInterval(draw, 1000) : undefined;
  draw();
  return {
    /** Prints a result line on stdout with the progress line out of its way. */
    finished(outcome: "completed" | "failed", line: string) {
      counts[outcome]++;
      write("\r\x1b[K");
      printLine(line);
      draw();
    },
    stop() {
      clearInterval(timer);
      draw();
      write("\n");
    },
  };
}

/** Adds the jobs; prints their ids, or with `wait` one JSON line per finished job. Returns the exit code. */
export function runEnqueue(options: EnqueueOptions): Promise<number> {
  return runCommand("enqueue", async () => {
    if (options.data === "-" && options.format === "-") {
      console.error("ppr-worker enqueue: only one of --data and --format can read stdin");
      return EXIT_USAGE;
    }
    let built: ReturnType<typeof jobData>;
    try {
      built = jobData({
        dataText: options.data === undefined ? undefined : await readInput(options.data, "--data"),
        formatText: options.format === undefined
          ? undefined
          : await readInput(options.format, "--format"),
        metadata: options.metadata,
        prompt: options.prompt,
        provider: options.provider,
        latencyMs: options.latencyMs,
      });
    } catch (error) {
      built = { ok: false, error: (error as Error).message };
    }
    if (!built.ok) {
      console.error(`ppr-worker enqueue: ${built.error}`);
      return EXIT_USAGE;
    }
    const data = built.data;
    const redis = await connectOrFail(options.redisUrl, "ppr-enqueue");
    const queue = new Queue(options.queue, {
      connection: redis,
      prefix: options.prefix,
      // The producer's span starts the job's trace, which the worker continues.
      ...bullmqTelemetry(),
    });
    queue.on("error", () => {});
    let events: QueueEvents | undefined;
    const eventsConnection = options.wait
      ? connectRedis(options.redisUrl, { blocking: true, name: "ppr-enqueue-events" })
      : undefined;
    eventsConnection?.on("error", () => {});
    try {
      if (eventsConnection) {
        events = new QueueEvents(options.queue, {
          connection: eventsConnection,
          prefix: options.prefix,
        });
        await events.waitUntilReady();
      }
      const slotKey = metaKey(options.prefix, options.queue);
      const since = connectionMarkOf(redis, slotKey);
      const jobs = await queue.addBulk(
        Array.from({ length: options.count }, () => ({
          name: "llm",
          data,
          opts: {
            ...DEFAULT_JOB_OPTIONS,
            attempts: options.attempts,
            ...(options.priority !== undefined ? { priority: options.priority } : {}),
            ...(options.delayMs ? { delay: options.delayMs } : {}),
          },
        })),
      );
      const ack = await waitForReplicas(redis, slotKey, since, {
        replicas: options.waitReplicas ?? 0,
        timeoutMs: options.waitTimeoutMs ?? 1000,
      });
      if (!ack.acknowledged) {
        console.error(
          `ppr-worker enqueue: the ${jobs.length} job(s) were added but not acknowledged by ` +
            `${options.waitReplicas} replica(s) (REDIS_WAIT_REPLICAS): ${ack.reason}; a failover ` +
            `now may lose them${events ? "" : " (exit status 1)"}`,
        );
      }
      if (!events) {
        for (const job of jobs) printLine(String(job.id));
        return ack.acknowledged ? 0 : EXIT_FAILURE;
      }
      const finishedEvents = events;
      // Each job waited for listens on the queue and the events: not a leak.
      queue.setMaxListeners(jobs.length + 10);
      const progress = progressDisplay(jobs.length, Deno.stderr.isTerminal());
      const outcomes = await Promise.all(jobs.map(async (job: Job) => {
        try {
          const result = await job.waitUntilFinished(finishedEvents, options.timeoutMs);
          progress.finished(
            "completed",
            JSON.stringify({ id: job.id, state: "completed", result }),
          );
          return true;
        } catch (error) {
          progress.finished(
            "failed",
            JSON.stringify({ id: job.id, state: "failed", error: (error as Error).message }),
          );
          return false;
        }
      }));
      progress.stop();
      return outcomes.every(Boolean) ? 0 : EXIT_FAILURE;
    } finally {
      await events?.close();
      await queue.close();
      eventsConnection?.disconnect();
      redis.disconnect();
    }
  });
}
