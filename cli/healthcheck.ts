/** The `healthcheck` subcommand: the distroless image has no curl, so the binary probes itself. */

import { healthUrl } from "../health/url.ts";

export interface HealthcheckOptions {
  /** Full URL; default `http://<host>:<port>/health`. */
  url?: string;
  host: string;
  port: number;
  /** @default {5000} */
  timeoutMs?: number;
}

/**
 * GETs /health, prints the status (or why there is none) and returns the
 * exit code: 0 on HTTP 200 (healthy or degraded), 1 otherwise.
 */
export async function runHealthcheck(options: HealthcheckOptions): Promise<number> {
  const url = options.url ?? healthUrl(options.host, options.port);
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 5000) });
    const text = await response.text();
    let status = `HTTP ${response.status}`;
    try {
      const body = JSON.parse(text);
      if (typeof body.status === "string") {
        status = `${body.status} (${body.workers_alive}/${body.worker_count} workers alive)`;
      }
    } catch {
      // Not our JSON: the HTTP status says enough.
    }
    console.log(status);
    return response.status === 200 ? 0 : 1;
  } catch (error) {
    console.log(`unreachable: ${url}: ${error instanceof Error ? error.message : error}`);
    return 1;
  }
}
