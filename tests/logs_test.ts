/** What the logs carry and what they never carry: job context on every line of a job; no secret anywhere. */

import { commandRuns, reportSkipped } from "../testing/command.ts";
import { strict as assert } from "node:assert";
import { Queue } from "bullmq";
import { startRedis } from "../testing/redis.ts";
import { baseEnv, runPpr, startSupervisor, waitForRecord } from "../testing/ppr.ts";
import { PAUSE_HISTORY_KEY } from "../redis/keys.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { receivedText, startStubOtlp } from "../testing/stub_otlp.ts";
import { waitUntil } from "../testing/wait.ts";
import { markDone } from "../jobs/batch/store.ts";
import { recordBatch } from "../testing/batch_records.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

const hasPython3 = await commandRuns("python3", ["--version"]);
if (!hasPython3) {
  reportSkipped("python3 is not installed: the tests whose processors are Python scripts");
}
/** For tests whose processors are Python scripts: skipped, saying why, without python3. */
const withPython = { ...integration, ignore: !hasPython3 };

Deno.test(
  "a line logged while a job runs carries the worker's name, the job id and the queue",
  withPython,
  async () => {
    await using redis = await startRedis();
    const dir = await Deno.makeTempDir({ prefix: "ppr-logs-" });
    const queue = new Queue("ext", { connection: redis.client() });
    queue.on("error", () => {});
    try {
      await Deno.writeTextFile(
        `${dir}/job.py`,
        "import json, sys\nprint('working on it', file=sys.stderr)\nprint(json.dumps({'ok': 1}))\n",
      );
      await using supervisor = startSupervisor(["--count", "1", "--queue", "ext"], {
        redisUrl: redis.url,
        env: { QUEUE_PROCESSORS: `ext=python3 ${dir}/job.py` },
      });
      await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
      const job = await queue.add("work", { page: 1 });
      const line = await supervisor.waitForLog(/working on it/);
      const record = JSON.parse(line);
      assert.equal(record.worker, "worker-test-1");
      assert.equal(record.job, job.id);
      assert.equal(record.queue, "ext");
    } finally {
      await queue.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "no secret appears in any log line, /health, /metrics, the pause history or what the traces' collector receives, even when providers repeat the keys in errors",
  integration,
  async () => {
    const redisPassword = "redis-pass-5f2a9c81d4e7";
    await using redis = await startRedis({ password: redisPassword });
    await using stub = startStubLlm();
    const anthropicKey = "sk-ant-secret-7d1e4b9a2c6f";
    const openaiKey = "sk-openai-secret-3a8f0e5b7c9d";
    const collectorToken = "otlp-token-secret-6b3e9d2a";
    await using collector = startStubOtlp();
    const queue = new Queue("llm", { connection: redis.client() });
    queue.on("error", () => {});
    await using supervisor = startSupervisor(["--count", "2"], {
      redisUrl: redis.url,
      env: {
        LLM_PROVIDER: "claude",
        ANTHROPIC_API_KEY: anthropicKey,
        ANTHROPIC_BASE_URL: stub.url,
        OPENAI_API_KEY: openaiKey,
        OPENAI_BASE_URL: `${stub.url}/v1`,
        LLM_PROBE_INTERVAL: "10m",
        LOG_LEVEL: "debug",
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer ${collectorToken}`,
      },
    });
    try {
      await supervisor.waitForHealth((body) => body.workers_alive === 2, "two workers");
      await queue.add("llm", { prompt: "hello" });
      await queue.add("llm", { prompt: "FAIL" }, { attempts: 1 });
      await queue.add("llm", { prompt: "AUTH_ECHO_KEY", provider: { name: "openai" } }, {
        attempts: 1,
      });
      await queue.add("llm", { prompt: "AUTH_ECHO_KEY" }, { attempts: 1 });
      await waitUntil(async () => {
        const [openai, claude] = await Promise.all([
          redis.client().exists("ppr:llm:pause:openai"),
          redis.client().exists("ppr:llm:pause:claude"),
        ]);
        return openai === 1 && claude === 1 && (await queue.getCompletedCount()) === 1;
      }, { what: "a success, and both providers paused by keys they repeated" });
      const pages = await Promise.all(
        ["/health", "/metrics", "/ready"].map(async (path) =>
          await (await fetch(`http://127.0.0.1:${supervisor.healthPort}${path}`)).text()
        ),
      );
      const pauses = await Promise.all(
        ["openai", "claude"].map((provider) => redis.client().get(`ppr:llm:pause:${provider}`)),
      );
      // Each pause's start, as the dashboard's pause chart reads it.
      const history = (await redis.client().xrange(PAUSE_HISTORY_KEY, "-", "+")).flat(2);
      assert.equal(history.filter((field) => field === "start").length, 2, "both pauses' starts");
      const reasons = (await queue.getFailed()).map((job) => job.failedReason);
      supervisor.signal("SIGTERM");
      await supervisor.waitForExit();
      const exported = receivedText(collector);
      assert.ok(
        collector.spans.some((span) => span.events.some((event) => event.name === "exception")),
        "the failed calls' spans, with their errors, were exported",
      );
      const everything = [...supervisor.logs, ...pages, ...pauses, ...history, ...reasons, exported]
        .join("\n");
      assert.ok(supervisor.logs.length > 20, "the pool logged");
      for (const secret of [redisPassword, anthropicKey, openaiKey, collectorToken]) {
        for (const part of [secret, secret.slice(0, 12), secret.slice(-12)]) {
          assert.ok(!everything.includes(part), `a secret leaked: ${part}`);
        }
      }
      assert.match(everything, /\*\*\*/, "the keys were there, and hidden");
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "auth status (text and --json) and auth test print no part of a key that the provider's 401 repeats",
  integration,
  async () => {
    await using stub = startStubLlm();
    const key = "echo-me-sk-openai-secret-9b4e2d7f1a6c3e8d";
    const env = baseEnv({
      LLM_PROVIDER: "openai",
      OPENAI_API_KEY: key,
      OPENAI_BASE_URL: `${stub.url}/v1`,
      REDIS_URL: "redis://127.0.0.1:1",
    });
    for (
      const args of [["auth", "status"], ["auth", "status", "--json"], ["auth", "test", "--yes"]]
    ) {
      const { stdout, stderr } = await runPpr(args, env);
      const output = stdout + stderr;
      assert.match(output, /401|Incorrect API key/, `${args.join(" ")} says what the server said`);
      for (const piece of [key, key.slice(0, 12), key.slice(-12)]) {
        assert.ok(!output.includes(piece), `${args.join(" ")} printed ${piece}:\n${output}`);
      }
    }
  },
);

Deno.test(
  "batches (text and --json) prints no part of a key that a refused batch's recorded error repeats",
  integration,
  async () => {
    await using redis = await startRedis();
    const key = "sk-ant-secret-batch-4c7e1a9d2b6f";
    const client = redis.client();
    await recordBatch(client, "0123456789abcdef", ["llm:1"], { createdMs: Date.now() });
    await markDone(client, "0123456789abcdef", { error: `401 invalid x-api-key ${key}` });
    const env = baseEnv({ REDIS_URL: redis.url, LLM_PROVIDER: "claude", ANTHROPIC_API_KEY: key });
    for (const args of [["batches"], ["batches", "--json"]]) {
      const { code, stdout, stderr } = await runPpr(args, env);
      assert.equal(code, 0, stderr);
      const output = stdout + stderr;
      assert.match(output, /invalid x-api-key \*\*\*/, `${args.join(" ")} shows the error, hidden`);
      for (const piece of [key, key.slice(0, 12), key.slice(-12)]) {
        assert.ok(!output.includes(piece), `${args.join(" ")} printed ${piece}:\n${output}`);
      }
    }
  },
);

Deno.test(
  "SIGHUP reloads print no part of a secret of the env file: keys before and after, a refused file's broken key line, a token that is no setting",
  integration,
  async () => {
    await using redis = await startRedis();
    const dir = await Deno.makeTempDir({ prefix: "ppr-logs-" });
    const file = `${dir}/pool.env`;
    const oldKey = "sk-ant-secret-old-4d8e1f0a7b3c";
    const newKey = "sk-ant-secret-new-9a2c6e4b1d7f";
    const brokenKey = "sk-openai-secret-broken-5e3a8c";
    const token = "oauth-token-secret-2f7b9d1c6a4e";
    try {
      await Deno.writeTextFile(file, `ANTHROPIC_API_KEY=${oldKey}\n`);
      await using supervisor = startSupervisor(["--count", "1", "--env-file", file], {
        redisUrl: redis.url,
        env: { LOG_LEVEL: "debug" },
      });
      await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
      await Deno.writeTextFile(
        file,
        `ANTHROPIC_API_KEY=${newKey}\nOPENAI_API_KEY="${brokenKey}\nCLAUDE_CODE_OAUTH_TOKEN=${token}\n`,
      );
      supervisor.signal("SIGHUP");
      await waitForRecord(
        supervisor,
        (record) => record.message.includes("not applied"),
        "refused",
      );
      await Deno.writeTextFile(
        file,
        `ANTHROPIC_API_KEY=${newKey}\nOPENAI_API_KEY=${brokenKey}\nCLAUDE_CODE_OAUTH_TOKEN=${token}\n`,
      );
      supervisor.signal("SIGHUP");
      await waitForRecord(
        supervisor,
        (record) => record.message.includes("rolling restart done"),
        "the reload applied",
        60_000,
      );
      const page = await (await fetch(`http://127.0.0.1:${supervisor.healthPort}/health`)).text();
      supervisor.signal("SIGTERM");
      await supervisor.waitForExit();
      const everything = [...supervisor.logs, page].join("\n");
      assert.match(everything, /ANTHROPIC_API_KEY/, "the changed key is named");
      assert.match(everything, /CLAUDE_CODE_OAUTH_TOKEN/, "the changed token is named");
      for (const secret of [oldKey, newKey, brokenKey, token]) {
        for (const part of [secret, secret.slice(0, 12), secret.slice(-12)]) {
          assert.ok(!everything.includes(part), `a secret leaked: ${part}`);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
