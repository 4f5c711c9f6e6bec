import { strict as assert } from "node:assert";
import { formatCommand, formatEvent, parseCommand, parseEvent } from "./messages.ts";

Deno.test("events round-trip through one line of JSON", () => {
  const heartbeat = {
    event: "heartbeat" as const,
    active: [{ queue: "llm", id: "7", token: "abc:1" }],
    processed: 3,
    failed: 1,
    rss: 1024,
    subprocesses: [4321],
  };
  const line = formatEvent(heartbeat);
  assert.ok(line.endsWith("\n"));
  assert.deepEqual(parseEvent(line.trim()), heartbeat);
  assert.deepEqual(parseEvent('{"event":"ready","pid":5,"queues":["llm"]}'), {
    event: "ready",
    pid: 5,
    queues: ["llm"],
  });
  const withStats = { ...heartbeat, stats: { queues: {}, providers: {} } };
  assert.deepEqual(parseEvent(formatEvent(withStats).trim()), withStats);
  // An older child's heartbeat, without rss and subprocesses, still parses.
  assert.deepEqual(
    parseEvent('{"event":"heartbeat","active":[],"processed":0,"failed":0,"subprocesses":[0,1]}'),
    { event: "heartbeat", active: [], processed: 0, failed: 0, rss: 0, subprocesses: [] },
  );
  assert.deepEqual(parseEvent('{"event":"stopped","givenBack":2}'), {
    event: "stopped",
    givenBack: 2,
  });
});

Deno.test("lines that are not events are not taken for events", () => {
  for (
    const line of [
      "hello",
      "{not json",
      "[]",
      '{"event":"other"}',
      '{"event":"heartbeat","active":[{"id":1}],"processed":0,"failed":0}',
      '{"event":"ready"}',
    ]
  ) {
    assert.equal(parseEvent(line), undefined, line);
  }
});

Deno.test("commands: drain, stop, take-llm-jobs and llm-slots with its numbers, nothing else", () => {
  assert.equal(parseCommand(formatCommand("drain").trim()), "drain");
  assert.equal(parseCommand(formatCommand("stop").trim()), "stop");
  assert.equal(parseCommand(formatCommand("take-llm-jobs").trim()), "take-llm-jobs");
  assert.equal(parseCommand('{"command":"rm -rf"}'), undefined);
  assert.equal(parseCommand('{"command":"llm-slots","slots":[-1],"seq":1}'), undefined);
  assert.equal(parseCommand('{"command":"llm-slots","slots":[1]}'), undefined);
  assert.equal(parseCommand("stop"), undefined);
});

Deno.test("llm-slots: the command and its answer carry the shares per LLM queue and the command's number", () => {
  const command = { command: "llm-slots" as const, slots: [2, 0], seq: 7 };
  assert.deepEqual(parseCommand(formatCommand(command).trim()), command);
  const answer = { event: "llm-slots" as const, slots: [2, 0], seq: 7 };
  assert.deepEqual(parseEvent(formatEvent(answer).trim()), answer);
  assert.equal(parseEvent('{"event":"llm-slots","slots":[1.5],"seq":7}'), undefined);
});
