/**
 * A stub OTLP/HTTP collector: takes what Deno's exporter sends to `/v1/traces` (protobuf, its
 * default, decoded with OpenTelemetry's own generated protobuf definitions; or `http/json`) and
 * keeps every span, flattened, for tests to read. Logs and metrics are counted, not decoded.
 */

// The OTLP messages as generated from opentelemetry-proto by OpenTelemetry's JS exporter.
import otlpRoot from "@opentelemetry/otlp-transformer/root";

/** A span as the tests read it: ids in hex, attributes as plain values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** `""` for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's numbers: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  /** The `service.name` of the process that sent it. */
  service: string;
  /** The instrumentation scope: `ppr-worker`, `bullmq`, `deno`... */
  scope: string;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  /** When it started and ended, epoch ms. */
  startMs: number;
  endMs: number;
}

/** One request the stub received. */
export interface ReceivedRequest {
  path: string;
  contentType: string;
}

/** Each request's body as received, for checks that no secret is sent in any signal. */
const bodiesOf = new WeakMap<StubOtlp, Uint8Array[]>();

/** Every body the stub received, as text (protobuf keeps strings as UTF-8 bytes). */
export function receivedText(stub: StubOtlp): string {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  return (bodiesOf.get(stub) ?? []).map((body) => decoder.decode(body)).join("\n");
}

/** The running stub. Dispose it (`await using`) to stop it. */
export interface StubOtlp extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`: the value for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  url: string;
  /** Every request, in the order received. */
  requests: ReceivedRequest[];
  /** Every span received so far. */
  spans: ReceivedSpan[];
}

interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
}
interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
interface OtlpSpan {
  traceId: string | Uint8Array;
  spanId: string | Uint8Array;
  parentSpanId?: string | Uint8Array;
  name: string;
  kind?: number | string;
  attributes?: OtlpKeyValue[];
  events?: { name: string; attributes?: OtlpKeyValue[] }[];
  status?: { code?: number | string };
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
}
interface ExportTraceServiceRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: { scope?: { name?: string }; spans?: OtlpSpan[] }[];
  }[];
}
interface ProtoMessage {
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options: { longs: typeof String; enums: typeof Number }): unknown;
}

const EXPORT_TRACE_REQUEST = (otlpRoot as unknown as {
  opentelemetry: {
    proto: { collector: { trace: { v1: { ExportTraceServiceRequest: ProtoMessage } } } };
  };
}).opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

/**
 * Starts the stub on 127.0.0.1, on a free port.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { startStubOtlp } from "./stub_otlp.ts";
 *
 * await using collector = startStubOtlp();
 * const body = JSON.stringify({ resourceSpans: [] });
 * const headers = { "content-type": "application/json" };
 * await (await fetch(`${collector.url}/v1/traces`, { method: "POST", body, headers })).body?.cancel();
 * assert.deepEqual(collector.requests, [{ path: "/v1/traces", contentType: "application/json" }]);
 * ```
 */
export function startStubOtlp(): StubOtlp {
  const requests: ReceivedRequest[] = [];
  const bodies: Uint8Array[] = [];
  const spans: ReceivedSpan[] = [];
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      const contentType = request.headers.get("content-type") ?? "";
      const body = new Uint8Array(await request.arrayBuffer());
      requests.push({ path, contentType });
      bodies.push(body);
      if (path === "/v1/traces") spans.push(...decodeTraces(body, contentType));
      // An empty message is a whole ExportTraceServiceResponse (every field at its default).
      return contentType.includes("json")
        ? Response.json({})
        : new Response(new Uint8Array(), { headers: { "content-type": contentType } });
    },
  );
  const stub: StubOtlp = {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    spans,
    async [Symbol.asyncDispose]() {
      controller.abort();
      await server.finished;
    },
  };
  bodiesOf.set(stub, bodies);
  return stub;
}

/** The spans of an `ExportTraceServiceRequest`, in protobuf or in OTLP's JSON. */
export function decodeTraces(body: Uint8Array, contentType: string): ReceivedSpan[] {
  const message =
    (contentType.includes("json")
      ? JSON.parse(new TextDecoder().decode(body))
      : EXPORT_TRACE_REQUEST.toObject(EXPORT_TRACE_REQUEST.decode(body), {
        longs: String,
        enums: Number,
      })) as ExportTraceServiceRequest;
  const out: ReceivedSpan[] = [];
  for (const resourceSpans of message.resourceSpans ?? []) {
    const resource = attributesOf(resourceSpans.resource?.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        out.push({
          traceId: hex(span.traceId),
          spanId: hex(span.spanId),
          parentSpanId: hex(span.parentSpanId),
          name: span.name,
          kind: Number(span.kind ?? 0),
          service: String(resource["service.name"] ?? ""),
          scope: scopeSpans.scope?.name ?? "",
          attributes: attributesOf(span.attributes),
          events: (span.events ?? []).map((event) => ({
            name: event.name,
            attributes: attributesOf(event.attributes),
          })),
          statusCode: Number(span.status?.code ?? 0),
          startMs: Number(BigInt(span.startTimeUnixNano ?? 0) / 1_000_000n),
          endMs: Number(BigInt(span.endTimeUnixNano ?? 0) / 1_000_000n),
        });
      }
    }
  }
  return out;
}

/** An id as lowercase hex: protobuf gives bytes, OTLP's JSON gives hex already. */
function hex(id: string | Uint8Array | undefined): string {
  if (id === undefined) return "";
  if (typeof id === "string") return id.toLowerCase();
  return Array.from(id, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function attributesOf(list: OtlpKeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, valueOf(value)]));
}

function valueOf(value: OtlpAnyValue | undefined): unknown {
  if (value === undefined) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(valueOf);
  return undefined;
}
