/**
 * Tracing, switched once per process: ppr-worker's spans through `@opentelemetry/api` and
 * BullMQ's through `bullmq-otel`, exported by Deno itself (`OTEL_DENO=true`). Off, every helper
 * here does no span work at all: no tracer call, no context switch, no BullMQ telemetry option.
 */

import {
  type Attributes,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import type { Telemetry } from "bullmq";
import { BullMQOtel } from "bullmq-otel";

/** The instrumentation scope of ppr-worker's own spans. */
export const TRACER_NAME = "ppr-worker";

let tracer: Tracer | undefined;
let bullmq: Telemetry | undefined;
let scrub: (text: string) => string = (text) => text;

/**
 * Turns tracing on or off in this process; call once at start, beside the logging's set-up.
 * On only when Deno exports OpenTelemetry (`OTEL_DENO=true` when the process started): spans
 * made otherwise would go nowhere.
 *
 * `options.scrub` hides known secrets in the text a span records of an error (a provider's 401
 * may repeat the API key): the logs' redaction, passed in by the caller.
 *
 * @default {false} until called
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { isTracing, setupTracing } from "./tracing.ts";
 *
 * setupTracing(false);
 * assert.equal(isTracing(), false);
 * ```
 */
export function setupTracing(
  enabled: boolean,
  options: { scrub?: (text: string) => string } = {},
): void {
  scrub = options.scrub ?? ((text) => text);
  tracer = enabled ? trace.getTracer(TRACER_NAME) : undefined;
  bullmq = enabled ? withoutJobResults(new BullMQOtel({ tracerName: "bullmq" })) : undefined;
}

/** Whether this process makes spans (see {@link setupTracing}). */
export function isTracing(): boolean {
  return tracer !== undefined;
}

/**
 * BullMQ's `telemetry` option for a Queue or Worker: `{ telemetry }` while tracing, `{}` off (so
 * BullMQ skips its span work entirely).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { bullmqTelemetry, setupTracing } from "./tracing.ts";
 *
 * setupTracing(false);
 * assert.deepEqual(bullmqTelemetry(), {});
 * ```
 */
export function bullmqTelemetry(): { telemetry?: Telemetry } {
  return bullmq ? { telemetry: bullmq } : {};
}

/** The attribute of BullMQ's `job completed` event that holds the job's whole return value. */
export const JOB_RESULT_ATTRIBUTE = "bullmq.job.result";

/**
 * An event's attributes without the job's return value: an LLM job returns the model's answer,
 * which is the users' data and stays out of spans (as the prompt does).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { withoutJobResult } from "./tracing.ts";
 *
 * assert.deepEqual(withoutJobResult({ "bullmq.job.result": "{...}", "a": 1 }), { a: 1 });
 * ```
 */
export function withoutJobResult(attributes: Attributes | undefined): Attributes | undefined {
  if (!attributes || !(JOB_RESULT_ATTRIBUTE in attributes)) return attributes;
  const { [JOB_RESULT_ATTRIBUTE]: _result, ...rest } = attributes;
  return rest;
}

/** BullMQ's telemetry whose spans' events never carry a job's return value. */
function withoutJobResults(otel: BullMQOtel): Telemetry {
  return {
    contextManager: otel.contextManager,
    tracer: {
      startSpan(name, options, parent) {
        const span = otel.tracer.startSpan(name, options, parent);
        const addEvent = span.addEvent.bind(span);
        span.addEvent = (event: string, attributes?: Attributes) =>
          addEvent(event, withoutJobResult(attributes));
        return span;
      },
    },
  };
}

/** What a span is and says from its start. */
export interface SpanStart {
  name: string;
  /** @default {SpanKind.INTERNAL} */
  kind?: SpanKind;
  attributes?: Attributes;
  /** When what it stands for began, epoch ms: a batch request's collection; @default now. */
  startTime?: number;
}

/**
 * Runs `work` inside a span, a child of the active one, that ends when `work` settles; a
 * rejection is recorded on the span (status ERROR) unless `isError` says it is a job's normal
 * way out (BullMQ's `DelayedError`, a give-back). Off, `work` runs with `undefined` and nothing
 * else happens.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { setupTracing, withSpan } from "./tracing.ts";
 *
 * setupTracing(false);
 * assert.equal(await withSpan({ name: "ppr.schema_check" }, (span) => span), undefined);
 * ```
 */
export function withSpan<T>(
  start: SpanStart,
  work: (span: Span | undefined) => Promise<T> | T,
  isError: (error: unknown) => boolean = isFailure,
): Promise<T> {
  if (!tracer) {
    try {
      return Promise.resolve(work(undefined));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return tracer.startActiveSpan(
    start.name,
    {
      kind: start.kind ?? SpanKind.INTERNAL,
      attributes: start.attributes,
      ...(start.startTime === undefined ? {} : { startTime: start.startTime }),
    },
    async (span) => {
      try {
        return await work(span);
      } catch (error) {
        if (isError(error)) failSpan(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * Marks `span` failed with `error`: status ERROR and an `exception` event with the error's type
 * and its message, secrets hidden; no stack trace (it repeats the message).
 */
export function failSpan(span: Span, error: unknown): void {
  const name = error instanceof Error ? error.name : "Error";
  const message = scrub(error instanceof Error ? error.message : String(error));
  span.recordException({ name, message });
  span.setAttribute("error.type", name);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/**
 * Adds an event to the active span (a provider's pause, a give-back); nothing without one, so
 * nothing when tracing is off.
 *
 * @example
 * ```ts
 * import { addSpanEvent } from "./tracing.ts";
 *
 * addSpanEvent("ppr.job.given_back", { "ppr.reason": "drain deadline" });
 * ```
 */
export function addSpanEvent(name: string, attributes?: Attributes): void {
  if (tracer) trace.getActiveSpan()?.addEvent(name, attributes);
}

/** BullMQ's errors that say where a job went next, not that it failed. */
const JOB_MOVES = new Set([
  "DelayedError",
  "WaitingError",
  "WaitingChildrenError",
  "RateLimitError",
]);

/** Whether a rejection is a failure, not one of BullMQ's errors that move a job on. */
export function isFailure(error: unknown): boolean {
  return !(error instanceof Error && JOB_MOVES.has(error.name));
}

export { SpanKind };
export type { Attributes, Span };

/**
 * The ids of the span active where a line is logged, as the log fields `trace_id` and
 * `span_id`, or `undefined` outside a sampled span: what `setupLogging`'s `traceIds` calls.
 */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getActiveSpan()?.spanContext();
  if (!span || span.traceFlags % 2 === 0) return undefined;
  return { trace_id: span.traceId, span_id: span.spanId };
}
