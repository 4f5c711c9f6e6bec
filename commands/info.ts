/** `ppr-worker info`: queue counts and every worker on this Redis (like `rq info`). */

import { durationAtLeast, EXIT_USAGE } from "../cli/options.ts";
import { OPERATOR_EXIT_STATUS, operatorTarget, redisOptions } from "./_util.ts";
import { defineCommand, flag, parsed, text } from "./command.ts";

/** `info`: one report, or one per `--interval` until Ctrl-C. */
export const info = defineCommand({
  name: "info",
  description:
    "Queue counts and every worker on this Redis, from every container (like 'rq info').",
  options: {
    queue: text(
      "-q, --queue <names>",
      "queues, comma-separated [default: QUEUE_NAME and every queue a registered worker serves]",
    ),
    ...redisOptions(),
    intervalMs: parsed(
      "--interval <duration>",
      "refresh every this long (e.g. 2s) until Ctrl-C; in place on a terminal",
      durationAtLeast(100),
    ),
    json: flag("--json", "print JSON (one line per refresh with --interval)"),
  },
  help: `${OPERATOR_EXIT_STATUS}\nExample:\n  ppr-worker info --interval 2s\n`,
  async action({ options, config }) {
    const target = operatorTarget(config, options.queue);
    if (!target) return EXIT_USAGE;
    const { runInfo } = await import("../cli/info.ts");
    return await runInfo({
      ...target,
      discoverQueues: options.queue === undefined,
      budgets: { budgets: config.llmBudgets, period: config.llmBudgetPeriod },
      intervalMs: options.intervalMs,
      json: options.json,
    });
  },
});
