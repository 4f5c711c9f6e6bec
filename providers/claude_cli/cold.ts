/** Cold mode: one `claude -p` process per job, the prompt on stdin, one JSON result on stdout. */

import type { LlmRequest, ProviderResult } from "../provider.ts";
import { claudeArgs, claudeInput } from "./args.ts";
import { runInGroup } from "./process_group.ts";
import { parseCliOutput } from "./result.ts";

/** Where the CLI is and how it runs, the same for every job of a worker process. */
export interface CliSetup {
  /** Path or name of the CLI (`CLAUDE_CLI`). */
  cli: string;
  /** Its whole environment (`claudeCliEnv`). */
  env: Record<string, string>;
  /** The worker's private, empty working directory. */
  cwd?: string;
}

/** Calls the Claude CLI once, in a process of its own. */
export async function callClaudeCliCold(
  setup: CliSetup,
  request: LlmRequest,
): Promise<ProviderResult> {
  const output = await runInGroup(
    { ...setup, args: claudeArgs(request, "cold") },
    claudeInput(request.messages),
    request.signal,
  );
  return parseCliOutput(output, {
    requestedModel: request.model,
    schemaAsked: request.format !== undefined,
    maxCostUsd: request.maxCostUsd,
  });
}
