/** The Claude CLI provider: `claude -p` with the prompt on stdin, JSON out, no tools, no session. */

import { classifyText, LlmError, resetInMs } from "./errors.ts";
import type { LlmRequest, Message, ProviderResult } from "./provider.ts";

/** Environment variables the Claude CLI may see (its login, proxies, locale); nothing else leaks to it. */
const CLI_ENV_ALLOWED = [
  "PATH",
  "HOME",
  "LANG",
  "LC_ALL",
  "TMPDIR",
  "CLAUDE_CONFIG_DIR",
  "CLAUDE_CODE_OAUTH_TOKEN",
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "NO_PROXY",
];

/** The minimal environment of the Claude CLI subprocess, taken from ppr-worker's own. */
export function claudeCliEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of CLI_ENV_ALLOWED) if (env[name]) out[name] = env[name]!;
  return out;
}

/** How to start the Claude CLI. */
export interface ClaudeCliOptions {
  /** Path or name of the CLI (`CLAUDE_CLI`). */
  cli: string;
  /** The subprocess's whole environment: PATH, HOME and the like, nothing else. */
  env: Record<string, string>;
}

/** The CLI's arguments. The prompt is never among them (argv is size-limited and visible in `ps`). */
export function claudeArgs(request: Pick<LlmRequest, "model" | "format" | "messages">): string[] {
  const args = ["-p", "--output-format", "json", "--tools", "", "--no-session-persistence"];
  if (request.model) args.push("--model", request.model);
  const system = request.messages.filter((message) => message.role === "system")
    .map((message) => message.content).join("\n\n");
  if (system) args.push("--system-prompt", system);
  if (request.format) args.push("--json-schema", JSON.stringify(request.format.schema));
  return args;
}

/**
 * What goes on stdin: the user message, or the conversation with each turn
 * labelled when there is more than one (the CLI takes a single prompt).
 */
export function claudeStdin(messages: Message[]): string {
  const turns = messages.filter((message) => message.role !== "system");
  if (turns.length === 1) return turns[0].content;
  return turns.map((turn) => `${turn.role === "user" ? "User" : "Assistant"}: ${turn.content}`)
    .join("\n\n");
}

/** The CLI's JSON result, as far as ppr-worker reads it. */
interface CliResult {
  type?: string;
  is_error?: boolean;
  result?: string;
  structured_output?: unknown;
  stop_reason?: string | null;
  api_error_status?: number | null;
  usage?: {
    input_tokens?: number;
    output_tokens?: number;
    cache_read_input_tokens?: number;
    cache_creation_input_tokens?: number;
  };
  modelUsage?: Record<string, unknown>;
}

/**
 * Turns what the CLI printed into a result or a classified failure. Pure:
 * the tests feed it the real CLI's output as well as a fake's.
 */
export function parseCliOutput(
  output: { code: number; stdout: string; stderr: string },
  requestedModel: string | undefined,
  now = Date.now(),
): ProviderResult {
  const text = output.stdout.trim();
  let parsed: CliResult | undefined;
  try {
    parsed = text.startsWith("{") ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed) {
    const said = (output.stderr.trim() || text || `exit code ${output.code}`).slice(0, 500);
    const kind = classifyText(said);
    if (/unknown option|error: option/i.test(said)) {
      throw new LlmError("transient", `the Claude CLI refused its arguments (too old?): ${said}`);
    }
    throw new LlmError(
      kind,
      `Claude CLI: ${said}`,
      kind === "quota" ? resetInMs(said, now) : undefined,
    );
  }
  const result = parsed.result ?? "";
  if (parsed.is_error || output.code !== 0) {
    const said = result || output.stderr.trim() || `exit code ${output.code}`;
    const status = parsed.api_error_status;
    const kind = status === 401 || status === 403
      ? "auth"
      : status === 429
      ? "quota"
      : classifyText(said);
    throw new LlmError(
      kind,
      `Claude CLI: ${said}`,
      kind === "quota" ? resetInMs(said, now) : undefined,
    );
  }
  const structured = parsed.structured_output;
  const answer = structured !== undefined && structured !== null
    ? JSON.stringify(structured)
    : result;
  if (answer.trim() === "") throw new LlmError("transient", "Claude CLI returned an empty result");
  if (parsed.stop_reason === "max_tokens") {
    throw new LlmError("transient", "Claude CLI output was truncated (stop_reason max_tokens)");
  }
  const usage = parsed.usage ?? {};
  return {
    text: answer,
    parsed: structured ?? undefined,
    model: Object.keys(parsed.modelUsage ?? {})[0] ?? requestedModel ?? "claude",
    provider: "claude",
    usage: {
      input_tokens: (usage.input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0) +
        (usage.cache_creation_input_tokens ?? 0),
      output_tokens: usage.output_tokens ?? 0,
    },
    stop_reason: parsed.stop_reason ?? undefined,
  };
}

/**
 * Runs a command in a process group of its own, feeds it `stdin`, and kills
 * the whole group (the CLI and anything it started) when `signal` aborts.
 */
export async function runInGroup(
  command: string,
  args: string[],
  env: Record<string, string>,
  stdin: string,
  signal: AbortSignal,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, {
      args,
      env,
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new LlmError("auth", `the Claude CLI was not found: '${command}' (set CLAUDE_CLI)`);
    }
    throw error;
  }
  const killGroup = () => {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // The group is gone already.
    }
  };
  signal.addEventListener("abort", killGroup, { once: true });
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin)).catch(() => {});
    await writer.close().catch(() => {});
    const output = await child.output();
    signal.throwIfAborted();
    return {
      code: output.code,
      stdout: new TextDecoder().decode(output.stdout),
      stderr: new TextDecoder().decode(output.stderr),
    };
  } finally {
    signal.removeEventListener("abort", killGroup);
    // Whatever the CLI left running in its group goes with it.
    killGroup();
  }
}

/** Calls the Claude CLI for one request. */
export async function callClaudeCli(
  options: ClaudeCliOptions,
  request: LlmRequest,
): Promise<ProviderResult> {
  const output = await runInGroup(
    options.cli,
    claudeArgs(request),
    options.env,
    claudeStdin(request.messages),
    request.signal,
  );
  return parseCliOutput(output, request.model);
}

/**
 * The cheap auth probe: `claude auth status` prints JSON and exits 1 when
 * logged out. Spends no tokens.
 */
export async function claudeAuthStatus(
  options: ClaudeCliOptions,
  timeoutMs = 15_000,
): Promise<{ loggedIn: boolean; detail: string }> {
  try {
    const output = await runInGroup(
      options.cli,
      ["auth", "status"],
      options.env,
      "",
      AbortSignal.timeout(timeoutMs),
    );
    try {
      const status = JSON.parse(output.stdout);
      return {
        loggedIn: status.loggedIn === true,
        detail: status.loggedIn ? `logged in (${status.authMethod})` : "not logged in",
      };
    } catch {
      return { loggedIn: false, detail: (output.stderr || output.stdout).trim().slice(0, 200) };
    }
  } catch (error) {
    return { loggedIn: false, detail: error instanceof Error ? error.message : String(error) };
  }
}
