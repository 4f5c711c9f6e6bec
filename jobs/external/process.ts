/** Starts an external processor's command: no shell, a process group of its own, stderr to the log and to a tail for failure reasons. */

import type { Logger } from "@logtape/logtape";
import { forEachLine } from "../../async/mod.ts";
import { spawnProcessGroup } from "../../providers/process_groups.ts";
import { commandName, createTail } from "./protocol.ts";

/** What an external processor runs, and for which queue. */
export interface ExternalOptions {
  queue: string;
  /** The program and its arguments (`QUEUE_PROCESSORS`). */
  command: string[];
  /** `PROCESSOR_TIMEOUT`: the deadline of one job. */
  timeoutMs: number;
  /** The whole environment it starts with (`processorEnv`): not the worker's. */
  env: Record<string, string>;
  logger: Logger;
}

/** A running processor process. */
export interface ProcessorProcess {
  child: Deno.ChildProcess;
  /** The last lines of its stderr so far. */
  stderrTail(): string;
  /** Resolves once its stderr has ended. */
  stderrDone: Promise<void>;
}

/**
 * Starts `options.command` in a process group of its own (tracked: a killed worker's
 * supervisor kills it too), with `options.env` (not the worker's environment) plus `PPR_QUEUE` and `extraEnv`,
 * in the worker's working directory, stdin, stdout and stderr piped. Each stderr line is
 * logged. A program that cannot be started throws an error that says so.
 */
export function startProcess(
  options: ExternalOptions,
  extraEnv: Record<string, string> = {},
): ProcessorProcess {
  const [program, ...args] = options.command;
  let child: Deno.ChildProcess;
  try {
    child = spawnProcessGroup(program, {
      args,
      env: { ...options.env, PPR_QUEUE: options.queue, ...extraEnv },
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    });
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "no such program"
      : (error as Error).message;
    throw new Error(`cannot start ${commandName(options.command)}: ${why}`);
  }
  const tail = createTail();
  const pid = child.pid;
  const stderrDone = forEachLine(child.stderr, (line) => {
    tail.push(line);
    if (line.trim() !== "") {
      options.logger.info("{queue} processor (pid {pid}): {line}", {
        queue: options.queue,
        pid,
        line,
      });
    }
  }).catch(() => {});
  return { child, stderrTail: () => tail.text(), stderrDone };
}
