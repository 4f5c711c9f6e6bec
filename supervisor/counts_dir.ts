/** The private folder of the workers' counts files (`protocol/counts_file.ts`): one file per child process. */

import { log } from "../log/log.ts";

const logger = log("supervisor");

/**
 * Makes a private temporary folder for the counts files. Without a writable temporary folder
 * the workers send their counts with an event per job instead (slower, as reliable); a warning
 * says so.
 */
export function createCountsDir(): { fileFor(name: string): string | undefined; remove(): void } {
  let dir: string | undefined;
  try {
    dir = Deno.makeTempDirSync({ prefix: "ppr-worker-counts-" });
  } catch (error) {
    logger.warn(
      "no temporary folder for the workers' counts files ({error}); each job's count goes to the supervisor as an event instead",
      { error: String(error) },
    );
  }
  let sequence = 0;
  return {
    /** A fresh file name for the next process of worker `name`. */
    fileFor: (name) => dir === undefined ? undefined : `${dir}/${name}.${++sequence}`,
    remove() {
      try {
        if (dir !== undefined) Deno.removeSync(dir, { recursive: true });
      } catch {
        // Already gone (a cleaned TMPDIR): nothing to remove.
      }
      dir = undefined;
    },
  };
}
