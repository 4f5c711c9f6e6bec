/** `ppr-worker requeue`: moves failed jobs back to waiting (like `rq requeue`). */

import { EXIT_USAGE } from "../cli/options.ts";
import { OPERATOR_EXIT_STATUS, operatorTarget, redisOptions } from "./_util.ts";
import { defineCommand, flag, strings, text } from "./command.ts";

/** `requeue --failed --id ... | --all`: failed jobs back to waiting, their attempts reset. */
export const requeue = defineCommand({
  name: "requeue",
  description: "Move failed jobs back to waiting with their attempts reset (like 'rq requeue').",
  options: {
    queue: text("-q, --queue <names>", "queues, comma-separated [default: QUEUE_NAME]"),
    ...redisOptions(),
    failed: flag("--failed", "requeue failed jobs (required: the only state requeue moves)"),
    ids: strings("--id <ids...>", "these jobs (ids of jobs in other states are left as they are)"),
    all: flag("--all", "every job failed now"),
    json: flag("--json", "print what was done as JSON"),
  },
  help: `${OPERATOR_EXIT_STATUS}\nExamples:\n  ppr-worker requeue --failed --id 42 43\n` +
    "  ppr-worker requeue --failed --all --queue llm\n",
  async action({ options, config }) {
    const target = operatorTarget(config, options.queue);
    if (!target) return EXIT_USAGE;
    const { runRequeue } = await import("../cli/requeue.ts");
    return await runRequeue({
      ...target,
      failed: options.failed,
      ids: options.ids,
      all: options.all,
      json: options.json,
    });
  },
});
