/**
 * What BullMQ's job locks cost Redis at `LOCK_DURATION` and `STALLED_INTERVAL`: the commands per
 * second that each job in flight adds (lock renewals) and that an idle pool runs (stalled-job
 * checks among them), from `INFO commandstats` deltas over a fixed window, for BullMQ's own
 * defaults and for ppr-worker's. Part of `deno task bench` (`BENCH_ONLY=locks`).
 */

import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { delay } from "../async/mod.ts";
import { waitUntil } from "../testing/wait.ts";
import type { Record as RecordRow } from "./claude_cli.ts";
import type { Pools } from "./economics.ts";

/** The counted window of each measurement (`BENCH_LOCKS_WINDOW_S`): several renewal periods. */
const WINDOW_MS = Number(Deno.env.get("BENCH_LOCKS_WINDOW_S") ?? 60) * 1000;
/** Worker processes and jobs in flight per process of the measured pool. */
const PROCESSES = 2;
const CONCURRENCY = 8;
const IN_FLIGHT = PROCESSES * CONCURRENCY;

/** The lock settings measured: BullMQ's defaults, then ppr-worker's. */
const SETTINGS = [
  { name: "BullMQ's defaults", LOCK_DURATION: "30s", STALLED_INTERVAL: "30s" },
  { name: "ppr-worker's defaults", LOCK_DURATION: "10s", STALLED_INTERVAL: "3s" },
];

/** Calls per command of `INFO commandstats` (a script's own commands are counted too). */
function callsOf(info: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(match[1], Number(match[2]));
  }
  return calls;
}

/** Commands per second per command name over `WINDOW_MS`, every client counted. */
async function commandRates(client: Redis): Promise<Map<string, number>> {
  const before = callsOf(await client.info("commandstats"));
  await delay(WINDOW_MS);
  const after = callsOf(await client.info("commandstats"));
  const rates = new Map<string, number>();
  for (const [name, calls] of after) {
    const delta = calls - (before.get(name) ?? 0);
    if (delta > 0) rates.set(name, delta / (WINDOW_MS / 1000));
  }
  return rates;
}

const total = (rates: Map<string, number>) => [...rates.values()].reduce((a, b) => a + b, 0);

/** `busy` less `idle`, per command, over `jobs`. */
function perJob(busy: Map<string, number>, idle: Map<string, number>, jobs: number) {
  const names = new Set([...busy.keys(), ...idle.keys()]);
  return [...names].map((name) => ({
    name,
    perS: ((busy.get(name) ?? 0) - (idle.get(name) ?? 0)) / jobs,
  })).filter((each) => Math.abs(each.perS) >= 0.01).sort((a, b) => b.perS - a.perS);
}

/**
 * For each lock setting: a pool of `PROCESSES` workers at `CONCURRENCY`, its commands per second
 * idle, then with `IN_FLIGHT` jobs running (echo jobs longer than the window), and the difference
 * per job in flight. The queue is emptied after each.
 */
export async function benchLocks(
  record: RecordRow,
  redis: { client(): Redis },
  queue: Queue,
  pools: Pools,
): Promise<void> {
  const client = redis.client();
  for (const setting of SETTINGS) {
    const label =
      `LOCK_DURATION ${setting.LOCK_DURATION}, STALLED_INTERVAL ${setting.STALLED_INTERVAL}`;
    const supervisor = await pools.start(
      ["--count", String(PROCESSES), "--concurrency", String(CONCURRENCY), "--drain-timeout", "1s"],
      {
        LLM_PROVIDER: "echo",
        LOCK_DURATION: setting.LOCK_DURATION,
        STALLED_INTERVAL: setting.STALLED_INTERVAL,
      },
    );
    try {
      await delay(2000); // start-up commands, not counted
      const idle = await commandRates(client);
      await queue.addBulk(Array.from({ length: IN_FLIGHT }, (_, index) => ({
        name: "llm",
        data: {
          prompt: `lock ${index}`,
          provider: { name: "echo", latency_ms: WINDOW_MS + 30_000 },
        },
      })));
      await waitUntil(async () => (await queue.getActiveCount()) === IN_FLIGHT, {
        what: `${IN_FLIGHT} jobs in flight`,
        timeoutMs: 30_000,
      });
      await delay(1000); // the taking of the jobs, not counted
      const busy = await commandRates(client);
      record(
        "locks",
        `${setting.name} (${label}): idle pool of ${PROCESSES} workers`,
        total(idle),
        "Redis commands/s",
        "every client: probes, registrations, stalled-job checks, blocking reads",
      );
      const each = perJob(busy, idle, IN_FLIGHT);
      record(
        "locks",
        `${setting.name}: per job in flight`,
        (total(busy) - total(idle)) / IN_FLIGHT,
        "Redis commands/s",
        `${IN_FLIGHT} jobs over ${WINDOW_MS / 1000} s: ${
          each.map(({ name, perS }) => `${name} ${perS.toFixed(2)}`).join(", ")
        }`,
      );
    } finally {
      await pools.stop(supervisor);
      await queue.obliterate({ force: true });
    }
  }
}
