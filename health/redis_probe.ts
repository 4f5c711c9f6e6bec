/** Pings Redis on a timer and remembers the answer, so health requests never wait on Redis. */

import type { Redis } from "ioredis";
import { deadline, everyInterval } from "../async/mod.ts";

/** What the last pings said about Redis. */
export interface RedisState {
  connected: boolean;
  latencyMs: number | undefined;
  /** Epoch ms since Redis stopped answering; `undefined` while it answers. */
  downSince: number | undefined;
}

/**
 * Starts pinging every `intervalMs`. The returned object is read by the health server. A
 * connection error or close marks Redis down at once, without waiting for the next ping.
 */
export function startRedisProbe(redis: Redis, intervalMs = 1000, now: () => number = Date.now) {
  const state: RedisState = { connected: false, latencyMs: undefined, downSince: now() };
  const markDown = () => {
    state.connected = false;
    state.latencyMs = undefined;
    state.downSince ??= now();
  };
  redis.on("error", markDown);
  redis.on("close", markDown);
  const stopProbing = everyInterval(async () => {
    const started = performance.now();
    try {
      await deadline(redis.ping(), intervalMs, "ping timeout");
      state.connected = true;
      state.latencyMs = Math.round((performance.now() - started) * 100) / 100;
      state.downSince = undefined;
    } catch {
      markDown();
    }
  }, intervalMs);
  return {
    state,
    stop: () => {
      stopProbing();
      redis.off("error", markDown);
      redis.off("close", markDown);
    },
  };
}
