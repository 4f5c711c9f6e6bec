/**
 * Every registered provider through the same contract, the way a worker calls it, against stub
 * servers that follow the real APIs (the Claude CLI only when it is installed): a plain prompt,
 * a JSON Schema, an auth failure, a quota, a server error, an overloaded server, a billing
 * error, a timeout, and the cheap probe. A failure a provider cannot meet (echo has no login)
 * it declares, and the test checks that.
 */

import { strict as assert } from "node:assert";
import { deadline } from "../async/mod.ts";
import { type Config, parseConfig } from "../config/config.ts";
import { createLlmRunner, prepareJob, primaryTarget } from "../jobs/llm/runner.ts";
import { startStubAnthropic } from "../testing/stub_anthropic.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { findRealClaudeCli } from "../testing/real_claude.ts";
import { waitUntil } from "../testing/wait.ts";
import { claudeCliEnv } from "./claude_cli/env.ts";
import { LlmError } from "./errors.ts";
import { liveProcessGroups } from "./process_groups.ts";
import type { ProviderDefinition } from "./provider.ts";
import { CONFIG_SCHEMA, PROVIDERS } from "./registry.ts";

/** What one provider talks to in the test, and how to make it answer each way. */
interface Harness extends AsyncDisposable {
  /** ppr-worker's environment for the provider (its own settings), logged in. */
  env: Record<string, string>;
  /** The same, logged out (a refused key, no login): its probe must say so. */
  loggedOutEnv?: Record<string, string>;
  /**
   * Prompts its server answers with an auth error, a quota error (429), a server error (5xx);
   * none where the provider cannot meet that failure.
   */
  authPrompt?: string;
  quotaPrompt?: string;
  serverErrorPrompt?: string;
  /** Prompts its server answers as overloaded (529, 503) and as an account that cannot pay. */
  overloadedPrompt?: string;
  billingPrompt?: string;
  /** The `retry-after` its server sends with an overloaded answer, when the provider sees it. */
  overloadedRetryAfterMs?: number;
  /** A job answered only long after the call's deadline (`LLM_TIMEOUT` 1 s), and its settings. */
  slow: { prompt: string; env?: Record<string, string> };
  /** How many requests that spend tokens (a model call) its server has received. */
  paidRequests(): number;
}

/** One way to run a provider (`claude` has three: the API, the CLI cold and warm). */
interface Fixture {
  provider: string;
  label: string;
  /** Why it is skipped here, when it is. */
  skip?: string;
  start(): Promise<Harness>;
}

const realCli = await findRealClaudeCli();
const noCli = realCli ? undefined : "the real Claude CLI is not installed";

/** The Claude API through the official SDK, against the stub Messages API that checks the key. */
const claudeApi: Fixture = {
  provider: "claude",
  label: "claude (API)",
  start() {
    const stub = startStubAnthropic({ credential: "sk-ant-test" });
    return Promise.resolve({
      env: { ANTHROPIC_API_KEY: "sk-ant-test", ANTHROPIC_BASE_URL: stub.url },
      loggedOutEnv: { ANTHROPIC_API_KEY: "sk-ant-revoked", ANTHROPIC_BASE_URL: stub.url },
      authPrompt: "STUB_ERROR=401",
      quotaPrompt: "STUB_ERROR=429 STUB_RETRY_AFTER=7",
      serverErrorPrompt: "STUB_ERROR=500",
      overloadedPrompt: "STUB_ERROR=529",
      billingPrompt: "STUB_ERROR=402",
      overloadedRetryAfterMs: 1000,
      slow: { prompt: "STUB_SLEEP=30000" },
      paidRequests: () => stub.messageRequests().length,
      [Symbol.asyncDispose]: () => stub[Symbol.asyncDispose](),
    });
  },
};

/** The real Claude CLI, logged in with an OAuth token as a subscription is, against the stub. */
function claudeCli(mode: "cold" | "warm"): Fixture {
  return {
    provider: "claude",
    label: `claude (CLI, ${mode})`,
    skip: noCli,
    async start() {
      const stub = startStubAnthropic();
      const home = await Deno.makeTempDir({ prefix: "ppr-conformance-home-" });
      const env = {
        CLAUDE_CLI: realCli!.path,
        CLAUDE_CLI_MODE: mode,
        ANTHROPIC_BASE_URL: stub.url,
        HOME: home,
      };
      return {
        env: { ...env, CLAUDE_CODE_OAUTH_TOKEN: "test-oauth-token" },
        loggedOutEnv: env,
        authPrompt: "STUB_ERROR=401",
        quotaPrompt: "STUB_ERROR=429 STUB_RETRY_AFTER=7",
        serverErrorPrompt: "STUB_ERROR=500",
        // The CLI reports the status and error type, not the retry-after.
        overloadedPrompt: "STUB_ERROR=529",
        billingPrompt: "STUB_ERROR=402",
        slow: { prompt: "STUB_SLEEP=30000" },
        paidRequests: () => stub.messageRequests().length,
        async [Symbol.asyncDispose]() {
          await stub[Symbol.asyncDispose]();
          await Deno.remove(home, { recursive: true }).catch(() => {});
        },
      };
    },
  };
}

/**
 * A provider that speaks Chat Completions (`openai`, and any provider built on it) through the
 * official SDK, against the stub OpenAI-compatible server; `keyVariable` and `urlVariable` are
 * its settings' variables.
 */
function chatCompletions(provider: string, keyVariable: string, urlVariable: string): Fixture {
  return {
    provider,
    label: provider,
    start() {
      const stub = startStubLlm();
      const url = `${stub.url}/v1`;
      return Promise.resolve({
        env: { [keyVariable]: "sk-test", [urlVariable]: url },
        loggedOutEnv: { [keyVariable]: "bad-key", [urlVariable]: url },
        authPrompt: "AUTH",
        quotaPrompt: "QUOTA",
        serverErrorPrompt: "FAIL",
        overloadedPrompt: "OVERLOADED",
        billingPrompt: "BILLING",
        overloadedRetryAfterMs: 1000,
        slow: { prompt: "SLEEP30000" },
        paidRequests: () =>
          stub.requests.filter((request) => !request.path.endsWith("/models")).length,
        [Symbol.asyncDispose]: () => stub[Symbol.asyncDispose](),
      });
    },
  };
}

/** Echo calls nothing: no login, no limits, no server to fail; it can only be slow. */
const echo: Fixture = {
  provider: "echo",
  label: "echo",
  start: () =>
    Promise.resolve({
      env: {},
      slow: { prompt: "slow", env: { ECHO_LATENCY: "30s" } },
      paidRequests: () => 0,
      [Symbol.asyncDispose]: () => Promise.resolve(),
    }),
};

/** Every way each provider runs. A provider added to the registry needs its fixture here. */
const FIXTURES: readonly Fixture[] = [
  claudeApi,
  claudeCli("cold"),
  claudeCli("warm"),
  chatCompletions("openai", "OPENAI_API_KEY", "OPENAI_BASE_URL"),
  echo,
];

/** The configuration ppr-worker makes of `env` with `provider` as `LLM_PROVIDER`. */
function configOf(provider: string, env: Record<string, string>): Config {
  const result = parseConfig({}, { LLM_PROVIDER: provider, ...env }, CONFIG_SCHEMA);
  if (!result.ok) throw new Error(result.errors.join("\n"));
  return result.config;
}

/** What the provider's subprocesses see, made as the entry point makes it. */
const subprocessEnvOf = (env: Record<string, string>) =>
  claudeCliEnv({ PATH: Deno.env.get("PATH"), ...env });

/** Runs one job's data through the provider as a worker does, with `LLM_TIMEOUT` as given. */
async function runJob(
  harness: Harness,
  fixture: Fixture,
  data: Record<string, unknown>,
  extraEnv: Record<string, string> = {},
) {
  const env = { ...harness.env, ...extraEnv };
  const config = configOf(fixture.provider, env);
  const runner = createLlmRunner({ config, subprocessEnv: subprocessEnvOf(env) });
  const noProcessLeft = (when: string) =>
    waitUntil(() => liveProcessGroups().length === 0, {
      what: `${fixture.label}'s processes to end ${when}`,
    });
  try {
    const prepared = prepareJob(data, config);
    const outcome = await deadline(
      runner.run(prepared, primaryTarget(prepared, config), "llm", new AbortController().signal),
      120_000,
      `${fixture.label} did not settle within 120 s`,
    );
    // No ledger here: nothing can hold the call back.
    if (outcome.kind !== "result") throw new Error(`held back: ${JSON.stringify(outcome)}`);
    return outcome.result;
  } catch (error) {
    // A failed or aborted call leaves no process behind (a warm one is replaced).
    await noProcessLeft("after a failed call");
    throw error;
  } finally {
    await runner.close();
    await noProcessLeft("once the client is closed");
  }
}

/** The failure class a job's call ended in, or a failed assertion when it succeeded. */
async function failureOf(
  harness: Harness,
  fixture: Fixture,
  prompt: string,
  extraEnv: Record<string, string> = {},
): Promise<LlmError> {
  const error = await runJob(harness, fixture, { prompt }, extraEnv).then(
    (result) => assert.fail(`expected a failure, got ${JSON.stringify(result)}`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof LlmError, `expected an LlmError, got ${error}`);
  return error;
}

/** The counts of every provider's `usage`, Anthropic's four. */
const USAGE_COUNTS = [
  "cache_creation_input_tokens",
  "cache_read_input_tokens",
  "input_tokens",
  "output_tokens",
];

const providerOf = (fixture: Fixture) => PROVIDERS.find((p) => p.name === fixture.provider)!;

Deno.test("every registered provider has a conformance fixture, and every fixture a provider", () => {
  for (const provider of PROVIDERS) {
    assert.ok(
      FIXTURES.some((fixture) => fixture.provider === provider.name),
      `provider ${provider.name} has no fixture in providers/conformance_test.ts`,
    );
  }
  for (const fixture of FIXTURES) assert.ok(providerOf(fixture), fixture.label);
});

Deno.test("every provider declares a probe exactly when its failures can pause it for auth", () => {
  for (const provider of PROVIDERS) {
    assert.equal(
      provider.probe !== undefined,
      provider.pauses.includes("auth_failed"),
      `${provider.name}: a probe is what lifts an auth pause, and only an auth pause needs one`,
    );
  }
});

/** Runs `check` with the fixture's harness, stopped at the end. */
function conformance(
  fixture: Fixture,
  what: string,
  check: (harness: Harness, provider: ProviderDefinition) => Promise<void>,
) {
  Deno.test({
    name: `${fixture.label}: ${what}`,
    ignore: fixture.skip !== undefined,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      await using harness = await fixture.start();
      await check(harness, providerOf(fixture));
    },
  });
}

for (const fixture of FIXTURES) {
  if (fixture.skip) console.log(`conformance_test: ${fixture.label} skipped: ${fixture.skip}`);

  conformance(
    fixture,
    "a plain prompt returns text, model, provider, usage (its four counts) and duration_ms",
    async (harness, provider) => {
      const result = await runJob(harness, fixture, { prompt: "Say hello" });
      assert.match(result.text, /hello/i);
      assert.equal(typeof result.model, "string");
      assert.notEqual(result.model, "");
      assert.equal(result.provider, provider.name);
      assert.deepEqual(Object.keys(result.usage).sort(), USAGE_COUNTS);
      for (const [name, count] of Object.entries(result.usage)) {
        assert.ok(Number.isInteger(count) && count >= 0, `${name} ${count}`);
      }
      // Only a provider that prices its own calls (the Claude CLI) says what one cost; run
      // without the price table, the others' cost is unknown: null, never 0.
      const costUsd = result.cost_usd;
      if (costUsd !== null) assert.ok(Number.isFinite(costUsd) && costUsd >= 0, `${costUsd}`);
      assert.ok(Number.isInteger(result.duration_ms) && result.duration_ms >= 0);
      assert.equal(result.parsed, undefined);
    },
  );

  conformance(
    fixture,
    "a json_schema format yields parsed, fitting the schema",
    async (harness) => {
      const result = await runJob(harness, fixture, {
        prompt: '{"answer":"yes"}',
        format: {
          type: "json_schema",
          json_schema: {
            name: "answer",
            schema: {
              type: "object",
              properties: { answer: { type: "string" } },
              required: ["answer"],
            },
          },
        },
      });
      assert.equal(typeof (result.parsed as { answer?: unknown })?.answer, "string");
    },
  );

  conformance(
    fixture,
    "an auth failure is class auth (a pause), or the provider declares it has no login",
    async (harness, provider) => {
      if (!provider.pauses.includes("auth_failed")) {
        assert.equal(harness.authPrompt, undefined, "the fixture can fail auth: declare it");
        assert.equal(provider.probe, undefined);
        return;
      }
      assert.ok(harness.authPrompt, "the provider declares auth_failed: the fixture must show it");
      assert.equal((await failureOf(harness, fixture, harness.authPrompt)).kind, "auth");
    },
  );

  conformance(
    fixture,
    "a 429 is class quota (a pause), or the provider declares it has no limits",
    async (harness, provider) => {
      if (!provider.pauses.includes("quota_exceeded")) {
        assert.equal(harness.quotaPrompt, undefined, "the fixture can hit a quota: declare it");
        return;
      }
      assert.ok(harness.quotaPrompt, "the provider declares quota_exceeded: show it");
      assert.equal((await failureOf(harness, fixture, harness.quotaPrompt)).kind, "quota");
    },
  );

  conformance(
    fixture,
    "a 5xx is class transient (retried), or the provider calls nothing that could fail",
    async (harness, provider) => {
      if (!harness.serverErrorPrompt) {
        const { spendsTokens } = provider.describe({
          config: configOf(fixture.provider, harness.env),
          subprocessEnv: subprocessEnvOf(harness.env),
        });
        assert.equal(spendsTokens, false, "a provider that spends tokens calls a server");
        return;
      }
      assert.equal(
        (await failureOf(harness, fixture, harness.serverErrorPrompt)).kind,
        "transient",
      );
    },
  );

  conformance(
    fixture,
    "an overloaded server (529, 503) is class overloaded, with its retry-after; a billing error " +
      "is class billing; or the provider calls nothing that could answer so",
    async (harness, provider) => {
      if (!harness.overloadedPrompt || !harness.billingPrompt) {
        const { spendsTokens } = provider.describe({
          config: configOf(fixture.provider, harness.env),
          subprocessEnv: subprocessEnvOf(harness.env),
        });
        assert.equal(spendsTokens, false, "a provider that spends tokens can be overloaded");
        return;
      }
      const overloaded = await failureOf(harness, fixture, harness.overloadedPrompt);
      assert.equal(overloaded.kind, "overloaded", overloaded.message);
      assert.equal(overloaded.retryAfterMs, harness.overloadedRetryAfterMs);
      const billing = await failureOf(harness, fixture, harness.billingPrompt);
      assert.equal(billing.kind, "billing", billing.message);
      assert.equal(billing.retryAfterMs, undefined);
    },
  );

  conformance(
    fixture,
    "LLM_TIMEOUT aborts the call: class transient, no process left",
    async (harness) => {
      const error = await failureOf(harness, fixture, harness.slow.prompt, {
        ...harness.slow.env,
        LLM_TIMEOUT: "1s",
      });
      assert.equal(error.kind, "transient");
      assert.equal(error.message, "timed out after 1 s (LLM_TIMEOUT)");
    },
  );

  conformance(
    fixture,
    "the probe says logged in, then logged out, without a paid call (or the provider has none)",
    async (harness, provider) => {
      if (!provider.probe) {
        assert.equal(harness.loggedOutEnv, undefined, "the fixture can log out: give a probe");
        return;
      }
      assert.ok(harness.loggedOutEnv, "a provider with a probe can be logged out");
      const probe = (env: Record<string, string>) =>
        provider.probe!({
          config: configOf(fixture.provider, env),
          subprocessEnv: subprocessEnvOf(env),
        });
      const loggedIn = await probe(harness.env);
      assert.equal(loggedIn.ok, true, loggedIn.detail);
      const loggedOut = await probe(harness.loggedOutEnv);
      assert.equal(loggedOut.ok, false, loggedOut.detail);
      assert.equal(harness.paidRequests(), 0, "the probe made a paid call");
    },
  );
}
