/** `ppr-worker config`: the effective configuration and where each value came from. */

import { defineCommand, flag } from "./command.ts";

/** `config`: shows the settings (secrets hidden), then validates them as the pool does. */
export const config = defineCommand({
  name: "config",
  description: "Show the effective configuration and where each value came from (flag, env file, " +
    "environment, default), secrets hidden; --check only validates.",
  everySetting: true,
  options: {
    check: flag("--check", "only validate: exit 0, or 2 with every problem"),
    json: flag("--json", "print JSON: {settings, problems}"),
  },
  help: "\nExit status: 0 the configuration is valid; 2 it is not (every problem is listed, as " +
    "the pool lists them).\n",
  // Shown before it is validated: an invalid configuration is shown too, then its problems.
  async beforeConfig({ options, flags, env, fromEnvFile }) {
    if (options.check) return;
    const { printConfig } = await import("../cli/show_config.ts");
    printConfig(flags, env, { json: options.json, fromEnvFile });
  },
  action({ options }) {
    if (options.check) console.log("ppr-worker: the configuration is valid");
    return Promise.resolve(0);
  },
});
