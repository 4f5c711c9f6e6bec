/**
 * The Claude CLI's cost per job, measured with the real CLI against the stub Messages API:
 * CPU and memory, cold (a process per job) against warm (one process, `/clear` between jobs);
 * what a request carries for the CLI and for the API providers; how soon a 401 pauses the
 * provider. Part of `deno task bench`; skipped without the real CLI.
 */

import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { startSupervisor, type Supervisor } from "../testing/ppr.ts";
import {
  startStubAnthropic,
  type StubAnthropic,
  type StubRequest,
} from "../testing/stub_anthropic.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { waitUntil } from "../testing/wait.ts";
import { claudeCliPids, findRealClaudeCli } from "../testing/real_claude.ts";
import { cpuOf, statusMbOf } from "./proc.ts";

/** Records one row of the benchmark table. */
export type Record = (
  group: string,
  name: string,
  value: number,
  unit: string,
  note?: string,
) => void;

const JOBS = Number(Deno.env.get("BENCH_CLI_JOBS") ?? 20);
/** A typical job: a page of text to turn into JSON. */
const PAGE = "Food bank opening hours and address. ".repeat(50);

const cliPids = (stub: StubAnthropic) => claudeCliPids(stub.url);

/** Characters of system text and of message text in one request. */
function sizesOf(stub: StubAnthropic, request: StubRequest): { system: number; messages: number } {
  const system = stub.systemText(request).length;
  return { system, messages: stub.requestText(request).length - system };
}

async function cliSupervisor(
  redisUrl: string,
  stub: StubAnthropic,
  home: string,
  mode: string,
  cli: string,
): Promise<Supervisor> {
  const supervisor = startSupervisor(["--count", "1"], {
    redisUrl,
    env: {
      LOG_LEVEL: "warning",
      LLM_PROVIDER: "claude",
      CLAUDE_CLI: cli,
      CLAUDE_CLI_MODE: mode,
      ANTHROPIC_BASE_URL: stub.url,
      CLAUDE_CODE_OAUTH_TOKEN: "bench-token",
      HOME: home,
      LLM_PROBE_INTERVAL: "10m",
    },
  });
  await supervisor.waitForHealth(
    (health) => health.workers.length === 1 && health.workers[0].state === "idle",
    "the CLI pool to be ready",
    60_000,
  );
  return supervisor;
}

/** Runs the Claude CLI part of the benchmark. */
export async function benchClaudeCli(record: Record, redis: { url: string; client(): Redis }) {
  const cli = (await findRealClaudeCli())?.path;
  if (!cli) {
    console.error("  Claude CLI part skipped: the real CLI is not installed");
    return;
  }
  const queue = new Queue("llm", { connection: redis.client() });
  queue.on("error", () => {});
  const perMode: { [mode: string]: { cpu: number; wall: number } } = {};
  for (const mode of ["cold", "warm"]) {
    await using stub = startStubAnthropic();
    const home = await Deno.makeTempDir({ prefix: "ppr-bench-claude-" });
    const supervisor = await cliSupervisor(redis.url, stub, home, mode, cli);
    const worker = (await supervisor.health()).body.workers[0].pid!;
    const before = cpuOf(worker);
    let peakRss = 0;
    const sampler = setInterval(() => {
      for (const pid of cliPids(stub)) peakRss = Math.max(peakRss, statusMbOf(pid));
    }, 20);
    const started = performance.now();
    for (let index = 0; index < JOBS; index++) {
      const job = await queue.add("llm", { prompt: `${PAGE} job ${index}` });
      const state = await waitUntil(async () => {
        const state = await job.getState();
        return state === "completed" || state === "failed" ? state : undefined;
      }, { what: `CLI job ${index}`, timeoutMs: 60_000, intervalMs: 10 });
      if (state === "failed") throw new Error(`CLI job ${index} failed: ${job.failedReason}`);
    }
    const wall = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const live = cliPids(stub);
    const liveCpu = live.reduce((sum, pid) => sum + cpuOf(pid).own, 0);
    for (const pid of live) peakRss = Math.max(peakRss, statusMbOf(pid));
    const after = cpuOf(worker);
    const cpu = after.children - before.children + liveCpu;
    perMode[mode] = { cpu, wall };
    record("claude-cli", `${mode}: CLI CPU per job (${JOBS} jobs)`, cpu / JOBS * 1000, "ms");
    record("claude-cli", `${mode}: wall time per job`, wall / JOBS * 1000, "ms");
    record("claude-cli", `${mode}: CLI memory per job in flight (peak RSS)`, peakRss, "MB");
    const request = stub.jobRequests().at(-1)!;
    const sizes = sizesOf(stub, request);
    record("request", `Claude CLI ${mode}: system characters per job`, sizes.system, "chars");
    record(
      "request",
      `Claude CLI ${mode}: message characters per job`,
      sizes.messages,
      "chars",
      `the prompt is ${PAGE.length + 7} chars`,
    );
    // A 401: from the job's arrival to the shared pause in Redis.
    const pauseStarted = performance.now();
    await queue.add("llm", { prompt: "expired STUB_ERROR=401" }, { attempts: 1 });
    await waitUntil(async () => (await redis.client().exists("ppr:llm:pause:claude")) === 1, {
      what: "the 401 pause",
      timeoutMs: 300_000,
      intervalMs: 10,
    });
    record(
      "claude-cli",
      `${mode}: 401 -> provider paused`,
      (performance.now() - pauseStarted) / 1000,
      "s",
    );
    await redis.client().del("ppr:llm:pause:claude");
    await queue.obliterate({ force: true });
    supervisor.signal("SIGTERM");
    await supervisor.waitForExit(60_000);
    await supervisor[Symbol.asyncDispose]();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
  record(
    "claude-cli",
    "warm / cold CPU per job",
    perMode.warm.cpu / perMode.cold.cpu,
    "x",
  );

  // The API providers' requests, for comparison: the same job through the SDKs.
  {
    await using stub = startStubAnthropic();
    const supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: {
        LOG_LEVEL: "warning",
        LLM_PROVIDER: "claude",
        ANTHROPIC_API_KEY: "bench-key",
        ANTHROPIC_BASE_URL: stub.url,
      },
    });
    const job = await queue.add("llm", { prompt: `${PAGE} api job` });
    await waitUntil(() => job.isCompleted(), { what: "the API job", timeoutMs: 60_000 });
    const sizes = sizesOf(stub, stub.jobRequests().at(-1)!);
    record("request", "Claude API: system characters per job", sizes.system, "chars");
    record("request", "Claude API: message characters per job", sizes.messages, "chars");
    supervisor.signal("SIGTERM");
    await supervisor.waitForExit(60_000);
    await supervisor[Symbol.asyncDispose]();
  }
  {
    await using stub = startStubLlm();
    const supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: {
        LOG_LEVEL: "warning",
        LLM_PROVIDER: "openai",
        OPENAI_API_KEY: "bench-key",
        OPENAI_BASE_URL: `${stub.url}/v1`,
      },
    });
    const job = await queue.add("llm", { prompt: `${PAGE} openai job` });
    await waitUntil(() => job.isCompleted(), { what: "the OpenAI job", timeoutMs: 60_000 });
    const body = stub.requests.findLast((request) => request.path.endsWith("/chat/completions"))!
      .body as { messages: { role: string; content: string }[] };
    const chars = (role: (r: string) => boolean) =>
      body.messages.filter((message) => role(message.role))
        .reduce((sum, message) => sum + message.content.length, 0);
    record(
      "request",
      "OpenAI-compatible: system characters per job",
      chars((r) => r === "system"),
      "chars",
    );
    record(
      "request",
      "OpenAI-compatible: message characters per job",
      chars((r) => r !== "system"),
      "chars",
    );
    supervisor.signal("SIGTERM");
    await supervisor.waitForExit(60_000);
    await supervisor[Symbol.asyncDispose]();
  }
  await queue.close();
}
