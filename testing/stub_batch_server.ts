/** The HTTP side the batch API stubs share: a loopback server that records each request and answers the API errors its routes throw, and list pages. */

/** One HTTP request a stub received. */
export interface StubHttpRequest {
  method: string;
  /** The URL path without the query. */
  path: string;
  /** The query with its `?`, or "". */
  query: string;
  /** The body as the route read it (parsed JSON, or what an upload held), else undefined. */
  body: unknown;
  /** The HTTP status the stub answered. */
  status: number;
}

/** An error a route throws for the stub to answer: the HTTP status and the API's own error body. */
export class StubApiError extends Error {
  constructor(readonly status: number, readonly body: unknown) {
    super(`stub: HTTP ${status}`);
  }
}

/** A running stub server. Dispose it (`await using`) to stop it. */
export interface StubServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Every HTTP request received, in order of arrival. */
  requests: StubHttpRequest[];
}

/**
 * Serves `route` on 127.0.0.1, on a free port. Each request is recorded before it is routed (the
 * route fills in its `body`); a {@link StubApiError} it throws is answered with its status and
 * body; every answer carries a fresh request id in `requestIdHeader`, as the APIs' do. The route's
 * `disposing` aborts when the server is disposed: a route that holds its answer
 * ({@link holdUntil}, {@link heldJsonLines}) stops waiting then, for the server to stop (it
 * closes its connections, answers under way unfinished). An answer held for a client that has
 * disconnected is harmless: the server drops it when it comes.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { serveStub, StubApiError } from "./stub_batch_server.ts";
 *
 * await using server = serveStub((request) => {
 *   if (request.method === "GET") return Response.json({ ok: true });
 *   throw new StubApiError(405, { error: "no" });
 * }, "request-id");
 * assert.deepEqual(await (await fetch(server.url)).json(), { ok: true });
 * const refused = await fetch(server.url, { method: "PUT" });
 * assert.equal(refused.status, 405);
 * assert.ok(refused.headers.get("request-id"));
 * await refused.body?.cancel();
 * assert.deepEqual(server.requests.map((entry) => entry.status), [200, 405]);
 * ```
 */
export function serveStub(
  route: (
    request: Request,
    entry: StubHttpRequest,
    disposing: AbortSignal,
  ) => Response | Promise<Response>,
  requestIdHeader: string,
): StubServer {
  const requests: StubHttpRequest[] = [];
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    async (request) => {
      const { pathname, search } = new URL(request.url);
      const entry: StubHttpRequest = {
        method: request.method,
        path: pathname,
        query: search,
        body: undefined,
        status: 0,
      };
      requests.push(entry);
      let response: Response;
      try {
        response = await route(request, entry, controller.signal);
      } catch (error) {
        if (!(error instanceof StubApiError)) throw error;
        response = Response.json(error.body, { status: error.status });
      }
      response.headers.set(requestIdHeader, `req_${crypto.randomUUID().replaceAll("-", "")}`);
      entry.status = response.status;
      return response;
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    async [Symbol.asyncDispose]() {
      controller.abort();
      await server.finished.catch(() => {});
    },
  };
}

/**
 * Waits until `hold()` settles (resolves or rejects), or until `stopHolding` aborts, whichever
 * comes first; never rejects. `hold` is not called when `stopHolding` has already aborted.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { holdUntil } from "./stub_batch_server.ts";
 *
 * const stop = new AbortController();
 * const held = holdUntil(() => new Promise(() => {}), stop.signal);
 * stop.abort();
 * assert.equal(await held, undefined);
 * ```
 */
export async function holdUntil(
  hold: () => Promise<void>,
  stopHolding: AbortSignal,
): Promise<void> {
  if (stopHolding.aborted) return;
  const stopped = Promise.withResolvers<void>();
  const stop = () => stopped.resolve();
  stopHolding.addEventListener("abort", stop, { once: true });
  try {
    await Promise.race([Promise.resolve().then(hold).catch(() => {}), stopped.promise]);
  } finally {
    stopHolding.removeEventListener("abort", stop);
  }
}

/** Where a results download stops until the test lets it go on (a stub's `holdResults`). */
export interface StubResultsHold {
  /** How many JSON lines are sent at once (all, when there are no more: the end is still held). */
  afterLines: number;
  /**
   * Called, once a download has sent its first `afterLines` lines, for when to send the rest and
   * end the body: when the promise it returns settles.
   */
  until: () => Promise<void>;
}

/**
 * A JSON Lines body of `lines` (each a JSON text, without its `\n`) held by `hold`: its first
 * `afterLines` lines are sent at once, as one chunk, and the rest and the body's end once
 * `until()` settles, called once the server has taken the first lines. The rest is never sent
 * when the client cancels the body (it disconnected), nor when `disposing` aborts first (see
 * {@link serveStub}): the server then closes the connection with the body unfinished.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { heldJsonLines } from "./stub_batch_server.ts";
 *
 * const release = Promise.withResolvers<void>();
 * const hold = { afterLines: 2, until: () => release.promise };
 * const body = heldJsonLines(["1", "2", "3"], hold, new AbortController().signal);
 * const reader = body.pipeThrough(new TextDecoderStream()).getReader();
 * assert.equal((await reader.read()).value, "1\n2\n");
 * const rest = reader.read();
 * release.resolve();
 * assert.equal((await rest).value, "3\n");
 * assert.equal((await reader.read()).done, true);
 * ```
 */
export function heldJsonLines(
  lines: readonly string[],
  hold: StubResultsHold,
  disposing: AbortSignal,
): ReadableStream<Uint8Array> {
  const { afterLines, until } = hold;
  const encoder = new TextEncoder();
  const text = (part: readonly string[]) => part.map((line) => line + "\n").join("");
  const canceled = new AbortController();
  const stopped = AbortSignal.any([disposing, canceled.signal]);
  let firstSent = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!firstSent) {
        firstSent = true;
        const first = text(lines.slice(0, afterLines));
        // A chunk of its own, so the server writes it out before the hold.
        if (first !== "") return controller.enqueue(encoder.encode(first));
      }
      await holdUntil(until, stopped);
      // Gone, or going: disposing closes the connection, which cancels the body unfinished.
      if (stopped.aborted) return;
      const rest = text(lines.slice(afterLines));
      if (rest !== "") controller.enqueue(encoder.encode(rest));
      controller.close();
    },
    cancel() {
      canceled.abort();
    },
  }, { highWaterMark: 0 });
}

/**
 * One page of a list the APIs give newest first, by cursor: after `afterId` (older items), or
 * just before `beforeId` (newer ones, the nearest `limit`), or from the start. `hasMore`: more
 * lie beyond the page in that direction. `undefined` when the cursor is no item's id.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { listPage } from "./stub_batch_server.ts";
 *
 * const items = ["e", "d", "c", "b", "a"].map((id) => ({ id }));
 * const ids = (page: { page: { id: string }[] } | undefined) => page?.page.map((item) => item.id);
 * assert.deepEqual(ids(listPage(items, {}, 2)), ["e", "d"]);
 * assert.deepEqual(ids(listPage(items, { afterId: "d" }, 2)), ["c", "b"]);
 * assert.deepEqual(ids(listPage(items, { beforeId: "b" }, 2)), ["d", "c"]);
 * assert.equal(listPage(items, { afterId: "b" }, 2)?.hasMore, false);
 * assert.equal(listPage(items, { afterId: "zz" }, 2), undefined);
 * ```
 */
export function listPage<T extends { id: string }>(
  newestFirst: readonly T[],
  cursor: { afterId?: string | null; beforeId?: string | null },
  limit: number,
): { page: T[]; hasMore: boolean } | undefined {
  const id = cursor.beforeId ?? cursor.afterId;
  const at = id == null ? -1 : newestFirst.findIndex((item) => item.id === id);
  if (id != null && at < 0) return undefined;
  if (cursor.beforeId != null) {
    const newer = newestFirst.slice(0, at);
    return { page: newer.slice(Math.max(0, newer.length - limit)), hasMore: newer.length > limit };
  }
  const older = newestFirst.slice(at + 1);
  return { page: older.slice(0, limit), hasMore: older.length > limit };
}

/**
 * A list's `limit` query parameter: an integer from 1 to `max`, `20` when absent; `undefined`
 * when it is out of range, for the caller to refuse in its API's words.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { listLimit } from "./stub_batch_server.ts";
 *
 * assert.equal(listLimit(new URLSearchParams(""), 100), 20);
 * assert.equal(listLimit(new URLSearchParams("limit=5"), 100), 5);
 * assert.equal(listLimit(new URLSearchParams("limit=101"), 100), undefined);
 * ```
 */
export function listLimit(query: URLSearchParams, max: number): number | undefined {
  const raw = query.get("limit");
  if (raw === null) return 20;
  const limit = Number(raw);
  return Number.isInteger(limit) && limit >= 1 && limit <= max ? limit : undefined;
}
