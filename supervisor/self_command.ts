/** The command line that starts a worker child: the same executable, `worker` subcommand. */

import { formatLlmSlots } from "../protocol/llm_share.ts";

/** Deno flags the program runs with; the `start` and `compile` tasks in deno.json use the same. */
export const PERMISSION_SET = "ppr";
/** V8 flags of the program and of every worker child. */
export const V8_FLAGS = "--lite-mode";

/** How this process was started: enough to start a worker child the same way. */
export interface SelfInvocation {
  /** `Deno.build.standalone`: true inside a binary made by `deno compile`. */
  standalone: boolean;
  /** `Deno.execPath()`: the binary itself when standalone, else the `deno` executable. */
  execPath: string;
  /** `Deno.mainModule`: the entry module (`main.ts`) when run by `deno run`. */
  mainModule: string;
}

/** This process's own invocation facts. */
export function currentInvocation(): SelfInvocation {
  return {
    standalone: Deno.build.standalone === true,
    execPath: Deno.execPath(),
    mainModule: Deno.mainModule,
  };
}

/**
 * The executable and leading arguments that run this program again:
 * the binary itself when compiled (its permissions and V8 flags are baked in),
 * else `deno run` with the permission set and V8 flags of the `start` task.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { selfCommand } from "./self_command.ts";
 *
 * assert.deepEqual(
 *   selfCommand({ standalone: true, execPath: "/app/ppr-worker", mainModule: "file:///main.ts" }),
 *   { command: "/app/ppr-worker", args: [] },
 * );
 * assert.deepEqual(
 *   selfCommand({ standalone: false, execPath: "/bin/deno", mainModule: "file:///app/main.ts" }),
 *   {
 *     command: "/bin/deno",
 *     args: [
 *       "run",
 *       "-q",
 *       "--no-prompt",
 *       "--config",
 *       "/app/deno.json",
 *       "-P=ppr",
 *       "--v8-flags=--lite-mode",
 *       "/app/main.ts",
 *     ],
 *   },
 * );
 * ```
 */
export function selfCommand(self: SelfInvocation): { command: string; args: string[] } {
  if (self.standalone) return { command: self.execPath, args: [] };
  const main = self.mainModule.startsWith("file:")
    ? decodeURIComponent(new URL(self.mainModule).pathname)
    : self.mainModule;
  const configPath = main.replace(/[^/]*$/, "deno.json");
  return {
    command: self.execPath,
    args: [
      "run",
      "-q",
      "--no-prompt",
      "--config",
      configPath,
      `-P=${PERMISSION_SET}`,
      `--v8-flags=${V8_FLAGS}`,
      main,
    ],
  };
}

/**
 * The full command line of worker child `name`. With `heapLimitMb`, its V8 heap is capped
 * (`--max-old-space-size`) under `deno run`; a compiled binary's V8 flags are fixed at compile
 * time (Deno reads no V8 flags at run time there), so it keeps them and `MAX_WORKER_MEMORY` is
 * the bound. With `countsFile`, the child keeps its job counts there (see
 * `protocol/counts_file.ts`); with `llmSlots`, it makes at most that many LLM calls at once
 * from each LLM queue, and with `llmHeld` none until it is told `take-llm-jobs`.
 */
export function workerCommand(
  self: SelfInvocation,
  name: string,
  options: { heapLimitMb?: number; countsFile?: string; llmSlots?: number[]; llmHeld?: boolean } =
    {},
): { command: string; args: string[] } {
  const { command, args } = selfCommand(self);
  const withHeap = options.heapLimitMb === undefined
    ? args
    : args.map((arg) =>
      arg === `--v8-flags=${V8_FLAGS}`
        ? `--v8-flags=${V8_FLAGS},--max-old-space-size=${options.heapLimitMb}`
        : arg
    );
  const counts = options.countsFile === undefined ? [] : ["--counts-file", options.countsFile];
  const llm = options.llmSlots === undefined
    ? []
    : ["--llm-slots", formatLlmSlots(options.llmSlots)];
  if (options.llmHeld) llm.push("--llm-held");
  return {
    command,
    args: [...withHeap, "worker", "--name", name, "--supervised", ...counts, ...llm],
  };
}
