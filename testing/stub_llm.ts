/**
 * A stub of the Anthropic Messages API and the OpenAI Chat Completions API on 127.0.0.1,
 * enough for the official SDKs, with each API's own error bodies. The last user message
 * chooses the answer:
 * - `AUTH` → 401 (`AUTH_ECHO_KEY`, or any request with a key that starts `echo-me`: its message
 *   repeats the key, as some servers do);
 * - `BILLING` → the account cannot pay: Anthropic's 402 `billing_error`, OpenAI's 429 whose
 *   type and code are `insufficient_quota`;
 * - `QUOTA` → 429 `rate_limit_error` with `retry-after: 2`;
 * - `OVERLOADED` → Anthropic's 529 `overloaded_error`, an OpenAI-compatible server's 503, both
 *   with `retry-after: 1`;
 * - `QUOTA_ONCE`, `OVERLOADED_ONCE` → that answer the first time, then the echo;
 * - `FAIL_ONCE` → 500 the first time, `FAIL` → 500;
 * - `SLOW` → answers after 30 s, `SLEEP<ms>` → answers after <ms> (counted in `sleeping`),
 *   `EMPTY` → an empty answer.
 *
 * Anything else is echoed back (as JSON text when the request asks for a JSON schema), with
 * usage in the API's shape: Anthropic's four counts (the cache's 0), OpenAI's
 * `prompt_tokens_details.cached_tokens` 0.
 */

import { delay } from "../async/mod.ts";

/** A running stub and what it received. */
export interface StubLlm extends AsyncDisposable {
  url: string;
  /** Every request body received, with its path. */
  requests: { path: string; body: Record<string, unknown>; apiKey: string | null }[];
  /** `SLEEP<ms>` requests being answered now, and the most there ever were at once. */
  sleeping: { now: number; most: number };
}

function lastUserText(messages: { role: string; content: unknown }[]): string {
  const last = messages.findLast((message) => message.role === "user");
  if (!last) return "";
  return typeof last.content === "string"
    ? last.content
    : (last.content as { text?: string }[]).map((part) => part.text ?? "").join("");
}

/** Starts the stub on a free loopback port; dispose it to stop it. */
export function startStubLlm(): StubLlm {
  const requests: StubLlm["requests"] = [];
  const failedOnce = new Set<string>();
  const sleeping = { now: 0, most: 0 };
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      const apiKey = request.headers.get("x-api-key") ??
        request.headers.get("authorization")?.replace(/^Bearer /, "") ?? null;
      const echoKey = () =>
        Response.json({
          error: { type: "authentication_error", message: `Incorrect API key provided: ${apiKey}` },
        }, {
          status: 401,
        });
      if (request.method === "GET" && path.endsWith("/models")) {
        requests.push({ path, body: {}, apiKey });
        if (apiKey?.startsWith("echo-me")) return echoKey();
        if (apiKey === "bad-key") {
          return Response.json({
            type: "error",
            error: { type: "authentication_error", message: "invalid x-api-key" },
          }, { status: 401 });
        }
        return Response.json({
          data: [{ id: "stub-model", type: "model", object: "model" }],
          has_more: false,
          object: "list",
        });
      }
      if (!path.endsWith("/v1/messages") && !path.endsWith("/chat/completions")) {
        // What a server answers for an API it does not have (the Files and Batch APIs).
        requests.push({ path, body: {}, apiKey });
        return Response.json({ error: { message: `no route for ${path}` } }, { status: 404 });
      }
      const body = await request.json();
      requests.push({ path, body, apiKey });
      const anthropic = path.endsWith("/v1/messages");
      const text = lastUserText(body.messages ?? []);
      const error = (
        status: number,
        type: string,
        message: string,
        headers: Record<string, string> = {},
      ) =>
        Response.json(
          anthropic
            ? { type: "error", error: { type, message } }
            : { error: { type, message, code: type } },
          { status, headers },
        );
      if (apiKey?.startsWith("echo-me")) return echoKey();
      if (text.includes("AUTH_ECHO_KEY")) {
        // As some providers do: the refused key, repeated in the error text.
        return error(401, "authentication_error", `Incorrect API key provided: ${apiKey}`);
      }
      if (text.includes("AUTH") || apiKey === "bad-key") {
        return error(401, "authentication_error", "invalid x-api-key");
      }
      if (text.includes("BILLING")) {
        return anthropic
          ? error(
            402,
            "billing_error",
            "Your credit balance is too low to access the Anthropic API.",
          )
          : error(
            429,
            "insufficient_quota",
            "You exceeded your current quota, please check your plan and billing details.",
          );
      }
      // `_ONCE`: the first request with this text only; the job's next try is answered.
      const once = (marker: string) => {
        if (!text.includes(`${marker}_ONCE`) || failedOnce.has(`${marker} ${text}`)) return false;
        failedOnce.add(`${marker} ${text}`);
        return true;
      };
      if (
        once("OVERLOADED") || (text.includes("OVERLOADED") && !text.includes("OVERLOADED_ONCE"))
      ) {
        const retryAfter = { "retry-after": "1" };
        return anthropic
          ? error(529, "overloaded_error", "Overloaded", retryAfter)
          : error(503, "server_error", "The server is overloaded, try again later.", retryAfter);
      }
      if (once("QUOTA") || (text.includes("QUOTA") && !text.includes("QUOTA_ONCE"))) {
        return error(429, "rate_limit_error", "rate limit exceeded", { "retry-after": "2" });
      }
      if (text.includes("FAIL_ONCE") && !failedOnce.has(text)) {
        failedOnce.add(text);
        return error(500, "api_error", "internal error");
      }
      if (text.includes("FAIL") && !text.includes("FAIL_ONCE")) {
        return error(500, "api_error", "internal error");
      }
      if (text.includes("SLOW")) await delay(30_000);
      const sleep = /SLEEP(\d+)/.exec(text);
      if (sleep) {
        sleeping.most = Math.max(sleeping.most, ++sleeping.now);
        try {
          await delay(Number(sleep[1]));
        } finally {
          sleeping.now--;
        }
      }
      const wantsJson = anthropic
        ? body.output_config?.format?.type === "json_schema"
        : body.response_format?.type === "json_schema";
      const answer = text.includes("EMPTY") ? "" : wantsJson ? text : `stub: ${text}`;
      if (anthropic) {
        return Response.json({
          id: "msg_stub",
          type: "message",
          role: "assistant",
          model: body.model,
          content: [{ type: "text", text: answer }],
          stop_reason: "end_turn",
          stop_sequence: null,
          usage: {
            input_tokens: 11,
            output_tokens: 5,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
          },
        });
      }
      return Response.json({
        id: "chatcmpl-stub",
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{
          index: 0,
          message: { role: "assistant", content: answer },
          finish_reason: "stop",
        }],
        usage: {
          prompt_tokens: 13,
          completion_tokens: 6,
          total_tokens: 19,
          prompt_tokens_details: { cached_tokens: 0 },
        },
      });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    sleeping,
    async [Symbol.asyncDispose]() {
      controller.abort();
      await server.finished.catch(() => {});
    },
  };
}
