/**
 * The whole Claude API on one address, as a provider sees it: the Messages API stub for direct
 * calls (and the auth probe's model list), the Message Batches stub for `/v1/messages/batches`.
 */

import { startStubAnthropic, type StubAnthropic, type StubOptions } from "./stub_anthropic.ts";
import {
  startStubMessageBatches,
  type StubMessageBatches,
  type StubMessageBatchesOptions,
} from "./stub_message_batches.ts";

/** Both stubs behind one address. Dispose it (`await using`) to stop all three servers. */
export interface StubClaudeApi extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`: the value for `ANTHROPIC_BASE_URL`. */
  url: string;
  messages: StubAnthropic;
  batches: StubMessageBatches;
}

/**
 * Starts both stubs and a front on 127.0.0.1 that passes `/v1/messages/batches...` to the
 * batches stub and every other request to the Messages stub, as they came.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { startStubClaudeApi } from "./stub_claude_api.ts";
 *
 * await using api = startStubClaudeApi();
 * const listed = await fetch(`${api.url}/v1/messages/batches`, { headers: { "x-api-key": "k" } });
 * assert.equal(listed.status, 200);
 * assert.deepEqual((await listed.json()).data, []);
 * ```
 */
export function startStubClaudeApi(
  options: { messages?: StubOptions; batches?: StubMessageBatchesOptions } = {},
): StubClaudeApi {
  const messages = startStubAnthropic(options.messages);
  const batches = startStubMessageBatches(options.batches);
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      const target = url.pathname.startsWith("/v1/messages/batches") ? batches.url : messages.url;
      const body = request.method === "GET" || request.method === "HEAD"
        ? undefined
        : await request.arrayBuffer();
      const answer = await fetch(`${target}${url.pathname}${url.search}`, {
        method: request.method,
        headers: request.headers,
        body,
      });
      return new Response(answer.body, { status: answer.status, headers: answer.headers });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    messages,
    batches,
    async [Symbol.asyncDispose]() {
      controller.abort();
      await server.finished.catch(() => {});
      await Promise.allSettled([
        messages[Symbol.asyncDispose](),
        batches[Symbol.asyncDispose](),
      ]);
    },
  };
}
