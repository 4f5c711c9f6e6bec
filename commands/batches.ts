/** `ppr-worker batches` and `batches cancel`: the fleet's batches in the providers' batch APIs, and canceling one. */

import { integerOption } from "../cli/options.ts";
import { claudeCliEnv } from "../providers/claude_cli/env.ts";
import { OPERATOR_EXIT_STATUS, redisOptions } from "./_util.ts";
import { defineCommand, flag, parsed, setting } from "./command.ts";

/** `batches cancel <id>`: asks the provider to cancel an open batch. */
export const batchesCancel = defineCommand({
  name: "cancel",
  description: "Ask the provider to cancel an open batch (through its batch API); " +
    "the jobs whose requests had not run are retried by their retry policy.",
  arguments: [{
    name: "<id>",
    description: "ppr-worker's id of the batch (the first column of 'ppr-worker batches'), " +
      "or the provider's id of it",
  }],
  options: {
    redisUrl: redisOptions().redisUrl,
    unrecorded: flag(
      "--unrecorded",
      "cancel the provider's batch <id> that no record of the fleet knows (the batch desk " +
        "logs those it finds after dying while submitting), of --provider",
    ),
    provider: setting(
      "--provider <name>",
      "the provider of an --unrecorded batch [default: LLM_PROVIDER]",
    ),
    json: flag("--json", "print what was done as JSON"),
  },
  help: "\nWhat it does to the jobs: the provider stops the batch; answers already in complete\n" +
    "their jobs. Once the batch has ended, the batch desk reads it: each request that had not run\n" +
    "ends canceled, and its job is retried by its retry policy. With tries left it goes through a\n" +
    "lane again (the batch lane, or a direct call with retry_lane direct); with none it fails. To\n" +
    "stop the jobs for good, remove them.\n\n" +
    "It refuses an id no record has, a batch that is done already, and one still being submitted\n" +
    "(the provider has not given it an id yet), with exit 1. The batch's provider needs its key\n" +
    "here, as the pool has it (for claude, ANTHROPIC_API_KEY).\n" +
    OPERATOR_EXIT_STATUS +
    "\nExample:\n  ppr-worker batches cancel 3f9c0a7d12e4b6c8\n",
  async action({ options, args: [id], config, env }) {
    const { runBatchesCancel } = await import("../cli/batches.ts");
    return await runBatchesCancel({
      redisUrl: config.redisUrl,
      id,
      unrecorded: options.unrecorded,
      context: { config, subprocessEnv: claudeCliEnv(env) },
      json: options.json,
    });
  },
});

/** `batches`: the open batches and those ended within 7 days; `batches cancel <id>`. */
export const batches = defineCommand({
  name: "batches",
  description: "The fleet's batches in the providers' batch APIs (the batch lane, at half " +
    "price): open ones and those ended within 7 days. 'batches cancel ID' cancels one.",
  options: {
    redisUrl: redisOptions().redisUrl,
    limit: parsed(
      "--limit <n>",
      "at most this many of the batches ended within 7 days, newest first",
      integerOption(1),
      20,
    ),
    json: flag("--json", "print one JSON line per batch, the open ones first"),
  },
  help:
    "\nColumns: ppr-worker's id; the provider and its id of the batch; the queue and model it\n" +
    "was built for; its jobs; its state (submitting, open or done, with the provider's status);\n" +
    "its age since it was created; its cost at the batch price as far as read (answers of a\n" +
    "model without a price show as 'unknown', never as 0); its requests that succeeded, failed.\n" +
    OPERATOR_EXIT_STATUS +
    "\nExamples:\n  ppr-worker batches\n  ppr-worker batches cancel 3f9c0a7d12e4b6c8\n",
  subcommands: [batchesCancel],
  async action({ options, config }) {
    const { runBatchesList } = await import("../cli/batches.ts");
    return await runBatchesList({
      redisUrl: config.redisUrl,
      recent: options.limit,
      json: options.json,
    });
  },
});
