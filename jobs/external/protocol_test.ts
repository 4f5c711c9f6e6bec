import { strict as assert } from "node:assert";
import { UnrecoverableError } from "bullmq/errors";
import {
  commandName,
  createTail,
  exitFailure,
  parseOutput,
  parseResponse,
  requestLine,
} from "./protocol.ts";

Deno.test("exit code 64 is a permanent failure; other codes and signals are transient; the reason ends with stderr", () => {
  const permanent = exitFailure("python3 job.py", { code: 64, signal: null }, "bad row 7");
  assert.ok(permanent instanceof UnrecoverableError);
  assert.equal(
    permanent.message,
    "python3 job.py exited with code 64 (permanent: not retried): bad row 7",
  );
  const transient = exitFailure("python3 job.py", { code: 1, signal: null }, "");
  assert.ok(!(transient instanceof UnrecoverableError));
  assert.equal(transient.message, "python3 job.py exited with code 1 (nothing on stderr)");
  const killed = exitFailure("x", { code: 137, signal: "SIGKILL" }, "a | b");
  assert.ok(!(killed instanceof UnrecoverableError));
  assert.equal(killed.message, "x was killed by SIGKILL: a | b");
});

Deno.test("the stderr tail keeps the last lines, at most the limit, on one line", () => {
  const tail = createTail(14);
  for (const line of ["first", "", "second", "third  "]) tail.push(line);
  assert.equal(tail.text(), "second | third");
  const long = createTail(5);
  long.push("0123456789");
  assert.equal(long.text(), "...56789");
});

Deno.test("a per-job result is the JSON on stdout; anything else says what was printed", () => {
  assert.deepEqual(parseOutput('{"rows": 3}\n'), { ok: true, result: { rows: 3 } });
  assert.deepEqual(parseOutput("null"), { ok: true, result: null });
  assert.deepEqual(parseOutput(" \n"), {
    ok: false,
    error: "printed nothing on stdout (its result must be JSON there)",
  });
  const notJson = parseOutput("done: 3 rows\n");
  assert.equal(notJson.ok, false);
  assert.match(notJson.ok ? "" : notJson.error, /^printed no JSON on stdout \(.*\): done: 3 rows$/);
});

Deno.test("persistent protocol: a request line per job, responses with result or error", () => {
  assert.equal(requestLine("42", { url: "x" }), '{"id":"42","data":{"url":"x"}}\n');
  assert.deepEqual(parseResponse('{"id": "42", "result": {"ok": 1}}'), {
    id: "42",
    ok: true,
    result: { ok: 1 },
  });
  assert.deepEqual(parseResponse('{"id": "42", "result": null}'), {
    id: "42",
    ok: true,
    result: null,
  });
  assert.deepEqual(parseResponse('{"id": 42, "error": "no such row", "permanent": true}'), {
    id: "42",
    ok: false,
    error: "no such row",
    permanent: true,
  });
  assert.deepEqual(parseResponse('{"id": "7", "error": {"code": 5}}'), {
    id: "7",
    ok: false,
    error: '{"code":5}',
    permanent: false,
  });
});

Deno.test("persistent protocol: lines that are no response say why", () => {
  assert.deepEqual(parseResponse("starting up..."), { invalid: "not JSON" });
  assert.deepEqual(parseResponse("[1]"), { invalid: "not a JSON object" });
  assert.deepEqual(parseResponse('{"result": 1}'), { invalid: "no id (a string)" });
  assert.deepEqual(parseResponse('{"id": "1"}'), { invalid: "neither result nor error" });
  assert.deepEqual(parseResponse('{"id": "1", "error": "x", "permanent": "yes"}'), {
    invalid: "permanent is not true or false",
  });
});

Deno.test("commandName shortens long commands", () => {
  assert.equal(commandName(["python3", "-m", "app.job"]), "python3 -m app.job");
  assert.equal(commandName(["x".repeat(100)]).length, 80);
});
