/** The external processor that starts its command for each job: job data as JSON on stdin, the result as JSON on stdout. */

import { callDeadline } from "../../async/mod.ts";
import type { JobProcessor } from "../job_processor.ts";
import { runGroupToEnd } from "../../providers/process_groups.ts";
import { type ExternalOptions, startProcess } from "./process.ts";
import { commandName, exitFailure, parseOutput } from "./protocol.ts";

/**
 * Runs each job in a new process of `options.command` (with `PPR_JOB_ID` set), in a process
 * group of its own. Exit 0 with JSON on stdout: the result. Exit 64: a permanent failure.
 * Any other exit, a signal, or stdout that is not JSON: a transient failure, its reason
 * ending with the tail of stderr. Past `PROCESSOR_TIMEOUT`, or when the job is aborted, the
 * whole process group is killed.
 */
export function createPerJobProcessor(options: ExternalOptions): JobProcessor {
  const name = commandName(options.command);
  return {
    async run(job, signal) {
      signal.throwIfAborted();
      // Cleared when the job ends: a finished job leaves no timer behind.
      using deadline = callDeadline(signal, options.timeoutMs);
      const process = startProcess(options, { PPR_JOB_ID: job.id });
      const { stdout, status } = await runGroupToEnd(
        process.child,
        JSON.stringify(job.data),
        deadline.signal,
      );
      await process.stderrDone;
      if (signal.aborted) throw signal.reason;
      if (!status.success && deadline.timedOut) {
        throw new Error(
          `${name} timed out after ${options.timeoutMs / 1000} s (PROCESSOR_TIMEOUT); ` +
            "its process group was killed",
        );
      }
      if (!status.success) throw exitFailure(name, status, process.stderrTail());
      const output = parseOutput(stdout);
      if (!output.ok) throw new Error(`${name} ${output.error}`);
      return output.result;
    },
    async close() {},
  };
}
