import { strict as assert } from "node:assert";
import type { Config } from "../config/config.ts";
import {
  type AuthStatus,
  authTestCost,
  describeProvider,
  isUsable,
  renderAuthStatus,
} from "./auth.ts";

const cliConfig = { provider: "claude", claudeCli: "/usr/bin/claude" } as Config;

Deno.test("describeProvider: CLI mode names the CLI and its login folder (CLAUDE_CONFIG_DIR, else HOME/.claude); a key means API mode", () => {
  assert.deepEqual(describeProvider(cliConfig, { HOME: "/home/nonroot" }), {
    mode: "Claude CLI (/usr/bin/claude)",
    configDir: "/home/nonroot/.claude",
  });
  assert.equal(
    describeProvider(cliConfig, { HOME: "/h", CLAUDE_CONFIG_DIR: "/shared" }).configDir,
    "/shared",
  );
  assert.deepEqual(describeProvider({ ...cliConfig, anthropicApiKey: "k" }, {}), {
    mode: "Claude API (ANTHROPIC_API_KEY)",
    configDir: null,
  });
  assert.match(describeProvider({ provider: "openai" } as Config, {}).mode, /OpenAI-compatible/);
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
    authTestCost({ provider: "echo" } as Config, "echo"),
    "auth test calls echo: it spends nothing.",
  );
  assert.match(
    authTestCost(cliConfig, "Claude CLI"),
    /one real request .* a few hundred input tokens/,
  );
  assert.doesNotMatch(
    authTestCost({ ...cliConfig, anthropicApiKey: "k" }, "Claude API"),
    /hundred/,
  );
});
