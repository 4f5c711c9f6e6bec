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
