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
  withContext,
} from "@logtape/logtape";
import { AsyncLocalStorage } from "node:async_hooks";
import { pipeWriter } from "./pipe.ts";
import { redact } from "./redact.ts";

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
  /**
   * The ids of the span active where a line is logged (`activeTraceIds` in
   * `telemetry/tracing.ts`, when tracing is on): each record gains `trace_id` and `span_id`.
   * Passed in, so that logging never loads OpenTelemetry's API when tracing is off.
   * @default {undefined}
   */
  traceIds?: () => TraceIds | undefined;
}

/** Whether `format` resolves to JSON lines for this process's stderr. */
export function isJsonFormat(format: LogFormat): boolean {
  return format === "json" || (format === "auto" && !Deno.stderr.isTerminal());
}

const encoder = new TextEncoder();

/** The fields of a JSON log line; a property of the same name is renamed `<name>_property`. */
const RESERVED = new Set(["@timestamp", "level", "message", "logger"]);

/**
 * The record as it is written: with the worker's name, and with properties that would
 * overwrite a field of the JSON line (a property called `message`) renamed.
 */
export function prepareRecord(
  record: LogRecord,
  worker?: string,
  traceIds?: TraceIds,
): LogRecord {
  const properties: Record<string, unknown> = worker === undefined ? {} : { worker };
  for (const [key, value] of Object.entries(record.properties)) {
    properties[RESERVED.has(key) ? `${key}_property` : key] = value;
  }
  if (traceIds) Object.assign(properties, traceIds);
  return { ...record, message: [renderMessage(record.message)], properties };
}

/** A span's ids as a log line carries them: OpenTelemetry's field names for logs. */
export interface TraceIds {
  trace_id: string;
  span_id: string;
}

/**
 * A record's message as one string, its values written as a reader expects them in a sentence:
 * strings bare (`on http://0.0.0.0:8080`, not `on http://"0.0.0.0":8080`), anything else as JSON.
 * The values keep their types in the record's properties.
 *
 * @example
 * ```ts
 * import { renderMessage } from "./log.ts";
 * renderMessage(["on http://", "0.0.0.0", ":", 8080, "/health"]); // "on http://0.0.0.0:8080/health"
 * ```
 */
export function renderMessage(message: readonly unknown[]): string {
  return message.map((part, index) => {
    if (index % 2 === 0 || typeof part === "string") return String(part);
    if (part instanceof Error) return part.message;
    if (part === undefined) return "undefined";
    try {
      return JSON.stringify(part) ?? String(part);
    } catch {
      return String(part);
    }
  }).join("");
}

/**
 * A sink that writes each record synchronously (nothing is lost when the process exits),
 * with every known secret hidden and, when asked, the active span's ids; once stderr's reader is gone (a worker's supervisor killed),
 * records are dropped.
 */
function stderrSink(
  formatter: TextFormatter,
  worker?: string,
  traceIds?: () => TraceIds | undefined,
): Sink {
  const write = pipeWriter(Deno.stderr);
  return (record: LogRecord) => {
    const ids = traceIds?.();
    write(encoder.encode(redact(formatter(prepareRecord(record, worker, ids)))));
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
    // Lets `inJobContext` tag every line logged while a job runs with the job's id and queue.
    contextLocalStorage: new AsyncLocalStorage(),
    sinks: { stderr: stderrSink(formatter, options.worker, options.traceIds) },
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

/**
 * Runs `callback` so that every line logged inside it (in this process, through any logger)
 * carries `job` and `queue`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { configure, type LogRecord, reset } from "@logtape/logtape";
 * import { AsyncLocalStorage } from "node:async_hooks";
 * import { inJobContext, log } from "./log.ts";
 *
 * const records: LogRecord[] = [];
 * await configure({
 *   contextLocalStorage: new AsyncLocalStorage(),
 *   sinks: { memory: (record) => records.push(record) },
 *   loggers: [
 *     { category: ["ppr"], sinks: ["memory"] },
 *     { category: ["logtape", "meta"], sinks: [] },
 *   ],
 * });
 * inJobContext({ job: "42", queue: "llm" }, () => log("worker").info("done"));
 * assert.deepEqual(records[0].properties, { job: "42", queue: "llm" });
 * await reset();
 * ```
 */
export function inJobContext<T>(context: { job: string; queue: string }, callback: () => T): T {
  return withContext(context, callback);
}
