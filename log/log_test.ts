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
