/** Sets up LogTape: JSON lines or pretty text on stderr, one logger per part of the program. */

import {
  configureSync,
  getAnsiColorFormatter,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogRecord,
  type Sink,
  type TextFormatter,
} from "@logtape/logtape";

/** `LOG_FORMAT`: JSON lines, pretty text, or auto (pretty on a terminal). */
export type LogFormat = "auto" | "json" | "pretty";
/** `LOG_LEVEL`: the lowest level written. */
export type LogLevel = "debug" | "info" | "warning" | "error";

/** How this process logs. */
export interface LogOptions {
  /** `auto` means pretty on a terminal, JSON lines otherwise. @default {"auto"} */
  format?: LogFormat;
  /** @default {"info"} */
  level?: LogLevel;
  /** Added to every record as the `worker` property (worker processes set their name). */
  worker?: string;
}

/** Whether `format` resolves to JSON lines for this process's stderr. */
export function isJsonFormat(format: LogFormat): boolean {
  return format === "json" || (format === "auto" && !Deno.stderr.isTerminal());
}

const encoder = new TextEncoder();

/** A sink that writes each record synchronously, so nothing is lost when the process exits. */
function stderrSink(formatter: TextFormatter, worker?: string): Sink {
  return (record: LogRecord) => {
    const withWorker = worker === undefined
      ? record
      : { ...record, properties: { worker, ...record.properties } };
    Deno.stderr.writeSync(encoder.encode(formatter(withWorker)));
  };
}

/** Configures logging for this process. Call once, before the first log line. */
export function setupLogging(options: LogOptions = {}): void {
  const json = isJsonFormat(options.format ?? "auto");
  const formatter = json
    ? getJsonLinesFormatter({ categorySeparator: ".", message: "rendered", properties: "flatten" })
    : Deno.stderr.isTerminal()
    ? getAnsiColorFormatter({ timestamp: "time", category: ".", value: "bare" })
    : getTextFormatter({ timestamp: "time", category: ".", value: "bare" });
  configureSync({
    reset: true,
    sinks: { stderr: stderrSink(formatter, options.worker) },
    loggers: [
      { category: ["ppr"], lowestLevel: options.level ?? "info", sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** The logger of one part of ppr-worker, e.g. `log("supervisor")`. */
export function log(part: string): Logger {
  return getLogger(["ppr", part]);
}
