/** The real Claude CLI for tests and the bench: finding it, and finding the processes it runs. */

import { processExists } from "./wait.ts";

/** The Claude CLI version the tests and the bench are pinned to. */
export const PINNED_CLAUDE_CLI_VERSION = "2.1.332";

/** The npm package that carries the CLI's native binary for this machine, if there is one. */
function platformPackage(): string | undefined {
  const os = { linux: "linux", darwin: "darwin", windows: "win32" }[Deno.build.os as string];
  const arch = { x86_64: "x64", aarch64: "arm64" }[Deno.build.arch as string];
  return os && arch ? `@anthropic-ai/claude-code-${os}-${arch}` : undefined;
}

/**
 * The pinned CLI's binary from Deno's npm cache, fetched there first when missing (about 400 MB,
 * once per machine): the npm registry provides it, so a newcomer's `deno task test` runs the
 * real-CLI tests without installing anything by hand. `undefined` when it cannot be had (no
 * package for this platform, or no registry), with the reason.
 */
async function pinnedCliFromCache(): Promise<{ path: string } | { reason: string }> {
  const name = platformPackage();
  if (!name) return { reason: `no Claude CLI package for ${Deno.build.os}-${Deno.build.arch}` };
  const spec = `npm:${name}@${PINNED_CLAUDE_CLI_VERSION}`;
  const deno = Deno.execPath();
  const info = await new Deno.Command(deno, { args: ["info", "--json"], stderr: "null" }).output();
  const npmCache = JSON.parse(new TextDecoder().decode(info.stdout)).npmCache as string;
  const path = `${npmCache}/registry.npmjs.org/${name}/${PINNED_CLAUDE_CLI_VERSION}/claude`;
  const present = () => Deno.stat(path).then((stat) => stat.isFile, () => false);
  if (await present()) return { path };
  const fetched = await new Deno.Command(deno, {
    args: ["cache", "--no-config", "--quiet", spec],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(600_000),
  }).output();
  if (fetched.success && await present()) return { path };
  const why = new TextDecoder().decode(fetched.stderr).trim().split("\n")[0];
  return { reason: `deno cache ${spec} failed: ${why || `exit ${fetched.code}`}` };
}

/** `path --version` when it says it is Anthropic's Claude Code. */
async function versionOf(path: string): Promise<string | undefined> {
  try {
    const { stdout, success } = await new Deno.Command(path, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(30_000),
    }).output();
    const version = new TextDecoder().decode(stdout).trim();
    return success && /Claude Code/.test(version) ? version : undefined;
  } catch {
    return undefined;
  }
}

/** Why `findRealClaudeCli` found none, for the tests' skip message. */
export let realClaudeCliMissing = "";

/**
 * The real CLI: `REAL_CLAUDE_CLI` when set, else the pinned version from Deno's npm cache
 * (fetched when missing), else `claude` on PATH; with its version. `undefined` when none runs,
 * with the reason in `realClaudeCliMissing`.
 */
export async function findRealClaudeCli(): Promise<{ path: string; version: string } | undefined> {
  const chosen = Deno.env.get("REAL_CLAUDE_CLI");
  const cached = chosen ? undefined : await pinnedCliFromCache();
  const candidates = chosen
    ? [chosen]
    : [...(cached && "path" in cached ? [cached.path] : []), "claude"];
  for (const candidate of candidates) {
    const version = await versionOf(candidate);
    if (version) return { path: candidate, version };
  }
  realClaudeCliMissing = chosen
    ? `REAL_CLAUDE_CLI=${chosen} does not run as Claude Code`
    : `${
      cached && "reason" in cached ? cached.reason : "the cached CLI does not run"
    }, and no \`claude\` on PATH`;
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
