/** The command line that starts a worker child: the same executable, `worker` subcommand. */

import type { V8_MODES } from "../config/config.ts";
import { formatLlmSlots } from "../protocol/llm_share.ts";

/** Deno flags the program runs with; the `start` and `compile` tasks in deno.json use the same. */
export const PERMISSION_SET = "ppr";
/** V8 flags of the program and of every worker child in the default `V8_MODE` (`lite`). */
export const V8_FLAGS = "--lite-mode";

/** How a worker child's V8 runs: `lite` (less memory) or `jit` (its optimising compilers). */
export type V8Mode = typeof V8_MODES[number];

/** The V8 flags of a worker child in each `V8_MODE`: `jit` drops lite mode, nothing else. */
const V8_FLAGS_OF: Record<V8Mode, string[]> = { lite: [V8_FLAGS], jit: [] };

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
export function selfCommand(
  self: SelfInvocation,
  entry?: string,
): { command: string; args: string[] } {
  if (self.standalone) return { command: self.execPath, args: [] };
  const main = mainPath(self);
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
      entry ?? main,
    ],
  };
}

/** The entry module's path (a URL when it is not a local file). */
function mainPath(self: SelfInvocation): string {
  return self.mainModule.startsWith("file:")
    ? decodeURIComponent(new URL(self.mainModule).pathname)
    : self.mainModule;
}

/**
 * The folder of the program's sources (main.ts's) under `deno run`, where the worker bundle is
 * built; `undefined` for a compiled binary or an entry that is not a local file.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { programRoot } from "./self_command.ts";
 *
 * const run = { standalone: false, execPath: "/bin/deno", mainModule: "file:///app/main.ts" };
 * assert.equal(programRoot(run), "/app");
 * assert.equal(programRoot({ ...run, standalone: true }), undefined);
 * ```
 */
export function programRoot(self: SelfInvocation): string | undefined {
  if (self.standalone || !self.mainModule.startsWith("file:")) return undefined;
  return mainPath(self).replace(/\/[^/]*$/, "");
}

/**
 * Why `V8_MODE` cannot apply to this process's workers, or `undefined` when it can. A compiled
 * binary's V8 flags are fixed by `deno compile`: Deno 2.9's standalone runtime reads none at
 * run time (no `--v8-flags`, no `DENO_V8_FLAGS`), so its workers run as it was compiled.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { v8ModeProblem } from "./self_command.ts";
 *
 * const run = { standalone: false, execPath: "/bin/deno", mainModule: "file:///app/main.ts" };
 * assert.equal(v8ModeProblem(run, "jit"), undefined);
 * assert.match(v8ModeProblem({ ...run, standalone: true }, "jit")!, /compiled binary/);
 * ```
 */
export function v8ModeProblem(self: SelfInvocation, mode: V8Mode): string | undefined {
  if (!self.standalone || mode === "lite") return undefined;
  return `V8_MODE=${mode} cannot apply to a compiled binary: its V8 flags (${V8_FLAGS} with ` +
    "`deno task compile`) were fixed when it was compiled, and Deno reads no V8 flags at run " +
    "time there (neither --v8-flags nor DENO_V8_FLAGS); run the pool with `deno task start` " +
    "(deno run) for V8_MODE=jit, or leave V8_MODE at lite";
}

/**
 * The full command line of worker child `name`. Under `deno run`, its V8 runs as `v8Mode`
 * says (`lite`, the default: `--lite-mode`; `jit`: V8's own defaults), and with `heapLimitMb`
 * its V8 heap is capped (`--max-old-space-size`); a compiled binary's V8 flags are fixed at
 * compile time (Deno reads no V8 flags at run time there), so it keeps them, `MAX_WORKER_MEMORY`
 * is the bound and {@link v8ModeProblem} refuses `jit`. With `countsFile`, the child keeps its
 * job counts there (see `protocol/counts_file.ts`); with `llmSlots`, it makes at most that many
 * LLM calls at once from each LLM queue, and with `llmHeld` none until it is told
 * `take-llm-jobs`. With `entry` (the worker bundle's, see worker_bundle.ts), `deno run` runs
 * that module instead of main.ts.
 */
export function workerCommand(
  self: SelfInvocation,
  name: string,
  options: {
    v8Mode?: V8Mode;
    heapLimitMb?: number;
    countsFile?: string;
    llmSlots?: number[];
    llmHeld?: boolean;
    entry?: string;
  } = {},
): { command: string; args: string[] } {
  const { command, args } = selfCommand(self, options.entry);
  const v8Flags = [
    ...V8_FLAGS_OF[options.v8Mode ?? "lite"],
    ...(options.heapLimitMb === undefined ? [] : [`--max-old-space-size=${options.heapLimitMb}`]),
  ];
  const withV8 = args.flatMap((arg) =>
    arg !== `--v8-flags=${V8_FLAGS}`
      ? [arg]
      : v8Flags.length === 0
      ? []
      : [`--v8-flags=${v8Flags.join(",")}`]
  );
  const counts = options.countsFile === undefined ? [] : ["--counts-file", options.countsFile];
  const llm = options.llmSlots === undefined
    ? []
    : ["--llm-slots", formatLlmSlots(options.llmSlots)];
  if (options.llmHeld) llm.push("--llm-held");
  return {
    command,
    args: [...withV8, "worker", "--name", name, "--supervised", ...counts, ...llm],
  };
}
