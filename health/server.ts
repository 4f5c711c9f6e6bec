/** The HTTP health server: /health, /ready, /metrics. It reads state and never changes it. */

import { createMetrics } from "./metrics.ts";
import { type HealthInputs, healthResponse, readiness } from "./status.ts";

/** Where the health server listens and what it reads. */
export interface HealthServerOptions {
  hostname: string;
  port: number;
  inputs: () => HealthInputs;
  onListen?: (address: Deno.NetAddr) => void;
}

const ROUTES = new Set(["/health", "/ready", "/metrics"]);

function json(body: unknown, status: number): Response {
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/** Answers one request; exported for tests that need no socket. */
export function createHandler(inputs: () => HealthInputs) {
  const metrics = createMetrics(inputs);
  return async (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url);
    if (!ROUTES.has(pathname)) return json({ error: `no such path: ${pathname}` }, 404);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response(`method ${request.method} not allowed\n`, {
        status: 405,
        headers: { allow: "GET, HEAD" },
      });
    }
    if (pathname === "/health") {
      const { httpStatus, body } = healthResponse(inputs(), Date.now());
      return json(body, httpStatus);
    }
    if (pathname === "/ready") {
      const { ready, reason } = readiness(inputs());
      return json({ ready, reason }, ready ? 200 : 503);
    }
    return new Response(await metrics.text(), { headers: { "content-type": metrics.contentType } });
  };
}

/** Starts listening; `close()` stops it. */
export function startHealthServer(options: HealthServerOptions) {
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: (address) => options.onListen?.(address as Deno.NetAddr),
  }, createHandler(options.inputs));
  return {
    port: (server.addr as Deno.NetAddr).port,
    close: () => server.shutdown(),
  };
}
