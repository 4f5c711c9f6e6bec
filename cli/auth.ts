/** The `auth status` and `auth test` commands: can the workers use their LLM provider, and does a real call work. */

import type { Config } from "../config/config.ts";
import { LlmError } from "../providers/errors.ts";
import type { Pause } from "../providers/pause.ts";
import { readPause } from "../providers/pause.ts";
import { secondsLeft } from "../state/pauses.ts";
import type { ProbeResult, ProviderDescription } from "../providers/provider.ts";
import { defaultProviderOf } from "../providers/registry.ts";
import {
  CommandError,
  EXIT_FAILURE,
  EXIT_USAGE,
  printJson,
  runCommand,
  withRedis,
} from "./_util.ts";
import { formatAge } from "../text/format.ts";

/** What ppr-worker needs to reach the provider as its workers do. */
export interface ProviderSetup {
  config: Config;
  /** The Claude CLI's environment (`claudeCliEnv`): its HOME, CLAUDE_CONFIG_DIR, token. */
  subprocessEnv: Record<string, string>;
}

/**
 * How the configured provider is reached, in words, and the folder its login lives in (the
 * Claude CLI's: `CLAUDE_CONFIG_DIR`, else `$HOME/.claude`): what the provider says of itself.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { describeProvider } from "./auth.ts";
 * import { parseConfig } from "../config/config.ts";
 * import { CONFIG_SCHEMA } from "../providers/registry.ts";
 *
 * const parsed = parseConfig({}, { LLM_PROVIDER: "claude", HOME: "/home/w" }, CONFIG_SCHEMA);
 * assert(parsed.ok);
 * const described = describeProvider(parsed.config, { HOME: "/home/w" });
 * assert.equal(described.mode, "Claude CLI (claude)");
 * assert.equal(described.configDir, "/home/w/.claude");
 * ```
 */
export function describeProvider(
  config: Config,
  subprocessEnv: Record<string, string>,
): ProviderDescription {
  return defaultProviderOf(config).describe({ config, subprocessEnv });
}

/** `auth status`: what the probe says and what the shared pause says; the JSON output. */
export interface AuthStatus {
  provider: string;
  mode: string;
  /** The login folder of the Claude CLI, shared by every worker; `null` in other modes. */
  config_dir: string | null;
  /** The provider's cheap probe (no tokens spent); `null` when it has nothing to check. */
  login: ProbeResult | null;
  /** The pause every worker obeys (`ppr:llm:pause:<provider>`); `null` when there is none. */
  pause: (Pause & { retry_in_s: number }) | null;
  /** Why the pause could not be read (Redis unreachable). */
  pause_error: string | null;
  /** Whether the workers can use the provider now: logged in, not paused, pause readable. */
  usable: boolean;
}

/**
 * Whether the workers can use the provider: the probe passes (or there is none) and no
 * pause holds. An unreadable pause is not a yes.
 */
export function isUsable(
  status: Pick<AuthStatus, "login" | "pause" | "pause_error">,
): boolean {
  return (status.login?.ok ?? true) && status.pause === null && status.pause_error === null;
}

/** `auth status` as text. */
export function renderAuthStatus(status: AuthStatus): string {
  const pause = status.pause_error !== null
    ? `unknown: ${status.pause_error}`
    : status.pause === null
    ? "none"
    : `${status.pause.state} for ${
      formatAge(status.pause.retry_in_s * 1000)
    } more: ${status.pause.reason}`;
  const lines = [
    `provider  ${status.provider}: ${status.mode}`,
    ...(status.config_dir ? [`login at  ${status.config_dir} (shared by every worker)`] : []),
    `login     ${status.login === null ? "nothing to check" : status.login.detail}`,
    `pause     ${pause}`,
    status.usable
      ? "usable    yes"
      : `usable    no${
        status.login?.ok === false
          ? " (run 'ppr-worker auth login', or set the provider's key)"
          : status.pause !== null
          ? " (the workers wait until the pause ends or a probe passes)"
          : ""
      }`,
  ];
  return lines.join("\n");
}

/** What `ppr-worker auth status` was asked for. */
export interface AuthStatusOptions extends ProviderSetup {
  json: boolean;
}

async function readPauseOf(
  config: Config,
): Promise<{ pause: AuthStatus["pause"]; pause_error: string | null }> {
  try {
    const pause = await withRedis(config, "ppr-auth", (redis) => readPause(redis, config.provider));
    if (!pause) return { pause: null, pause_error: null };
    return {
      pause: { ...pause, retry_in_s: secondsLeft(pause.retry_at, Date.now()) },
      pause_error: null,
    };
  } catch (error) {
    return { pause: null, pause_error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Shows the provider's login (its cheap probe: `claude auth status`, a model list with a key)
 * and the shared pause in Redis, as the workers see them. Exit 0 when the workers can use the
 * provider, 1 otherwise.
 */
export function runAuthStatus(options: AuthStatusOptions): Promise<number> {
  return runCommand("auth status", async () => {
    const { config, subprocessEnv } = options;
    const { mode, configDir } = describeProvider(config, subprocessEnv);
    const { probe } = defaultProviderOf(config);
    const [login, pause] = await Promise.all([
      probe ? probe({ config, subprocessEnv }) : Promise.resolve(null),
      readPauseOf(config),
    ]);
    const partial = { provider: config.provider, mode, config_dir: configDir, login, ...pause };
    const status: AuthStatus = { ...partial, usable: isUsable(partial) };
    if (options.json) printJson(status);
    else console.log(renderAuthStatus(status));
    return status.usable ? 0 : EXIT_FAILURE;
  });
}

/** The prompt of `auth test`: one word in, one word out. */
export const AUTH_TEST_PROMPT = "Reply with the single word: ok";

/**
 * What `auth test` costs, said before it runs.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { authTestCost } from "./auth.ts";
 *
 * assert.equal(
 *   authTestCost({ mode: "echo", configDir: null, spendsTokens: false }),
 *   "auth test calls echo: it spends nothing.",
 * );
 * ```
 */
export function authTestCost(description: ProviderDescription): string {
  const { mode, spendsTokens, extraContext } = description;
  if (!spendsTokens) return `auth test calls ${mode}: it spends nothing.`;
  return `auth test sends one real request to ${mode}: the prompt "${AUTH_TEST_PROMPT}" and a ` +
    `one-word answer, a few tokens${
      extraContext ? ` (${extraContext})` : ""
    }, billed to the login or key in use.`;
}

/** What `ppr-worker auth test` was asked for. */
export interface AuthTestOptions extends ProviderSetup {
  /** Skip the question. */
  yes: boolean;
  json: boolean;
  /** Asks on the terminal; `undefined` when there is none (stdin is not a terminal). */
  confirm?: (question: string) => boolean;
}

/**
 * Makes one real, tiny call through the configured provider, as a worker would, after saying
 * what it costs and (without `yes`) asking. Exit 0 when the call succeeds, 1 when it fails,
 * 2 when there is no `yes` and no terminal to ask on.
 */
export function runAuthTest(options: AuthTestOptions): Promise<number> {
  return runCommand("auth test", async () => {
    const { config, subprocessEnv } = options;
    const provider = defaultProviderOf(config);
    const description = provider.describe({ config, subprocessEnv });
    const { mode } = description;
    console.error(authTestCost(description));
    if (!options.yes) {
      if (!options.confirm) {
        throw new CommandError(
          "refusing to spend tokens without --yes: there is no terminal to ask on",
          EXIT_USAGE,
        );
      }
      if (!options.confirm("Send it? [y/N]")) {
        console.error("ppr-worker auth test: not sent");
        return EXIT_FAILURE;
      }
    }
    const client = provider.create({ config, subprocessEnv });
    const started = performance.now();
    try {
      const result = await client.call({
        messages: [{ role: "user", content: AUTH_TEST_PROMPT }],
        maxTokens: 16,
        signal: AbortSignal.timeout(config.llmTimeoutMs),
      });
      const durationMs = Math.round(performance.now() - started);
      if (options.json) {
        printJson({ ok: true, mode, ...result, duration_ms: durationMs });
      } else {
        console.log(
          `ok: ${config.provider} answered ${JSON.stringify(result.text.trim().slice(0, 80))} in ` +
            `${(durationMs / 1000).toFixed(1)} s (model ${result.model}, ` +
            `${result.usage.input_tokens} input + ${result.usage.output_tokens} output tokens)`,
        );
      }
      return 0;
    } catch (error) {
      const kind = error instanceof LlmError ? error.kind : "transient";
      const message = error instanceof Error ? error.message : String(error);
      if (options.json) {
        printJson({ ok: false, provider: config.provider, mode, kind, error: message });
      } else console.log(`failed (${kind}): ${message}`);
      return EXIT_FAILURE;
    } finally {
      await client.close?.();
    }
  });
}
