/** The environment of an external processor: a small base set and what the configuration names, never the worker's secrets. */

/**
 * Variables every processor gets, when the worker has them: where programs are, who and where it
 * runs, language and time zone. Keys, tokens and `REDIS_URL` are not among them.
 */
export const BASE_PROCESSOR_ENV = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "TZ",
  "TMPDIR",
  "TERM",
] as const;

/**
 * The environment an external processor starts with: the base variables (`BASE_PROCESSOR_ENV`,
 * and every `LC_*`), then those `named` (`PROCESSOR_ENV`), each only when `env` has it. The
 * worker's own environment holds the API keys and `REDIS_URL` with its password; a processor
 * needs none of them unless its configuration names them.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { processorEnv } from "./env.ts";
 *
 * const env = {
 *   PATH: "/usr/bin",
 *   LC_ALL: "C.UTF-8",
 *   OPENAI_API_KEY: "sk-secret",
 *   REDIS_URL: "redis://:pw@redis:6379",
 *   DATABASE_URL: "postgres://db/app",
 * };
 * assert.deepEqual(processorEnv(env, ["DATABASE_URL", "MISSING"]), {
 *   PATH: "/usr/bin",
 *   LC_ALL: "C.UTF-8",
 *   DATABASE_URL: "postgres://db/app",
 * });
 * ```
 */
export function processorEnv(
  env: Record<string, string | undefined>,
  named: readonly string[],
): Record<string, string> {
  const passed: Record<string, string> = {};
  const wanted = (name: string) =>
    (BASE_PROCESSOR_ENV as readonly string[]).includes(name) || name.startsWith("LC_") ||
    named.includes(name);
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && wanted(name)) passed[name] = value;
  }
  return passed;
}
