/** Redis URL helpers that are safe to print. */

/**
 * Replaces the password of a URL with `***` so the URL can be logged; the user name stays.
 * It reads the credentials up to the last `@`, so a password holding `/`, `@` or `#` (which a
 * URL parser would split elsewhere) is hidden whole. Credentials without a `:` are hidden too.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { redactUrl } from "./url.ts";
 *
 * assert.equal(redactUrl("redis://:s3cret@cache:6379/0"), "redis://:***@cache:6379/0");
 * assert.equal(redactUrl("redis://:pa/ss@cache:6379/0"), "redis://:***@cache:6379/0");
 * ```
 */
export function redactUrl(raw: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)(.*)@/is.exec(raw);
  if (!match) return raw;
  const credentials = match[2];
  const colon = credentials.indexOf(":");
  const shown = colon < 0 ? "***" : `${credentials.slice(0, colon)}:***`;
  return `${match[1]}${shown}@${raw.slice(match[0].length)}`;
}
