/** /metrics in the Prometheus text format, read from the same inputs as /health. */

import { Counter, Gauge, Registry } from "prom-client";
import { type HealthInputs, healthStatus, isAlive } from "./status.ts";

/** A registry whose metrics are filled from `inputs()` at each scrape. */
export function createMetrics(inputs: () => HealthInputs) {
  const registry = new Registry();
  const perWorker = ["worker"] as const;
  const gauge = (
    name: string,
    help: string,
    labelNames: readonly string[],
    fill: (g: Gauge) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill(this);
      },
    });
  const counter = (name: string, help: string, fill: (c: Counter) => void) =>
    new Counter({
      name,
      help,
      labelNames: perWorker,
      registers: [registry],
      collect() {
        this.reset();
        fill(this);
      },
    });

  gauge(
    "ppr_workers_configured",
    "Worker processes this pool should run.",
    [],
    (g) => g.set(inputs().pool.size),
  );
  gauge(
    "ppr_workers_alive",
    "Worker processes running now.",
    [],
    (g) => g.set(inputs().pool.slots.filter(isAlive).length),
  );
  gauge("ppr_health_status", "1 for the current status of /health.", ["status"], (g) => {
    const { status } = healthStatus(inputs(), Date.now());
    for (const each of ["healthy", "degraded", "unhealthy"]) {
      g.set({ status: each }, each === status ? 1 : 0);
    }
  });
  gauge(
    "ppr_redis_up",
    "1 when Redis answers the supervisor's ping.",
    [],
    (g) => g.set(inputs().redis.connected ? 1 : 0),
  );
  gauge("ppr_redis_latency_seconds", "Round trip of the last Redis ping.", [], (g) => {
    const latencyMs = inputs().redis.latencyMs;
    if (latencyMs !== undefined) g.set(latencyMs / 1000);
  });
  gauge("ppr_worker_up", "1 while the worker's process runs.", perWorker, (g) => {
    for (const slot of inputs().pool.slots) g.set({ worker: slot.name }, isAlive(slot) ? 1 : 0);
  });
  gauge("ppr_worker_active_jobs", "Jobs in flight in the worker.", perWorker, (g) => {
    for (const slot of inputs().pool.slots) g.set({ worker: slot.name }, slot.activeJobs);
  });
  gauge("ppr_worker_resident_memory_bytes", "RSS of the worker process.", perWorker, (g) => {
    for (const slot of inputs().pool.slots) g.set({ worker: slot.name }, slot.rssBytes);
  });
  gauge(
    "ppr_queue_jobs",
    "Jobs in the queue by state, as last read (every few seconds).",
    ["queue", "state"],
    (g) => {
      for (const depth of inputs().queueStats?.queues ?? []) {
        for (const [state, count] of Object.entries(depth.counts)) {
          g.set({ queue: depth.queue, state }, count);
        }
      }
    },
  );
  gauge("ppr_queue_paused", "1 while the queue is paused (ppr-worker pause).", ["queue"], (g) => {
    for (const depth of inputs().queueStats?.queues ?? []) {
      g.set({ queue: depth.queue }, depth.paused ? 1 : 0);
    }
  });
  gauge("ppr_llm_paused", "1 while the provider is paused (auth or quota).", ["provider"], (g) => {
    for (const pause of inputs().queueStats?.providers ?? []) {
      g.set({ provider: pause.provider }, pause.paused ? 1 : 0);
    }
  });
  gauge(
    "ppr_llm_pause_remaining_seconds",
    "Seconds until a paused provider is tried again; 0 when not paused.",
    ["provider"],
    (g) => {
      for (const pause of inputs().queueStats?.providers ?? []) {
        g.set({ provider: pause.provider }, pause.resumesInSeconds);
      }
    },
  );
  counter("ppr_worker_restarts_total", "Restarts of the worker slot.", (c) => {
    for (const slot of inputs().pool.slots) c.inc({ worker: slot.name }, slot.restarts);
  });
  counter("ppr_jobs_processed_total", "Jobs the worker slot completed.", (c) => {
    for (const slot of inputs().pool.slots) c.inc({ worker: slot.name }, slot.processed);
  });
  counter("ppr_jobs_failed_total", "Job attempts that failed in the worker slot.", (c) => {
    for (const slot of inputs().pool.slots) c.inc({ worker: slot.name }, slot.failed);
  });

  return {
    contentType: registry.contentType,
    text: () => registry.metrics(),
  };
}
