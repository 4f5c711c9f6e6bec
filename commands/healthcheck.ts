/** `ppr-worker healthcheck`: the container's health probe, for images without curl. */

import { durationOption } from "../cli/options.ts";
import { defineCommand, parsed, setting, text } from "./command.ts";

/** `healthcheck`: GETs the local `/health`; exit 0 on HTTP 200, else 1. */
export const healthcheck = defineCommand({
  name: "healthcheck",
  description:
    "GET the local /health; print the status; exit 0 on HTTP 200, else 1 (for images without curl).",
  options: {
    url: text("--url <url>", "health URL [default: http://127.0.0.1:<HEALTH_PORT>/health]"),
    healthHost: setting("--health-host <host>", "[default: HEALTH_HOST]"),
    healthPort: setting("--health-port <port>", "[default: HEALTH_PORT]"),
    timeoutMs: parsed(
      "--timeout <duration>",
      "give up after this long",
      durationOption,
      5000,
      "5s",
    ),
  },
  async action({ options, config }) {
    const { runHealthcheck } = await import("../cli/healthcheck.ts");
    return await runHealthcheck({
      url: options.url,
      host: config.healthHost,
      port: config.healthPort,
      timeoutMs: options.timeoutMs,
    });
  },
});
