/** The Claude CLI's command line and input for one job: flags that keep it a plain model call, the prompt on stdin. */

import { LlmError } from "../errors.ts";
import type { LlmRequest, Message } from "../provider.ts";

/**
 * The system prompt of a job that brings none (and no `LLM_SYSTEM_PROMPT`): without one the
 * CLI sends its own coding-agent prompt, about 6,000 characters of instructions per job.
 */
export const DEFAULT_SYSTEM_PROMPT =
  "You are a helpful assistant. Do what the user's message asks and answer with the result only.";

/** The values `CLAUDE_CLI_MODE` takes: a long-lived process fed job after job (`warm`), or one process per job (`cold`). */
export const CLI_MODES = ["warm", "cold"] as const;

/** How the CLI is run: one process per job (`cold`) or a long-lived one fed job after job (`warm`). */
export type CliMode = typeof CLI_MODES[number];

/** The parts of a request that become flags, and so select a warm process. */
export type CliFlags = Pick<LlmRequest, "model" | "format" | "messages" | "maxCostUsd">;

/** The job's system text: its system messages, else the default. */
export function systemPromptOf(messages: Message[]): string {
  const system = messages.filter((message) => message.role === "system")
    .map((message) => message.content).join("\n\n");
  return system || DEFAULT_SYSTEM_PROMPT;
}

/**
 * The CLI's arguments. The prompt is never among them (argv is size-limited and visible in
 * `ps`). Every flag is there to make the call a plain model call:
 * - `--tools ""`: no tools; `--strict-mcp-config`: no MCP servers from any configuration;
 * - `--setting-sources ""`: no settings and no CLAUDE.md from the working directory, its
 *   parents or the user's configuration folder (the login is not a setting: it still works);
 * - `--system-prompt`: always, so the CLI never falls back to its agent prompt;
 * - `--no-session-persistence`: no session file per job;
 * - `--max-budget-usd`: the job's `maxCostUsd`, when it has one (it must run cold: the CLI
 *   counts the budget over a process's whole conversation). The CLI checks it after each
 *   model call, so a call that crosses it has been paid for, and its answer is dropped.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { claudeArgs, DEFAULT_SYSTEM_PROMPT } from "./args.ts";
 *
 * assert.deepEqual(claudeArgs({ messages: [{ role: "user", content: "hi" }] }, "cold"), [
 *   "-p",
 *   "--output-format",
 *   "json",
 *   "--tools",
 *   "",
 *   "--strict-mcp-config",
 *   "--setting-sources",
 *   "",
 *   "--no-session-persistence",
 *   "--system-prompt",
 *   DEFAULT_SYSTEM_PROMPT,
 * ]);
 * ```
 */
export function claudeArgs(flags: CliFlags, mode: CliMode): string[] {
  const io = mode === "warm"
    ? ["--input-format", "stream-json", "--output-format", "stream-json", "--verbose"]
    : ["--output-format", "json"];
  const args = [
    "-p",
    ...io,
    "--tools",
    "",
    "--strict-mcp-config",
    "--setting-sources",
    "",
    "--no-session-persistence",
  ];
  if (flags.model) args.push("--model", flags.model);
  args.push("--system-prompt", systemPromptOf(flags.messages));
  if (flags.format) args.push("--json-schema", JSON.stringify(flags.format.schema));
  if (flags.maxCostUsd !== undefined) args.push("--max-budget-usd", budgetOf(flags.maxCostUsd));
  return args;
}

/** `maxCostUsd` as the CLI takes it, or `LlmError("invalid")`: the CLI refuses anything not > 0. */
function budgetOf(maxCostUsd: number): string {
  if (!Number.isFinite(maxCostUsd) || maxCostUsd <= 0) {
    throw new LlmError(
      "invalid",
      `Cannot run the Claude CLI as the job's max_cost_usd must be a number > 0: current value is ${maxCostUsd}`,
    );
  }
  return String(maxCostUsd);
}

/**
 * What the CLI gets as the user's message: the user message, or the conversation with each
 * turn labelled when there is more than one (the CLI takes a single prompt). A prompt that
 * starts with `/` would be run as one of the CLI's own commands (`/clear`, `/help`) and never
 * reach the model, so it gets a leading newline.
 */
export function claudeInput(messages: Message[]): string {
  const turns = messages.filter((message) => message.role !== "system");
  const text = turns.length === 1
    ? turns[0].content
    : turns.map((turn) => `${turn.role === "user" ? "User" : "Assistant"}: ${turn.content}`).join(
      "\n\n",
    );
  return text.startsWith("/") ? `\n${text}` : text;
}
