/** The URL that reaches a server of this process (the health server, the dashboard) from this machine. */

/**
 * The URL of `path` on a server listening on `host:port`, as this machine reaches it: a
 * wildcard address (`0.0.0.0`, `::`) becomes `127.0.0.1`, an IPv6 address gets its brackets.
 *
 * @example
 * ```ts
 * localUrl("0.0.0.0", 8080, "/health"); // "http://127.0.0.1:8080/health"
 * localUrl("::1", 9181); // "http://[::1]:9181/"
 * ```
 */
export function localUrl(host: string, port: number, path = "/"): string {
  const local = host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host;
  const shown = local.includes(":") && !local.startsWith("[") ? `[${local}]` : local;
  return `http://${shown}:${port}${path}`;
}

/**
 * The `/health` URL of a health server listening on `host:port`, from this machine.
 *
 * @example
 * ```ts
 * healthUrl("0.0.0.0", 8080); // "http://127.0.0.1:8080/health"
 * ```
 */
export function healthUrl(host: string, port: number): string {
  return localUrl(host, port, "/health");
}
