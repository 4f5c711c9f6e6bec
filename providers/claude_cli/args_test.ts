import { strict as assert } from "node:assert";
import { LlmError } from "../errors.ts";
import { claudeArgs, claudeInput, DEFAULT_SYSTEM_PROMPT } from "./args.ts";

Deno.test("cold args: JSON out, no tools, no MCP, no settings or CLAUDE.md, no session, the default system prompt; never the prompt", () => {
  const args = claudeArgs({ messages: [{ role: "user", content: "secret page text" }] }, "cold");
  assert.deepEqual(args, [
    "-p",
    "--output-format",
    "json",
    "--tools",
    "",
    "--strict-mcp-config",
    "--setting-sources",
    "",
    "--no-session-persistence",
    "--system-prompt",
    DEFAULT_SYSTEM_PROMPT,
  ]);
  assert.ok(!args.join(" ").includes("secret"));
});

Deno.test("warm args: stream-json in and out, the same isolation flags", () => {
  const args = claudeArgs({ messages: [{ role: "user", content: "x" }] }, "warm");
  assert.deepEqual(args.slice(0, 6), [
    "-p",
    "--input-format",
    "stream-json",
    "--output-format",
    "stream-json",
    "--verbose",
  ]);
  assert.ok(args.includes("--strict-mcp-config"));
  assert.equal(args[args.indexOf("--setting-sources") + 1], "");
});

Deno.test("model, the job's system messages and the JSON schema become flags", () => {
  const args = claudeArgs({
    model: "claude-haiku-4-5",
    format: { schema: { type: "object" } },
    messages: [
      { role: "system", content: "be terse" },
      { role: "system", content: "answer in French" },
      { role: "user", content: "x" },
    ],
  }, "cold");
  assert.deepEqual(args.slice(9), [
    "--model",
    "claude-haiku-4-5",
    "--system-prompt",
    "be terse\n\nanswer in French",
    "--json-schema",
    '{"type":"object"}',
  ]);
});

Deno.test("input: the user message, the labelled conversation, and a leading newline before a /", () => {
  assert.equal(
    claudeInput([{ role: "system", content: "s" }, { role: "user", content: "hi" }]),
    "hi",
  );
  assert.equal(
    claudeInput([
      { role: "user", content: "a" },
      { role: "assistant", content: "b" },
      { role: "user", content: "c" },
    ]),
    "User: a\n\nAssistant: b\n\nUser: c",
  );
  assert.equal(claudeInput([{ role: "user", content: "/clear the table" }]), "\n/clear the table");
});

Deno.test("maxCostUsd becomes --max-budget-usd; a value the CLI would refuse is invalid, saying so", () => {
  const messages = [{ role: "user" as const, content: "x" }];
  const args = claudeArgs({ messages, maxCostUsd: 0.25 }, "cold");
  assert.deepEqual(args.slice(-2), ["--max-budget-usd", "0.25"]);
  assert.ok(!claudeArgs({ messages }, "cold").includes("--max-budget-usd"));
  for (const maxCostUsd of [0, -1, Number.NaN, Infinity]) {
    assert.throws(
      () => claudeArgs({ messages, maxCostUsd }, "cold"),
      (error: LlmError) =>
        error.kind === "invalid" &&
        error.message ===
          "Cannot run the Claude CLI as the job's max_cost_usd must be a number > 0: " +
            `current value is ${maxCostUsd}`,
    );
  }
});
