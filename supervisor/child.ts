/** Starts one worker child and turns its pipes into events and log lines. */

import { forEachLine } from "../async/mod.ts";
import { type JobCounts, readCountsFile } from "../protocol/counts_file.ts";
import {
  type ChildCommand,
  type ChildEvent,
  formatCommand,
  parseEvent,
} from "../protocol/messages.ts";

/** A running worker child, as the pool sees it. */
export interface ChildHandle {
  pid: number;
  /** Resolves when the process has exited and its output has been read. */
  exited: Promise<Deno.CommandStatus>;
  kill(signal: Deno.Signal): void;
  /** Writes a command to the child's stdin; ignored once the child is gone. */
  send(command: ChildCommand): void;
  /** Once `exited` has resolved: the counts the child last wrote to its counts file, if any. */
  finalCounts?(): JobCounts | undefined;
}

/** The command line of a child and where its events and log lines go. */
export interface SpawnOptions {
  command: string;
  args: string[];
  env: Record<string, string>;
  onEvent(event: ChildEvent): void;
  /** Every stderr line, and every stdout line that is not an event. */
  onLog(line: string): void;
  /** The child's counts file (named in `args`): read when it has exited, then removed. */
  countsFile?: string;
}

/**
 * Spawns a child with stdin held open (EOF tells it the supervisor is gone),
 * events read from stdout and logs from stderr.
 */
export function spawnChild(options: SpawnOptions): ChildHandle {
  const process = new Deno.Command(options.command, {
    args: options.args,
    env: options.env,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // The open pipe is the child's lifeline: it closes when this process dies, and the child drains.
  const stdin = process.stdin.getWriter();
  const encoder = new TextEncoder();
  const stdout = forEachLine(process.stdout, (line) => {
    const event = parseEvent(line);
    if (event) options.onEvent(event);
    else if (line.trim() !== "") options.onLog(line);
  });
  const stderr = forEachLine(process.stderr, (line) => {
    if (line.trim() !== "") options.onLog(line);
  });
  let finalCounts: JobCounts | undefined;
  const exited = (async () => {
    const status = await process.status;
    await Promise.allSettled([stdout, stderr]);
    await stdin.close().catch(() => {});
    if (options.countsFile) {
      finalCounts = readCountsFile(options.countsFile);
      await Deno.remove(options.countsFile).catch(() => {});
    }
    return status;
  })();
  return {
    pid: process.pid,
    exited,
    kill(signal) {
      try {
        process.kill(signal);
      } catch {
        // Already gone: its exit is being handled.
      }
    },
    send(command) {
      stdin.write(encoder.encode(formatCommand(command))).catch(() => {});
    },
    finalCounts: () => finalCounts,
  };
}
