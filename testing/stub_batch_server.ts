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
 * body; every answer carries a fresh request id in `requestIdHeader`, as the APIs' do.
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
  route: (request: Request, entry: StubHttpRequest) => Response | Promise<Response>,
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
        response = await route(request, entry);
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
