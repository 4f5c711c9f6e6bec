/** /metrics with real workers and a real Redis: the Prometheus text format, line by line, and values that match known work. */

import { strict as assert } from "node:assert";
import { Queue } from "bullmq";
import { producerQueue } from "../testing/jobs.ts";
import { Redis } from "ioredis";
import { startRedis } from "../testing/redis.ts";
import { startSupervisor } from "../testing/ppr.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { waitUntil } from "../testing/wait.ts";
import { priceOf, SHIPPED_PRICES } from "../economics/prices.ts";
import { scrape, value } from "../testing/metrics.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "/metrics is valid Prometheus text whose queue, job and worker values match the work done",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = producerQueue(redis);
    await using supervisor = startSupervisor(["--count", "2"], { redisUrl: redis.url });
    try {
      await supervisor.waitForHealth((body) => body.workers_alive === 2, "two workers");
      const good = 7;
      const bad = 3;
      await queue.addBulk(Array.from({ length: good }, (_, index) => ({
        name: "llm",
        data: { prompt: `ok ${index}`, provider: { name: "echo", latency_ms: 20 } },
      })));
      await queue.addBulk(Array.from({ length: bad }, () => ({
        name: "llm",
        data: { prompt: 42 },
      })));
      await queue.add("llm", { prompt: "later" }, { delay: 600_000 });
      await waitUntil(
        async () =>
          (await queue.getCompletedCount()) === good && (await queue.getFailedCount()) === bad,
        { what: "the jobs to finish" },
      );
      const samples = await waitUntil(async () => {
        const each = await scrape(supervisor);
        return value(each, "ppr_jobs_processed_total") === good &&
            value(each, "ppr_queue_jobs", { queue: "llm", state: "failed" }) === bad
          ? each
          : undefined;
      }, { what: "the counters to catch up", timeoutMs: 15_000 });
      assert.equal(value(samples, "ppr_jobs_failed_total"), bad);
      const figures = await waitUntil(async () => {
        const each = await scrape(supervisor);
        return value(each, "ppr_queue_jobs_completed_total", { queue: "llm" }) === good
          ? each
          : undefined;
      }, { what: "the workers' figures (sent every second)", timeoutMs: 15_000 });
      assert.equal(value(figures, "ppr_queue_jobs_failed_total", { queue: "llm" }), bad);
      assert.equal(
        value(figures, "ppr_job_duration_seconds_count", { queue: "llm" }),
        good + bad,
      );
      // Each echo job took at least 20 ms: none of them lands in the 0.01 s bucket (how fast the
      // invalid ones were depends on the machine's load, so they may land in it or not).
      assert.ok(
        value(figures, "ppr_job_duration_seconds_bucket", { queue: "llm", le: "0.01" }) <= bad,
        "no echo job of 20 ms is counted within 10 ms",
      );
      assert.equal(
        value(figures, "ppr_job_duration_seconds_bucket", { queue: "llm", le: "+Inf" }),
        good + bad,
      );
      assert.equal(value(figures, "ppr_job_wait_seconds_count", { queue: "llm" }), good + bad);
      assert.equal(value(figures, "ppr_llm_requests_total", { provider: "echo" }), good);
      assert.equal(value(figures, "ppr_llm_errors_total", { provider: "echo" }), 0);
      assert.equal(value(samples, "ppr_queue_jobs", { queue: "llm", state: "delayed" }), 1);
      assert.equal(value(samples, "ppr_queue_jobs", { queue: "llm", state: "waiting" }), 0);
      assert.equal(value(samples, "ppr_queue_paused", { queue: "llm" }), 0);
      assert.equal(value(samples, "ppr_workers_alive"), 2);
      assert.equal(
        value(samples, "ppr_queue_workers", { queue: "llm" }),
        2,
        "a BullMQ Worker each",
      );
      assert.equal(value(samples, "ppr_llm_paused", { provider: "claude" }), 0);
      // Labels stay bounded: no job ids, no prompts.
      for (const sample of samples) {
        for (const label of Object.values(sample.labels)) {
          assert.ok(!/^ok \d|later/.test(label), `a prompt in a label: ${label}`);
        }
      }
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "/metrics counts a provider's requests, errors by class, tokens by kind and dollars at the shipped price from real calls",
  integration,
  async () => {
    await using redis = await startRedis();
    await using stub = startStubLlm();
    const queue = producerQueue(redis);
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: { LLM_PROVIDER: "openai", OPENAI_API_KEY: "k", OPENAI_BASE_URL: `${stub.url}/v1` },
    });
    try {
      await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
      await queue.add("llm", { prompt: "hello" });
      await queue.add("llm", { prompt: "FAIL always" }, { attempts: 2 });
      await waitUntil(
        async () => (await queue.getCompletedCount()) === 1 && (await queue.getFailedCount()) === 1,
        { what: "the jobs to finish" },
      );
      const samples = await waitUntil(async () => {
        const each = await scrape(supervisor);
        return value(each, "ppr_llm_requests_total", { provider: "openai" }) === 3
          ? each
          : undefined;
      }, { what: "3 requests counted", timeoutMs: 15_000 });
      assert.equal(
        value(samples, "ppr_llm_errors_total", { provider: "openai", class: "transient" }),
        2,
      );
      assert.equal(
        value(samples, "ppr_llm_errors_total", { provider: "openai", class: "auth" }),
        0,
      );
      const call = { provider: "openai", model: "gpt-4o-mini", queue: "llm" };
      assert.equal(value(samples, "ppr_llm_tokens_total", { ...call, kind: "input" }), 13);
      assert.equal(value(samples, "ppr_llm_tokens_total", { ...call, kind: "output" }), 6);
      assert.equal(value(samples, "ppr_llm_tokens_total", { ...call, kind: "cache_read" }), 0);
      assert.equal(value(samples, "ppr_llm_calls_total", call), 1);
      const price = priceOf(SHIPPED_PRICES, "openai", "gpt-4o-mini")!;
      const cost = value(samples, "ppr_llm_cost_usd_total", call);
      assert.ok(
        Math.abs(cost - (13 * price.input + 6 * price.output) / 1e6) < 1e-12,
        `cost ${cost} at the shipped price of gpt-4o-mini`,
      );
      assert.ok(cost > 0, "a priced call's cost is never 0");
      assert.equal(value(samples, "ppr_llm_calls_unpriced_total", call), 0);
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "/metrics on a Redis whose ACL refuses CLIENT LIST: ppr_queue_workers is left out and the queue depths are still read",
  integration,
  async () => {
    await using redis = await startRedis({
      args: [
        "--user",
        "ppr",
        "on",
        ">pw",
        "~*",
        "&*",
        "+@all",
        "-client|list",
        "--user",
        "default",
        "off",
      ],
    });
    const url = redis.url.replace("redis://", "redis://ppr:pw@");
    const producer = new Redis(url, { maxRetriesPerRequest: null });
    const queue = new Queue("llm", { connection: producer });
    queue.on("error", () => {});
    await using supervisor = startSupervisor(["--count", "1"], { redisUrl: url });
    try {
      assert.match(
        String(await producer.call("CLIENT", "LIST").catch((error) => error)),
        /NOPERM/,
        "the ACL refuses CLIENT LIST",
      );
      await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
      await queue.add("llm", { prompt: "later" }, { delay: 600_000 });
      const samples = await waitUntil(async () => {
        const each = await scrape(supervisor);
        return value(each, "ppr_queue_jobs", { queue: "llm", state: "delayed" }) === 1
          ? each
          : undefined;
      }, { what: "the delayed job counted", timeoutMs: 15_000 });
      assert.deepEqual(samples.filter((sample) => sample.name === "ppr_queue_workers"), []);
    } finally {
      await queue.close();
      producer.disconnect();
    }
  },
);

Deno.test(
  "/metrics counts every failed try of ppr-worker's own retry (an answer that is not JSON, 3 tries), and the wait of the first try only",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = producerQueue(redis);
    await using supervisor = startSupervisor(["--count", "1"], { redisUrl: redis.url });
    try {
      await supervisor.waitForHealth((body) => body.workers_alive === 1, "one worker");
      // No attempts of the producer's: ppr-worker retries the transient failure itself.
      await queue.add("llm", {
        prompt: "not json",
        format: { type: "object" },
        provider: { name: "echo" },
      });
      await waitUntil(async () => (await queue.getFailedCount()) === 1, {
        what: "the job to fail after its 3 tries (2 s and 4 s apart)",
        timeoutMs: 60_000,
      });
      const figures = await waitUntil(async () => {
        const each = await scrape(supervisor);
        return value(each, "ppr_queue_jobs_failed_total", { queue: "llm" }) >= 3 ? each : undefined;
      }, { what: "the workers' figures (sent every second)", timeoutMs: 15_000 });
      assert.equal(value(figures, "ppr_queue_jobs_failed_total", { queue: "llm" }), 3);
      assert.equal(value(figures, "ppr_jobs_failed_total"), 3);
      assert.equal(value(figures, "ppr_job_duration_seconds_count", { queue: "llm" }), 3);
      assert.equal(value(figures, "ppr_llm_requests_total", { provider: "echo" }), 3);
      assert.equal(
        value(figures, "ppr_job_wait_seconds_count", { queue: "llm" }),
        1,
        "the retries' waits (the backoff) are not waits of a job that could run",
      );
    } finally {
      await queue.close();
    }
  },
);
