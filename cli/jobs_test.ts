import { strict as assert } from "node:assert";
import {
  type JobFields,
  jobSummary,
  jobView,
  renderJob,
  renderJobList,
  SHORTEN_CHARS,
} from "./jobs.ts";

const NOW = Date.parse("2026-01-01T12:00:00Z");

const failedJob: JobFields = {
  id: "42",
  name: "llm",
  data: { prompt: "p".repeat(SHORTEN_CHARS + 50), metadata: { scraper_id: "x" } },
  opts: { attempts: 3 },
  attemptsMade: 3,
  attemptsStarted: 3,
  timestamp: NOW - 60_000,
  processedOn: NOW - 30_000,
  finishedOn: NOW - 20_000,
  processedBy: "worker-a-1",
  failedReason: "failed 3 times; try 1: boom",
  stacktrace: ["Error: first\n    at a.ts:1", "Error: last\n    at b.ts:2"],
};

Deno.test("jobView: long strings shortened unless full; attempts default to 1; missing times are null", () => {
  const short = jobView(failedJob, { queue: "llm", state: "failed" });
  assert.match((short.data as { prompt: string }).prompt, /… \(50 more characters\)$/);
  assert.deepEqual((short.data as { metadata: unknown }).metadata, { scraper_id: "x" });
  const full = jobView(failedJob, { queue: "llm", state: "failed", full: true });
  assert.equal((full.data as { prompt: string }).prompt.length, SHORTEN_CHARS + 50);
  const fresh = jobView(
    { id: "1", name: "llm", data: { prompt: "hi" }, opts: {}, attemptsMade: 0, timestamp: NOW },
    { queue: "llm", state: "waiting" },
  );
  assert.equal(fresh.attempts, 1);
  const zero = jobView(
    { id: "1", name: "llm", data: {}, opts: { attempts: 0 }, attemptsMade: 0, timestamp: NOW },
    { queue: "llm", state: "waiting" },
  );
  assert.equal(zero.attempts, 1, "BullMQ stores attempts 0 when the producer set none");
  assert.equal(fresh.processedOn, null);
  assert.equal(fresh.returnvalue, null);
  assert.deepEqual(fresh.stacktrace, []);
});

Deno.test("jobSummary: the error of a failed job, else the prompt or the last user message, on one line", () => {
  assert.equal(jobSummary({ data: {}, failedReason: "boom\nmore" }, 20), "boom");
  assert.equal(
    jobSummary({ data: { prompt: "hello\nworld" }, failedReason: null }, 20),
    "hello world",
  );
  assert.equal(
    jobSummary({
      data: { prompt: [{ role: "system", content: "s" }, { role: "user", content: "u" }] },
      failedReason: null,
    }, 20),
    "u",
  );
  assert.equal(jobSummary({ data: { other: 1 }, failedReason: null }, 20), '{"other":1}');
});

Deno.test("renderJob: state, attempts, times, worker, data, error, the stack last try first, and logs", () => {
  const text = renderJob(
    jobView(failedJob, { queue: "llm", state: "failed", logs: ["ppr try failed: boom"] }),
    NOW,
  );
  assert.match(text, /^job 42 on queue llm/);
  assert.match(text, /state\s+failed/);
  assert.match(text, /attempts\s+3 of 3 made \(3 started\)/);
  assert.match(text, /created\s+2026-01-01T11:59:00.000Z \(1m ago\)/);
  assert.match(text, /worker\s+worker-a-1/);
  assert.match(text, /error:\n {2}failed 3 times; try 1: boom/);
  assert.ok(text.indexOf("Error: last") < text.indexOf("Error: first"));
  assert.match(text, /logs:\n {2}ppr try failed: boom/);
  assert.doesNotMatch(text, /result:/);
});

Deno.test("renderJobList: one row per job with attempts, age, worker and summary; 'no jobs' when empty", () => {
  const text = renderJobList([jobView(failedJob, { queue: "llm", state: "failed" })], NOW);
  assert.match(text, /^id\s+queue\s+state\s+attempts\s+created\s+worker\s+prompt or error/);
  assert.match(
    text,
    /42\s+llm\s+failed\s+3\/3\s+1m ago\s+worker-a-1\s+failed 3 times; try 1: boom/,
  );
  assert.equal(renderJobList([], NOW), "no jobs");
});
