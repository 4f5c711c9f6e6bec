/** `ppr-worker dashboard`: serves bull-board and ppr-worker's own view of its workers. */

import { dashboardSettingsHelp, DEFAULT_DASHBOARD_PORT } from "../dashboard/settings.ts";
import { PROVIDER_NAMES } from "../providers/registry.ts";
import { defineCommand, switchOverride, text } from "./command.ts";

/** `dashboard`: serves until SIGINT or SIGTERM. */
export const dashboard = defineCommand({
  name: "dashboard",
  description:
    `Serve the dashboard on port ${DEFAULT_DASHBOARD_PORT}: bull-board's queues and jobs ` +
    "(inspect, retry, promote) and every worker, provider pause and queue processor (/ppr).",
  everySetting: true,
  options: {
    port: text("--port <port>", `port [default: DASHBOARD_PORT, else ${DEFAULT_DASHBOARD_PORT}]`),
    host: text(
      "--host <host>",
      "listen address [default: DASHBOARD_HOST, else 0.0.0.0 with DASHBOARD_USER and " +
        "DASHBOARD_PASSWORD, 127.0.0.1 without; without them only a loopback address is allowed]",
    ),
    readOnly: switchOverride(
      "--read-only",
      "turn off every action (retry, promote, clean, pause, add, remove): bull-board's " +
        "read-only mode [default: DASHBOARD_READ_ONLY]",
    ),
  },
  help: "\nDashboard settings (environment variable, flag; flags win over the environment):\n" +
    `${dashboardSettingsHelp()}\n` +
    "\nExit status: 0 stopped by SIGINT or SIGTERM; 1 Redis unreachable, the port taken " +
    "or bull-board's files missing; 2 usage or configuration error.\n",
  dashboard: {
    besidePool: false,
    flags: ({ port, host, readOnly }) => ({ port, host, readOnly }),
  },
  logging: () => ({}),
  async action({ config, dashboard: settings }) {
    const { runDashboard } = await import("../dashboard/run.ts");
    return await runDashboard({ config, settings: settings!, providers: PROVIDER_NAMES });
  },
});
