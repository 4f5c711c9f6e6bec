/** A stub of the Anthropic Messages API on 127.0.0.1 that the real Claude CLI can be pointed at. */

/**
 * What the stub does with one `POST /v1/messages`. Chosen per request by markers in the user's
 * text (see {@link parseMarkers}) merged over the stub-wide mode ({@link StubAnthropic.setMode});
 * a marker wins over the mode.
 */
export interface StubBehaviour {
  /** Answer with this HTTP status and the matching Anthropic error body. */
  error?: StubErrorStatus;
  /** Add `x-should-retry: false` (or `true`) to an error answer. */
  shouldRetry?: boolean;
  /** `retry-after` seconds of a 429/529 (default 1). */
  retryAfterSeconds?: number;
  /** A 429 without the subscription's `anthropic-ratelimit-unified-*` headers (API-key style). */
  plainRateLimit?: boolean;
  /** Streaming: end the SSE body right after `message_start` ("close") or reset it ("abort"). */
  brokenStream?: "close" | "abort";
  /** Non-streaming: answer 200 with a truncated JSON body. */
  brokenJson?: boolean;
  /** Wait this many milliseconds before answering. */
  sleepMs?: number;
  /** Answer in text although the `StructuredOutput` tool was offered. */
  textInsteadOfTool?: boolean;
  /** Call `StructuredOutput` with an input that violates its input schema. */
  invalidToolInput?: boolean;
  /** The structured answer: `StructuredOutput`'s input, or the JSON text of a `json_schema` output. */
  structured?: Record<string, unknown>;
  /** The text answer (default: `stub: <the user's text>`). */
  text?: string;
}

/** The error statuses the stub answers with. */
export type StubErrorStatus = 400 | 401 | 402 | 403 | 404 | 413 | 429 | 500 | 529;

/** Each error status's Anthropic error type and message. */
const ERRORS: Record<StubErrorStatus, [type: string, message: string]> = {
  400: ["invalid_request_error", "stub: invalid request"],
  401: ["authentication_error", "stub: invalid x-api-key"],
  402: ["billing_error", "stub: your credit balance is too low to access the Anthropic API"],
  403: ["permission_error", "stub: your API key does not have permission to use this resource"],
  404: ["not_found_error", "stub: not found"],
  413: ["request_too_large", "stub: request exceeds the maximum allowed number of bytes"],
  429: ["rate_limit_error", "stub: rate limit exceeded"],
  500: ["api_error", "stub: internal server error"],
  529: ["overloaded_error", "stub: overloaded"],
};

/** A JSON Schema, loosely typed. */
export type JsonSchema = { [key: string]: unknown };

/** One content block of a message, as far as the stub reads it. */
export interface ContentBlock {
  type: string;
  text?: string;
  content?: string | ContentBlock[];
  [key: string]: unknown;
}

/** The parts of a Messages API request body that the stub reads. */
export interface MessagesBody {
  model?: string;
  max_tokens?: number;
  stream?: boolean;
  /** A string, or text blocks. */
  system?: string | ContentBlock[];
  /** The CLI also sends `role: "system"` turns (its environment block) among the messages. */
  messages?: { role: string; content: string | ContentBlock[] }[];
  tools?: {
    name: string;
    description?: string;
    input_schema?: JsonSchema;
    cache_control?: unknown;
  }[];
  output_config?: { effort?: string; format?: { type?: string; schema?: JsonSchema } };
  [key: string]: unknown;
}

/** What a request was: a job's Messages request, a session-title or quota request, or other. */
export type StubRequestKind = "job" | "title" | "quota" | "other";

/** One request the stub received, whatever its method and path. */
export interface StubRequest {
  /** 1-based order of arrival. */
  seq: number;
  /** Milliseconds since the stub started. */
  at: number;
  method: string;
  /** URL path without the query (the CLI posts to `/v1/messages?beta=true`). */
  path: string;
  /** URL query with its `?`, or "". */
  query: string;
  kind: StubRequestKind;
  headers: {
    /** An `Authorization` header was sent (an OAuth token login sends `Bearer <token>`). */
    authorization: boolean;
    /** The bearer token, if any. */
    bearer: string | null;
    /** An `x-api-key` header was sent (an `ANTHROPIC_API_KEY` login). */
    apiKey: boolean;
    /** The `x-api-key` value, if any. */
    apiKeyValue: string | null;
    anthropicBeta: string | null;
    anthropicVersion: string | null;
    shouldRetry: string | null;
    userAgent: string | null;
    xApp: string | null;
    /** `x-stainless-retry-count`: 0 on a first attempt. */
    retryCount: string | null;
    /** Every header, by lower-case name. */
    all: Record<string, string>;
  };
  /** The parsed JSON body (a {@link MessagesBody} for `POST /v1/messages`), or undefined. */
  body: MessagesBody | undefined;
  /** The raw body, when it is not JSON (first 2000 characters). */
  rawBody?: string;
  /** What the stub answered: HTTP status and a short label. */
  answer: { status: number; what: string };
}

/** The stub server. Dispose it (`await using`) to stop it. */
export interface StubAnthropic extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`: the value for `ANTHROPIC_BASE_URL`. */
  url: string;
  /** Every request received, in order of arrival (logged before the answer is sent). */
  requests: StubRequest[];
  /**
   * Sets the stub-wide behaviour (undefined: back to the default). With `times`, it applies to
   * the next `times` Messages requests only, then lapses.
   */
  setMode(behaviour: StubBehaviour | undefined, options?: { times?: number }): void;
  /** Only the `POST /v1/messages` requests, of every kind. */
  messageRequests(): StubRequest[];
  /** Only the jobs' Messages requests (no session-title or quota requests). */
  jobRequests(): StubRequest[];
  /** Everything but Messages requests: HEAD/GET checks, count_tokens, /api/..., other paths. */
  otherRequests(): StubRequest[];
  /** All system text of a request (a string, or its text blocks joined with "\n"). */
  systemText(request: StubRequest): string;
  /** System text plus the text of every message (tool inputs and results too), for markers. */
  requestText(request: StubRequest): string;
  /** The user's own text in a request: see {@link lastUserTextOf}. */
  lastUserText(request: StubRequest): string;
  /** Forgets the requests received so far. */
  clear(): void;
  /** How many 429s the stub-wide rate limit ({@link StubOptions.rateLimit}) has sent. */
  readonly rateLimited: number;
}

/**
 * A stub-wide rate limit, per minute, as the API enforces one: a token bucket per dimension,
 * its capacity the per-minute limit, refilled continuously, full at start. A request that does
 * not fit in every bucket is answered 429 `rate_limit_error` with `retry-after` (whole seconds
 * until it would fit) and the `anthropic-ratelimit-*` headers, and takes nothing. Input tokens
 * count as the API counts them, `input_tokens` plus `cache_creation_input_tokens` (cache reads
 * do not count). Output tokens follow the API's estimate: `max_tokens` is taken when the
 * request starts and what was not used given back when it is answered (so a request whose
 * `max_tokens` exceeds the output limit never fits; the Claude CLI asks for 128,000).
 */
export interface StubRateLimit {
  requestsPerMinute?: number;
  inputTokensPerMinute?: number;
  outputTokensPerMinute?: number;
}

/** Options of {@link startStubAnthropic}. */
export interface StubOptions {
  /** The initial stub-wide behaviour. */
  mode?: StubBehaviour;
  /** Print each request to stderr as it arrives. */
  verbose?: boolean;
  /**
   * The only key the stub accepts, as `x-api-key` or `Authorization: Bearer` (the SDK sends the
   * latter): a request with another one is answered 401 `authentication_error`, as the API
   * answers a wrong key. Unset: every key and token is accepted.
   */
  credential?: string;
  /**
   * Prompt caching: a marked prefix of fewer tokens than this (the stub's count, 4 characters a
   * token) is not cached, as the API caches nothing below its per-model minimum (1,024 to 4,096
   * tokens). The default caches any marked prefix, so tests need no long prompts.
   * @default {0}
   */
  minCacheTokens?: number;
  /** A stub-wide rate limit: see {@link StubRateLimit}. Unset: none. */
  rateLimit?: StubRateLimit;
  /** The clock that refills the rate limit's buckets (a test's fake clock). @default {performance} */
  clock?: { now(): number };
}

/** The text of one message content (a string or blocks), tool inputs and results included. */
export function contentText(content: string | ContentBlock[] | undefined): string {
  if (content === undefined) return "";
  if (typeof content === "string") return content;
  return content.map((block) => {
    if (typeof block.text === "string") return block.text;
    if (block.type === "tool_use") return JSON.stringify(block.input ?? {});
    if (block.type === "tool_result") return contentText(block.content);
    return "";
  }).join("\n");
}

/** All system text of a Messages body (the system prompt may be a string or text blocks). */
export function systemTextOf(body: MessagesBody | undefined): string {
  const system = body?.system;
  if (system === undefined) return "";
  if (typeof system === "string") return system;
  return system.map((block) => block.text ?? "").join("\n");
}

/**
 * Text the CLI adds on its own to a user turn: the structured-output nudge, a system reminder
 * (CLAUDE.md contents), the record of a local command such as `/clear`.
 */
const CLI_TEXT =
  /^\s*(\[structured-output-enforce\]|<system-reminder>|<local-command-caveat>|<command-name>|<local-command-std(out|err)>)/;

/**
 * The user's own text: that of the last user message that has any, leaving out tool results and
 * the text the CLI adds itself (`[structured-output-enforce] ...`, `<system-reminder>`, the record
 * of a `/clear`). So the markers of a job's prompt still apply to the CLI's follow-up requests of
 * the same job (a schema retry, the nudge after a text answer).
 */
export function lastUserTextOf(body: MessagesBody | undefined): string {
  const messages = body?.messages ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message.role !== "user") continue;
    const texts = typeof message.content === "string"
      ? [message.content]
      : message.content.filter((block) => block.type === "text").map((block) => block.text ?? "");
    const own = texts.filter((text) => text.trim() !== "" && !CLI_TEXT.test(text));
    if (own.length) return own.join("\n");
  }
  return "";
}

/** The JSON Schema of a body's `output_config.format` (`json_schema`), if any. */
function outputSchema(body: MessagesBody | undefined): JsonSchema | undefined {
  const format = body?.output_config?.format;
  return format?.type === "json_schema" ? format.schema : undefined;
}

/**
 * What a Messages body is for. `title`: the CLI naming its session (interactive mode): its output
 * format is a `{title}` JSON schema and its user text starts with `<session>`. `quota`: the
 * interactive mode's `max_tokens: 1` probe whose prompt is "quota". Anything else is a `job`.
 */
export function messagesKind(body: MessagesBody | undefined): "job" | "title" | "quota" {
  const properties = outputSchema(body)?.properties as Record<string, unknown> | undefined;
  if (properties && Object.keys(properties).join() === "title") return "title";
  const first = body?.messages?.[0];
  if (first?.role === "user" && contentText(first.content).startsWith("<session>")) return "title";
  if (body?.max_tokens === 1 && body.messages?.length === 1 && first?.content === "quota") {
    return "quota";
  }
  return "job";
}

/** The first balanced `{...}` right after `JSON` in `text`, parsed; undefined if none. */
function jsonAfterMarker(text: string): Record<string, unknown> | undefined {
  const start = text.indexOf("JSON{");
  if (start < 0) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = start + 4; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === "{") depth++;
    else if (char === "}" && --depth === 0) {
      try {
        return JSON.parse(text.slice(start + 4, i + 1));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * The behaviour the markers in `text` ask for:
 * - `STUB_ERROR=<status>` (400, 401, 402, 403, 404, 413, 429, 500, 529): that error, with the
 *   API's error type for it (402: `billing_error`, the account's credit or payment).
 * - `STUB_NO_RETRY` / `STUB_RETRY`: `x-should-retry: false` / `true` on the error.
 * - `STUB_RETRY_AFTER=<s>`: `retry-after` seconds of a 429/529.
 * - `STUB_PLAIN_429`: a 429 without the `anthropic-ratelimit-unified-*` headers.
 * - `STUB_BROKEN_STREAM`: the SSE body ends after `message_start`; `STUB_ABORT_STREAM`: it is
 *   reset there (Deno prints the reset). A non-streaming request is still answered well, unless
 *   `STUB_BROKEN_JSON`: a truncated JSON body.
 * - `STUB_SLEEP=<ms>`: answer after that many milliseconds.
 * - `STUB_TEXT_INSTEAD`: answer in text although `StructuredOutput` is offered.
 * - `STUB_BAD_SCHEMA`: call `StructuredOutput` with an input that violates its schema.
 * - `JSON{...}`: the structured answer is that object.
 * - `STUB_SAY=<word>`: the text answer is that word.
 */
export function parseMarkers(text: string): StubBehaviour {
  const behaviour: StubBehaviour = {};
  const error = /STUB_ERROR=(\d{3})/.exec(text);
  if (error && Number(error[1]) in ERRORS) behaviour.error = Number(error[1]) as StubErrorStatus;
  if (text.includes("STUB_NO_RETRY")) behaviour.shouldRetry = false;
  else if (/STUB_RETRY\b/.test(text)) behaviour.shouldRetry = true;
  const retryAfter = /STUB_RETRY_AFTER=(\d+)/.exec(text);
  if (retryAfter) behaviour.retryAfterSeconds = Number(retryAfter[1]);
  if (text.includes("STUB_PLAIN_429")) behaviour.plainRateLimit = true;
  if (text.includes("STUB_BROKEN_STREAM")) behaviour.brokenStream = "close";
  if (text.includes("STUB_ABORT_STREAM")) behaviour.brokenStream = "abort";
  if (text.includes("STUB_BROKEN_JSON")) behaviour.brokenJson = true;
  const sleep = /STUB_SLEEP=(\d+)/.exec(text);
  if (sleep) behaviour.sleepMs = Number(sleep[1]);
  if (text.includes("STUB_TEXT_INSTEAD")) behaviour.textInsteadOfTool = true;
  if (text.includes("STUB_BAD_SCHEMA")) behaviour.invalidToolInput = true;
  const structured = jsonAfterMarker(text);
  if (structured) behaviour.structured = structured;
  const say = /STUB_SAY=(\S+)/.exec(text);
  if (say) behaviour.text = say[1];
  return behaviour;
}

/** An object that violates `schema`: every property of the wrong type, plus an unknown one. */
function invalidInput(schema: JsonSchema | undefined): Record<string, unknown> {
  const properties = (schema?.properties ?? {}) as Record<string, JsonSchema>;
  const input: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    const type = property.type;
    input[name] = type === "string" || (Array.isArray(type) && type.includes("string"))
      ? 12345
      : `stub: not a ${String(type ?? "value")}`;
  }
  input.stub_unexpected_property = true;
  return input;
}

/** An object for `schema` made from the prompt's text: each property a value of its type. */
function inputFromPrompt(schema: JsonSchema | undefined, text: string): Record<string, unknown> {
  const properties = (schema?.properties ?? {}) as Record<string, JsonSchema>;
  const names = Object.keys(properties);
  if (names.length === 0) return { answer: `stub: ${text}` };
  const input: Record<string, unknown> = {};
  for (const name of names) {
    const type = properties[name].type;
    input[name] = type === "number" || type === "integer"
      ? text.length
      : type === "boolean"
      ? true
      : type === "array"
      ? [text]
      : type === "object"
      ? {}
      : `stub: ${text}`;
  }
  return input;
}

const encoder = new TextEncoder();

/** One Server-Sent Event. */
const sse = (event: string, data: unknown) =>
  encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A rough token count: 4 characters a token. */
const tokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));

/** Unix seconds, `seconds` from now. */
const epochIn = (seconds: number) => String(Math.floor(Date.now() / 1000) + seconds);

/** The headers of an error answer. */
function errorHeaders(status: StubErrorStatus, behaviour: StubBehaviour): Record<string, string> {
  const headers: Record<string, string> = { "request-id": `req_stub_${crypto.randomUUID()}` };
  if (behaviour.shouldRetry !== undefined) {
    headers["x-should-retry"] = String(behaviour.shouldRetry);
  }
  const retryAfter = behaviour.retryAfterSeconds ?? 1;
  if (status === 429 || status === 529) headers["retry-after"] = String(retryAfter);
  if (status !== 429) return headers;
  const reset = new Date(Date.now() + retryAfter * 1000).toISOString();
  Object.assign(headers, {
    "anthropic-ratelimit-requests-limit": "50",
    "anthropic-ratelimit-requests-remaining": "0",
    "anthropic-ratelimit-requests-reset": reset,
    "anthropic-ratelimit-tokens-limit": "40000",
    "anthropic-ratelimit-tokens-remaining": "0",
    "anthropic-ratelimit-tokens-reset": reset,
  });
  if (behaviour.plainRateLimit) return headers;
  // A subscription's usage limit resets in `STUB_RETRY_AFTER` seconds when given, else in 5 h
  // (not 1 h: that is also the length of a quota pause without a reset time).
  const unifiedReset = epochIn(behaviour.retryAfterSeconds ?? 5 * 3600);
  return Object.assign(headers, {
    "anthropic-ratelimit-unified-status": "rejected",
    "anthropic-ratelimit-unified-reset": unifiedReset,
    "anthropic-ratelimit-unified-representative-claim": "five_hour",
    "anthropic-ratelimit-unified-5h-status": "rejected",
    "anthropic-ratelimit-unified-5h-reset": unifiedReset,
    "anthropic-ratelimit-unified-5h-utilization": "1.0",
    "anthropic-ratelimit-unified-fallback": "unavailable",
  });
}

/** Tokens of `text` without the 1-token floor of {@link tokens}: for parts of a prompt. */
const tokensOfPart = (text: string) => Math.ceil(text.length / 4);

/** The text the stub counts as a request's input: tool definitions, system, messages. */
function inputTextOf(body: MessagesBody): string {
  const system = systemTextOf(body);
  return [
    ...(body.tools ?? []).map(({ cache_control: _, ...tool }) => JSON.stringify(tool)),
    ...(system ? [system] : []),
    ...(body.messages ?? []).map((message) => contentText(message.content)),
  ].join("\n");
}

/**
 * The system block of the Claude CLI's attribution (`x-anthropic-billing-header: cc_version=…`),
 * different with every prompt: for the API a header, not prompt, so it is no part of a cache
 * prefix (else no CLI request would ever read the cache).
 */
const BILLING_HEADER_BLOCK = /^x-anthropic-billing-header:/;

/**
 * The cache prefixes a request marks, shortest first: for each tool or system block that
 * carries `cache_control`, the tools and system blocks up to and including it (the API's prefix
 * order is tools, system, messages). Breakpoints in messages are not simulated.
 */
function cachePrefixes(body: MessagesBody): string[] {
  const system = typeof body.system === "string"
    ? [{ text: body.system, marked: false }]
    : (body.system ?? []).filter((block) => !BILLING_HEADER_BLOCK.test(block.text ?? ""))
      .map((block) => ({ text: block.text ?? "", marked: block.cache_control !== undefined }));
  const parts: { text: string; marked: boolean }[] = [
    ...(body.tools ?? []).map(({ cache_control, ...tool }) => ({
      text: JSON.stringify(tool),
      marked: cache_control !== undefined,
    })),
    ...system,
  ];
  const prefixes: string[] = [];
  parts.forEach((part, index) => {
    if (part.marked) prefixes.push(parts.slice(0, index + 1).map(({ text }) => text).join("\n"));
  });
  return prefixes;
}

/** The SHA-256 of a model's cache prefix, in hex: the key of a cache entry. */
async function cacheKey(model: string | undefined, prefix: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(`${model}\u0000${prefix}`));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** One dimension of {@link StubRateLimit}: a token bucket of `limit` a minute. */
interface Bucket {
  name: "requests" | "input-tokens" | "output-tokens";
  limit: number;
  level: number;
  /** The clock's time of the last refill, in milliseconds. */
  at: number;
}

/** Refills `bucket` for the time since its last refill, up to its capacity. */
function refill(bucket: Bucket, now: number): void {
  bucket.level = Math.min(bucket.limit, bucket.level + (now - bucket.at) * bucket.limit / 60_000);
  bucket.at = now;
}

/** Milliseconds until `amount` fits in `bucket` (0: it fits now; a full minute: it never will). */
function waitMs(bucket: Bucket, amount: number): number {
  if (amount > bucket.limit) return 60_000;
  return amount <= bucket.level ? 0 : Math.ceil((amount - bucket.level) * 60_000 / bucket.limit);
}

/** The `anthropic-ratelimit-<dimension>-*` headers of `buckets`, `reset` when each is full again. */
function rateLimitHeaders(buckets: Bucket[], now: number): Record<string, string> {
  const headers: Record<string, string> = {};
  const fullAt = (bucket: Bucket) =>
    new Date(Date.now() + (bucket.limit - bucket.level) * 60_000 / bucket.limit).toISOString();
  for (const bucket of buckets) {
    refill(bucket, now);
    headers[`anthropic-ratelimit-${bucket.name}-limit`] = String(bucket.limit);
    headers[`anthropic-ratelimit-${bucket.name}-remaining`] = String(Math.floor(bucket.level));
    headers[`anthropic-ratelimit-${bucket.name}-reset`] = fullAt(bucket);
  }
  // `tokens-*`: the most restrictive of the token limits, as the API reports it.
  const tight = buckets.filter((bucket) => bucket.name !== "requests")
    .sort((a, b) => a.level / a.limit - b.level / b.limit)[0];
  if (tight) {
    headers["anthropic-ratelimit-tokens-limit"] = String(tight.limit);
    headers["anthropic-ratelimit-tokens-remaining"] = String(Math.floor(tight.level));
    headers["anthropic-ratelimit-tokens-reset"] = fullAt(tight);
  }
  return headers;
}

/** The SSE events of a whole message (`message`'s content holds one block). */
function messageEvents(message: Record<string, unknown>, block: ContentBlock): Uint8Array[] {
  const usage = message.usage as Record<string, number>;
  const events = [
    sse("message_start", {
      type: "message_start",
      message: {
        ...message,
        content: [],
        stop_reason: null,
        usage: { ...usage, output_tokens: 1 },
      },
    }),
    sse("content_block_start", {
      type: "content_block_start",
      index: 0,
      content_block: block.type === "tool_use"
        ? { ...block, input: {} }
        : { type: "text", text: "" },
    }),
    sse("ping", { type: "ping" }),
  ];
  if (block.type === "tool_use") {
    const json = JSON.stringify(block.input);
    const half = Math.ceil(json.length / 2);
    for (const part of [json.slice(0, half), json.slice(half)]) {
      events.push(sse("content_block_delta", {
        type: "content_block_delta",
        index: 0,
        delta: { type: "input_json_delta", partial_json: part },
      }));
    }
  } else {
    events.push(sse("content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: block.text },
    }));
  }
  events.push(
    sse("content_block_stop", { type: "content_block_stop", index: 0 }),
    sse("message_delta", {
      type: "message_delta",
      delta: { stop_reason: message.stop_reason, stop_sequence: null },
      usage: { output_tokens: usage.output_tokens },
    }),
    sse("message_stop", { type: "message_stop" }),
  );
  return events;
}

/**
 * Starts the stub on 127.0.0.1, on a free port. Point the CLI at it with
 * `ANTHROPIC_BASE_URL=<url>` and `ANTHROPIC_API_KEY` or `CLAUDE_CODE_OAUTH_TOKEN`.
 *
 * A Messages request is answered in text (`stub: <the user's text>`); when it offers a tool
 * named `StructuredOutput`, with a call of that tool (input from `JSON{...}` in the prompt, else
 * built from the tool's schema and the prompt); when it asks for a `json_schema` output format
 * (the session-title request), with that JSON as text. Markers change this: {@link parseMarkers}.
 * `GET /v1/models` answers a one-model list (the Models API's shape: what an API key's cheap
 * probe asks for); `HEAD` and `GET` of any other path answer 200; `.../count_tokens` answers a
 * count; other paths `{}`. With `options.credential`, another key is answered 401.
 */
export function startStubAnthropic(options: StubOptions = {}): StubAnthropic {
  const started = performance.now();
  const requests: StubRequest[] = [];
  let mode = options.mode;
  let modeTimes: number | undefined;
  let seq = 0;
  const controller = new AbortController();
  /** The keys of the cache prefixes written so far (they never expire here). */
  const promptCache = new Set<string>();
  const minCacheTokens = options.minCacheTokens ?? 0;
  const clock = options.clock ?? performance;
  const buckets: Bucket[] = ([
    ["requests", options.rateLimit?.requestsPerMinute],
    ["input-tokens", options.rateLimit?.inputTokensPerMinute],
    ["output-tokens", options.rateLimit?.outputTokensPerMinute],
  ] as const).filter(([, limit]) => limit !== undefined).map(([name, limit]) => ({
    name,
    limit: limit!,
    level: limit!,
    at: clock.now(),
  }));
  let rateLimited = 0;

  /**
   * What the request reads from and writes to the prompt cache, in tokens: the longest marked
   * prefix already cached is read; the longest marked prefix beyond it is written (by `commit`,
   * once the request is answered). Prefixes under `minCacheTokens` are not cached.
   */
  async function lookUpCache(body: MessagesBody) {
    const prefixes: { tokens: number; key: string }[] = [];
    for (const text of cachePrefixes(body)) {
      if (tokensOfPart(text) < minCacheTokens) continue;
      prefixes.push({ tokens: tokensOfPart(text), key: await cacheKey(body.model, text) });
    }
    const hit = prefixes.findLast((prefix) => promptCache.has(prefix.key));
    const longest = prefixes.at(-1);
    const read = hit?.tokens ?? 0;
    return {
      read,
      creation: longest && longest !== hit ? longest.tokens - read : 0,
      commit: () => prefixes.forEach((prefix) => promptCache.add(prefix.key)),
    };
  }

  /**
   * Takes a request of `inputTokens` (input and cache writes) and `maxTokens` from the rate
   * limit's buckets, or answers the 429 the API would; `undefined` when it fits (or no limit).
   */
  function admit(entry: StubRequest, inputTokens: number, maxTokens: number): Response | undefined {
    if (buckets.length === 0) return undefined;
    const now = clock.now();
    const need = { requests: 1, "input-tokens": inputTokens, "output-tokens": maxTokens };
    buckets.forEach((bucket) => refill(bucket, now));
    const waits = buckets.map((bucket) => ({ bucket, ms: waitMs(bucket, need[bucket.name]) }));
    const worst = waits.reduce((a, b) => b.ms > a.ms ? b : a);
    if (worst.ms === 0) {
      for (const bucket of buckets) bucket.level -= need[bucket.name];
      return undefined;
    }
    rateLimited++;
    const retryAfter = Math.max(1, Math.ceil(worst.ms / 1000));
    entry.answer = { status: 429, what: `rate limited (${worst.bucket.name})` };
    const { bucket } = worst;
    const message = need[bucket.name] > bucket.limit
      ? `stub: this request needs ${need[bucket.name]} ${bucket.name}, more than the rate ` +
        `limit of ${bucket.limit} per minute`
      : `stub: this request's ${need[bucket.name]} ${bucket.name} would exceed the rate limit ` +
        `of ${bucket.limit} per minute`;
    return Response.json({ type: "error", error: { type: "rate_limit_error", message } }, {
      status: 429,
      headers: {
        "request-id": `req_stub_${crypto.randomUUID()}`,
        "retry-after": String(retryAfter),
        ...rateLimitHeaders(buckets, now),
      },
    });
  }

  /** Gives back the output tokens a request took at its start (`max_tokens`) but did not use. */
  function settleOutput(maxTokens: number, outputTokens: number): void {
    const bucket = buckets.find((candidate) => candidate.name === "output-tokens");
    if (!bucket) return;
    refill(bucket, clock.now());
    bucket.level = Math.min(bucket.limit, bucket.level + Math.max(0, maxTokens - outputTokens));
  }

  function takeMode(): StubBehaviour {
    const used = mode ?? {};
    if (mode && modeTimes !== undefined && --modeTimes <= 0) {
      mode = undefined;
      modeTimes = undefined;
    }
    return used;
  }

  async function answerMessages(body: MessagesBody, entry: StubRequest): Promise<Response> {
    const cache = await lookUpCache(body);
    const inputTokens = tokens(inputTextOf(body)) - cache.read - cache.creation;
    const maxTokens = body.max_tokens ?? 0;
    const refused = admit(entry, inputTokens + cache.creation, maxTokens);
    if (refused) return refused;
    const userText = lastUserTextOf(body);
    const behaviour: StubBehaviour = { ...takeMode(), ...parseMarkers(userText) };
    if (behaviour.sleepMs) await sleep(behaviour.sleepMs);
    if (behaviour.error) {
      settleOutput(maxTokens, 0);
      const status = behaviour.error;
      const [type, message] = ERRORS[status];
      entry.answer = { status, what: `error ${status}` };
      return Response.json({ type: "error", error: { type, message } }, {
        status,
        headers: errorHeaders(status, behaviour),
      });
    }
    const tool = body.tools?.find((candidate) => candidate.name === "StructuredOutput");
    const schema = outputSchema(body);
    let block: ContentBlock;
    if (tool && !behaviour.textInsteadOfTool) {
      block = {
        type: "tool_use",
        id: `toolu_stub_${crypto.randomUUID().replaceAll("-", "")}`,
        name: tool.name,
        input: behaviour.invalidToolInput
          ? invalidInput(tool.input_schema)
          : behaviour.structured ?? inputFromPrompt(tool.input_schema, userText),
      };
      entry.answer.what = behaviour.invalidToolInput ? "tool_use (invalid)" : "tool_use";
    } else if (schema && !tool) {
      const title = entry.kind === "title" ? { title: "Stub session title" } : undefined;
      const json = behaviour.structured ?? title ?? inputFromPrompt(schema, userText);
      block = { type: "text", text: JSON.stringify(json) };
      entry.answer.what = "json text";
    } else {
      block = { type: "text", text: behaviour.text ?? `stub: ${userText}` };
      entry.answer.what = tool ? "text (tool offered)" : "text";
    }
    const isTool = block.type === "tool_use";
    const outputTokens = tokens(isTool ? JSON.stringify(block.input) : block.text ?? "");
    settleOutput(maxTokens, outputTokens);
    cache.commit();
    const message = {
      id: `msg_stub_${entry.seq}`,
      type: "message",
      role: "assistant",
      model: body.model ?? "claude-stub",
      content: [block],
      stop_reason: isTool ? "tool_use" : "end_turn",
      stop_sequence: null,
      usage: {
        input_tokens: inputTokens,
        output_tokens: outputTokens,
        cache_creation_input_tokens: cache.creation,
        cache_read_input_tokens: cache.read,
      },
    };
    const headers = {
      "request-id": `req_stub_${crypto.randomUUID()}`,
      "anthropic-ratelimit-unified-status": "allowed",
      "anthropic-ratelimit-unified-reset": epochIn(3600),
      ...(buckets.length > 0 ? rateLimitHeaders(buckets, clock.now()) : {}),
    };
    if (!body.stream) {
      if (behaviour.brokenJson) {
        entry.answer.what = "broken JSON";
        return new Response('{"id":"msg_stub","type":"mess', {
          headers: { ...headers, "content-type": "application/json" },
        });
      }
      return Response.json(message, { headers });
    }
    const broken = behaviour.brokenStream;
    if (broken) entry.answer.what = `broken stream (${broken})`;
    const events = messageEvents(message, block);
    const stream = new ReadableStream<Uint8Array>({
      async start(stream) {
        if (broken) {
          stream.enqueue(events[0]);
          await sleep(10);
          if (broken === "abort") stream.error(new Error("stub: stream reset on purpose"));
          else stream.close();
          return;
        }
        for (const event of events) stream.enqueue(event);
        stream.close();
      },
    });
    return new Response(stream, {
      headers: { ...headers, "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  }

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      const all: Record<string, string> = {};
      request.headers.forEach((value, name) => (all[name] = value));
      const authorization = request.headers.get("authorization");
      const entry: StubRequest = {
        seq: ++seq,
        at: Math.round(performance.now() - started),
        method: request.method,
        path: url.pathname,
        query: url.search,
        kind: "other",
        headers: {
          authorization: authorization !== null,
          bearer: authorization?.replace(/^Bearer\s+/i, "") ?? null,
          apiKey: request.headers.has("x-api-key"),
          apiKeyValue: request.headers.get("x-api-key"),
          anthropicBeta: request.headers.get("anthropic-beta"),
          anthropicVersion: request.headers.get("anthropic-version"),
          shouldRetry: request.headers.get("x-should-retry"),
          userAgent: request.headers.get("user-agent"),
          xApp: request.headers.get("x-app"),
          retryCount: request.headers.get("x-stainless-retry-count"),
          all,
        },
        body: undefined,
        answer: { status: 200, what: "" },
      };
      if (request.method !== "GET" && request.method !== "HEAD") {
        const raw = await request.text().catch(() => "");
        try {
          entry.body = raw ? JSON.parse(raw) : undefined;
        } catch {
          entry.rawBody = raw.slice(0, 2000);
        }
      }
      const isMessages = request.method === "POST" && url.pathname === "/v1/messages";
      if (isMessages) entry.kind = messagesKind(entry.body);
      requests.push(entry);
      if (options.verbose) {
        console.error(
          `stub: #${entry.seq} ${entry.method} ${entry.path}${entry.query} ${entry.kind}`,
        );
      }
      const credential = entry.headers.apiKeyValue ?? entry.headers.bearer;
      if (options.credential !== undefined && credential !== options.credential) {
        entry.answer = { status: 401, what: "error 401 (wrong key)" };
        const [type, message] = ERRORS[401];
        return Response.json({ type: "error", error: { type, message } }, { status: 401 });
      }
      if (request.method === "GET" && url.pathname === "/v1/models") {
        entry.answer.what = "model list";
        const model = {
          type: "model",
          id: "claude-stub",
          display_name: "Claude Stub",
          created_at: "2026-01-01T00:00:00Z",
        };
        return Response.json({
          data: [model],
          has_more: false,
          first_id: model.id,
          last_id: model.id,
        });
      }
      if (request.method === "HEAD" || request.method === "GET") {
        entry.answer.what = "connectivity check";
        return request.method === "HEAD" ? new Response(null) : Response.json({});
      }
      if (isMessages && entry.body) return await answerMessages(entry.body, entry);
      if (url.pathname.endsWith("/count_tokens")) {
        entry.answer.what = "token count";
        return Response.json({ input_tokens: tokens(JSON.stringify(entry.body ?? "")) });
      }
      entry.answer.what = "harmless {}";
      return Response.json({});
    },
  );

  const systemText = (request: StubRequest) => systemTextOf(request.body);
  const isMessages = (request: StubRequest) => request.kind !== "other";
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    setMode(behaviour, setOptions) {
      mode = behaviour;
      modeTimes = setOptions?.times;
    },
    messageRequests: () => requests.filter(isMessages),
    jobRequests: () => requests.filter((request) => request.kind === "job"),
    otherRequests: () => requests.filter((request) => !isMessages(request)),
    systemText,
    requestText: (request) =>
      [systemText(request), ...(request.body?.messages ?? []).map((m) => contentText(m.content))]
        .join("\n"),
    lastUserText: (request) => lastUserTextOf(request.body),
    clear: () => void requests.splice(0),
    get rateLimited() {
      return rateLimited;
    },
    async [Symbol.asyncDispose]() {
      controller.abort();
      await server.finished.catch(() => {});
    },
  };
}
