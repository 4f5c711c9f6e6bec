import { strict as assert } from "node:assert";
import { callDeadline, deadline, DeadlineError, delay, forEachLine, settlesWithin } from "./mod.ts";

Deno.test("delay resolves after the time and rejects with the abort reason", async () => {
  await delay(1);
  const controller = new AbortController();
  const waiting = delay(60_000, { signal: controller.signal });
  controller.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
  await assert.rejects(delay(1, { signal: AbortSignal.abort(new Error("already")) }), /already/);
});

Deno.test("deadline passes a settled promise through and rejects a late one with its message", async () => {
  assert.equal(await deadline(Promise.resolve(7), 1000), 7);
  await assert.rejects(deadline(Promise.reject(new Error("own")), 1000), /own/);
  await assert.rejects(
    deadline(new Promise(() => {}), 5, "Redis did not answer"),
    (error: Error) => error instanceof DeadlineError && error.message === "Redis did not answer",
  );
});

Deno.test("settlesWithin says whether the promise settled, rejected ones included", async () => {
  assert.equal(await settlesWithin(Promise.resolve(), 1000), true);
  assert.equal(await settlesWithin(Promise.reject(new Error("x")), 1000), true);
  assert.equal(await settlesWithin(new Promise(() => {}), 5), false);
});

Deno.test("forEachLine splits on \\n and \\r\\n across chunks and keeps a last line without newline", async () => {
  const encoder = new TextEncoder();
  const stream = ReadableStream.from(["a\r\nb", "c\n\nd"].map((text) => encoder.encode(text)));
  const lines: string[] = [];
  await forEachLine(stream, (line) => lines.push(line));
  assert.deepEqual(lines, ["a", "bc", "", "d"]);
});

Deno.test("callDeadline aborts at its deadline with a TimeoutError; a caller that aborts first, or had aborted, gives its reason, and the deadline passing after changes nothing", async () => {
  const caller = new AbortController();
  using late = callDeadline(caller.signal, 20);
  await assert.rejects(delay(60_000, { signal: late.signal }), { name: "TimeoutError" });
  assert.equal(late.timedOut, true);

  const drain = new AbortController();
  using early = callDeadline(drain.signal, 10);
  drain.abort(new Error("draining"));
  await delay(50); // the deadline passes after the caller's abort: it changes nothing
  assert.equal(early.signal.reason.message, "draining");
  assert.equal(early.timedOut, false);

  using already = callDeadline(AbortSignal.abort(new Error("gone")), 10);
  await delay(50);
  assert.equal(already.signal.reason.message, "gone");
  assert.equal(already.timedOut, false);
});

Deno.test("callDeadline, disposed when its call ends, is aborted by neither its deadline nor its caller afterwards", async () => {
  const caller = new AbortController();
  const ended = callDeadline(caller.signal, 20);
  ended[Symbol.dispose]();
  await delay(100); // five deadlines
  caller.abort(new Error("draining"));
  assert.equal(ended.signal.aborted, false);
  assert.equal(ended.timedOut, false);
});
