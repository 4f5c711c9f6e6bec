/** What several commands' command lines share: the operator commands' Redis options and queues, the host name. */

import type { Config } from "../config/config.ts";
import { names } from "../config/rules.ts";
import { setting } from "./command.ts";

/** The exit statuses of the operator commands, as their `--help` ends. */
export const OPERATOR_EXIT_STATUS =
  "\nExit status: 0 ok; 1 failed or not found (or Redis unreachable); " +
  "2 usage or configuration error.\n";

/** The Redis settings every operator command takes, as the pool does. */
export function redisOptions() {
  return {
    redisUrl: setting(
      "--redis-url <url>",
      "Redis server [default: REDIS_URL, else redis://127.0.0.1:6379]",
    ),
    prefix: setting("--prefix <prefix>", "BullMQ key prefix [default: BULL_PREFIX, else bull]"),
  };
}

/** Where an operator command looks: the pool's Redis and queues. */
export interface OperatorTarget {
  redisUrl: string;
  prefix: string;
  queues: string[];
}

/**
 * The Redis and queues an operator command looks at: `--queue` (names queues to look at, not
 * queues to serve: it is checked as names only, never against QUEUE_PROCESSORS, so a results
 * queue with no processor may be inspected), else `QUEUE_NAME`. `undefined` after saying what
 * is wrong with `--queue`.
 */
export function operatorTarget(
  config: Config,
  queue: string | undefined,
): OperatorTarget | undefined {
  const target = { redisUrl: config.redisUrl, prefix: config.prefix };
  if (queue === undefined) return { ...target, queues: config.queues };
  const queues = names("queue").parse(queue);
  if (!queues) {
    console.error(`ppr-worker: --queue = ${JSON.stringify(queue)}: must be ${names("queue").rule}`);
    return undefined;
  }
  return { ...target, queues };
}

/** The host part of worker names: `WORKER_HOSTNAME`, else this machine's. */
export function hostnameOf(config: Config): string {
  return config.hostname ?? Deno.hostname();
}
