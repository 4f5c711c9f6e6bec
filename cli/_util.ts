/** Shared bits of the operator commands: a Redis connection that fails fast, queues, exit codes, JSON. */

import type { Redis } from "ioredis";
import { Queue } from "bullmq";
import { deadline } from "../async/mod.ts";
import { connectRedis } from "../redis/connection.ts";
import { redactUrl } from "../redis/url.ts";
import { EXIT_USAGE } from "./options.ts";

/** Exit status of a command that failed, or found nothing where something was asked for. */
export const EXIT_FAILURE = 1;
/** Exit status of a usage or configuration error. */
export { EXIT_USAGE };

/** An error the user can act on; the command prints its message and exits with `exitCode`. */
export class CommandError extends Error {
  override name = "CommandError";
  constructor(message: string, readonly exitCode: number = EXIT_FAILURE) {
    super(message);
  }
}

/** Where the operator commands find the queues: the pool's own Redis settings. */
export interface RedisTarget {
  redisUrl: string;
  /** BullMQ key prefix (`BULL_PREFIX`). */
  prefix: string;
}

/** How long a command waits for Redis to answer before it gives up. */
export const REDIS_ANSWER_MS = 10_000;

/**
 * Connects to Redis and waits for an answer, so a command against a wrong `REDIS_URL` ends
 * with a message within `REDIS_ANSWER_MS` instead of reconnecting forever.
 * Throws a `CommandError` naming the URL (password hidden) and the reason.
 */
export async function connectOrFail(redisUrl: string, name: string): Promise<Redis> {
  const redis = connectRedis(redisUrl, { name });
  let lastError = "";
  redis.on("error", (error: Error) => (lastError = error.message));
  try {
    await deadline(redis.ping(), REDIS_ANSWER_MS, `no answer within ${REDIS_ANSWER_MS / 1000} s`);
    return redis;
  } catch (error) {
    redis.disconnect();
    const reason = lastError || (error instanceof Error ? error.message : String(error));
    throw new CommandError(
      `cannot reach Redis at ${redactUrl(redisUrl)}: ${reason} (check REDIS_URL or --redis-url)`,
    );
  }
}

/**
 * Runs `body` with a Redis connection that answers and closes it afterwards, whatever happens.
 *
 * @example
 * ```ts
 * import { type RedisTarget, withRedis } from "./_util.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * function keyCount(target: RedisTarget): Promise<number> {
 *   return withRedis(target, "ppr-info", (redis) => redis.dbsize());
 * }
 * ```
 */
export async function withRedis<T>(
  target: RedisTarget,
  name: string,
  body: (redis: Redis) => Promise<T>,
): Promise<T> {
  const redis = await connectOrFail(target.redisUrl, name);
  try {
    return await body(redis);
  } finally {
    redis.disconnect();
  }
}

/**
 * Runs `body` with a BullMQ `Queue` for each of `names` in turn, on an existing connection: one
 * of `open` when it has the name (left open), else a new one closed afterwards (the connection
 * stays open for the caller).
 */
export async function forEachQueue(
  redis: Redis,
  target: RedisTarget,
  names: readonly string[],
  body: (queue: Queue, name: string) => Promise<void>,
  open?: ReadonlyMap<string, Queue>,
): Promise<void> {
  for (const name of names) {
    const kept = open?.get(name);
    const queue = kept ?? new Queue(name, { connection: redis, prefix: target.prefix });
    if (!kept) queue.on("error", () => {});
    try {
      await body(queue, name);
    } finally {
      if (!kept) await queue.close();
    }
  }
}

/**
 * Runs a command body and turns its errors into an exit status: a `CommandError` prints its
 * message (`ppr-worker <command>: ...`) and gives its own status; anything else is a failure (1).
 */
export async function runCommand(command: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`ppr-worker ${command}: ${message}`);
    return error instanceof CommandError ? error.exitCode : EXIT_FAILURE;
  }
}

/** Prints `value` as one line of JSON on stdout. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value));
}
