/** Keeps secret values (keys, tokens, the Redis password) out of every log line, error message and Redis record. */

/** Parts of a secret this long or longer are hidden too, where a provider echoes part of a key. */
const PART_CHARS = 12;
/** Values shorter than this are not treated as secrets: hiding them would garble ordinary text. */
const MIN_SECRET_CHARS = 6;

const secrets = new Set<string>();

/**
 * Registers the secret values of this process (from its configuration). Empty, missing and
 * very short values are ignored.
 */
export function addSecrets(values: readonly (string | undefined)[]): void {
  for (const value of values) {
    if (value !== undefined && value.length >= MIN_SECRET_CHARS) secrets.add(value);
  }
}

/**
 * `text` with every registered secret replaced by `***`, and with it every run of at least
 * 12 characters from a secret's start or end (a provider that repeats part of a key).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { addSecrets, redact } from "./redact.ts";
 *
 * addSecrets(["sk-test-secret-key-0123456789"]);
 * assert.equal(
 *   redact("Incorrect API key provided: sk-test-secret-key-0123456789"),
 *   "Incorrect API key provided: ***",
 * );
 * ```
 */
export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) {
    out = out.replaceAll(secret, "***");
    if (secret.length > PART_CHARS) {
      out = out.replaceAll(secret.slice(0, PART_CHARS), "***")
        .replaceAll(secret.slice(-PART_CHARS), "***");
    }
  }
  return out;
}
