/** Opens the ioredis connections ppr-worker uses, with reconnects that never give up. */

import { Redis } from "ioredis";

/** How a connection behaves while Redis is down. */
export interface RedisOptions {
  /**
   * BullMQ workers need `maxRetriesPerRequest: null` (commands wait for a
   * reconnect instead of failing). Other clients fail a command after a few
   * retries so callers are not stuck while Redis is down.
   * @default {false}
   */
  blocking?: boolean;
  /** Client name shown by `CLIENT LIST`. */
  name?: string;
}

/**
 * Connects to `url`. The client reconnects forever with a delay that grows to 2 s,
 * so a Redis outage causes neither a crash nor a reconnect storm.
 * Errors are only emitted as events; the caller decides what to log.
 */
export function connectRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: options.blocking ? null : 2,
    enableReadyCheck: true,
    connectionName: options.name,
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 2000),
    // A connection attempt to an address that does not answer must not hang for ioredis's 10 s default.
    connectTimeout: 5000,
  });
}
