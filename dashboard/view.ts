/** ppr-worker's own view beside bull-board: each queue and its processor, the providers' pauses, every worker. */

import type { Redis } from "ioredis";
import { healthUrl } from "../cli/healthcheck.ts";
import type { Queue } from "bullmq";
import { type QueueInfo, readInfo, type WorkerInfo } from "../cli/info.ts";
import type { ProcessorSpec } from "../config/config.ts";
import { redact } from "../log/redact.ts";
import { type Pause, type PauseReason, readPause } from "../providers/pause.ts";

/** Where a queue comes from in the configuration. */
export type QueueRole = "QUEUE_NAME" | "LLM_RESULT_QUEUES";

/** One queue: `info`'s counts, with its place in the configuration and what runs its jobs. */
export interface QueueView extends QueueInfo {
  roles: QueueRole[];
  /** What runs its jobs here (`llm`, `recorder`, `per-job: <command>`), or `none`. */
  processor: string;
}

/** The shared pause of one LLM provider (`ppr:llm:pause:<provider>`). */
export interface ProviderView {
  provider: string;
  state: "ok" | PauseReason;
  /** Why it is paused, secrets hidden; `null` when it is not. */
  reason: string | null;
  /** ISO times; `null` when not paused. */
  since: string | null;
  resumes_at: string | null;
  /** Seconds until the pause ends; 0 when not paused. */
  retry_in_s: number;
}

/** One worker: `info`'s, with its restarts when the supervisor beside the dashboard knows them. */
export interface WorkerView extends WorkerInfo {
  /** `null` when unknown: only the supervisor of a worker counts its restarts. */
  restarts: number | null;
}

/** Everything the view shows at one moment; also the body of `/api/ppr`. */
export interface PprView {
  at: string;
  /** The Redis URL, password hidden. */
  redis: string;
  prefix: string;
  read_only: boolean;
  queues: QueueView[];
  providers: ProviderView[];
  workers: WorkerView[];
}

/** What the view reads: the pool's Redis settings, its queues and processors, the providers. */
export interface PprViewSource {
  redisUrl: string;
  prefix: string;
  /** `QUEUE_NAME`. */
  queues: readonly string[];
  /** `LLM_RESULT_QUEUES`. */
  resultQueues: readonly string[];
  /** `QUEUE_PROCESSORS`, as the configuration parsed it. */
  processors: Readonly<Record<string, ProcessorSpec>>;
  /** The providers of this build. */
  providers: readonly string[];
  readOnly: boolean;
  /** Restart counts by worker name, from the supervisor beside the dashboard; absent elsewhere. */
  restarts?: () => Promise<ReadonlyMap<string, number>>;
}

/**
 * Every queue the dashboard shows: `QUEUE_NAME`, then the `LLM_RESULT_QUEUES` not already in it.
 *
 * @example
 * ```ts
 * dashboardQueues(["llm"], ["recorder", "llm"]); // ["llm", "recorder"]
 * ```
 */
export function dashboardQueues(
  queues: readonly string[],
  resultQueues: readonly string[],
): string[] {
  return [...new Set([...queues, ...resultQueues])];
}

/**
 * What runs a queue's jobs, in a few words; commands with secrets hidden.
 *
 * @example
 * ```ts
 * describeProcessor({ kind: "llm" }); // "llm"
 * describeProcessor({ kind: "external", mode: "persistent", command: ["python3", "w.py"] });
 * // "persistent: python3 w.py"
 * describeProcessor(undefined); // "none"
 * ```
 */
export function describeProcessor(spec: ProcessorSpec | undefined): string {
  if (spec === undefined) return "none";
  if (spec.kind !== "external") return spec.kind;
  const words = spec.command.map((word) => /[\s'"\\;]/.test(word) ? JSON.stringify(word) : word);
  return redact(`${spec.mode}: ${words.join(" ")}`);
}

/**
 * A provider's pause as the view shows it at `now` (epoch ms); a pause already over is `ok`.
 *
 * @example
 * ```ts
 * providerView("echo", undefined, 0).state; // "ok"
 * ```
 */
export function providerView(
  provider: string,
  pause: Pause | undefined,
  now: number,
): ProviderView {
  if (!pause || pause.retry_at <= now) {
    return {
      provider,
      state: "ok",
      reason: null,
      since: null,
      resumes_at: null,
      retry_in_s: 0,
    };
  }
  return {
    provider,
    state: pause.state,
    reason: redact(pause.reason),
    since: new Date(pause.since).toISOString(),
    resumes_at: new Date(pause.retry_at).toISOString(),
    retry_in_s: Math.ceil((pause.retry_at - now) / 1000),
  };
}

/** Reads the whole view: `info`'s snapshot of every worker and queue, the pauses, the processors. */
export async function readPprView(
  redis: Redis,
  source: PprViewSource,
  openQueues?: ReadonlyMap<string, Queue>,
): Promise<PprView> {
  const queueNames = dashboardQueues(source.queues, source.resultQueues);
  const [snapshot, pauses, restarts] = await Promise.all([
    // Every worker on this Redis, of every container; the queues are this configuration's.
    readInfo(redis, {
      redisUrl: source.redisUrl,
      prefix: source.prefix,
      queues: queueNames,
      discoverQueues: true,
      json: true,
      openQueues,
    }),
    Promise.all(source.providers.map((provider) => readPause(redis, provider))),
    source.restarts?.().catch(() => undefined),
  ]);
  const now = Date.parse(snapshot.at);
  return {
    at: snapshot.at,
    redis: snapshot.redis,
    prefix: snapshot.prefix,
    read_only: source.readOnly,
    queues: snapshot.queues
      .filter((queue) => queueNames.includes(queue.name))
      .map((queue) => ({
        ...queue,
        roles: [
          ...(source.queues.includes(queue.name) ? ["QUEUE_NAME" as const] : []),
          ...(source.resultQueues.includes(queue.name) ? ["LLM_RESULT_QUEUES" as const] : []),
        ],
        processor: source.queues.includes(queue.name)
          ? describeProcessor(source.processors[queue.name])
          : "none",
      })),
    providers: source.providers.map((provider, index) =>
      providerView(provider, pauses[index], now)
    ),
    workers: snapshot.workers.map((worker) => ({
      ...worker,
      restarts: restarts?.get(worker.name) ?? null,
    })),
  };
}

/**
 * Restart counts of the workers of the supervisor whose health server listens on `host:port`
 * (its `/health`). Rejects when it does not answer within a second.
 */
export async function restartsFromHealth(
  host: string,
  port: number,
): Promise<ReadonlyMap<string, number>> {
  const response = await fetch(healthUrl(host, port), { signal: AbortSignal.timeout(1000) });
  if (!response.ok && response.status !== 503) {
    await response.body?.cancel();
    throw new Error(`${healthUrl(host, port)} answered HTTP ${response.status}`);
  }
  const body = await response.json() as { workers?: { name: string; restarts: number }[] };
  return new Map((body.workers ?? []).map((worker) => [worker.name, worker.restarts]));
}
