/** Pings Redis on a timer and remembers the answer, so health requests never wait on Redis. */

import type { Logger } from "@logtape/logtape";
import type { RedisClient } from "../redis/connection.ts";
import { deadline, everyInterval } from "../async/mod.ts";

/** What the last pings said about Redis. */
export interface RedisState {
  connected: boolean;
  latencyMs: number | undefined;
  /** Epoch ms since Redis stopped answering; `undefined` while it answers. */
  downSince: number | undefined;
  /**
   * Redis's refusal of the probe's write (`OOM command not allowed when used memory >
   * 'maxmemory'`, `READONLY ...`), `undefined` while it takes writes or nothing was tried.
   */
  writeRefusal?: string;
}

/** How often a probe that is still failing says so again in the log. */
const STILL_FAILING_LOG_MS = 30_000;

/** What the probe needs besides the connection. */
export interface RedisProbeOptions {
  /** @default {1000} */
  intervalMs?: number;
  /** @default {Date.now} */
  now?: () => number;
  /**
   * A key of this process's own that each probe writes (`SET ... PX`): a Redis that answers
   * PING but refuses writes (`maxmemory` with `noeviction`, a replica) is seen. None: no write.
   */
  writeKey?: string;
  /** Where a change (Redis lost, back, refusing writes) is logged, and a lasting one again every 30 s. */
  logger?: Logger;
}

/**
 * Starts probing every `intervalMs`: a PING, then a small write to `writeKey`. The returned
 * `state` is read by the health server. A connection error or close marks Redis down at once,
 * without waiting for the next ping.
 */
export function startRedisProbe(redis: RedisClient, options: RedisProbeOptions = {}) {
  const { intervalMs = 1000, now = Date.now, writeKey, logger } = options;
  const state: RedisState = {
    connected: false,
    latencyMs: undefined,
    downSince: now(),
    writeRefusal: undefined,
  };
  let everConnected = false;
  let lastDownLog = 0;
  let refusedSince: number | undefined;
  let lastRefusalLog = 0;
  let lastError = "";
  const markDown = (error?: unknown) => {
    if (error instanceof Error) lastError = error.message;
    state.connected = false;
    state.latencyMs = undefined;
    state.downSince ??= now();
  };
  const onError = (error: unknown) => markDown(error);
  const onClose = () => markDown();
  redis.on("error", onError);
  redis.on("close", onClose);

  /** Logs a change of state, and a lasting failure again every 30 s. */
  const logChanges = (wasConnected: boolean, wasRefusing: string | undefined) => {
    if (!logger) return;
    const at = now();
    if (state.connected && !wasConnected && everConnected && lastDownLog > 0) {
      logger.info("Redis answers again", {});
      lastDownLog = 0;
    } else if (!state.connected && state.downSince !== undefined && everConnected) {
      const downS = Math.round((at - state.downSince) / 1000);
      if (wasConnected || at - lastDownLog >= STILL_FAILING_LOG_MS) {
        logger.warn("Redis unreachable for {downS} s: {error}", { downS, error: lastError });
        lastDownLog = at;
      }
    }
    if (state.writeRefusal !== undefined) {
      refusedSince ??= at;
      if (wasRefusing === undefined || at - lastRefusalLog >= STILL_FAILING_LOG_MS) {
        logger.warn(
          "Redis refuses writes for {refusedS} s: {refusal}; jobs cannot finish and registrations are only kept alive until it takes writes again",
          { refusedS: Math.round((at - refusedSince) / 1000), refusal: state.writeRefusal },
        );
        lastRefusalLog = at;
      }
    } else if (wasRefusing !== undefined) {
      logger.info("Redis takes writes again", {});
      refusedSince = undefined;
    }
  };

  const stopProbing = everyInterval(async () => {
    const wasConnected = state.connected;
    const wasRefusing = state.writeRefusal;
    const started = performance.now();
    try {
      await deadline(redis.ping(), intervalMs, "ping timeout");
      state.connected = true;
      everConnected = true;
      state.latencyMs = Math.round((performance.now() - started) * 100) / 100;
      state.downSince = undefined;
      if (writeKey !== undefined) state.writeRefusal = await writeRefused(redis, writeKey);
    } catch (error) {
      markDown(error);
    }
    logChanges(wasConnected, wasRefusing);
  }, intervalMs);
  return {
    state,
    stop: () => {
      stopProbing();
      redis.off("error", onError);
      redis.off("close", onClose);
    },
  };
}

/** Redis's answer to a write that refuses it; `undefined` when the write went through. */
async function writeRefused(redis: RedisClient, key: string): Promise<string | undefined> {
  try {
    await redis.set(key, String(Date.now()), "PX", 10_000);
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // A reply error (OOM, READONLY, NOPERM): Redis answered, and said no.
    if (/^[A-Z]+ /.test(message)) return message;
    throw error;
  }
}
