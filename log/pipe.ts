/** Synchronous writes to stdout or stderr that survive the reader going away (a killed supervisor). */

/** The standard streams a process writes its lines to. */
export type StandardStream = Pick<typeof Deno.stdout, "writeSync">;

/**
 * A writer for `stream` that writes every byte or, once the stream's reader is gone
 * (`BrokenPipe`, or the stream closed), drops this and every later write instead of throwing: a
 * worker whose supervisor was killed must still finish its jobs and exit cleanly, and it has
 * nobody to tell. Returns whether the bytes were written.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { pipeWriter } from "./pipe.ts";
 *
 * const written: string[] = [];
 * const write = pipeWriter({
 *   writeSync(bytes: Uint8Array) {
 *     written.push(new TextDecoder().decode(bytes));
 *     return bytes.length;
 *   },
 * });
 * assert.equal(write(new TextEncoder().encode("hello\n")), true);
 * assert.deepEqual(written, ["hello\n"]);
 *
 * const gone = pipeWriter({
 *   writeSync(): number {
 *     throw new Deno.errors.BrokenPipe("the reader is gone");
 *   },
 * });
 * assert.equal(gone(new TextEncoder().encode("hello\n")), false); // dropped, not thrown
 * ```
 */
export function pipeWriter(stream: StandardStream): (bytes: Uint8Array) => boolean {
  let gone = false;
  return (bytes) => {
    if (gone) return false;
    try {
      let written = 0;
      while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.BadResource) {
        gone = true;
        return false;
      }
      throw error;
    }
  };
}
