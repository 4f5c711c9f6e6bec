import { strict as assert } from "node:assert";
import { deadline, DeadlineError, delay, forEachLine, settlesWithin } from "./mod.ts";

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
