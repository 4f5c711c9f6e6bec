/** The `pause` and `resume` commands: BullMQ's global queue pause, for every worker of every container. */

import { forEachQueue, type RedisTarget, runCommand, withRedis } from "./_util.ts";

/** What `ppr-worker pause` or `resume` was asked for. */
export interface PauseOptions extends RedisTarget {
  queues: string[];
  /** `true`: pause; `false`: resume. */
  paused: boolean;
}

/**
 * Pauses (BullMQ's `Queue.pause()`: workers finish the jobs they hold and take no new ones;
 * producers can still add) or resumes each queue, and says so. Exit 0, or 1 when Redis cannot
 * be reached.
 */
export function runPause(options: PauseOptions): Promise<number> {
  const command = options.paused ? "pause" : "resume";
  return runCommand(command, () =>
    withRedis(options, `ppr-${command}`, async (redis) => {
      await forEachQueue(redis, options, options.queues, async (queue, name) => {
        const before = await queue.isPaused();
        if (options.paused) await queue.pause();
        else await queue.resume();
        const already = before === options.paused ? " (it already was)" : "";
        console.log(
          options.paused
            ? `${name}: paused${already}; workers finish the jobs they hold and take no new ones`
            : `${name}: resumed${already}; workers take jobs again`,
        );
      });
      return 0;
    }));
}
