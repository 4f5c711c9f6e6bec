/** The real Claude CLI for tests and the bench: finding it, and finding the processes it runs. */

import { processExists } from "./wait.ts";

/** The real CLI (`REAL_CLAUDE_CLI`, else `claude` on PATH) when it is Anthropic's, with its version. */
export async function findRealClaudeCli(): Promise<{ path: string; version: string } | undefined> {
  const candidates = [Deno.env.get("REAL_CLAUDE_CLI"), "claude"].filter(Boolean) as string[];
  for (const candidate of candidates) {
    try {
      const { stdout, success } = await new Deno.Command(candidate, {
        args: ["--version"],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
        signal: AbortSignal.timeout(30_000),
      }).output();
      const version = new TextDecoder().decode(stdout).trim();
      if (success && /Claude Code/.test(version)) return { path: candidate, version };
    } catch {
      // not this one
    }
  }
  return undefined;
}

/**
 * The pids of the live CLI processes ppr-worker started against the API at `baseUrl`, found in
 * /proc by their command line (`--setting-sources`) and environment (`ANTHROPIC_BASE_URL`).
 */
export function claudeCliPids(baseUrl: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (!Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).includes("--setting-sources")) {
        continue;
      }
      const environ = Deno.readTextFileSync(`/proc/${entry.name}/environ`);
      if (environ.includes(`ANTHROPIC_BASE_URL=${baseUrl}\0`)) pids.push(Number(entry.name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids.filter(processExists);
}
