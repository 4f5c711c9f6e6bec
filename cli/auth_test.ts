import { strict as assert } from "node:assert";
import { parseConfig } from "../config/config.ts";
import { CONFIG_SCHEMA } from "../providers/registry.ts";
import {
  type AuthStatus,
  authTestCost,
  describeProvider,
  isUsable,
  renderAuthStatus,
} from "./auth.ts";

/** The configuration ppr-worker makes of `env`. */
function configOf(env: Record<string, string>) {
  const result = parseConfig({}, env, CONFIG_SCHEMA);
  if (!result.ok) throw new Error(result.errors.join("\n"));
  return result.config;
}

const cliConfig = configOf({ LLM_PROVIDER: "claude", CLAUDE_CLI: "/usr/bin/claude" });
const apiConfig = configOf({ LLM_PROVIDER: "claude", ANTHROPIC_API_KEY: "k" });

Deno.test("describeProvider: CLI mode names the CLI and its login folder (CLAUDE_CONFIG_DIR, else HOME/.claude); a key means API mode", () => {
  assert.deepEqual(describeProvider(cliConfig, { HOME: "/home/nonroot" }), {
    mode: "Claude CLI (/usr/bin/claude)",
    configDir: "/home/nonroot/.claude",
    spendsTokens: true,
    extraContext: "the Claude CLI adds its own context: a few hundred input tokens",
  });
  assert.equal(
    describeProvider(cliConfig, { HOME: "/h", CLAUDE_CONFIG_DIR: "/shared" }).configDir,
    "/shared",
  );
  assert.deepEqual(describeProvider(apiConfig, {}), {
    mode: "Claude API (ANTHROPIC_API_KEY)",
    configDir: null,
    spendsTokens: true,
  });
  assert.equal(
    describeProvider(configOf({ LLM_PROVIDER: "openai" }), {}).mode,
    "OpenAI-compatible API (the SDK's default URL)",
  );
  assert.equal(
    describeProvider(configOf({ LLM_PROVIDER: "echo" }), {}).mode,
    "echo (answers with the prompt)",
  );
});

Deno.test("isUsable: logged in (or nothing to check), no pause, and the pause readable", () => {
  const ok = { login: { ok: true, detail: "" }, pause: null, pause_error: null };
  assert.equal(isUsable(ok), true);
  assert.equal(isUsable({ ...ok, login: null }), true);
  assert.equal(isUsable({ ...ok, login: { ok: false, detail: "not logged in" } }), false);
  assert.equal(isUsable({ ...ok, pause_error: "cannot reach Redis" }), false);
  assert.equal(
    isUsable({
      ...ok,
      pause: { state: "auth_failed", reason: "401", since: 0, retry_at: 1, retry_in_s: 60 },
    }),
    false,
  );
});

Deno.test("renderAuthStatus: the login folder, the login, the pause with its time left, and what to do", () => {
  const status: AuthStatus = {
    provider: "claude",
    mode: "Claude CLI (claude)",
    config_dir: "/home/nonroot/.claude",
    login: { ok: true, detail: "Claude CLI: logged in (claude.ai)" },
    pause: {
      state: "quota_exceeded",
      reason: "usage limit",
      since: 0,
      retry_at: 0,
      retry_in_s: 125,
    },
    pause_error: null,
    usable: false,
  };
  const text = renderAuthStatus(status);
  assert.match(text, /login at\s+\/home\/nonroot\/\.claude \(shared by every worker\)/);
  assert.match(text, /pause\s+quota_exceeded for 2m5s more: usage limit/);
  assert.match(text, /usable\s+no \(the workers wait/);
  assert.match(
    renderAuthStatus({ ...status, login: { ok: false, detail: "not logged in" }, pause: null }),
    /usable\s+no \(run 'ppr-worker auth login'/,
  );
});

Deno.test("authTestCost: echo spends nothing; the CLI adds its own context; a key's call is a few tokens", () => {
  assert.equal(
    authTestCost(describeProvider(configOf({ LLM_PROVIDER: "echo" }), {})),
    "auth test calls echo (answers with the prompt): it spends nothing.",
  );
  assert.equal(
    authTestCost(describeProvider(cliConfig, {})),
    'auth test sends one real request to Claude CLI (/usr/bin/claude): the prompt "Reply with ' +
      'the single word: ok" and a one-word answer, a few tokens (the Claude CLI adds its own ' +
      "context: a few hundred input tokens), billed to the login or key in use.",
  );
  assert.equal(
    authTestCost(describeProvider(apiConfig, {})),
    'auth test sends one real request to Claude API (ANTHROPIC_API_KEY): the prompt "Reply ' +
      'with the single word: ok" and a one-word answer, a few tokens, billed to the login or ' +
      "key in use.",
  );
});
