/** Decides the pool's health from a snapshot: the rules of /health and /ready, as pure functions. */

import type { WorkerStats } from "../protocol/stats.ts";
import type { QueueStats } from "./queue_stats.ts";
import type { RedisState } from "./redis_probe.ts";
import type { PauseReason } from "../providers/pause.ts";

// The pool's state as the supervisor reports it: health reads it, so the shapes are defined here.

/** The states of a slot, as OTP, supervisord and PM2 users know them. */
export type SlotState = "starting" | "running" | "backoff" | "draining" | "stopped" | "fatal";

/** What the health server sees of one slot. */
export interface SlotSnapshot {
  name: string;
  /** Its pool of `WORKER_POOLS`; `undefined` in the one pool without it. */
  pool?: string;
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

/** What the health server sees of the pool. */
export interface PoolSnapshot {
  size: number;
  slots: SlotSnapshot[];
  draining: boolean;
  /** More than `restartIntensity` restarts happened within `restartPeriodMs`. */
  intensityExceeded: boolean;
  restartsInPeriod: number;
  /** The workers' job and provider figures, added up over every process the pool has run. */
  stats?: WorkerStats;
}

/** The three answers of /health (HTTP 200, 200, 503). */
export type HealthStatus = "healthy" | "degraded" | "unhealthy";

/** The LLM provider's state as the workers share it. */
export interface LlmState {
  state: "ok" | PauseReason;
  retryInSeconds: number;
  /** Why it is paused (secrets hidden), and when it resumes (ISO); `null` when not paused. */
  reason?: string | null;
  resumesAt?: string | null;
  /** `null` when the provider is not Claude, so nothing was checked. */
  claudeAuthenticated: boolean | null;
}

/** The autoscaler's range and last decision (`--autoscale`). */
export interface AutoscaleSnapshot {
  min: number;
  max: number;
  /** The size it wants; `undefined` before its first look. */
  desired: number | undefined;
  /** Why, as a label (`backlog`, `idle`, `provider_paused`, ...). */
  reason: string | undefined;
  /** Why, in words with the figures. */
  detail: string | undefined;
}

/** One pool of `WORKER_POOLS` as /health lists it. */
export interface PoolSummary {
  name: string;
  queues: string[];
  size: number;
  concurrency: number;
  /** With a range: it autoscales. */
  autoscale?: AutoscaleSnapshot;
}

/** Everything /health, /ready and /metrics are computed from. */
export interface HealthInputs {
  pool: PoolSnapshot;
  redis: RedisState;
  llm: LlmState;
  queues: string[];
  provider: string;
  redisGraceMs: number;
  startedAt: number;
  version: string;
  /** Queue depths and provider pauses, as last read (metrics only). */
  queueStats?: QueueStats;
  /** With `--autoscale`: its range and last decision. */
  autoscale?: AutoscaleSnapshot;
  /** With `WORKER_POOLS`: each pool, its size and its autoscaler's. */
  pools?: PoolSummary[];
}

/** A slot counts as alive while its process runs. */
export function isAlive(slot: SlotSnapshot): boolean {
  return slot.pid !== undefined &&
    (slot.state === "starting" || slot.state === "running" || slot.state === "draining");
}

/** The status and the reasons for it. */
export function healthStatus(
  inputs: HealthInputs,
  now: number,
): { status: HealthStatus; reasons: string[] } {
  const { pool, redis } = inputs;
  const alive = pool.slots.filter(isAlive).length;
  const redisDownMs = redis.downSince === undefined ? 0 : now - redis.downSince;
  const unhealthy: string[] = [];
  if (alive === 0) unhealthy.push("no worker alive");
  if (!redis.connected && redisDownMs >= inputs.redisGraceMs) {
    unhealthy.push(`Redis unreachable for ${Math.round(redisDownMs / 1000)} s`);
  }
  if (pool.intensityExceeded) {
    unhealthy.push(`restart intensity exceeded (${pool.restartsInPeriod} restarts in the period)`);
  }
  if (unhealthy.length > 0) return { status: "unhealthy", reasons: unhealthy };
  const degraded: string[] = [];
  if (alive < pool.size) degraded.push(`${alive} of ${pool.size} workers alive`);
  if (!redis.connected) degraded.push("Redis unreachable (within the grace period)");
  else if (redis.writeRefusal !== undefined) {
    degraded.push(`Redis refuses writes: ${redis.writeRefusal}`);
  }
  if (inputs.llm.state !== "ok") {
    degraded.push(`LLM paused: ${inputs.llm.state}`);
  }
  if (pool.draining) degraded.push("draining");
  return degraded.length > 0
    ? { status: "degraded", reasons: degraded }
    : { status: "healthy", reasons: [] };
}

/** The state a slot shows in /health: `idle` or `busy` for a running worker. */
function shownState(slot: SlotSnapshot): string {
  if (slot.state !== "running") return slot.state;
  return slot.activeJobs > 0 ? "busy" : "idle";
}

/** The /health response: body and HTTP status (200 healthy or degraded, 503 unhealthy). */
export function healthResponse(inputs: HealthInputs, now: number) {
  const { status, reasons } = healthStatus(inputs, now);
  const body = {
    status,
    claude_authenticated: inputs.llm.claudeAuthenticated,
    worker_count: inputs.pool.size,
    queue: inputs.queues.join(","),
    workers_alive: inputs.pool.slots.filter(isAlive).length,
    provider: inputs.provider,
    reasons,
    redis: {
      connected: inputs.redis.connected,
      latency_ms: inputs.redis.latencyMs ?? null,
      writable: inputs.redis.connected ? inputs.redis.writeRefusal === undefined : null,
      ...(inputs.redis.writeRefusal !== undefined
        ? { write_refusal: inputs.redis.writeRefusal }
        : {}),
    },
    llm: {
      state: inputs.llm.state,
      retry_in_seconds: inputs.llm.retryInSeconds,
      reason: inputs.llm.reason ?? null,
      resumes_at: inputs.llm.resumesAt ?? null,
    },
    workers: inputs.pool.slots.map((slot) => ({
      name: slot.name,
      ...(slot.pool !== undefined ? { pool: slot.pool } : {}),
      pid: slot.pid ?? null,
      state: shownState(slot),
      restarts: slot.restarts,
      uptime_s: slot.uptimeS,
      active_jobs: slot.activeJobs,
      processed: slot.processed,
      failed: slot.failed,
    })),
    ...(inputs.autoscale
      ? {
        autoscale: {
          min: inputs.autoscale.min,
          max: inputs.autoscale.max,
          desired: inputs.autoscale.desired ?? null,
          reason: inputs.autoscale.reason ?? null,
          detail: inputs.autoscale.detail ?? null,
        },
      }
      : {}),
    ...(inputs.pools
      ? {
        pools: inputs.pools.map((pool) => ({
          name: pool.name,
          queue: pool.queues.join(","),
          size: pool.size,
          concurrency: pool.concurrency,
          autoscale: pool.autoscale
            ? {
              min: pool.autoscale.min,
              max: pool.autoscale.max,
              desired: pool.autoscale.desired ?? null,
              reason: pool.autoscale.reason ?? null,
              detail: pool.autoscale.detail ?? null,
            }
            : null,
        })),
      }
      : {}),
    uptime_s: Math.round((now - inputs.startedAt) / 100) / 10,
    version: inputs.version,
  };
  return { httpStatus: status === "unhealthy" ? 503 : 200, body };
}

/** /ready: Redis answers, at least one worker is ready, and the pool is not draining. */
export function readiness(inputs: HealthInputs): { ready: boolean; reason: string } {
  if (inputs.pool.draining) return { ready: false, reason: "draining" };
  if (!inputs.redis.connected) return { ready: false, reason: "Redis unreachable" };
  const ready = inputs.pool.slots.filter((slot) => slot.state === "running").length;
  if (ready === 0) return { ready: false, reason: "no worker ready" };
  return { ready: true, reason: `${ready} worker(s) ready` };
}
