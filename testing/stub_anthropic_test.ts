/** The real Claude CLI against the Anthropic stub: proves the stub speaks what the CLI expects. */

import { reportSkipped } from "./command.ts";
import { strict as assert } from "node:assert";
import { findRealClaudeCli, realClaudeCliMissing } from "./real_claude.ts";
import { startStubAnthropic, type StubAnthropic } from "./stub_anthropic.ts";

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
