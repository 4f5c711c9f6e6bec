/** `ppr-worker jobs show` and `jobs list`: one job in full, or the newest jobs in one state. */

import { EXIT_USAGE, integerOption } from "../cli/options.ts";
import { JOB_STATES } from "../state/job_states.ts";
import { OPERATOR_EXIT_STATUS, operatorTarget, redisOptions } from "./_util.ts";
import { type CommandGroup, defineCommand, flag, parsed, requiredChoice, text } from "./command.ts";

/** `jobs show <id>`: data, state, attempts, result or error, timestamps. */
export const jobsShow = defineCommand({
  name: "show",
  description: "One job: data, state, attempts, result or error with its stack, timestamps.",
  arguments: [{ name: "<id>", description: "job id" }],
  options: {
    queue: text("-q, --queue <names>", "queues to look in, comma-separated [default: QUEUE_NAME]"),
    ...redisOptions(),
    full: flag("--full", "do not shorten long prompts and results"),
    json: flag("--json", "print the job as JSON"),
  },
  help: OPERATOR_EXIT_STATUS,
  async action({ options, args: [id], config }) {
    const target = operatorTarget(config, options.queue);
    if (!target) return EXIT_USAGE;
    const { runJobsShow } = await import("../cli/jobs.ts");
    return await runJobsShow({ ...target, id, full: options.full, json: options.json });
  },
});

/** `jobs list --state S`: the newest jobs in one state. */
export const jobsList = defineCommand({
  name: "list",
  description: "The newest jobs in one state.",
  options: {
    state: requiredChoice("--state <state>", "jobs in this state", JOB_STATES),
    queue: text("-q, --queue <names>", "queues, comma-separated [default: QUEUE_NAME]"),
    ...redisOptions(),
    limit: parsed("--limit <n>", "at most this many jobs, newest first", integerOption(1), 20),
    full: flag("--full", "do not shorten long prompts and results (JSON)"),
    json: flag("--json", "print one JSON line per job"),
  },
  help: `${OPERATOR_EXIT_STATUS}\nExample:\n  ppr-worker jobs list --state failed\n`,
  async action({ options, config }) {
    const target = operatorTarget(config, options.queue);
    if (!target) return EXIT_USAGE;
    const { runJobsList } = await import("../cli/jobs.ts");
    return await runJobsList({
      ...target,
      state: options.state,
      limit: options.limit,
      full: options.full,
      json: options.json,
    });
  },
});

/** `jobs`: look at jobs. */
export const jobs: CommandGroup = {
  name: "jobs",
  description: "Look at jobs: 'jobs show ID', 'jobs list --state failed'.",
  subcommands: [jobsShow, jobsList],
};
