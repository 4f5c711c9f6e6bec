/** The `auth login` command: the Claude CLI's own login, into the folder every worker reads. */

import type { Config } from "../config/config.ts";
import { claudeConfig } from "../providers/claude.ts";
import { claudeAuthStatus } from "../providers/claude_cli/auth.ts";
import { claudeConfigDir, CLI_FIXED_ENV } from "../providers/claude_cli/env.ts";
import { EXIT_USAGE, runCommand } from "./_util.ts";

/** How to log in where there is no terminal, or inside the container. */
export const LOGIN_ADVICE =
  `The login is interactive: the Claude CLI shows a URL to open in a browser and asks
for the code it gives. Run it on a terminal, as the user and with the HOME (or
CLAUDE_CONFIG_DIR) the workers have:

  in the container (the login lands on the claude-config volume, mounted at
  /home/nonroot/.claude and shared by every worker of every container):
    docker compose exec -it worker /app/ppr-worker auth login

  or make a long-lived token on any machine with a browser:
    ppr-worker auth login --token      (runs 'claude setup-token')
  and give it to every container as CLAUDE_CODE_OAUTH_TOKEN.

Then 'ppr-worker auth status' shows the login; a pool paused for auth resumes at its next
probe (LLM_PROBE_INTERVAL).`;

/**
 * The Claude CLI command line of the login: `claude auth login` (writes the login into the
 * CLI's config folder) or, with `token`, `claude setup-token` (prints a long-lived token).
 * Its environment is the workers' CLI environment (same HOME and CLAUDE_CONFIG_DIR, so the
 * login lands where they read it) plus the terminal's `TERM`, without ppr-worker's fixed
 * settings for job calls.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { loginCommand } from "./auth_login.ts";
 *
 * const subprocessEnv = { HOME: "/home/w", CLAUDE_CODE_MAX_RETRIES: "0" };
 * assert.deepEqual(loginCommand("claude", subprocessEnv, { TERM: "xterm" }, false), {
 *   command: "claude",
 *   args: ["auth", "login"],
 *   env: { HOME: "/home/w", TERM: "xterm" },
 * });
 * ```
 */
export function loginCommand(
  cli: string,
  subprocessEnv: Record<string, string>,
  env: Record<string, string | undefined>,
  token: boolean,
): { command: string; args: string[]; env: Record<string, string> } {
  const loginEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(subprocessEnv)) {
    if (!(name in CLI_FIXED_ENV)) loginEnv[name] = value;
  }
  for (const name of ["TERM", "COLORTERM"]) if (env[name]) loginEnv[name] = env[name]!;
  return { command: cli, args: token ? ["setup-token"] : ["auth", "login"], env: loginEnv };
}

/** What `ppr-worker auth login` was asked for. */
export interface AuthLoginOptions {
  config: Config;
  subprocessEnv: Record<string, string>;
  /** ppr-worker's whole environment (for the terminal's `TERM`). */
  env: Record<string, string>;
  /** `claude setup-token` instead of `claude auth login`. */
  token: boolean;
  /** Whether stdin is a terminal: the login asks for a code. */
  interactive: boolean;
}

/**
 * Runs the Claude CLI's login on this terminal with the workers' HOME / CLAUDE_CONFIG_DIR,
 * then shows the login the workers now see. Exit: the CLI's (0 or 1), 2 without a terminal.
 */
export function runAuthLogin(options: AuthLoginOptions): Promise<number> {
  return runCommand("auth login", async () => {
    const { subprocessEnv } = options;
    const config = claudeConfig(options.config);
    if (!options.interactive) {
      console.error(`ppr-worker auth login: needs a terminal.\n\n${LOGIN_ADVICE}`);
      return EXIT_USAGE;
    }
    const configDir = claudeConfigDir(subprocessEnv);
    if (config.anthropicApiKey !== undefined) {
      console.error(
        "note: ANTHROPIC_API_KEY is set, so claude jobs use the API with that key, not this login.",
      );
    }
    if (subprocessEnv.CLAUDE_CODE_OAUTH_TOKEN && !options.token) {
      console.error(
        "note: CLAUDE_CODE_OAUTH_TOKEN is set: the workers use that token, not this login.",
      );
    }
    const login = loginCommand(config.claudeCli, subprocessEnv, options.env, options.token);
    console.error(
      options.token
        ? `Running '${config.claudeCli} setup-token': copy the token it prints into CLAUDE_CODE_OAUTH_TOKEN of every container.`
        : `Running '${config.claudeCli} auth login'; the login is saved in ${
          configDir ?? "the CLI's config folder"
        }, where every worker reads it.`,
    );
    let code: number;
    try {
      const status = await new Deno.Command(login.command, {
        args: login.args,
        env: login.env,
        clearEnv: true,
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn().status;
      code = status.code;
    } catch (error) {
      throw new Error(
        `cannot run the Claude CLI '${config.claudeCli}' (CLAUDE_CLI): ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
    if (!options.token) {
      // The CLI's login, whether or not ANTHROPIC_API_KEY puts the workers in API mode.
      const status = await claudeAuthStatus({ cli: config.claudeCli, env: subprocessEnv });
      console.log(`now: Claude CLI: ${status.detail}`);
    }
    return code === 0 ? 0 : 1;
  });
}
