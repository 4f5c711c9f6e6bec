import { strict as assert } from "node:assert";
import { delay } from "../../async/mod.ts";
import { type Config, parseConfig } from "../../config/config.ts";
import { LlmError } from "../../providers/errors.ts";
import type { ProviderDefinition } from "../../providers/provider.ts";
import { CONFIG_SCHEMA, providerNamed } from "../../providers/registry.ts";
import { waitUntil } from "../../testing/wait.ts";
import { createLlmRunner, prepareJob, primaryTarget, withSystemPrompt } from "./runner.ts";

Deno.test("LLM_SYSTEM_PROMPT goes first when the job has no system message, and never replaces the job's own", () => {
  const user = { role: "user" as const, content: "hi" };
  assert.deepEqual(withSystemPrompt([user], "Be brief."), [
    { role: "system", content: "Be brief." },
    user,
  ]);
  const own = [{ role: "system" as const, content: "Answer in French." }, user];
  assert.deepEqual(withSystemPrompt(own, "Be brief."), own);
  assert.deepEqual(withSystemPrompt([user], undefined), [user]);
});

/** The echo provider, made to hand each request's signal to `seen` while a test runs. */
function spyOnEchoSignals(seen: AbortSignal[]): Disposable {
  const definition = providerNamed("echo")! as { create: ProviderDefinition["create"] };
  const create = definition.create;
  definition.create = (context) => {
    const client = create(context);
    return {
      ...client,
      call: (request) => {
        seen.push(request.signal);
        return client.call(request);
      },
    };
  };
  return { [Symbol.dispose]: () => void (definition.create = create) };
}

/** An echo configuration with `LLM_TIMEOUT` of `timeoutMs` (below its 1 s floor, for a short test). */
function echoConfig(timeoutMs: number, env: Record<string, string> = {}): Config {
  const parsed = parseConfig({}, { LLM_PROVIDER: "echo", ...env }, CONFIG_SCHEMA);
  if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
  return { ...parsed.config, llmTimeoutMs: timeoutMs };
}

async function runEcho(config: Config, signal = new AbortController().signal) {
  const runner = createLlmRunner({ config, subprocessEnv: {} });
  try {
    const prepared = prepareJob({ prompt: "hi" }, config);
    return await runner.run(prepared, primaryTarget(prepared, config), "llm", signal);
  } finally {
    await runner.close();
  }
}

Deno.test("a finished call lets go of its LLM_TIMEOUT deadline: the signal its provider had is not aborted when the deadline passes later, nor when the worker drains", async () => {
  const seen: AbortSignal[] = [];
  using _spy = spyOnEchoSignals(seen);
  const drain = new AbortController();
  const outcome = await runEcho(echoConfig(50), drain.signal);
  assert.equal(outcome.kind, "result");
  assert.equal(seen.length, 1);
  await delay(250); // five deadlines
  drain.abort(new Error("draining"));
  assert.equal(seen[0].aborted, false, `aborted after its call ended: ${seen[0].reason}`);
});

Deno.test("a call that outlasts LLM_TIMEOUT is aborted and fails as timed out; one cut by the drain fails with the drain's reason", async () => {
  const seen: AbortSignal[] = [];
  using _spy = spyOnEchoSignals(seen);
  await assert.rejects(
    runEcho(echoConfig(50, { ECHO_LATENCY: "60s" })),
    (error: Error) =>
      error instanceof LlmError && /timed out after 0\.05 s \(LLM_TIMEOUT\)/.test(error.message),
  );
  assert.equal((seen[0].reason as DOMException).name, "TimeoutError");
  const drain = new AbortController();
  const running = runEcho(echoConfig(60_000, { ECHO_LATENCY: "60s" }), drain.signal);
  await waitUntil(() => seen.length === 2, { what: "the second call to start" });
  drain.abort(new Error("draining"));
  await assert.rejects(running, /draining/);
});
