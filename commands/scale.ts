/** `ppr-worker scale N`: resize running supervisors through Redis, for containers nobody can signal. */

import { EXIT_USAGE } from "../cli/options.ts";
import { OPERATOR_EXIT_STATUS, redisOptions } from "./_util.ts";
import { defineCommand, flag, text } from "./command.ts";

/** `scale N [--host H] [--pool P]`. */
export const scale = defineCommand({
  name: "scale",
  description:
    "Resize the pool of running supervisors to N worker processes (1-20), every one on this " +
    "Redis or the one of --host; with WORKER_POOLS, the pool of --pool. The removed workers " +
    "drain. Prints what each one did.",
  arguments: [{ name: "<n>", description: "worker processes" }],
  options: {
    host: text("--host <hostname>", "only the supervisor running as this host (WORKER_HOSTNAME)"),
    pool: text("--pool <queue>", "only this pool of WORKER_POOLS (required where it has several)"),
    redisUrl: redisOptions().redisUrl,
    json: flag("--json", "print one JSON line per supervisor"),
  },
  help:
    `${OPERATOR_EXIT_STATUS}\nExample:\n  ppr-worker scale 4 --host worker-a\n  ppr-worker scale 3 --pool llm\n`,
  async action({ options, args: [n], config }) {
    const size = /^\d+$/.test(n) ? Number(n) : NaN;
    if (!(size >= 1 && size <= 20)) {
      console.error(
        `ppr-worker scale: <n> = ${JSON.stringify(n)}: must be an integer from 1 to 20`,
      );
      return EXIT_USAGE;
    }
    const { runScale } = await import("../cli/scale.ts");
    return await runScale({
      redisUrl: config.redisUrl,
      size,
      host: options.host,
      pool: options.pool,
      json: options.json,
    });
  },
});
