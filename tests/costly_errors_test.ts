/**
 * The provider errors that cost money, each on its own path, for every provider that has them:
 * the Claude API and the real Claude CLI against the stub Messages API, the OpenAI-compatible
 * API against its stub. An overloaded provider is waited for (no try spent), a rate limit pauses
 * the provider until its reset (no try spent), a billing error pauses it with reason `billing`
 * and the job waits untouched.
 */

import { strict as assert } from "node:assert";
import { type Job, Queue } from "bullmq";
import { OVERLOADED_LOG_PREFIX } from "../jobs/llm/failure_decision.ts";
import { TRY_LOG_PREFIX } from "../jobs/retry_policy.ts";
import { jobLogsKey } from "../redis/bullmq_internals.ts";
import { reportSkipped } from "../testing/command.ts";
import { startSupervisor } from "../testing/ppr.ts";
import { findRealClaudeCli, realClaudeCliMissing } from "../testing/real_claude.ts";
import { startRedis } from "../testing/redis.ts";
import { startStubAnthropic, type StubAnthropic } from "../testing/stub_anthropic.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

const cli = await findRealClaudeCli();
if (!cli) reportSkipped(`the real Claude CLI is not available (${realClaudeCliMissing})`);

/** How a provider is set up against its stub, and how a test makes each error happen once. */
interface Provider {
  name: string;
  ignore?: boolean;
  start(home: string): {
    env: Record<string, string>;
    /** The prompt of a job whose call gets `error` once (billing: every time). */
    prompt(error: "overloaded" | "rate_limit" | "billing", text: string): string;
    /** What the billing error's pause says. */
    billingReason: RegExp;
  } & AsyncDisposable;
}

/** The Messages API stub: an error for the next call (`setMode` with `times`), billing by marker. */
function anthropicErrors(stub: StubAnthropic) {
  return (error: "overloaded" | "rate_limit" | "billing", text: string) => {
    if (error === "overloaded") stub.setMode({ error: 529, retryAfterSeconds: 1 }, { times: 1 });
    if (error === "rate_limit") {
      stub.setMode({ error: 429, retryAfterSeconds: 1, plainRateLimit: true }, { times: 1 });
    }
    return error === "billing" ? `${text} STUB_ERROR=402` : text;
  };
}

const PROVIDERS: Provider[] = [
  {
    name: "the Claude API",
    start() {
      const stub = startStubAnthropic();
      return {
        env: {
          LLM_PROVIDER: "claude",
          ANTHROPIC_API_KEY: "sk-ant-test",
          ANTHROPIC_BASE_URL: stub.url,
        },
        prompt: anthropicErrors(stub),
        billingReason: /402.*credit balance/i,
        [Symbol.asyncDispose]: () => stub[Symbol.asyncDispose](),
      };
    },
  },
  {
    name: "the real Claude CLI",
    ignore: cli === undefined,
    start(home) {
      const stub = startStubAnthropic();
      return {
        env: {
          LLM_PROVIDER: "claude",
          CLAUDE_CLI: cli!.path,
          CLAUDE_CLI_MODE: "cold",
          ANTHROPIC_BASE_URL: stub.url,
          ANTHROPIC_API_KEY: "sk-ant-test",
          HOME: home,
          LLM_PROBE_INTERVAL: "10m",
        },
        prompt: anthropicErrors(stub),
        billingReason: /402.*credit balance/i,
        [Symbol.asyncDispose]: () => stub[Symbol.asyncDispose](),
      };
    },
  },
  {
    name: "an OpenAI-compatible API",
    start() {
      const stub = startStubLlm();
      const markers = {
        overloaded: "OVERLOADED_ONCE",
        rate_limit: "QUOTA_ONCE",
        billing: "BILLING",
      };
      return {
        env: { LLM_PROVIDER: "openai", OPENAI_API_KEY: "k", OPENAI_BASE_URL: `${stub.url}/v1` },
        prompt: (error, text) => `${text} ${markers[error]}`,
        billingReason: /insufficient_quota|exceeded your current quota/i,
        [Symbol.asyncDispose]: () => stub[Symbol.asyncDispose](),
      };
    },
  },
];

for (const provider of PROVIDERS) {
  Deno.test({
    name:
      `${provider.name}: overloaded is waited for and a rate limit pauses until its reset, both with no try spent; a billing error pauses the provider (billing) and the job waits untouched`,
    ignore: provider.ignore,
    ...integration,
    async fn() {
      await using redis = await startRedis();
      const home = await Deno.makeTempDir({ prefix: "ppr-costly-errors-" });
      await using setup = provider.start(home);
      const queue = new Queue("llm", { connection: redis.client() });
      queue.on("error", () => {});
      await using supervisor = startSupervisor(["--count", "1"], {
        redisUrl: redis.url,
        env: setup.env,
      });
      const log = (job: Job) =>
        redis.client().lrange(jobLogsKey("bull", "llm", String(job.id)), 0, -1);
      const finished = async (job: Job, what: string) => {
        await waitUntil(async () => (await job.getState()) === "completed", {
          what,
          timeoutMs: 60_000,
        });
        return await log(job);
      };
      try {
        await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");

        const overloaded = await queue.add("llm", { prompt: setup.prompt("overloaded", "one") });
        const overloadedLog = await finished(overloaded, "the overloaded job to complete");
        assert.equal(
          overloadedLog.filter((line) => line.startsWith(OVERLOADED_LOG_PREFIX)).length,
          1,
          "one wait for the overloaded provider",
        );
        assert.ok(!overloadedLog.some((line) => line.startsWith(TRY_LOG_PREFIX)), "no try spent");

        const limited = await queue.add("llm", { prompt: setup.prompt("rate_limit", "two") });
        const limitedLog = await finished(limited, "the rate-limited job to complete");
        assert.ok(!limitedLog.some((line) => line.startsWith(TRY_LOG_PREFIX)), "no try spent");
        await supervisor.waitForLog(/paused \(quota_exceeded\)/);

        const billing = await queue.add("llm", { prompt: setup.prompt("billing", "three") });
        const health = await supervisor.waitForHealth(
          (body) => body.llm.state === "billing",
          "the billing pause",
        );
        assert.match(health.llm.reason ?? "", setup.billingReason);
        assert.ok(health.llm.retry_in_seconds >= 3000, "not retried in a loop: an hour at least");
        assert.equal(await billing.getState(), "waiting", "the job waits, untouched");
        assert.ok(!(await log(billing)).some((line) => line.startsWith(TRY_LOG_PREFIX)));
        assert.equal(await queue.getFailedCount(), 0);
      } finally {
        await queue.close();
        await Deno.remove(home, { recursive: true }).catch(() => {});
      }
    },
  });
}
