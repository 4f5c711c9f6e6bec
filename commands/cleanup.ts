/** `ppr-worker cleanup`: removes stale worker registrations of every host. */

import { REGISTRATION_TTL_S, STALE_AFTER_MS } from "../redis/registrations.ts";
import { OPERATOR_EXIT_STATUS, redisOptions } from "./_util.ts";
import { defineCommand, flag } from "./command.ts";

/** `cleanup`: never a live worker's registration. */
export const cleanup = defineCommand({
  name: "cleanup",
  description:
    "Remove stale worker registrations (ppr:worker:<name>) of every host; never a live one's.",
  options: {
    ...redisOptions(),
    dryRun: flag("--dry-run", "only say what would be removed"),
    json: flag("--json", "print what was (or would be) removed as JSON"),
  },
  help:
    `${OPERATOR_EXIT_STATUS}\nA registration is stale when its key has no TTL (every live worker ` +
    `sets one) and its heartbeat is older than ${
      STALE_AFTER_MS / 1000
    } s (3 x the ${REGISTRATION_TTL_S} s TTL).\n`,
  async action({ options, config }) {
    const { runCleanup } = await import("../cli/cleanup.ts");
    return await runCleanup({
      redisUrl: config.redisUrl,
      prefix: config.prefix,
      dryRun: options.dryRun,
      json: options.json,
    });
  },
});
