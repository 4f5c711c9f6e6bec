/**
 * What the LLM economics cost per job and what prompt caching saves: the Redis commands that the
 * fleet's ledger (budgets, rate limits, spend counters) and the result cache add to an LLM job
 * in a real pool, their microseconds per call, and 100 Claude API jobs sharing one system prompt
 * against the stub, with and without `LLM_PROMPT_CACHE`. Part of `deno task bench`.
 */

import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { parseBudgetPeriod, parseBudgets, parseRateLimits } from "../config/economics_rules.ts";
import { type CallPlan, createEconomics, type Outcome } from "../economics/admission.ts";
import {
  type CachedAnswer,
  readCachedAnswer,
  resultCacheKey,
  storeCachedAnswer,
} from "../economics/result_cache.ts";
import type { Supervisor } from "../testing/ppr.ts";
import { startStubAnthropic } from "../testing/stub_anthropic.ts";
import { waitUntil } from "../testing/wait.ts";
import { deadline, delay } from "../async/mod.ts";
import type { Record as RecordRow } from "./claude_cli.ts";
import { tcpPortsOf } from "./proc.ts";

/** Jobs per configuration of the pool runs (`BENCH_ECONOMICS_JOBS`). */
const JOBS = Number(Deno.env.get("BENCH_ECONOMICS_JOBS") ?? 1000);
/** The timed calls: rounds of so many sequential calls of each, after one untimed round. */
const TIMED_ROUNDS = 10;
const CALLS_PER_ROUND = 200;
/** Jobs of the prompt-caching runs, sent one at a time. */
const CACHE_JOBS = 100;
/** A system prompt of about 2,000 tokens (8,000 characters), shared by every job. */
const SYSTEM_PROMPT = Array.from(
  { length: 100 },
  (_, index) =>
    `Rule ${String(index + 1).padStart(3, "0")}: copy names, addresses and opening hours exactly. `,
).join("").padEnd(8000, ".");

/** How the bench starts and stops a pool on its Redis (`bench.ts`'s `pool` and `stop`). */
export interface Pools {
  /**
   * Starts a supervisor; resolves once its `--count` workers are idle. With `detached`, it leads
   * a process group of its own (see `startSupervisor`).
   */
  start(
    args: string[],
    env?: { [name: string]: string },
    options?: { detached?: boolean },
  ): Promise<Supervisor>;
  stop(supervisor: Supervisor): Promise<void>;
}

/** Commands Redis ran for some clients: those they sent, and those their scripts ran. */
export interface CommandCounts {
  sent: number;
  evalsha: number;
  inScripts: number;
  /**
   * Of those sent, the ones queued in a transaction and its EXEC: sent in the same write as the
   * MULTI before them (ioredis's `multi()`), so that `sent - inTransactions` are round trips.
   */
  inTransactions: number;
}

const noCommands = (): CommandCounts => ({ sent: 0, evalsha: 0, inScripts: 0, inTransactions: 0 });

function add(total: CommandCounts, counts: CommandCounts, sign = 1): CommandCounts {
  return {
    sent: total.sent + sign * counts.sent,
    evalsha: total.evalsha + sign * counts.evalsha,
    inScripts: total.inScripts + sign * counts.inScripts,
    inTransactions: total.inTransactions + sign * counts.inTransactions,
  };
}

const subtract = (to: CommandCounts, from: CommandCounts) => add(to, from, -1);

/** `INFO commandstats` as calls per command (a script's own commands are counted too). */
function callsOf(info: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(match[1], Number(match[2]));
  }
  return calls;
}

/**
 * Follows every command Redis runs (MONITOR) and counts them per client address; the commands a
 * script runs (shown as `lua`, right after the script's own line) count for the client that
 * sent the script. `snapshot()` reads `INFO commandstats` and the counts at the same point.
 */
export async function watchCommands(client: Redis) {
  // ioredis takes a line that comes in the same read as MONITOR's OK for a reply ("Command queue
  // state error"): the client's own connection (its ready check) is made before, and the caller
  // starts the watch while nothing else runs.
  await client.ping();
  const monitor = await client.monitor();
  monitor.on("error", () => {});
  const bySource = new Map<string, CommandCounts>();
  /** The clients inside a transaction: MONITOR shows MULTI, its commands, then EXEC, together. */
  const inTransaction = new Set<string>();
  const markers = new Map<string, () => void>();
  let lastClient: CommandCounts | undefined;
  monitor.on("monitor", (_time: string, args: string[], source: string) => {
    if (source === "lua") {
      if (lastClient) lastClient.inScripts++;
      return;
    }
    const command = args[0]?.toLowerCase();
    let counts = bySource.get(source);
    if (!counts) bySource.set(source, counts = noCommands());
    counts.sent++;
    if (command === "evalsha") counts.evalsha++;
    if (inTransaction.has(source)) counts.inTransactions++;
    if (command === "multi") inTransaction.add(source);
    if (command === "exec" || command === "discard") inTransaction.delete(source);
    lastClient = counts;
    if (command === "echo") markers.get(args[1])?.();
  });
  const portOf = (source: string) => Number(source.slice(source.lastIndexOf(":") + 1));
  return {
    /**
     * `INFO commandstats` and MONITOR's counts so far, at the same point: both are read in one
     * transaction, and MONITOR's once it has shown the transaction's marker.
     */
    async snapshot(): Promise<CommandSnapshot> {
      const marker = `bench-${crypto.randomUUID()}`;
      const seen = new Promise<void>((resolve) => markers.set(marker, resolve));
      const replies = await client.multi().info("commandstats").echo(marker).exec();
      await deadline(seen, 10_000);
      markers.delete(marker);
      const counts = new Map([...bySource].map(([source, each]) => [source, { ...each }]));
      return { calls: callsOf(String(replies?.[0]?.[1] ?? "")), counts };
    },
    /**
     * MONITOR's counts between snapshots `before` and `after` of the clients on `ports` (some
     * processes' connections), or with `onPorts` false, of every other client.
     */
    between(before: CommandSnapshot, after: CommandSnapshot, ports: Set<number>, onPorts = true) {
      const countsOf = (counts: Map<string, CommandCounts>) =>
        [...counts].filter(([source]) => ports.has(portOf(source)) === onPorts)
          .reduce((total, [, each]) => add(total, each), noCommands());
      return subtract(countsOf(after.counts), countsOf(before.counts));
    },
    stop() {
      monitor.disconnect();
    },
  };
}

/** Follows the commands Redis runs: see {@link watchCommands}. */
export type CommandWatch = Awaited<ReturnType<typeof watchCommands>>;

/** `INFO commandstats` and MONITOR's counts per client address, read at one point. */
export interface CommandSnapshot {
  calls: Map<string, number>;
  counts: Map<string, CommandCounts>;
}

/** What Redis did for some clients (those on some ports) between two snapshots. */
export interface CountedCommands {
  /** What they sent and what their scripts ran, as MONITOR saw it. */
  monitored: CommandCounts;
  /**
   * Every command Redis ran for them, their scripts' included: `INFO commandstats`, less the
   * other clients' commands as MONITOR saw them.
   */
  ran: number;
  /** Their EVALSHA calls, by `INFO commandstats` less the other clients'. */
  evalsha: number;
}

/**
 * The commands of the clients on `ports` (the connections of some processes: see
 * `tcpPortsOf`) between snapshots `before` and `after`. `INFO commandstats` counts every client:
 * the other clients' commands (a supervisor's probe, the bench's own), as MONITOR saw them, are
 * taken off. When the two counts of what the clients ran differ by more than `tolerance`, a
 * note says so.
 */
export function commandsBetween(
  watch: CommandWatch,
  before: CommandSnapshot,
  after: CommandSnapshot,
  ports: Set<number>,
  tolerance: number,
): CountedCommands {
  const stats = (name?: string) => {
    const sum = (calls: Map<string, number>) =>
      name ? calls.get(name) ?? 0 : [...calls.values()].reduce((a, b) => a + b, 0);
    return sum(after.calls) - sum(before.calls);
  };
  const others = watch.between(before, after, ports, false);
  const monitored = watch.between(before, after, ports);
  const ran = stats() - others.sent - others.inScripts;
  if (Math.abs(ran - (monitored.sent + monitored.inScripts)) > tolerance) {
    console.error(
      `  note: INFO commandstats counts ${ran} commands for the clients, MONITOR ${
        monitored.sent + monitored.inScripts
      }`,
    );
  }
  return { monitored, ran, evalsha: stats("evalsha") - others.evalsha };
}

/** What one worker did in Redis per job of one pool run. */
interface PerJob {
  /** Commands the worker process sent (MONITOR, its own connections only). */
  sent: number;
  /** EVALSHA calls among them. */
  evalsha: number;
  /** Every command Redis ran for the worker, its scripts' commands included (INFO commandstats). */
  ran: number;
}

/**
 * Runs `JOBS` jobs (their prompts from `prompts`) through a fresh pool of one worker at
 * concurrency 1 with `env`, and counts the Redis commands its worker process caused, per job.
 * The jobs are added while the queue is paused; the counted window runs from the resume to the
 * last job finished.
 */
async function commandsPerJob(
  pools: Pools,
  redis: { port: number },
  queue: Queue,
  watch: CommandWatch,
  env: { [name: string]: string },
  prompts: (index: number) => string,
): Promise<PerJob> {
  await queue.pause();
  for (let from = 0; from < JOBS; from += 1000) {
    await queue.addBulk(
      Array.from({ length: Math.min(1000, JOBS - from) }, (_, index) => ({
        name: "llm",
        data: { prompt: prompts(from + index) },
        opts: { removeOnComplete: true, removeOnFail: true },
      })),
    );
  }
  const supervisor = await pools.start(["--count", "1", "--concurrency", "1"], env);
  try {
    const workerPid = (await supervisor.health()).body.workers[0].pid!;
    await delay(500); // the worker's start-up commands, not counted
    const ports = tcpPortsOf(workerPid, redis.port);
    const before = await watch.snapshot();
    await queue.resume();
    const health = await supervisor.waitForHealth(
      (body) => body.workers[0].processed >= JOBS,
      `${JOBS} jobs`,
      300_000,
    );
    const after = await watch.snapshot();
    if (health.workers[0].failed > 0) {
      throw new Error(
        `${health.workers[0].failed} of ${JOBS} jobs failed with ${JSON.stringify(env)}`,
      );
    }
    for (const port of tcpPortsOf(workerPid, redis.port)) ports.add(port);
    const { monitored, ran, evalsha } = commandsBetween(watch, before, after, ports, JOBS / 100);
    return { sent: monitored.sent / JOBS, evalsha: evalsha / JOBS, ran: ran / JOBS };
  } finally {
    await pools.stop(supervisor);
  }
}

/**
 * The median microseconds of one call of each of `calls`: `TIMED_ROUNDS` rounds of
 * `CALLS_PER_ROUND` sequential calls of each in turn, after one untimed round, so that the load
 * of a shared machine falls on all of them alike. `index` counts each one's calls from 0.
 */
async function medianMicros(
  calls: { [name: string]: (index: number) => Promise<unknown> },
): Promise<{ [name: string]: number }> {
  const times = Object.fromEntries(Object.keys(calls).map((name) => [name, [] as number[]]));
  const made = Object.fromEntries(Object.keys(calls).map((name) => [name, 0]));
  for (let round = 0; round <= TIMED_ROUNDS; round++) {
    for (const [name, call] of Object.entries(calls)) {
      for (let index = 0; index < CALLS_PER_ROUND; index++) {
        const started = performance.now();
        await call(made[name]++);
        if (round > 0) times[name].push((performance.now() - started) * 1000);
      }
    }
  }
  return Object.fromEntries(
    Object.entries(times).map((
      [name, each],
    ) => [name, each.sort((a, b) => a - b)[Math.floor(each.length / 2)]]),
  );
}

function parsed<T>(result: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

/** An LLM call of the timed ledger calls: each its own id. */
const planOf = (index: number): CallPlan => ({
  callId: `bench:${crypto.randomUUID()}:${index}`,
  provider: "claude",
  model: "claude-sonnet-5-5",
  queue: "llm",
  inputTokens: 1500,
  maxOutputTokens: 1024,
  worstCaseUsd: 0.02,
});

/** The ledger's and the result cache's calls, timed one at a time against the bench's Redis. */
async function timeCalls(record: RecordRow, client: Redis) {
  const period = parsed(parseBudgetPeriod("day"));
  const usage = {
    input_tokens: 1500,
    output_tokens: 300,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
  const outcome: Outcome = { costUsd: 0.006, usage };
  const ledger = (budgets: string, limits: string) => {
    const economics = createEconomics({
      redis: client,
      budgets: parsed(parseBudgets(budgets)),
      period,
      rateLimits: parsed(parseRateLimits(limits)),
      reservationTtlMs: 360_000,
    });
    const admits = budgets !== "" || limits !== "";
    return async (index: number) => {
      const plan = planOf(index);
      if (admits && !(await economics.admit(plan)).admitted) {
        throw new Error(`the bench's call was not admitted (${budgets} ${limits})`);
      }
      await economics.settle(plan, outcome);
    };
  };

  // The result cache: a miss reads, then stores the answer; a hit reads it.
  const page = "Food bank opening hours and address. ".repeat(54);
  const keyOf = (index: number) =>
    resultCacheKey({
      provider: "claude",
      model: "claude-sonnet-5-5",
      request: { messages: [{ role: "user", content: `${page} ${index}` }] },
    });
  const answer: CachedAnswer = {
    result: {
      text: JSON.stringify({ name: "A food bank", hours: "Mo-Fr 9-17".repeat(90) }),
      model: "claude-sonnet-5-5",
      provider: "claude",
      usage,
    },
    cost_usd: 0.006,
    stored_at: Date.now(),
  };
  const missKeys = await Promise.all(
    Array.from({ length: (TIMED_ROUNDS + 1) * CALLS_PER_ROUND }, (_, index) => keyOf(-1 - index)),
  );
  const hitKey = await keyOf(-1);

  const micros = await medianMicros({
    ping: () => client.ping(),
    settle: ledger("", ""),
    budget: ledger("100", ""),
    limits: ledger("100", "claude=rpm:1000000,itpm:1000000000,otpm:1000000000"),
    key: (index) => keyOf(index),
    miss: async (index) => {
      if (await readCachedAnswer(client, missKeys[index])) throw new Error("a bench miss hit");
      await storeCachedAnswer(client, missKeys[index], answer, 3_600_000);
    },
    hit: async () => {
      if (!(await readCachedAnswer(client, hitKey))) throw new Error("a bench hit missed");
    },
  });
  const how = `median of ${TIMED_ROUNDS * CALLS_PER_ROUND} sequential calls`;
  const pingNote = `${how}; a PING round trip: ${micros.ping.toFixed(0)} us`;
  const rows: [name: string, figure: number, note: string][] = [
    [
      "ledger per job, nothing configured: settle only, as the runner does",
      micros.settle,
      pingNote,
    ],
    ["ledger per job, one budget: admit + settle", micros.budget, pingNote],
    ["ledger per job, one budget + rpm, itpm, otpm: admit + settle", micros.limits, pingNote],
    [
      "result cache key (SHA-256 of the request), per job",
      micros.key,
      `${how}; a ${page.length}-character prompt; no Redis`,
    ],
    [
      "result cache per job, a miss: readCachedAnswer + storeCachedAnswer",
      micros.miss,
      `${pingNote}; an answer of ${JSON.stringify(answer).length} bytes`,
    ],
    ["result cache per job, a hit: readCachedAnswer", micros.hit, pingNote],
    ["Redis PING round trip, same client", micros.ping, how],
  ];
  for (const [name, figure, note] of rows) record("economics", name, figure, "us", note);
}

/** The Redis commands per job of a pool of one echo worker, with each economics setting. */
async function countCommands(
  record: RecordRow,
  pools: Pools,
  redis: { port: number; client(): Redis },
  queue: Queue,
) {
  const watch = await watchCommands(redis.client());
  try {
    const distinct = (index: number) => `job ${index}`;
    const runs: [label: string, env: { [name: string]: string }, (index: number) => string][] = [
      ["(b) LLM_BUDGET_USD=100", { LLM_BUDGET_USD: "100" }, distinct],
      [
        "(c) LLM_RATE_LIMITS=echo=rpm:1000000,itpm:1000000000",
        { LLM_RATE_LIMITS: "echo=rpm:1000000,itpm:1000000000" },
        distinct,
      ],
      [
        "(d) both",
        { LLM_BUDGET_USD: "100", LLM_RATE_LIMITS: "echo=rpm:1000000,itpm:1000000000" },
        distinct,
      ],
      [
        "(e) LLM_RESULT_CACHE=llm, distinct prompts (misses)",
        { LLM_RESULT_CACHE: "llm" },
        (index) => `page ${index}`,
      ],
      [
        "(f) LLM_RESULT_CACHE=llm, one prompt (hits after the first)",
        { LLM_RESULT_CACHE: "llm" },
        () => "the same page",
      ],
    ];
    const count = (env: { [name: string]: string }, prompts: (index: number) => string) =>
      commandsPerJob(pools, redis, queue, watch, env, prompts);
    const base = await count({}, distinct);
    const how = "MONITOR, the worker's connections";
    record(
      "economics",
      "(a) nothing configured: Redis commands the worker sends per job",
      base.sent,
      "commands",
      `${JOBS} echo jobs, 1 worker x 1; BullMQ's own and one settle; EVALSHA ${
        base.evalsha.toFixed(2)
      }; Redis ran ${base.ran.toFixed(2)} in all, scripts' commands included; ${how}`,
    );
    for (const [label, env, prompts] of runs) {
      const counted = await count(env, prompts);
      const signed = (value: number) => `${value >= 0 ? "+" : ""}${value.toFixed(2)}`;
      record(
        "economics",
        `${label}: extra Redis commands per job`,
        counted.sent - base.sent,
        "commands",
        `EVALSHA ${signed(counted.evalsha - base.evalsha)}; ran ${
          signed(counted.ran - base.ran)
        } in all`,
      );
    }
  } finally {
    watch.stop();
  }
}

/** 100 Claude API jobs sharing one system prompt, with and without the provider's prompt cache. */
async function promptCaching(record: RecordRow, pools: Pools, queue: Queue) {
  const cost: { [mode: string]: number } = {};
  for (const promptCache of [true, false]) {
    await using stub = startStubAnthropic({ minCacheTokens: 1024 });
    const supervisor = await pools.start(["--count", "1"], {
      LLM_PROVIDER: "claude",
      ANTHROPIC_API_KEY: "x",
      ANTHROPIC_BASE_URL: stub.url,
      LLM_SYSTEM_PROMPT: SYSTEM_PROMPT,
      LLM_PROMPT_CACHE: String(promptCache),
    });
    const totals = { cost: 0, input: 0, writes: 0, reads: 0, output: 0 };
    try {
      for (let index = 0; index < CACHE_JOBS; index++) {
        const job = await queue.add("llm", {
          prompt: `Page ${index}: Community pantry, 12 Mill Road, open Tuesday 10-14.`,
        });
        const state = await waitUntil(async () => {
          const state = await job.getState();
          return state === "completed" || state === "failed" ? state : undefined;
        }, { what: `prompt-cache job ${index}`, timeoutMs: 60_000, intervalMs: 5 });
        const done = (await queue.getJob(job.id!))!;
        if (state !== "completed") throw new Error(`job ${index} failed: ${done.failedReason}`);
        const { cost_usd: costUsd, usage } = done.returnvalue;
        totals.cost += costUsd;
        totals.input += usage.input_tokens;
        totals.writes += usage.cache_creation_input_tokens ?? 0;
        totals.reads += usage.cache_read_input_tokens ?? 0;
        totals.output += usage.output_tokens;
      }
    } finally {
      await pools.stop(supervisor);
    }
    const requests = stub.jobRequests();
    if (requests.length !== CACHE_JOBS) {
      throw new Error(`the stub received ${requests.length} job requests, not ${CACHE_JOBS}`);
    }
    const bytes = requests.reduce((sum, request) => sum + JSON.stringify(request.body).length, 0);
    const mode = `LLM_PROMPT_CACHE=${promptCache}`;
    cost[mode] = totals.cost;
    const what = `${CACHE_JOBS} jobs, one ${SYSTEM_PROMPT.length}-char system prompt`;
    record(
      "prompt-cache",
      `${what}, ${mode}: accounted cost`,
      totals.cost * 100,
      "cents",
      `sum of cost_usd, claude-sonnet-5-5 at economics/prices.json; ${totals.output} output tokens`,
    );
    record("prompt-cache", `${mode}: input tokens, uncached`, totals.input, "tokens");
    record("prompt-cache", `${mode}: input tokens, cache writes`, totals.writes, "tokens");
    record("prompt-cache", `${mode}: input tokens, cache reads`, totals.reads, "tokens");
    record(
      "prompt-cache",
      `${mode}: request bytes`,
      bytes,
      "bytes",
      `${(bytes / CACHE_JOBS).toFixed(0)} per request`,
    );
  }
  record(
    "prompt-cache",
    "cost with / without the prompt cache",
    cost["LLM_PROMPT_CACHE=true"] / cost["LLM_PROMPT_CACHE=false"],
    "x",
  );
}

/** Runs the LLM economics part of the benchmark. */
export async function benchEconomics(
  record: RecordRow,
  redis: { port: number; client(): Redis },
  pools: Pools,
) {
  const queue = new Queue("llm", { connection: redis.client() });
  queue.on("error", () => {});
  try {
    // Timed first, before MONITOR slows every command down.
    await timeCalls(record, redis.client());
    await countCommands(record, pools, redis, queue);
    await promptCaching(record, pools, queue);
    await queue.obliterate({ force: true });
  } finally {
    await queue.close();
  }
}
