/** The Claude CLI's environment: what it may see of ppr-worker's own, and what ppr-worker sets for it. */

/** Variables passed through when set: the login, the API endpoint, proxies, locale, nothing else. */
const PASSED_THROUGH = [
  "PATH",
  "HOME",
  "LANG",
  "LC_ALL",
  "TMPDIR",
  "CLAUDE_CONFIG_DIR",
  "CLAUDE_CODE_OAUTH_TOKEN",
  "ANTHROPIC_BASE_URL",
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "NO_PROXY",
];

/**
 * What ppr-worker sets for every CLI process, and why (docs/jobs-and-providers.md lists them too):
 * - `CLAUDE_CODE_MAX_RETRIES=0`: one request per call. The CLI otherwise retries a 401 (API
 *   key), 429, 500 or 529 for minutes, holding the job and hammering a quota; ppr-worker's own
 *   failure classes, backoff and shared pause decide instead.
 * - `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`: no telemetry, feature-flag or update calls
 *   to Anthropic's own hosts (they ignore `ANTHROPIC_BASE_URL`), no connectivity check, no
 *   session-title request: a job makes exactly its own model call.
 * - `TZ=UTC`: the CLI prints a usage limit's reset time of day in its time zone; in UTC
 *   ppr-worker can read it.
 */
export const CLI_FIXED_ENV: Readonly<Record<string, string>> = {
  CLAUDE_CODE_MAX_RETRIES: "0",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  TZ: "UTC",
};

/**
 * The CLI's whole environment, made from ppr-worker's own: the variables it may see, then
 * `CLI_FIXED_ENV`. `ANTHROPIC_API_KEY` is never passed: with a key ppr-worker calls the API itself.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { claudeCliEnv } from "./env.ts";
 *
 * assert.deepEqual(claudeCliEnv({ PATH: "/bin", HOME: "/home/w", REDIS_URL: "redis://:pw@r" }), {
 *   PATH: "/bin",
 *   HOME: "/home/w",
 *   CLAUDE_CODE_MAX_RETRIES: "0",
 *   CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
 *   TZ: "UTC",
 * });
 * ```
 */
export function claudeCliEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PASSED_THROUGH) if (env[name]) out[name] = env[name]!;
  return { ...out, ...CLI_FIXED_ENV };
}

/**
 * The folder the CLI keeps its login in, shared by every worker: `CLAUDE_CONFIG_DIR`, else
 * `$HOME/.claude`; `null` without either.
 *
 * @example
 * ```ts
 * claudeConfigDir({ HOME: "/home/w" }); // "/home/w/.claude"
 * ```
 */
export function claudeConfigDir(env: Record<string, string>): string | null {
  return env.CLAUDE_CONFIG_DIR ?? (env.HOME ? `${env.HOME}/.claude` : null);
}
