/** /metrics with real workers and a real Redis: the Prometheus text format, line by line, and values that match known work. */

import { strict as assert } from "node:assert";
import { Queue } from "bullmq";
import { startRedis } from "../testing/redis.ts";
import { startSupervisor, type Supervisor } from "../testing/ppr.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

/** One sample of the exposition: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE = new RegExp(
  `^(${NAME})(?:\\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\.)*",?)*)\\})? (-?[0-9.e+-]+|NaN|\\+Inf|-Inf)$`,
);

/**
 * Parses the Prometheus text format (0.0.4) and checks its rules on every line: `# HELP` and
 * `# TYPE` once per metric family, before its samples; each sample line well formed; histogram
 * buckets cumulative, ending with `+Inf`, equal to `_count`.
 */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  const typed = new Map<string, string>();
  const helped = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      const [, kind, family, rest] = comment;
      if (kind === "TYPE") {
        assert.ok(!typed.has(family), `TYPE twice for ${family}`);
        assert.match(rest, /^(counter|gauge|histogram|summary|untyped)$/);
        typed.set(family, rest);
      } else {
        assert.ok(!helped.has(family), `HELP twice for ${family}`);
        helped.add(family);
      }
      continue;
    }
    assert.ok(!line.startsWith("#"), `a comment that is neither HELP nor TYPE: ${line}`);
    const match = SAMPLE.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const [, name, rawLabels, value] = match;
    const family = name.replace(/_(bucket|sum|count)$/, "");
    assert.ok(typed.has(name) || typed.has(family), `sample before its TYPE: ${line}`);
    const labels: Record<string, string> = {};
    for (
      const pair of (rawLabels ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)
    ) {
      labels[pair[1]] = pair[2];
    }
    samples.push({ name, labels, value: Number(value) });
  }
  for (const [family, type] of typed) {
    assert.ok(helped.has(family), `no HELP for ${family}`);
    if (type !== "histogram") continue;
    const series = new Map<string, Sample[]>();
    for (const sample of samples.filter((each) => each.name === `${family}_bucket`)) {
      const { le: _le, ...rest } = sample.labels;
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), sample]);
    }
    for (const [key, buckets] of series) {
      assert.equal(buckets.at(-1)!.labels.le, "+Inf", `${family} ${key}: last bucket is +Inf`);
      for (let index = 1; index < buckets.length; index++) {
        assert.ok(buckets[index].value >= buckets[index - 1].value, `${family} buckets cumulative`);
      }
      const count = samples.find((each) =>
        each.name === `${family}_count` && JSON.stringify(each.labels) === key
      );
      assert.equal(count?.value, buckets.at(-1)!.value, `${family} ${key}: _count = +Inf bucket`);
    }
  }
  return samples;
}

async function scrape(supervisor: Supervisor): Promise<Sample[]> {
  const response = await fetch(`http://127.0.0.1:${supervisor.healthPort}/metrics`, {
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((sample) =>
    sample.name === name &&
    Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted)
  );
  return found.reduce((sum, sample) => sum + sample.value, 0);
}

Deno.test(
  "/metrics is valid Prometheus text whose queue, job and worker values match the work done",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = new Queue("llm", { connection: redis.client() });
    queue.on("error", () => {});
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
  "/metrics counts a provider's requests, errors by class and tokens from real calls",
  integration,
  async () => {
    await using redis = await startRedis();
    await using stub = startStubLlm();
    const queue = new Queue("llm", { connection: redis.client() });
    queue.on("error", () => {});
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
      assert.equal(
        value(samples, "ppr_llm_tokens_total", { provider: "openai", direction: "input" }),
        13,
      );
      assert.equal(
        value(samples, "ppr_llm_tokens_total", { provider: "openai", direction: "output" }),
        6,
      );
    } finally {
      await queue.close();
    }
  },
);
