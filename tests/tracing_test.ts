/**
 * Tracing end to end: a real supervisor and `ppr-worker enqueue` export through Deno's own
 * OpenTelemetry to a stub OTLP/HTTP collector that decodes what they send (protobuf, Deno's
 * default), with the Claude API stub as the provider.
 */

import { strict as assert } from "node:assert";
import { Queue } from "bullmq";
import { baseEnv, logRecords, runPpr, startSupervisor } from "../testing/ppr.ts";
import { startRedis } from "../testing/redis.ts";
import { startStubClaudeApi } from "../testing/stub_claude_api.ts";
import { type ReceivedSpan, receivedText, startStubOtlp } from "../testing/stub_otlp.ts";
import { waitUntil } from "../testing/wait.ts";
import { pauseProvider } from "../providers/pause.ts";
import { allFinished, FAST_LANE } from "../testing/batch_lane.ts";
import { producerQueue } from "../testing/jobs.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

/** A model of the shipped price table: its calls have a cost. */
const MODEL = "claude-haiku-4-5";
const SCHEMA = JSON.stringify({
  type: "object",
  properties: { answer: { type: "string" } },
  required: ["answer"],
});
const PRODUCER_KIND = 4;
const CONSUMER_KIND = 5;
const CLIENT_KIND = 3;

const API_KEY = "sk-ant-tracing-secret-7c1d";

/**
 * Redis, the Claude API stub, a stub collector and a supervisor of one worker whose only tracing
 * setting is `OTEL_EXPORTER_OTLP_ENDPOINT` (the one variable a user sets: the supervisor turns on
 * Deno's exporter in its workers). Disposing it stops them all, whatever the test did.
 */
async function tracedPool(env: Record<string, string> = {}) {
  const stack = new AsyncDisposableStack();
  try {
    const redis = stack.use(await startRedis());
    const api = stack.use(startStubClaudeApi());
    const collector = stack.use(startStubOtlp());
    const supervisor = stack.use(startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        LLM_PROVIDER: "claude",
        ANTHROPIC_API_KEY: API_KEY,
        ANTHROPIC_BASE_URL: api.url,
        LLM_MODEL_NAME: MODEL,
        ...env,
      },
    }));
    await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
    const resources = stack.move();
    return {
      redis,
      collector,
      supervisor,
      [Symbol.asyncDispose]: () => resources.disposeAsync(),
    };
  } catch (error) {
    await stack.disposeAsync();
    throw error;
  }
}

/** The span's chain of parents up to its root, itself first, within `spans`. */
function ancestry(span: ReceivedSpan, spans: ReceivedSpan[]): ReceivedSpan[] {
  const chain = [span];
  for (let at = span; at.parentSpanId !== "";) {
    const parent = spans.find((candidate) => candidate.spanId === at.parentSpanId);
    if (!parent) break;
    chain.push(parent);
    at = parent;
  }
  return chain;
}

Deno.test(
  "a job enqueued with ppr-worker enqueue makes one trace: the producer's add, the worker's processing, the LLM call with gen_ai attributes and cost, the schema check and the result's routing; nothing sent carries the prompt, the answer or the API key",
  integration,
  async () => {
    await using pool = await tracedPool({
      LLM_RESULT_QUEUES: "results",
      // The Anthropic SDK's own span would record the messages with this: ppr-worker says no.
      ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE: "content",
    });
    const { redis, collector, supervisor } = pool;

    const enqueued = await runPpr(
      ["enqueue", "--prompt", "say hello", "--format", SCHEMA, "--wait", "--timeout", "30s"],
      baseEnv({
        REDIS_URL: redis.url,
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_SERVICE_NAME: "scraper",
      }),
    );
    assert.equal(enqueued.code, 0, enqueued.stderr);
    const answer = JSON.parse(enqueued.stdout.trim().split("\n").at(-1)!);

    const call = await waitUntil(
      () => collector.spans.find((span) => span.name === `chat ${MODEL}`),
      { what: "the LLM call's span" },
    );
    const spans = collector.spans.filter((span) => span.traceId === call.traceId);
    const producer = await waitUntil(
      () =>
        collector.spans.find((span) =>
          span.traceId === call.traceId && span.kind === PRODUCER_KIND && span.service === "scraper"
        ),
      { what: "the producer's span in the call's trace" },
    );
    const chain = ancestry(call, collector.spans);
    assert.equal(chain.at(-1)!.spanId, producer.spanId, "the call descends from the producer");
    const consumer = chain.find((span) => span.kind === CONSUMER_KIND);
    assert.ok(consumer, `a consumer span between: ${chain.map((span) => span.name)}`);
    assert.equal(consumer.service, "ppr-worker");
    assert.equal(consumer.scope, "bullmq");

    assert.equal(call.kind, CLIENT_KIND);
    assert.equal(call.scope, "ppr-worker");
    const attributes = call.attributes;
    assert.equal(attributes["gen_ai.operation.name"], "chat");
    assert.equal(attributes["gen_ai.provider.name"], "anthropic");
    assert.equal(attributes["gen_ai.system"], "anthropic");
    assert.equal(attributes["gen_ai.request.model"], MODEL);
    assert.equal(attributes["gen_ai.response.model"], answer.result.model);
    const usage = answer.result.usage;
    assert.equal(
      attributes["gen_ai.usage.input_tokens"],
      usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) +
        (usage.cache_read_input_tokens ?? 0),
    );
    assert.equal(attributes["gen_ai.usage.output_tokens"], usage.output_tokens);
    assert.ok(answer.result.cost_usd > 0, `a priced call: ${JSON.stringify(answer.result)}`);
    assert.equal(attributes["ppr.cost_usd"], answer.result.cost_usd);
    assert.equal("ppr.cost_unpriced" in attributes, false);

    const names = spans.map((span) => span.name);
    for (const name of ["ppr.schema_check", "ppr.route_result"]) {
      const span = spans.find((candidate) => candidate.name === name);
      assert.ok(span, `${name} in the trace: ${names}`);
      assert.ok(
        ancestry(span, collector.spans).some((parent) => parent.spanId === consumer.spanId),
        `${name} inside the worker's processing`,
      );
    }
    const routed = spans.find((span) =>
      span.kind === PRODUCER_KIND && span.service === "ppr-worker"
    );
    assert.ok(routed, `the result's add to its queue in the trace: ${names}`);

    // Nothing sent, in any signal (Deno sends its console output as logs), carries the prompt,
    // the answer or the API key.
    await supervisor[Symbol.asyncDispose]();
    const sent = receivedText(collector);
    for (const secret of ["say hello", API_KEY, answer.result.parsed.answer]) {
      assert.equal(sent.includes(secret), false, `the collector received ${secret}`);
    }
  },
);

Deno.test(
  "while tracing, a worker's log line inside a job (a pause's give-back) carries the job's trace_id and span_id, its job and queue, and a give-back is an event of the processing span",
  integration,
  async () => {
    await using pool = await tracedPool();
    const { redis, collector, supervisor } = pool;
    // A 401: the provider pauses and the job is given back, with a warning logged inside the job.
    const added = await runPpr(
      ["enqueue", "--prompt", "STUB_ERROR=401"],
      baseEnv({ REDIS_URL: redis.url }),
    );
    assert.equal(added.code, 0, added.stderr);
    const line = await supervisor.waitForLog(/given back untouched/);
    const record = logRecords([line])[0];
    const span = await waitUntil(
      () =>
        collector.spans.find((candidate) =>
          candidate.kind === CONSUMER_KIND &&
          candidate.events.some((event) => event.name === "ppr.given_back")
        ),
      { what: "the processing span with its give-back event" },
    );
    assert.equal(record.trace_id, span.traceId);
    assert.match(String(record.span_id), /^[0-9a-f]{16}$/);
    assert.equal(record.queue, "llm", "the give-back's line names the job's queue");
    assert.equal(typeof record.job, "string", "the give-back's line names the job");
    assert.ok(
      collector.spans.some((candidate) => candidate.spanId === record.span_id),
      "the logged span was exported",
    );
  },
);

Deno.test(
  "with OTEL_EXPORTER_OTLP_PROTOCOL=http/json, enqueue's producer span reaches the collector as OTLP JSON, which the stub decodes",
  integration,
  async () => {
    await using redis = await startRedis();
    await using collector = startStubOtlp();
    const added = await runPpr(
      ["enqueue", "--prompt", "hello"],
      baseEnv({
        REDIS_URL: redis.url,
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_SERVICE_NAME: "scraper",
      }),
    );
    assert.equal(added.code, 0, added.stderr);
    const producer = await waitUntil(
      () => collector.spans.find((span) => span.kind === PRODUCER_KIND),
      { what: "the producer's span" },
    );
    assert.ok(
      collector.requests.some((request) =>
        request.path === "/v1/traces" && request.contentType === "application/json"
      ),
    );
    assert.equal(producer.name, "addBulk llm");
    assert.equal(producer.service, "scraper");
    assert.match(producer.traceId, /^[0-9a-f]{32}$/);
    assert.equal(producer.attributes["bullmq.job.bulk.count"], 1);
  },
);

Deno.test(
  "an external processor's run is a span inside the job's processing, naming the program but not its arguments",
  integration,
  async () => {
    await using redis = await startRedis();
    await using collector = startStubOtlp();
    await using supervisor = startSupervisor(["--count", "1", "--queue", "ext"], {
      redisUrl: redis.url,
      // `cat` answers with the job's data, which it reads on stdin: valid JSON.
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        QUEUE_PROCESSORS: "ext=/bin/cat -",
      },
    });
    await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
    const queue = new Queue("ext", { connection: redis.client() });
    try {
      await queue.add("page", { page: 1 });
      const run = await waitUntil(
        () => collector.spans.find((span) => span.name === "ppr.external_processor"),
        { what: "the external processor's span" },
      );
      assert.deepEqual(run.attributes, {
        "ppr.queue": "ext",
        "process.executable.name": "cat",
        "ppr.processor.mode": "per-job",
      });
      const parent = await waitUntil(
        () => collector.spans.find((span) => span.spanId === run.parentSpanId),
        { what: "the span the processor's run is part of" },
      );
      assert.equal(parent.kind, CONSUMER_KIND);
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "a job whose provider is paused records the pause as an event of its processing span: the provider, the pause's state and end, not its reason",
  integration,
  async () => {
    await using redis = await startRedis();
    await using collector = startStubOtlp();
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OPENAI_API_KEY: "sk-openai-test" },
    });
    await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
    const pause = await pauseProvider(redis.client(), "openai", "quota_exceeded", "words of 429", {
      resetInMs: 600_000,
    });
    const queue = new Queue("llm", { connection: redis.client() });
    try {
      await queue.add("llm", { prompt: "later", provider: { name: "openai" } });
      const event = await waitUntil(
        () =>
          collector.spans.flatMap((span) => span.kind === CONSUMER_KIND ? span.events : [])
            .find((candidate) => candidate.name === "ppr.provider_paused"),
        { what: "the pause's event" },
      );
      assert.deepEqual(event.attributes, {
        "ppr.provider": "openai",
        "ppr.pause.state": "quota_exceeded",
        "ppr.pause.retry_at": new Date(pause.retry_at).toISOString(),
      });
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "SIGHUP with an env file that now sets OTEL_EXPORTER_OTLP_ENDPOINT turns tracing on in the rolled workers",
  integration,
  async () => {
    await using redis = await startRedis();
    await using collector = startStubOtlp();
    const dir = await Deno.makeTempDir({ prefix: "ppr-tracing-reload-" });
    const file = `${dir}/pool.env`;
    const queue = new Queue("llm", { connection: redis.client() });
    try {
      await Deno.writeTextFile(file, "LLM_MAX_TOKENS=100\n");
      await using supervisor = startSupervisor(["--count", "1", "--env-file", file], {
        redisUrl: redis.url,
      });
      await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
      const untraced = await queue.add("llm", { prompt: "before" });
      await waitUntil(async () => await untraced.isCompleted(), { what: "the first job" });
      assert.deepEqual(collector.requests, [], "nothing sent before the reload");

      await Deno.writeTextFile(file, `OTEL_EXPORTER_OTLP_ENDPOINT=${collector.url}\n`);
      supervisor.signal("SIGHUP");
      await supervisor.waitForLog(/rolling restart done/, 60_000);
      await queue.add("llm", { prompt: "after" });
      const call = await waitUntil(
        () => collector.spans.find((span) => span.name.startsWith("chat ")),
        { what: "an LLM call's span from a rolled worker" },
      );
      assert.equal(call.service, "ppr-worker");
    } finally {
      await queue.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "with no OTEL_EXPORTER_OTLP_ENDPOINT nothing reaches a collector, jobs carry no trace context and log lines no trace_id",
  integration,
  async () => {
    await using redis = await startRedis();
    await using collector = startStubOtlp();
    // Where Deno would export if the workers traced: only the switch is missing.
    const exportTo = {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${collector.url}/v1/traces`,
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${collector.url}/v1/metrics`,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${collector.url}/v1/logs`,
      OTEL_METRIC_EXPORT_INTERVAL: "100",
    };
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: { ...exportTo, LOG_LEVEL: "debug" },
    });
    await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
    const enqueued = await runPpr(
      ["enqueue", "--prompt", "hello", "--wait", "--timeout", "30s"],
      baseEnv({ REDIS_URL: redis.url, ...exportTo }),
    );
    assert.equal(enqueued.code, 0, enqueued.stderr);
    const queue = new Queue("llm", { connection: redis.client() });
    try {
      const [job] = await queue.getJobs(["completed"]);
      assert.ok(job, "the job completed");
      assert.equal(job.opts.telemetry, undefined, "no trace context stored with the job");
    } finally {
      await queue.close();
    }
    await supervisor[Symbol.asyncDispose]();
    assert.deepEqual(collector.requests, []);
    const records = logRecords(supervisor.logs);
    assert.ok(records.length > 0);
    assert.equal(records.some((record) => "trace_id" in record), false);
  },
);

Deno.test(
  "a job of the batch lane has the span of its call in the batch: chat <model> with ppr.lane batch, its batch id, tokens and cost at the batch price, from its collection to the try that completes it",
  integration,
  async () => {
    await using pool = await tracedPool({ ...FAST_LANE, LLM_BATCH_QUEUES: "llm" });
    const { redis, collector } = pool;
    const queue = producerQueue(redis);
    try {
      const [job] = await queue.addBulk([{ name: "llm", data: { prompt: "a page" } }]);
      const [done] = await allFinished(queue, [job]);
      assert.equal(await done.getState(), "completed", done.failedReason);
      const result = done.returnvalue;
      assert.equal(result.lane, "batch");
      const call = await waitUntil(
        () =>
          collector.spans.find((span) =>
            span.name === `chat ${result.model}` && span.attributes["ppr.lane"] === "batch"
          ),
        { what: "the batch call's span" },
      );
      assert.equal(call.kind, CLIENT_KIND);
      assert.equal(call.attributes["ppr.batch_id"], result.batch_id);
      assert.equal(call.attributes["gen_ai.request.model"], MODEL);
      assert.equal(call.attributes["gen_ai.response.model"], result.model);
      assert.equal(call.attributes["gen_ai.usage.output_tokens"], result.usage.output_tokens);
      assert.ok(result.cost_usd > 0, `a priced call: ${JSON.stringify(result)}`);
      assert.equal(call.attributes["ppr.cost_usd"], result.cost_usd);
      // Inside the processing of the try that completed the job, which began after its collection.
      const consumer = ancestry(call, collector.spans).find((span) => span.kind === CONSUMER_KIND);
      assert.ok(consumer, "the span is inside a worker's processing of the job");
      assert.ok(
        call.startMs < consumer.startMs,
        `the call began at the collection (${call.startMs}), before that try (${consumer.startMs})`,
      );
    } finally {
      await queue.close();
    }
  },
);
