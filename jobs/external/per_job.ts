/** The external processor that starts its command for each job: job data as JSON on stdin, the result as JSON on stdout. */

import type { JobProcessor } from "../processor.ts";
import { killProcessGroup } from "../../providers/process_groups.ts";
import { type ExternalOptions, startProcess } from "./process.ts";
import { commandName, exitFailure, parseOutput } from "./protocol.ts";

const encoder = new TextEncoder();

/** Writes `text` to a process's stdin and closes it; a process that does not read is fine. */
async function writeAndClose(stdin: WritableStream<Uint8Array>, text: string): Promise<void> {
  const writer = stdin.getWriter();
  try {
    await writer.write(encoder.encode(text));
    await writer.close();
  } catch {
    // It exited (or was killed) without reading it all: its exit status tells why.
  }
}

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
      const timeout = AbortSignal.timeout(options.timeoutMs);
      const stop = AbortSignal.any([signal, timeout]);
      const process = startProcess(options, { PPR_JOB_ID: job.id });
      const kill = () => killProcessGroup(process.child.pid);
      stop.addEventListener("abort", kill, { once: true });
      try {
        const [stdout, status] = await Promise.all([
          new Response(process.child.stdout).text(),
          process.child.status,
          writeAndClose(process.child.stdin, JSON.stringify(job.data)),
        ]);
        await process.stderrDone;
        if (signal.aborted) throw signal.reason;
        if (!status.success && timeout.aborted) {
          throw new Error(
            `${name} timed out after ${options.timeoutMs / 1000} s (PROCESSOR_TIMEOUT); ` +
              "its process group was killed",
          );
        }
        if (!status.success) throw exitFailure(name, status, process.stderrTail());
        const output = parseOutput(stdout);
        if (!output.ok) throw new Error(`${name} ${output.error}`);
        return output.result;
      } finally {
        stop.removeEventListener("abort", kill);
        // Whatever it left running in its group goes with it.
        kill();
      }
    },
    async close() {},
  };
}
