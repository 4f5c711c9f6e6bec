import { strict as assert } from "node:assert";
import { getJsonLinesFormatter, type LogRecord } from "@logtape/logtape";
import { prepareRecord } from "./log.ts";

Deno.test("a property named message does not replace the JSON line's own message", () => {
  const record: LogRecord = {
    category: ["ppr", "worker"],
    level: "info",
    message: ["job ", 7, ": retrying"],
    rawMessage: "job {id}: retrying",
    timestamp: 0,
    properties: { id: "7", message: "HTTP 500" },
  };
  const format = getJsonLinesFormatter({
    categorySeparator: ".",
    message: "rendered",
    properties: "flatten",
  });
  const line = JSON.parse(format(prepareRecord(record, "worker-h-1")));
  assert.equal(line.message, "job 7: retrying");
  assert.equal(line.message_property, "HTTP 500");
  assert.equal(line.worker, "worker-h-1");
});

Deno.test('a string value is written bare in the message (http://0.0.0.0:8080, not http://"0.0.0.0":8080); other values as JSON', () => {
  const record: LogRecord = {
    category: ["ppr", "supervisor"],
    level: "info",
    message: ["health server on http://", "0.0.0.0", ":", 8080, "/health; queues ", ["llm"], ""],
    rawMessage: "health server on http://{hostname}:{port}/health; queues {queues}",
    timestamp: 0,
    properties: { hostname: "0.0.0.0", port: 8080, queues: ["llm"] },
  };
  const format = getJsonLinesFormatter({
    categorySeparator: ".",
    message: "rendered",
    properties: "flatten",
  });
  const line = JSON.parse(format(prepareRecord(record)));
  assert.equal(line.message, 'health server on http://0.0.0.0:8080/health; queues ["llm"]');
  assert.equal(line.hostname, "0.0.0.0");
  assert.equal(line.port, 8080);
});

Deno.test("prepareRecord adds trace_id and span_id when given the active span's ids, and nothing when not", () => {
  const record = {
    category: ["ppr", "worker"],
    level: "info",
    message: ["done"],
    rawMessage: "done",
    timestamp: 0,
    properties: { job: "1" },
  } as const;
  const ids = { trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", span_id: "00f067aa0ba902b7" };
  assert.deepEqual(prepareRecord(record, "worker-a-1", ids).properties, {
    worker: "worker-a-1",
    job: "1",
    ...ids,
  });
  assert.deepEqual(prepareRecord(record).properties, { job: "1" });
});
