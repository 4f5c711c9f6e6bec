/** The dashboard's HTTP server: basic auth, bull-board at `/`, ppr-worker's own view at `/ppr` and `/api/ppr`. */

import { Hono } from "hono";
import { basicAuth } from "hono/basic-auth";
import { csrf } from "hono/csrf";
import { secureHeaders } from "hono/secure-headers";
import type { RedisClient } from "../redis/connection.ts";
import { localUrl } from "../health/url.ts";
import { redact } from "../log/redact.ts";
import { ReadingQueue } from "../state/reading_queue.ts";
import { bullBoardApp } from "./bull_board.ts";
import { renderPprPage } from "./page.ts";
import { type DashboardSettings, isLoopback } from "./settings.ts";
import { dashboardQueues, describeProcessor, type PprViewSource, readPprView } from "./view.ts";

/** Where ppr-worker's own view is, beside bull-board's pages. */
export const PPR_VIEW_PATH = "/ppr";
/** Its JSON. */
export const PPR_API_PATH = "/api/ppr";

/** The realm of the basic-auth challenge. */
const REALM = "ppr-worker dashboard";

/**
 * Nothing is loaded from another host, whatever a page asks for: the dashboard works without
 * the internet and tells no one that it is open.
 */
const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", "data:"],
  fontSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/** What the dashboard serves. */
export interface DashboardOptions {
  settings: DashboardSettings;
  /** A connection the dashboard shares among its queues; the caller closes it. */
  redis: RedisClient;
  /** The pool's configuration as the view needs it. */
  source: PprViewSource;
  /** bull-board's UI package folder (`bullBoardUiDir()`). */
  uiDir: string;
}

/** The dashboard as a Hono app, and `close()` for its BullMQ queues. */
export function dashboardApp(options: DashboardOptions): { app: Hono; close(): Promise<void> } {
  const { settings, redis, source } = options;
  const queues = dashboardQueues(source.queues, source.resultQueues).map((name) => {
    // A job whose data is not JSON is listed with stand-in data that says why, not a 500.
    const queue = new ReadingQueue(name, { connection: redis, prefix: source.prefix });
    // bull-board answers each failed call itself; a queue's own error events say nothing more.
    queue.on("error", () => {});
    return queue;
  });

  const app = new Hono();
  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: CONTENT_SECURITY_POLICY,
      // Plain HTTP: HSTS would bind a proxy's whole domain to HTTPS, which is not ours to decide.
      strictTransportSecurity: false,
      xFrameOptions: "DENY",
    }),
  );
  if (!settings.credentials) {
    // Without credentials the dashboard trusts whoever reaches it on loopback; a page on another
    // site that resolves its own name to 127.0.0.1 (DNS rebinding) reaches it too, with its own
    // name in Host. Only loopback names are served.
    app.use("*", async (c, next) => {
      const host = new URL(c.req.url).hostname;
      if (!isLoopback(host)) {
        return c.text(`this dashboard answers only to loopback host names, not ${host}\n`, 403);
      }
      await next();
    });
  }
  // A web page on another site can send a form or text/plain POST here with the browser's
  // basic-auth credentials: state-changing requests must come from the dashboard's own pages.
  app.use("*", csrf());
  if (settings.credentials) {
    app.use(
      "*",
      basicAuth({
        username: settings.credentials.user,
        password: settings.credentials.password,
        realm: REALM,
      }),
    );
  }

  // The queues bull-board holds open serve each view too: none opened and closed per request.
  const byName = new Map(queues.map((queue) => [queue.name, queue]));
  const view = () => readPprView(redis, source, byName);
  const unavailable = (error: unknown) =>
    `cannot read Redis: ${redact(error instanceof Error ? error.message : String(error))}`;
  app.get(PPR_API_PATH, async (c) => {
    c.header("cache-control", "no-store");
    try {
      return c.json(await view());
    } catch (error) {
      return c.json({ error: unavailable(error) }, 503);
    }
  });
  app.get(PPR_VIEW_PATH, async (c) => {
    c.header("cache-control", "no-store");
    try {
      return c.html(renderPprPage(await view()));
    } catch (error) {
      return c.html(
        renderPprPage({ error: unavailable(error), at: new Date().toISOString() }),
        503,
      );
    }
  });
  app.route(
    "/",
    bullBoardApp({
      queues,
      describe: (queue) =>
        source.queues.includes(queue)
          ? `processor: ${describeProcessor(source.processors[queue])}`
          : "result queue (LLM_RESULT_QUEUES): no worker of this configuration takes its jobs",
      readOnly: settings.readOnly,
      uiDir: options.uiDir,
      links: [{ text: "Workers & providers", url: PPR_VIEW_PATH.slice(1) }],
    }),
  );

  return {
    app,
    async close() {
      await Promise.allSettled(queues.map((queue) => queue.close()));
    },
  };
}

/** A dashboard that listens. */
export interface Dashboard extends AsyncDisposable {
  /** Where it answers on this machine, e.g. `http://127.0.0.1:9181/`. */
  url: string;
  port: number;
  /** Stops listening and closes its queues (the Redis connection stays the caller's). */
  close(): Promise<void>;
}

/**
 * Starts listening on `settings.host:settings.port`. Throws at once when it cannot (the port in
 * use, an address this machine does not have).
 */
export function startDashboard(options: DashboardOptions): Dashboard {
  const { app, close: closeQueues } = dashboardApp(options);
  const server = Deno.serve(
    { hostname: options.settings.host, port: options.settings.port, onListen: () => {} },
    app.fetch,
  );
  const { port } = server.addr as Deno.NetAddr;
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await server.shutdown();
      await closeQueues();
    })();
  return {
    // The address that reaches it from this machine, as for the health server.
    url: localUrl(options.settings.host, port),
    port,
    close,
    [Symbol.asyncDispose]: close,
  };
}
