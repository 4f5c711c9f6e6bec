/**
 * Redis round trips and commands per job, for each kind of job ppr-worker runs, against plain
 * BullMQ: what a job costs in Redis beyond BullMQ's own, and what the LLM economics add. Part of
 * `deno task bench` (section `roundtrips`); it starts a redis-server of its own.
 */

import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { startRedis } from "../testing/redis.ts";
import { startSupervisor, type Supervisor } from "../testing/ppr.ts";
import { waitUntil } from "../testing/wait.ts";
import { delay } from "../async/mod.ts";
import type { Record as RecordRow } from "./claude_cli.ts";
import { hasPython, PERSISTENT_NOOP } from "./processors.ts";
import { type RedisTraffic, startRedisTrafficProxy, trafficBetween } from "./redis_traffic.ts";

/** Jobs per kind and round (`BENCH_ROUNDTRIPS_JOBS`). */
const JOBS = Number(Deno.env.get("BENCH_ROUNDTRIPS_JOBS") ?? 500);
/** Rounds, each kind once per round in an order that turns (`BENCH_ROUNDTRIPS_ROUNDS`). */
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDTRIPS_ROUNDS") ?? 4);

/** Jobs each fresh process runs before the counted ones: its one-off work (scripts, imports) does not count. */
const WARMUP_JOBS = 20;

/** The processes that run a kind's jobs: a pool, or a plain BullMQ worker. */
interface Runner {
  stop(): Promise<void>;
}

/** One kind of job, as the bench runs it: its queue, its jobs and what runs them. */
interface Kind {
  label: string;
  queue: string;
  /** The data of job `index` of a run; `run` is new for each run, so that no run hits another's cached answers. */
  data(index: number, run: string): unknown;
  /** Starts the processes on `redisUrl` (the counting proxy); resolves once they take jobs. */
  start(redisUrl: string): Promise<Runner>;
}

/** What Redis saw at one point: what it ran (INFO commandstats) and what both proxies carried. */
interface Snapshot {
  ran: number;
  measured: RedisTraffic;
  bench: RedisTraffic;
}

/** Per job of one kind in one round, background subtracted. */
interface PerJob {
  roundTrips: number;
  commands: number;
  /** Every command Redis ran for the processes, their scripts' commands included. */
  ran: number;
  /** Round trips per job by command name (the first command of each). */
  byName: Map<string, number>;
}

/** A supervisor with one worker of concurrency 1 and `env`, ready. */
async function pool(redisUrl: string, env: { [name: string]: string }): Promise<Runner> {
  const supervisor: Supervisor = startSupervisor(["--count", "1", "--concurrency", "1"], {
    redisUrl,
    env: { LOG_LEVEL: "warning", ...env },
  });
  await supervisor.waitForHealth(
    (health) => health.workers.length === 1 && health.workers[0].state === "idle",
    "the pool to be ready",
    120_000,
  );
  return {
    async stop() {
      supervisor.signal("SIGTERM");
      await supervisor.waitForExit(60_000);
      await supervisor[Symbol.asyncDispose]();
    },
  };
}

/** BullMQ's own Worker with a no-op processor, in a process of its own. */
async function plainBullmq(redisUrl: string, queue: Queue): Promise<Runner> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./plain_bullmq_worker.ts", import.meta.url).pathname,
      redisUrl,
      queue.name,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitUntil(async () => (await queue.getWorkersCount()) >= 1, {
    what: "the plain BullMQ worker to register",
    timeoutMs: 60_000,
  });
  return {
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** The kinds, in the order of the first round. */
function kindsOf(
  queues: (name: string) => Queue,
  dir: string,
  python: boolean,
): Kind[] {
  const structured = (index: number, run: string) => ({
    prompt: JSON.stringify({ n: index, run }),
    format: { type: "object", required: ["n"] },
  });
  const routed = { LLM_RESULT_QUEUES: "results" };
  const limits = { LLM_RATE_LIMITS: "echo=rpm:1000000,itpm:1000000000" };
  const llm = (
    label: string,
    env: { [name: string]: string },
    data: (index: number, run: string) => unknown = structured,
  ): Kind => ({
    label,
    queue: "llm",
    data,
    start: (url) => pool(url, { QUEUE_NAME: "llm", ...env }),
  });
  const kinds: Kind[] = [
    {
      label: "plain BullMQ worker, no-op",
      queue: "plain",
      data: (index) => ({ prompt: `job ${index}` }),
      start: (url) => plainBullmq(url, queues("plain")),
    },
    llm("LLM job, echo, no schema, no routing", {}, (index) => ({ prompt: `job ${index}` })),
    llm("LLM job with a schema and result routing", routed),
    {
      label: "recorder job",
      queue: "recorder",
      data: (index) => ({
        job_id: `r${index}`,
        job: { prompt: `job ${index}` },
        result: { text: `answer ${index}` },
      }),
      start: (url) => pool(url, { QUEUE_NAME: "recorder", OUTPUT_DIR: `${dir}/recorded` }),
    },
    llm("LLM, schema, routing + LLM_BUDGET_USD", { ...routed, LLM_BUDGET_USD: "100" }),
    llm("LLM, schema, routing + LLM_RATE_LIMITS", { ...routed, ...limits }),
    llm("LLM, schema, routing + LLM_RESULT_CACHE, misses", {
      ...routed,
      LLM_RESULT_CACHE: "llm",
    }),
    llm(
      "LLM, schema, routing + LLM_RESULT_CACHE, hits",
      { ...routed, LLM_RESULT_CACHE: "llm" },
      (_, run) => structured(-1, run),
    ),
    llm("LLM, schema, routing + budget, rate limits and cache (misses)", {
      ...routed,
      ...limits,
      LLM_BUDGET_USD: "100",
      LLM_RESULT_CACHE: "llm",
    }),
  ];
  if (python) {
    kinds.splice(4, 0, {
      label: "external job, persistent processor",
      queue: "external",
      data: (index) => ({ index }),
      start: (url) =>
        pool(url, {
          QUEUE_NAME: "external",
          QUEUE_PROCESSORS: `external=persistent:python3 ${dir}/persistent_noop.py`,
        }),
    });
  }
  return kinds;
}

/** `INFO commandstats`: the calls of every command so far, a script's own commands included. */
async function commandsRun(client: Redis): Promise<number> {
  const info = await client.info("commandstats");
  let calls = 0;
  for (const match of info.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}

/**
 * Runs `JOBS` jobs of `kind` on fresh processes, after `WARMUP_JOBS` uncounted ones, and returns
 * what they cost Redis per job: the window runs from the resume of the paused queue to its last
 * job finished, and a window of the same length right after, the queue empty, is taken off as
 * the processes' background (registrations, heartbeats, stalled-job checks, the supervisor's
 * queue figures).
 */
async function measure(
  kind: Kind,
  bench: Redis,
  queue: Queue,
  proxies: {
    measured: { url: string; traffic(): RedisTraffic };
    bench: { traffic(): RedisTraffic };
  },
): Promise<PerJob> {
  const run = crypto.randomUUID();
  const keys = (name: string) => `bull:${queue.name}:${name}`;
  const drained = async () => {
    const [wait, active, prioritized, delayed] = await Promise.all([
      bench.llen(keys("wait")),
      bench.llen(keys("active")),
      bench.zcard(keys("prioritized")),
      bench.zcard(keys("delayed")),
    ]);
    return wait + active + prioritized + delayed === 0;
  };
  const add = async (count: number, dataOf: (index: number) => unknown) => {
    for (let from = 0; from < count; from += 1000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1000, count - from) }, (_, index) => ({
          name: kind.queue,
          data: dataOf(from + index),
          opts: { removeOnComplete: true, removeOnFail: false },
        })),
      );
    }
  };
  const runner = await kind.start(proxies.measured.url);
  try {
    await add(WARMUP_JOBS, (index) => kind.data(JOBS + index, run));
    await waitUntil(drained, { what: `the warm-up jobs`, timeoutMs: 60_000, intervalMs: 20 });
    await queue.pause();
    await add(JOBS, (index) => kind.data(index, run));
    await delay(500); // the pause settles; nothing runs
    const snapshot = async (): Promise<Snapshot> => {
      const ran = await commandsRun(bench);
      return { ran, measured: proxies.measured.traffic(), bench: proxies.bench.traffic() };
    };
    const before = await snapshot();
    const started = performance.now();
    await queue.resume();
    await waitUntil(drained, {
      what: `${JOBS} ${kind.label} jobs`,
      timeoutMs: 600_000,
      intervalMs: 20,
    });
    const busy = await snapshot();
    await delay(performance.now() - started);
    const idle = await snapshot();
    const failed = await queue.getFailedCount();
    if (failed > 0) {
      const [job] = await queue.getFailed(0, 0);
      throw new Error(`${failed} ${kind.label} jobs failed: ${job?.failedReason}`);
    }
    const windowOf = (from: Snapshot, to: Snapshot) => {
      const measured = trafficBetween(from.measured, to.measured);
      // The bench's own commands (the resume, the polls, INFO itself) are taken off what Redis ran.
      const benchCommands = trafficBetween(from.bench, to.bench).commands;
      return { measured, ran: to.ran - from.ran - benchCommands };
    };
    const load = windowOf(before, busy);
    const background = windowOf(busy, idle);
    const byName = new Map<string, number>();
    for (const [name, count] of load.measured.byName) {
      byName.set(name, (count - (background.measured.byName.get(name) ?? 0)) / JOBS);
    }
    return {
      roundTrips: (load.measured.roundTrips - background.measured.roundTrips) / JOBS,
      commands: (load.measured.commands - background.measured.commands) / JOBS,
      ran: (load.ran - background.ran) / JOBS,
      byName,
    };
  } finally {
    await runner.stop();
    await queue.obliterate({ force: true });
  }
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
const fixed = (value: number) => value.toFixed(2);
const spread = (values: number[]) =>
  `rounds ${fixed(Math.min(...values))} to ${fixed(Math.max(...values))}`;

/** Runs the round-trips part of the benchmark. */
export async function benchRoundTrips(record: RecordRow) {
  await using redis = await startRedis();
  await using measured = startRedisTrafficProxy(redis.port);
  await using benchProxy = startRedisTrafficProxy(redis.port);
  const { Redis } = await import("ioredis");
  const bench = new Redis(benchProxy.url, { maxRetriesPerRequest: null });
  const dir = await Deno.makeTempDir({ prefix: "ppr-bench-roundtrips-" });
  const python = await hasPython();
  if (!python) console.error("  the external job row skipped: python3 is not installed");
  await Deno.writeTextFile(`${dir}/persistent_noop.py`, PERSISTENT_NOOP);
  const opened = new Map<string, Queue>();
  const queueOf = (name: string) => {
    let queue = opened.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: bench });
      queue.on("error", () => {});
      opened.set(name, queue);
    }
    return queue;
  };
  const kinds = kindsOf(queueOf, dir, python);
  const results = new Map<string, PerJob[]>(kinds.map((kind) => [kind.label, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // The order turns each round, so that no kind always runs first or after the same one.
      const order = kinds.map((_, index) => kinds[(index + round) % kinds.length]);
      for (const kind of order) {
        const perJob = await measure(kind, bench, queueOf(kind.queue), {
          measured,
          bench: benchProxy,
        });
        console.error(
          `  round ${round + 1}, ${kind.label}: ${fixed(perJob.roundTrips)} round trips, ` +
            `${fixed(perJob.commands)} commands, Redis ran ${fixed(perJob.ran)} per job`,
        );
        results.get(kind.label)!.push(perJob);
      }
      await queueOf("results").obliterate({ force: true });
    }
  } finally {
    await Promise.all([...opened.values()].map((queue) => queue.close()));
    bench.disconnect();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }

  const [plain, , routedLlm] = kinds.map((kind) => results.get(kind.label)!);
  const how = `${JOBS} jobs x ${ROUNDS} rounds, 1 worker x 1, less an idle window as long`;
  for (const kind of kinds) {
    const rounds = results.get(kind.label)!;
    const roundTrips = rounds.map((each) => each.roundTrips);
    const overPlain = rounds.map((each, index) => each.roundTrips - plain[index].roundTrips);
    const names = [...rounds[0].byName].filter(([, count]) => Math.abs(count) >= 0.05)
      .map(([name]) => `${name} ${fixed(mean(rounds.map((each) => each.byName.get(name) ?? 0)))}`);
    record(
      "roundtrips",
      `${kind.label}: Redis round trips per job`,
      mean(roundTrips),
      "round trips",
      `${spread(roundTrips)}; ${
        kind === kinds[0] ? how : `${fixed(mean(overPlain))} over plain BullMQ`
      }; commands sent ${fixed(mean(rounds.map((each) => each.commands)))} (${
        names.join(", ")
      }); Redis ran ${fixed(mean(rounds.map((each) => each.ran)))}, scripts' commands included`,
    );
  }
  const extra = (label: string, of: PerJob[], over: PerJob[]) => {
    const each = of.map((rounds, index) => rounds.roundTrips - over[index].roundTrips);
    record("roundtrips", label, mean(each), "round trips", `${spread(each)}; goal: 1 at most`);
  };
  extra(
    "ppr-worker over plain BullMQ, LLM job with a schema and result routing",
    routedLlm,
    plain,
  );
  extra(
    "budget, rate limits and result cache together, over the same LLM job",
    results.get(kinds.at(-1)!.label)!,
    routedLlm,
  );
}
