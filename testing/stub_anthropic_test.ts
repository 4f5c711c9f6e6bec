/** The real Claude CLI against the Anthropic stub: proves the stub speaks what the CLI expects. */

import { reportSkipped } from "./command.ts";
import { strict as assert } from "node:assert";
import { createFakeClock } from "./fake_clock.ts";
import { findRealClaudeCli, realClaudeCliMissing } from "./real_claude.ts";
import { type MessagesBody, startStubAnthropic, type StubAnthropic } from "./stub_anthropic.ts";

const cli = await findRealClaudeCli();
const ignore = cli === undefined;
if (ignore) reportSkipped(`the real Claude CLI is not available (${realClaudeCliMissing})`);

/** How the CLI logs in: a subscription token (`Authorization: Bearer`) or an API key. */
type Login = "oauth" | "api-key";

/** The CLI's whole environment: a fresh HOME, the stub as API, a login, no traffic elsewhere. */
function cliEnv(stub: StubAnthropic, home: string, login: Login, extra: Record<string, string>) {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    ANTHROPIC_BASE_URL: stub.url,
    ...(login === "oauth"
      ? { CLAUDE_CODE_OAUTH_TOKEN: "test-token" }
      : { ANTHROPIC_API_KEY: "sk-test" }),
    // Without it the CLI also calls api.anthropic.com (flags, telemetry) and HEADs the base URL.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    ...extra,
  };
}

/** Kills the CLI's process group, if it is still there. */
function killGroup(child: Deno.ChildProcess) {
  try {
    Deno.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** The CLI's flags for one job: JSON out, no tools, no session file. */
const PRINT_ARGS = ["-p", "--output-format", "json", "--tools", "", "--no-session-persistence"];

/**
 * Runs `claude -p` once in a temp HOME (its cwd too) with `prompt` on stdin, killed after 60 s;
 * returns its exit code and parsed JSON output. The HOME is removed afterwards.
 */
async function runPrint(
  stub: StubAnthropic,
  options: { args?: string[]; prompt: string; login?: Login; env?: Record<string, string> },
): Promise<{ code: number; output: Record<string, unknown>; stderr: string }> {
  const home = await Deno.makeTempDir({ prefix: "stub-anthropic-test-home-" });
  const child = new Deno.Command(cli!.path, {
    args: [...PRINT_ARGS, ...options.args ?? []],
    cwd: home,
    env: cliEnv(stub, home, options.login ?? "oauth", options.env ?? {}),
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  const timer = setTimeout(() => killGroup(child), 60_000);
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.prompt));
    await writer.close();
    const { code, stdout, stderr } = await child.output();
    const text = new TextDecoder().decode(stdout).trim();
    const errors = new TextDecoder().decode(stderr);
    assert.ok(text.startsWith("{"), `the CLI printed no JSON (exit ${code}): ${text} ${errors}`);
    return { code, output: JSON.parse(text), stderr: errors };
  } finally {
    clearTimeout(timer);
    killGroup(child);
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name: "real CLI + stub: a prompt on stdin is answered as `result` (exit 0), in one Messages " +
    "request carrying the OAuth token as a bearer token",
  ignore,
}, async () => {
  await using stub = startStubAnthropic();
  const { code, output } = await runPrint(stub, { prompt: "Say hello MARK_TEXT" });
  assert.equal(code, 0);
  assert.equal(output.type, "result");
  assert.equal(output.subtype, "success");
  assert.equal(output.is_error, false);
  assert.equal(output.result, "stub: Say hello MARK_TEXT");
  assert.equal(output.stop_reason, "end_turn");
  const [request, ...more] = stub.messageRequests();
  assert.equal(more.length, 0);
  assert.equal(stub.otherRequests().length, 0);
  assert.equal(request.kind, "job");
  assert.equal(request.body?.stream, true);
  assert.equal(request.headers.bearer, "test-token");
  assert.equal(request.headers.apiKey, false);
  assert.equal(stub.lastUserText(request), "Say hello MARK_TEXT");
  assert.ok(stub.systemText(request).length > 1000, "the default system prompt is sent");
});

Deno.test({
  name: "real CLI + stub: with --json-schema the StructuredOutput tool call comes back as " +
    "`structured_output` (and as JSON text in `result`), in one Messages request",
  ignore,
}, async () => {
  await using stub = startStubAnthropic();
  const schema = {
    type: "object",
    properties: { name: { type: "string" }, n: { type: "integer" } },
    required: ["name", "n"],
    additionalProperties: false,
  };
  const { code, output } = await runPrint(stub, {
    args: ["--json-schema", JSON.stringify(schema), "--system-prompt", "Be brief."],
    prompt: 'Give me JSON{"name":"Ada","n":3}',
  });
  assert.equal(code, 0);
  assert.equal(output.subtype, "success");
  assert.equal(output.is_error, false);
  assert.deepEqual(output.structured_output, { name: "Ada", n: 3 });
  assert.deepEqual(JSON.parse(output.result as string), { name: "Ada", n: 3 });
  const [request, ...more] = stub.messageRequests();
  assert.equal(more.length, 0);
  const tool = request.body?.tools?.find((candidate) => candidate.name === "StructuredOutput");
  assert.deepEqual(tool?.input_schema, schema);
  assert.match(stub.systemText(request), /Be brief\.$/);
});

Deno.test({
  name: "real CLI + stub: the CLI marks its system prompt cache_control; the stub's cache write, " +
    "then read, come back apart in the CLI's usage, and the CLI prices the job",
  ignore,
}, async () => {
  await using stub = startStubAnthropic();
  const args = ["--system-prompt", "You extract products from pages. ".repeat(20)];
  const first = await runPrint(stub, { args, prompt: "page one" });
  const second = await runPrint(stub, { args, prompt: "page two" });
  const [request] = stub.messageRequests();
  assert.ok(JSON.stringify(request.body?.system).includes('"cache_control"'));
  const usage = (output: Record<string, unknown>) =>
    output.usage as Record<
      "input_tokens" | "cache_creation_input_tokens" | "cache_read_input_tokens",
      number
    >;
  assert.ok(usage(first.output).cache_creation_input_tokens > 0);
  assert.equal(usage(first.output).cache_read_input_tokens, 0);
  assert.equal(usage(second.output).cache_creation_input_tokens, 0);
  assert.equal(
    usage(second.output).cache_read_input_tokens,
    usage(first.output).cache_creation_input_tokens,
  );
  assert.ok(usage(second.output).input_tokens > 0);
  // A cache read costs less than a cache write.
  assert.ok((second.output.total_cost_usd as number) < (first.output.total_cost_usd as number));
});

Deno.test({
  name: "real CLI + stub: API key, 401 with CLAUDE_CODE_MAX_RETRIES=0: exactly one request " +
    "(x-api-key), exit 1, is_error with api_error_status 401",
  ignore,
}, async () => {
  await using stub = startStubAnthropic({ mode: { error: 401 } });
  const { code, output } = await runPrint(stub, {
    prompt: "hello",
    login: "api-key",
    env: { CLAUDE_CODE_MAX_RETRIES: "0" },
  });
  assert.equal(code, 1);
  assert.equal(output.is_error, true);
  assert.equal(output.api_error_status, 401);
  assert.equal(typeof output.result, "string");
  const requests = stub.messageRequests();
  assert.equal(requests.length, 1);
  assert.equal(requests[0].headers.apiKeyValue, "sk-test");
  assert.equal(requests[0].headers.authorization, false);
  assert.equal(requests[0].answer.status, 401);
});

Deno.test({
  name: "real CLI + stub: OAuth token, 401 (marker STUB_ERROR=401) with " +
    "CLAUDE_CODE_MAX_RETRIES=0: api_error_status 401 after at most two requests",
  ignore,
}, async () => {
  await using stub = startStubAnthropic();
  const { code, output } = await runPrint(stub, {
    prompt: "hello STUB_ERROR=401",
    env: { CLAUDE_CODE_MAX_RETRIES: "0" },
  });
  assert.equal(code, 1);
  assert.equal(output.is_error, true);
  assert.equal(output.api_error_status, 401);
  const requests = stub.messageRequests();
  assert.ok(requests.length >= 1 && requests.length <= 2, `${requests.length} requests`);
  assert.ok(requests.every((request) => request.answer.status === 401));
});

/** Reads JSON lines from the CLI's stdout. */
class JsonLines {
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  constructor(stdout: ReadableStream<Uint8Array>) {
    this.#reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  }
  /** The next line whose `type` is "result"; throws after `ms` or at the end of the output. */
  async nextResult(ms: number): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const newline = this.#buffer.indexOf("\n");
      if (newline >= 0) {
        const line = this.#buffer.slice(0, newline).trim();
        this.#buffer = this.#buffer.slice(newline + 1);
        const parsed = line ? JSON.parse(line) : undefined;
        if (parsed?.type === "result") return parsed;
        continue;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("no result line in time")),
          deadline - Date.now(),
        );
      });
      try {
        const { value, done } = await Promise.race([this.#reader.read(), timeout]);
        if (done) throw new Error("the CLI's output ended before a result line");
        this.#buffer += value;
      } finally {
        clearTimeout(timer);
      }
    }
  }
  async cancel() {
    await this.#reader.cancel().catch(() => {});
  }
}

Deno.test({
  name: "real CLI + stub: stream-json warm process: each job ends with a result line; `/clear` " +
    "answers a result line (local_command clear) without a request, and the next job's request " +
    "holds nothing of the job before",
  ignore,
}, async () => {
  await using stub = startStubAnthropic();
  const home = await Deno.makeTempDir({ prefix: "stub-anthropic-test-home-" });
  const child = new Deno.Command(cli!.path, {
    args: [
      "-p",
      "--input-format",
      "stream-json",
      "--output-format",
      "stream-json",
      "--verbose",
      "--tools",
      "",
      "--no-session-persistence",
    ],
    cwd: home,
    env: cliEnv(stub, home, "oauth", {}),
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    detached: true,
  }).spawn();
  const lines = new JsonLines(child.stdout);
  const writer = child.stdin.getWriter();
  const send = (content: string) =>
    writer.write(
      new TextEncoder().encode(
        JSON.stringify({ type: "user", message: { role: "user", content } }) + "\n",
      ),
    );
  try {
    await send("first job MARK_ONE");
    const first = await lines.nextResult(30_000);
    assert.equal(first.result, "stub: first job MARK_ONE");
    assert.equal(first.is_error, false);
    const before = stub.requests.length;
    await send("/clear");
    const cleared = await lines.nextResult(30_000);
    assert.equal(cleared.local_command, "clear");
    assert.equal(cleared.result, "");
    assert.equal(stub.requests.length, before, "/clear makes no request");
    await send("second job MARK_TWO");
    const second = await lines.nextResult(30_000);
    assert.equal(second.result, "stub: second job MARK_TWO");
    const last = stub.messageRequests().at(-1)!;
    assert.equal(stub.lastUserText(last), "second job MARK_TWO");
    assert.ok(!stub.requestText(last).includes("MARK_ONE"), "the first job was cleared");
    assert.equal(stub.messageRequests().length, 2);
  } finally {
    await writer.close().catch(() => {});
    killGroup(child);
    await lines.cancel();
    await child.status;
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

/** Posts `body` to the stub's Messages API; returns the status, headers and parsed JSON body. */
async function postMessages(stub: StubAnthropic, body: MessagesBody) {
  const response = await fetch(`${stub.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": "sk-test" },
    body: JSON.stringify({ model: "claude-stub", max_tokens: 100, ...body }),
  });
  return { status: response.status, headers: response.headers, json: await response.json() };
}

/** 4 characters a token, as the stub counts. */
const tokensOf = (text: string) => Math.ceil(text.length / 4);

const user = (text: string) => [{ role: "user", content: text }];

Deno.test("stub usage: always the four counts, the cache's 0 when nothing is marked", async () => {
  await using stub = startStubAnthropic();
  const { json } = await postMessages(stub, { system: "Be brief.", messages: user("hello") });
  assert.deepEqual(Object.keys(json.usage).sort(), [
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "input_tokens",
    "output_tokens",
  ]);
  assert.equal(json.usage.input_tokens, tokensOf("Be brief.\nhello"));
  assert.equal(json.usage.cache_creation_input_tokens, 0);
  assert.equal(json.usage.cache_read_input_tokens, 0);
});

Deno.test("stub prompt cache: a marked system prefix is written once (its tokens), then read; the rest is input", async () => {
  await using stub = startStubAnthropic();
  const prefix = "You extract products. ".repeat(10);
  const system = [
    { type: "text", text: prefix, cache_control: { type: "ephemeral" } },
    { type: "text", text: "Today is Monday." },
  ];
  const whole = tokensOf(`${prefix}\nToday is Monday.\npage one`);
  const first = (await postMessages(stub, { system, messages: user("page one") })).json.usage;
  assert.deepEqual(first, {
    input_tokens: whole - tokensOf(prefix),
    output_tokens: first.output_tokens,
    cache_creation_input_tokens: tokensOf(prefix),
    cache_read_input_tokens: 0,
  });
  const second = (await postMessages(stub, { system, messages: user("page one") })).json.usage;
  assert.equal(second.cache_creation_input_tokens, 0);
  assert.equal(second.cache_read_input_tokens, tokensOf(prefix));
  assert.equal(second.input_tokens, first.input_tokens);
  // Another model has a cache of its own; another prefix is written anew.
  const otherModel = await postMessages(stub, {
    model: "claude-other",
    system,
    messages: user("page one"),
  });
  assert.equal(otherModel.json.usage.cache_creation_input_tokens, tokensOf(prefix));
  const otherPrefix = await postMessages(stub, {
    system: [{ ...system[0], text: `${prefix}!` }],
    messages: user("page one"),
  });
  assert.equal(otherPrefix.json.usage.cache_read_input_tokens, 0);
  assert.equal(otherPrefix.json.usage.cache_creation_input_tokens, tokensOf(`${prefix}!`));
});

Deno.test("stub prompt cache: tools come before the system prompt; a longer marked prefix reads the shorter one and writes the rest", async () => {
  await using stub = startStubAnthropic();
  const tool = { name: "StructuredOutput", input_schema: { type: "object" } };
  const toolText = JSON.stringify(tool);
  const tools = [{ ...tool, cache_control: { type: "ephemeral" } }];
  const first = (await postMessages(stub, { tools, system: "Be brief.", messages: user("x") }))
    .json.usage;
  assert.equal(first.cache_creation_input_tokens, tokensOf(toolText));
  const system = [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }];
  const second = (await postMessages(stub, { tools, system, messages: user("x") })).json.usage;
  assert.equal(second.cache_read_input_tokens, tokensOf(toolText));
  assert.equal(
    second.cache_creation_input_tokens,
    tokensOf(`${toolText}\nBe brief.`) - tokensOf(toolText),
  );
});

Deno.test("stub prompt cache: a marked prefix under minCacheTokens is not cached", async () => {
  await using stub = startStubAnthropic({ minCacheTokens: 1024 });
  const system = [{ type: "text", text: "short", cache_control: { type: "ephemeral" } }];
  for (let i = 0; i < 2; i++) {
    const { usage } = (await postMessages(stub, { system, messages: user("x") })).json;
    assert.equal(usage.cache_creation_input_tokens, 0);
    assert.equal(usage.cache_read_input_tokens, 0);
    assert.equal(usage.input_tokens, tokensOf("short\nx"));
  }
});

Deno.test("stub STUB_ERROR=402: billing_error, the credit-balance message", async () => {
  await using stub = startStubAnthropic();
  const { status, json } = await postMessages(stub, { messages: user("hi STUB_ERROR=402") });
  assert.equal(status, 402);
  assert.deepEqual(json, {
    type: "error",
    error: {
      type: "billing_error",
      message: "stub: your credit balance is too low to access the Anthropic API",
    },
  });
});

Deno.test("stub rate limit, requests: a bucket of requestsPerMinute refilled continuously; a request that does not fit is a 429 with retry-after and the rate-limit headers", async () => {
  const clock = createFakeClock(1_000);
  await using stub = startStubAnthropic({ rateLimit: { requestsPerMinute: 2 }, clock });
  assert.equal((await postMessages(stub, { messages: user("a") })).status, 200);
  const second = await postMessages(stub, { messages: user("b") });
  assert.equal(second.status, 200);
  assert.equal(second.headers.get("anthropic-ratelimit-requests-limit"), "2");
  assert.equal(second.headers.get("anthropic-ratelimit-requests-remaining"), "0");
  const refused = await postMessages(stub, { messages: user("c") });
  assert.equal(refused.status, 429);
  assert.equal(refused.json.error.type, "rate_limit_error");
  // One request comes back every 30 s.
  assert.equal(refused.headers.get("retry-after"), "30");
  assert.equal(refused.headers.get("anthropic-ratelimit-requests-remaining"), "0");
  assert.ok(Date.parse(refused.headers.get("anthropic-ratelimit-requests-reset")!) > Date.now());
  assert.equal(refused.headers.get("anthropic-ratelimit-unified-status"), null);
  assert.equal(stub.rateLimited, 1);
  clock.tick(29_999);
  assert.equal((await postMessages(stub, { messages: user("d") })).status, 429);
  clock.tick(1);
  assert.equal((await postMessages(stub, { messages: user("e") })).status, 200);
  assert.equal(stub.rateLimited, 2);
  assert.deepEqual(stub.messageRequests().map((request) => request.answer.status), [
    200,
    200,
    429,
    429,
    200,
  ]);
});

Deno.test("stub rate limit, input tokens: input and cache writes count, cache reads do not", async () => {
  const clock = createFakeClock();
  const prefix = "x".repeat(400); // 100 tokens
  const system = [{ type: "text", text: prefix, cache_control: { type: "ephemeral" } }];
  await using stub = startStubAnthropic({ rateLimit: { inputTokensPerMinute: 150 }, clock });
  // 100 written to the cache + 1 input ("\nq" is 1 token of the 101 in all).
  const first = await postMessages(stub, { system, messages: user("q") });
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("anthropic-ratelimit-input-tokens-remaining"), "49");
  // Read from the cache: only its 1 input token is taken.
  const read = await postMessages(stub, { system, messages: user("q") });
  assert.equal(read.status, 200);
  assert.equal(read.json.usage.cache_read_input_tokens, 100);
  assert.equal(read.headers.get("anthropic-ratelimit-input-tokens-remaining"), "48");
  // 60 tokens of plain input do not fit in 48: 12 more come back in 12 × 400 ms.
  const big = await postMessages(stub, { messages: user("y".repeat(240)) });
  assert.equal(big.status, 429);
  assert.equal(big.headers.get("retry-after"), "5");
  assert.equal(stub.rateLimited, 1);
});

Deno.test("stub rate limit, output tokens: max_tokens is taken at the start and what was not used given back; more than the limit never fits", async () => {
  const clock = createFakeClock();
  await using stub = startStubAnthropic({ rateLimit: { outputTokensPerMinute: 1000 }, clock });
  const first = await postMessages(stub, { max_tokens: 800, messages: user("hello") });
  assert.equal(first.status, 200);
  const used = first.json.usage.output_tokens;
  assert.equal(
    first.headers.get("anthropic-ratelimit-output-tokens-remaining"),
    String(1000 - used),
  );
  // Had the 800 not come back, this one would not fit.
  assert.equal((await postMessages(stub, { max_tokens: 800, messages: user("hi") })).status, 200);
  const tooBig = await postMessages(stub, { max_tokens: 1001, messages: user("hi") });
  assert.equal(tooBig.status, 429);
  assert.match(tooBig.json.error.message, /needs 1001 output-tokens, more than the rate limit/);
  assert.equal(tooBig.headers.get("retry-after"), "60");
  assert.equal(stub.rateLimited, 1);
});

Deno.test("stub rate limit: none set, no 429 and no rate-limit headers but the subscription's", async () => {
  await using stub = startStubAnthropic();
  for (let i = 0; i < 20; i++) {
    const { status, headers } = await postMessages(stub, { messages: user(`job ${i}`) });
    assert.equal(status, 200);
    assert.equal(headers.get("anthropic-ratelimit-requests-limit"), null);
  }
  assert.equal(stub.rateLimited, 0);
});
