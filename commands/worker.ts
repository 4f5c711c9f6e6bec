/** `ppr-worker worker`: one worker process, as the supervisor starts it (or alone, for debugging). */

import { processorEnv } from "../jobs/external/env.ts";
import { type Config, llmQueuesOf } from "../config/config.ts";
import { EXIT_USAGE } from "../cli/options.ts";
import { parseLlmSlots, splitShare } from "../protocol/llm_share.ts";
import { workerName } from "../protocol/worker_name.ts";
import { claudeCliEnv } from "../providers/claude_cli/env.ts";
import { hostnameOf } from "./_util.ts";
import { defineCommand, flag, text } from "./command.ts";

/** The worker's name: `--name`, else the first worker's of this host. */
function nameOf(name: string | undefined, config: Config): string {
  return name ?? workerName(hostnameOf(config), 1);
}

/**
 * A worker's calls per LLM queue: the supervisor's `--llm-slots`, else (run alone: the worker
 * is the whole container) all of `LLM_MAX_IN_FLIGHT`; `undefined`: no bound. `"invalid"` after
 * saying what is wrong with `--llm-slots`.
 */
function llmSlotsOf(flag: string | undefined, config: Config): number[] | undefined | "invalid" {
  if (flag !== undefined) {
    const slots = parseLlmSlots(flag);
    if (!slots) {
      console.error(
        `ppr-worker: --llm-slots = "${flag}": must be integers of 0 or more, comma-separated`,
      );
      return "invalid";
    }
    return slots;
  }
  if (config.llmMaxInFlight === undefined) return undefined;
  return splitShare(config.llmMaxInFlight, llmQueuesOf(config).length, 0);
}

/** `worker`: runs one worker process until it is told to stop. */
export const worker = defineCommand({
  name: "worker",
  description:
    "Run one worker process (what the supervisor starts; also handy alone for debugging).",
  everySetting: true,
  options: {
    name: text("--name <name>", `worker name [default: ${workerName("<hostname>", 1)}]`),
    supervised: flag("--supervised", "started by the supervisor", { hidden: true }),
    countsFile: text("--counts-file <path>", "where the supervisor reads the job counts", {
      hidden: true,
    }),
    llmSlots: text("--llm-slots <n>", "this worker's share of LLM_MAX_IN_FLIGHT", {
      hidden: true,
    }),
    llmHeld: flag("--llm-held", "no LLM jobs until the supervisor says so", { hidden: true }),
  },
  logging: (options, config) => ({ worker: nameOf(options.name, config) }),
  async action({ options, config, env }) {
    // Run alone, the worker is the whole container: LLM_MAX_IN_FLIGHT is all its own.
    const llmSlots = llmSlotsOf(options.llmSlots, config);
    if (llmSlots === "invalid") return EXIT_USAGE;
    const { runWorker } = await import("../worker/run.ts");
    return await runWorker(config, {
      name: nameOf(options.name, config),
      supervised: options.supervised,
      hostname: hostnameOf(config),
      subprocessEnv: claudeCliEnv(env),
      processorEnv: processorEnv(env, config.processorEnv),
      countsFile: options.countsFile,
      llmSlots,
      llmHeld: options.llmHeld,
    });
  },
});
