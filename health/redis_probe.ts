/** Pings Redis on a timer and remembers the answer, so health requests never wait on Redis. */

import type { Redis } from "ioredis";
import { deadline } from "../async/mod.ts";

/** What the last pings said about Redis. */
export interface RedisState {
  connected: boolean;
  latencyMs: number | undefined;
  /** Epoch ms since Redis stopped answering; `undefined` while it answers. */
  downSince: number | undefined;
}

/** Starts pinging every `intervalMs`. The returned object is read by the health server. */
export function startRedisProbe(redis: Redis, intervalMs = 2000, now: () => number = Date.now) {
  const state: RedisState = { connected: false, latencyMs: undefined, downSince: now() };
  let busy = false;
  const probe = async () => {
    if (busy) return;
    busy = true;
    const started = performance.now();
    try {
      await deadline(redis.ping(), intervalMs, "ping timeout");
      state.connected = true;
      state.latencyMs = Math.round((performance.now() - started) * 100) / 100;
      state.downSince = undefined;
    } catch {
      state.connected = false;
      state.latencyMs = undefined;
      state.downSince ??= now();
    } finally {
      busy = false;
    }
  };
  void probe();
  const timer = setInterval(probe, intervalMs);
  return { state, stop: () => clearInterval(timer) };
}
