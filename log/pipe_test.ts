import { strict as assert } from "node:assert";
import { pipeWriter } from "./pipe.ts";

const bytes = new TextEncoder().encode("line\n");

Deno.test("pipeWriter drops this and every later write once the reader is gone (BrokenPipe), instead of throwing", () => {
  let calls = 0;
  const write = pipeWriter({
    writeSync() {
      calls++;
      throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
    },
  });
  assert.equal(write(bytes), false);
  assert.equal(write(bytes), false);
  assert.equal(calls, 1, "no write is tried after the pipe broke");
});

Deno.test("pipeWriter writes every byte when the stream takes them a few at a time", () => {
  const taken: number[] = [];
  const write = pipeWriter({
    writeSync(chunk: Uint8Array) {
      const part = chunk.subarray(0, 2);
      taken.push(...part);
      return part.length;
    },
  });
  assert.equal(write(bytes), true);
  assert.deepEqual(new Uint8Array(taken), bytes);
});

Deno.test("pipeWriter lets other errors through", () => {
  const write = pipeWriter({
    writeSync() {
      throw new Deno.errors.PermissionDenied("no");
    },
  });
  assert.throws(() => write(bytes), Deno.errors.PermissionDenied);
});
