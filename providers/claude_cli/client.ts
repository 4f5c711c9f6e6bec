/** The Claude CLI client of one worker process: cold or warm calls, in a private, empty working directory. */

import type { ProviderClient } from "../provider.ts";
import { type CliMode } from "./args.ts";
import { callClaudeCliCold, type CliSetup } from "./cold.ts";
import { createWarmPool, type WarmPoolOptions } from "./warm.ts";

/** How the worker runs the CLI. */
export interface ClaudeCliClientOptions extends WarmPoolOptions {
  /** Path or name of the CLI (`CLAUDE_CLI`). */
  cli: string;
  /** Its whole environment (`claudeCliEnv`). */
  env: Record<string, string>;
  mode: CliMode;
}

/**
 * Makes the client. The CLI runs in a directory of its own, created empty on first use and
 * removed by `close()`, never in the supervisor's: nothing there (a CLAUDE.md, a `.claude/`
 * folder) can reach a job. `close()` also kills every warm process. In warm mode a request with
 * `maxCostUsd` still runs cold.
 */
export function createClaudeCliClient(options: ClaudeCliClientOptions): ProviderClient {
  let workDir: Promise<string> | undefined;
  const setup = async (): Promise<CliSetup> => ({
    cli: options.cli,
    env: options.env,
    cwd: await (workDir ??= Deno.makeTempDir({ prefix: "ppr-claude-cli-" })),
  });
  const warm = options.mode === "warm" ? createWarmPool(setup, options) : undefined;
  return {
    // A job with a cost ceiling runs in a process of its own: the CLI counts --max-budget-usd
    // over a process's whole conversation, and a warm one's has served other jobs.
    call: async (request) =>
      warm && request.maxCostUsd === undefined
        ? await warm.call(request)
        : await callClaudeCliCold(await setup(), request),
    async close() {
      warm?.close();
      if (workDir) await Deno.remove(await workDir, { recursive: true }).catch(() => {});
    },
  };
}
