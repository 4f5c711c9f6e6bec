/** Starts the Claude CLI in a process group of its own, so that it and everything it started can be killed together. */

import { LlmError } from "../errors.ts";
import { runGroupToEnd, spawnProcessGroup } from "../process_groups.ts";

/** Where and how the CLI runs. */
export interface CliCommand {
  /** Path or name of the CLI (`CLAUDE_CLI`). */
  cli: string;
  args: string[];
  /** Its whole environment (`claudeCliEnv`). */
  env: Record<string, string>;
  /** Its working directory: the worker's private, empty one. */
  cwd?: string;
}

/** Spawns the CLI with piped stdio in a new process group. A missing CLI is an auth failure: nothing can run. */
export function spawnInGroup(command: CliCommand): Deno.ChildProcess {
  try {
    return spawnProcessGroup(command.cli, {
      args: command.args,
      env: command.env,
      cwd: command.cwd,
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new LlmError("auth", `the Claude CLI was not found: '${command.cli}' (set CLAUDE_CLI)`);
    }
    throw error;
  }
}

/**
 * Runs the CLI to its end with `stdin` as input, and kills the whole group (the CLI and
 * anything it started) when `signal` aborts, and in any case once it has exited.
 */
export async function runInGroup(
  command: CliCommand,
  stdin: string,
  signal: AbortSignal,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawnInGroup(command);
  const stderr = new Response(child.stderr).text().catch(() => "");
  const { status, stdout } = await runGroupToEnd(child, stdin, signal);
  signal.throwIfAborted();
  return { code: status.code, stdout, stderr: await stderr };
}
