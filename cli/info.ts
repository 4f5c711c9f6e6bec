/** The `info` command: queue counts and every worker on this Redis, like `rq info`. */

import { delay } from "../async/mod.ts";
import { formatDuration } from "../config/duration.ts";
import { withRedis } from "../state/connection.ts";
import { JOB_STATES } from "../state/queues.ts";
import {
  type AutoscaleRecord,
  readSnapshot,
  type Snapshot,
  type SnapshotOptions,
} from "../state/snapshot.ts";
import { costText, type Spend, type SpendRow } from "../state/spend.ts";
import { formatAge, oneLine, table } from "../text/format.ts";
import { poolSizesText } from "../protocol/worker_name.ts";
import { printJson, runCommand } from "./_util.ts";

/** US dollars as `info` shows them: to the hundredth of a cent. */
export function formatUsd(usd: number): string {
  return `$${usd.toFixed(4)}`;
}

/** The spend section of `info`: today and in total per provider and model, then each budget. */
export function renderSpend(spend: Spend): string[] {
  const totals = new Map(spend.total.map((row) => [`${row.provider}/${row.model}`, row]));
  const today = new Map(spend.today.map((row) => [`${row.provider}/${row.model}`, row]));
  const models = [...new Set([...today.keys(), ...totals.keys()])].sort();
  const cost = (row: SpendRow | undefined) => row === undefined ? "-" : costText(row);
  const spendRows = [
    ["model", "calls today", "spent today", "calls", "spent in total"],
    ...models.map((model) => [
      model,
      String(today.get(model)?.calls ?? 0),
      cost(today.get(model)),
      String(totals.get(model)?.calls ?? 0),
      cost(totals.get(model)),
    ]),
  ];
  const budgetRows = [
    ["budget", "period", "limit", "spent", "reserved", "left", "resets"],
    ...spend.budgets.map((budget) => [
      budget.budget,
      budget.periodId,
      formatUsd(budget.limitUsd),
      formatUsd(budget.spentUsd),
      formatUsd(budget.reservedUsd),
      formatUsd(budget.leftUsd),
      new Date(budget.resetAtMs).toISOString(),
    ]),
  ];
  return [
    "",
    models.length === 0 ? "no LLM spend recorded" : `LLM spend (UTC day ${spend.day})`,
    ...(models.length === 0 ? [] : [table(spendRows, { alignRight: [1, 2, 3, 4] })]),
    ...(spend.budgets.length === 0
      ? []
      : ["", "Budgets (LLM_BUDGET_USD)", table(budgetRows, { alignRight: [2, 3, 4, 5] })]),
  ];
}

/**
 * The autoscalers' section of `info`: each autoscaling pool of each host, its workers, range,
 * the size it wants and why; nothing when no pool autoscales.
 */
export function renderAutoscalers(records: readonly AutoscaleRecord[]): string[] {
  if (records.length === 0) return [];
  const rows = [
    ["host", "pool", "workers", "range", "wants", "why"],
    ...records.map((record) => [
      record.hostname,
      record.pool ?? "-",
      String(record.size),
      `${record.min}-${record.max}`,
      record.desired === null ? "-" : String(record.desired),
      record.reason === null
        ? "(no look yet)"
        : `${record.reason}: ${oneLine(record.detail ?? "", 90)}`,
    ]),
  ];
  return ["", "Autoscaling (--autoscale)", table(rows, { alignRight: [2, 4] })];
}

/** `info` as text: the queue table, the worker table, then the LLM spend and budgets. */
export function renderInfo(snapshot: Snapshot): string {
  const queueRows = [
    ["queue", "status", ...JOB_STATES],
    ...snapshot.queues.map((queue) => [
      queue.name,
      queue.paused ? "paused" : "running",
      ...JOB_STATES.map((state) => String(queue.counts[state])),
    ]),
  ];
  const hosts = new Set(snapshot.workers.map((worker) => worker.hostname ?? "?"));
  const workerRows = [
    ["worker", "host", "pid", "queues", "state", "processed", "failed", "heartbeat", "jobs"],
    ...snapshot.workers.map((worker) => [
      worker.name,
      worker.hostname ?? "-",
      worker.pid === null ? "-" : String(worker.pid),
      worker.queues.join(","),
      worker.state,
      worker.processed === null ? "-" : String(worker.processed),
      worker.failed === null ? "-" : String(worker.failed),
      worker.heartbeat_age_s === null
        ? "(not registered)"
        : `${formatAge(worker.heartbeat_age_s * 1000)} ago`,
      worker.current_jobs.length === 0
        ? "-"
        : oneLine(worker.current_jobs.map((job) => job.id).join(","), 40),
    ]),
  ];
  const pools = poolSizesText(snapshot.workers);
  const workersTitle = `${snapshot.workers.length} worker${
    snapshot.workers.length === 1 ? "" : "s"
  } on ${hosts.size} host${hosts.size === 1 ? "" : "s"}${
    pools === undefined ? "" : `; pools: ${pools}`
  }`;
  return [
    `Redis ${snapshot.redis}, prefix ${snapshot.prefix}, at ${snapshot.at}`,
    "",
    snapshot.queues.length === 0
      ? "no queues"
      : table(queueRows, { alignRight: [2, 3, 4, 5, 6, 7] }),
    "",
    snapshot.workers.length === 0 ? "no workers" : workersTitle,
    ...(snapshot.workers.length === 0 ? [] : [table(workerRows, { alignRight: [2, 5, 6] })]),
    ...renderAutoscalers(snapshot.autoscalers),
    ...(snapshot.spend ? renderSpend(snapshot.spend) : []),
  ].join("\n");
}

/** What `ppr-worker info` was asked for, from its flags. */
export interface InfoOptions extends SnapshotOptions {
  /** Refresh every this many ms until Ctrl-C; `undefined`: show once. */
  intervalMs?: number;
  json: boolean;
}

/** Moves the cursor home and clears the screen: a refresh in place. */
const CLEAR_SCREEN = "\x1b[H\x1b[2J";

/**
 * Shows queue counts and workers once, or with `intervalMs` again and again until Ctrl-C:
 * in place on a terminal, as repeated blocks (or JSON lines) otherwise. Returns the exit code.
 */
export function runInfo(options: InfoOptions): Promise<number> {
  return runCommand("info", () =>
    withRedis(options, "ppr-info", async (redis) => {
      const show = (snapshot: Snapshot, refreshing: boolean) => {
        if (options.json) return printJson(snapshot);
        const text = renderInfo(snapshot);
        if (!refreshing) return console.log(text);
        if (Deno.stdout.isTerminal()) {
          const every = `every ${formatDuration(options.intervalMs!)}, Ctrl-C to stop`;
          console.log(`${CLEAR_SCREEN}${text}\n\n(${every})`);
        } else console.log(`${text}\n`);
      };
      if (options.intervalMs === undefined) {
        show(await readSnapshot(redis, options), false);
        return 0;
      }
      const stop = new AbortController();
      const onInterrupt = () => stop.abort();
      Deno.addSignalListener("SIGINT", onInterrupt);
      try {
        while (!stop.signal.aborted) {
          try {
            show(await readSnapshot(redis, options), true);
          } catch (error) {
            // A watch outlives a Redis blip: say so and try again at the next refresh.
            console.error(`ppr-worker info: ${error instanceof Error ? error.message : error}`);
          }
          await delay(options.intervalMs, { signal: stop.signal }).catch(() => {});
        }
        return 0;
      } finally {
        Deno.removeSignalListener("SIGINT", onInterrupt);
      }
    }));
}
