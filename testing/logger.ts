/** A LogTape logger for unit tests that records what the code under test logs. */

import type { Logger } from "@logtape/logtape";

/** One line logged: its level, its message template and its properties. */
export interface LoggedLine {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  properties: Record<string, unknown>;
}

/**
 * A logger whose `debug`, `info`, `warn` and `error` (message template and properties, the
 * form this project logs in) append to `lines`; nothing is printed.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { recordingLogger } from "./logger.ts";
 *
 * const { logger, lines } = recordingLogger();
 * logger.info("{worker} ready", { worker: "worker-a-1" });
 * assert.deepEqual(lines, [
 *   { level: "info", message: "{worker} ready", properties: { worker: "worker-a-1" } },
 * ]);
 * ```
 */
export function recordingLogger(): { logger: Logger; lines: LoggedLine[] } {
  const lines: LoggedLine[] = [];
  const at = (level: LoggedLine["level"]) => (message: string, properties = {}) =>
    void lines.push({ level, message, properties });
  const logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { logger: logger as unknown as Logger, lines };
}
