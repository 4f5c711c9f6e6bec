/**
 * A worker's job counts, kept in a small file the supervisor reads when the worker has exited:
 * a worker killed between two heartbeats loses none of its counts, and finishing a job costs
 * one write to a file (no event, nothing for the supervisor to wake up for).
 *
 * The file holds two little-endian float64 values, processed then failed, at offset 0.
 */

/** Job counts of one worker process. */
export interface JobCounts {
  processed: number;
  failed: number;
}

const SIZE = 16;

/** Opens (creates, empties) the counts file at `path` for writing; throws what `Deno.openSync` throws. */
export function openCountsFile(path: string) {
  const file = Deno.openSync(path, { write: true, create: true, truncate: true });
  const bytes = new Uint8Array(SIZE);
  const view = new DataView(bytes.buffer);
  return {
    /** Overwrites the counts in place: one write of 16 bytes (atomic on a local file system). */
    write(counts: JobCounts): void {
      view.setFloat64(0, counts.processed, true);
      view.setFloat64(8, counts.failed, true);
      file.seekSync(0, Deno.SeekMode.Start);
      file.writeSync(bytes);
    },
    close(): void {
      file.close();
    },
  };
}

/** The counts file a worker writes. */
export type CountsFile = ReturnType<typeof openCountsFile>;

/** The counts in the file at `path`; `undefined` if the worker never wrote it (or it is not one). */
export function readCountsFile(path: string): JobCounts | undefined {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch {
    return undefined;
  }
  if (bytes.length !== SIZE) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, SIZE);
  const counts = { processed: view.getFloat64(0, true), failed: view.getFloat64(8, true) };
  return Number.isSafeInteger(counts.processed) && Number.isSafeInteger(counts.failed) &&
      counts.processed >= 0 && counts.failed >= 0
    ? counts
    : undefined;
}
