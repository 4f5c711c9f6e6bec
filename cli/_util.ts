/** Shared bits of the operator commands: exit codes, errors a user can act on, JSON. */

import { EXIT_USAGE } from "./options.ts";

// Connections and queues are the read model's (state/); the commands take them from here too.
export { connectOrFail, withRedis } from "../state/connection.ts";
export { forEachQueue } from "../state/queues.ts";

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
