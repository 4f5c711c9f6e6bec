import { strict as assert } from "node:assert";
import { loginCommand } from "./auth_login.ts";

Deno.test("loginCommand: claude auth login (or setup-token) with the workers' HOME and login, the terminal's TERM, no fixed job settings", () => {
  const subprocessEnv = {
    PATH: "/bin",
    HOME: "/home/nonroot",
    CLAUDE_CONFIG_DIR: "/shared",
    CLAUDE_CODE_MAX_RETRIES: "0",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    TZ: "UTC",
  };
  const env = { TERM: "xterm-256color", REDIS_URL: "redis://:pw@cache" };
  assert.deepEqual(loginCommand("/usr/bin/claude", subprocessEnv, env, false), {
    command: "/usr/bin/claude",
    args: ["auth", "login"],
    env: {
      PATH: "/bin",
      HOME: "/home/nonroot",
      CLAUDE_CONFIG_DIR: "/shared",
      TERM: "xterm-256color",
    },
  });
  assert.deepEqual(loginCommand("claude", subprocessEnv, env, true).args, ["setup-token"]);
});
