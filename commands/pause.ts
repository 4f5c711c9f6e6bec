/** `ppr-worker pause` and `resume`: BullMQ's Queue.pause() and Queue.resume() for every worker. */

import { EXIT_USAGE } from "../cli/options.ts";
import { OPERATOR_EXIT_STATUS, operatorTarget, redisOptions } from "./_util.ts";
import { type CommandSpec, defineCommand, requiredText } from "./command.ts";

function pauseCommand(paused: boolean): CommandSpec {
  return defineCommand({
    name: paused ? "pause" : "resume",
    description: paused
      ? "Pause queues for every worker of every container (BullMQ's Queue.pause()): " +
        "jobs in flight finish, no new ones start; producers can still add."
      : "Resume paused queues (BullMQ's Queue.resume()).",
    options: {
      ...redisOptions(),
      queue: requiredText("-q, --queue <names>", "queues, comma-separated"),
    },
    help: OPERATOR_EXIT_STATUS,
    async action({ options, config }) {
      const target = operatorTarget(config, options.queue);
      if (!target) return EXIT_USAGE;
      const { runPause } = await import("../cli/pause.ts");
      return await runPause({ ...target, paused });
    },
  });
}

/** `pause --queue Q`: jobs in flight finish, no new ones start. */
export const pause = pauseCommand(true);

/** `resume --queue Q`. */
export const resume = pauseCommand(false);
