/** bull-board on Hono: every queue's jobs, to inspect, retry and promote; its UI files found and served without the internet. */

import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { HonoAdapter } from "@bull-board/hono";
// A static import puts the UI package in the module graph, so `deno compile` embeds it (all its
// files, `dist` included) even with `--exclude-unused-npm`.
import uiPackage from "@bull-board/ui/package.json" with { type: "json" };
import type { Queue } from "bullmq";
import { Hono } from "hono";
import { serveStatic } from "hono/deno";

/**
 * The font stacks bull-board's page gets instead of IBM Plex from Google Fonts: the families it
 * asks for when installed here, else the system's own.
 */
export const LOCAL_FONTS = {
  sans: '"IBM Plex Sans", system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif',
  mono: '"IBM Plex Mono", ui-monospace, SFMono-Regular, Menlo, "DejaVu Sans Mono", monospace',
} as const;

/** The version of bull-board's UI (the same as `@bull-board/api` and `@bull-board/hono`). */
export const BULL_BOARD_VERSION: string = uiPackage.version;

/**
 * The folder of the `@bull-board/ui` package (its `dist` holds the page and the static files).
 * `deno run` finds it in Deno's npm cache; a binary of `deno compile` (`Deno.build.standalone`)
 * finds it among the npm packages embedded in its virtual file system, which Deno's file APIs
 * (and `node:fs`) read like any other folder. Throws when its files are not there, naming the
 * folder.
 */
export async function bullBoardUiDir(): Promise<string> {
  const dir = dirname(fileURLToPath(import.meta.resolve("@bull-board/ui/package.json")));
  try {
    await Deno.stat(`${dir}/dist/index.ejs`);
    await Deno.stat(`${dir}/dist/static`);
  } catch (error) {
    throw new Error(
      `bull-board's UI files (@bull-board/ui ${BULL_BOARD_VERSION}) are not in ${dir}/dist (${
        error instanceof Error ? error.message : error
      })`,
    );
  }
  return dir;
}

/**
 * `html` without the `<link>`s that load from another host (bull-board's page asks Google Fonts
 * for IBM Plex): a page that works offline, and no request that leaves the machine.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { withoutRemoteLinks } from "./bull_board.ts";
 *
 * const head = '<link href="https://fonts.googleapis.com/css2" rel="stylesheet">' +
 *   '<link href="static/a.css">';
 * assert.equal(withoutRemoteLinks(head), '<link href="static/a.css">');
 * ```
 */
export function withoutRemoteLinks(html: string): string {
  return html.replace(/<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?\/\/[^>]*>\s*/gi, "");
}

/** How bull-board is set up. */
export interface BullBoardOptions {
  /** The queues to show, in this order. */
  queues: readonly Queue[];
  /** A line under each queue's name (its processor). */
  describe(queue: string): string;
  /** Turns off every action (retry, promote, clean, pause, add, remove): bull-board's read-only mode. */
  readOnly: boolean;
  /** From {@link bullBoardUiDir}. */
  uiDir: string;
  /** Links in bull-board's menu, e.g. to ppr-worker's own view. */
  links: { text: string; url: string }[];
}

/** bull-board's page, static files and API as a Hono app, to mount at `/`. */
export function bullBoardApp(options: BullBoardOptions): Hono {
  const serverAdapter = new HonoAdapter(serveStatic).setBasePath("/");
  const fonts = { "font-sans": LOCAL_FONTS.sans, "font-mono": LOCAL_FONTS.mono };
  createBullBoard({
    queues: options.queues.map((queue) =>
      new BullMQAdapter(queue, {
        readOnlyMode: options.readOnly,
        description: options.describe(queue.name),
      })
    ),
    serverAdapter,
    options: {
      uiBasePath: options.uiDir,
      uiConfig: {
        boardTitle: "ppr-worker",
        miscLinks: options.links,
        hideDocsLink: true,
        sortQueues: false,
        theme: { light: fonts, dark: fonts },
        ...(options.readOnly
          ? { environment: { label: "read-only", color: "#6b7280", textColor: "#ffffff" } }
          : {}),
      },
    },
  });
  const app = new Hono();
  app.use("*", async (c, next) => {
    await next();
    if (c.res.headers.get("content-type")?.startsWith("text/html")) {
      const html = withoutRemoteLinks(await c.res.text());
      const headers = new Headers(c.res.headers);
      headers.delete("content-length");
      c.res = new Response(html, { status: c.res.status, headers });
    }
  });
  app.route("/", serverAdapter.registerPlugin());
  return app;
}
