/** Redis URL helpers that are safe to print. */

/**
 * Replaces the password of a URL with `***` so the URL can be logged.
 * Text that is not a URL is returned with everything after `//` and before `@` hidden.
 *
 * @example
 * ```ts
 * redactUrl("redis://:s3cret@cache:6379/0"); // "redis://:***@cache:6379/0"
 * ```
 */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password === "") return raw;
    url.password = "***";
    return url.toString();
  } catch {
    return raw.replace(/\/\/[^@/]*@/, "//***@");
  }
}
