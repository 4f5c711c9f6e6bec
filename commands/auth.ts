/** `ppr-worker auth status`, `auth test`, `auth login`: the provider's login, as the workers use it. */

import { claudeCliEnv } from "../providers/claude_cli/env.ts";
import { type CommandGroup, defineCommand, flag, setting } from "./command.ts";

const provider = () => setting("--provider <name>", "provider [default: LLM_PROVIDER]");

/** `auth status`: the login and the shared pause, no tokens spent. */
export const authStatus = defineCommand({
  name: "status",
  description:
    "The provider's login (the Claude CLI's 'claude auth status', or the key's model list; " +
    "no tokens spent) and the shared pause in Redis, as the workers see them.",
  options: {
    provider: provider(),
    redisUrl: setting("--redis-url <url>", "Redis server [default: REDIS_URL]"),
    json: flag("--json", "print JSON"),
  },
  help:
    "\nExit status: 0 the workers can use the provider; 1 they cannot; 2 usage or configuration error.\n",
  async action({ options, config, env }) {
    const { runAuthStatus } = await import("../cli/auth.ts");
    return await runAuthStatus({ config, subprocessEnv: claudeCliEnv(env), json: options.json });
  },
});

/** `auth test`: one real, tiny request, asked for first. */
export const authTest = defineCommand({
  name: "test",
  description:
    "One real, tiny request through the provider, as a worker makes it (it costs a few " +
    "tokens: it says so and asks first).",
  options: {
    provider: provider(),
    yes: flag("-y, --yes", "do not ask (required without a terminal)"),
    json: flag("--json", "print the outcome as JSON"),
  },
  help: "\nExit status: 0 the call worked; 1 it failed (or you said no); 2 no --yes and no " +
    "terminal to ask on, or a configuration error.\n",
  async action({ options, config, env }) {
    const { runAuthTest } = await import("../cli/auth.ts");
    return await runAuthTest({
      config,
      subprocessEnv: claudeCliEnv(env),
      yes: options.yes,
      json: options.json,
      confirm: Deno.stdin.isTerminal()
        ? (question) => /^y(es)?$/i.test(prompt(question)?.trim() ?? "")
        : undefined,
    });
  },
});

/** `auth login`: the Claude CLI's own login, where the workers look for it. */
export const authLogin = defineCommand({
  name: "login",
  description:
    "Run the Claude CLI's own login (claude auth login) on this terminal, with the HOME and " +
    "CLAUDE_CONFIG_DIR the workers use, so every worker sees the login.",
  options: {
    token: flag(
      "--token",
      "run 'claude setup-token' instead: a long-lived CLAUDE_CODE_OAUTH_TOKEN",
    ),
  },
  help: "\nIn the container: docker compose exec -it worker /app/ppr-worker auth login\n" +
    "Exit status: the CLI's (0 logged in, 1 not); 2 without a terminal.\n",
  async action({ options, config, env }) {
    const { runAuthLogin } = await import("../cli/auth_login.ts");
    return await runAuthLogin({
      config,
      subprocessEnv: claudeCliEnv(env),
      env,
      token: options.token,
      interactive: Deno.stdin.isTerminal(),
    });
  },
});

/** `auth`: the LLM provider's login. */
export const auth: CommandGroup = {
  name: "auth",
  description: "The LLM provider's login: 'auth status', 'auth test', 'auth login'.",
  subcommands: [authStatus, authTest, authLogin],
};
