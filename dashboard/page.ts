/** ppr-worker's own page beside bull-board, rendered on the server from the view: no script, no build step. */

import { batchCostText, batchStateText, type BatchView } from "../jobs/batch/listing.ts";
import { formatAge, oneLine } from "../text/format.ts";
import type { ProviderPause } from "../state/pauses.ts";
import type { AutoscaleRecord } from "../state/snapshot.ts";
import type { BudgetState, SpendRow } from "../state/spend.ts";
import { JOB_STATES } from "../state/queues.ts";
import { escapeHtml } from "./html.ts";
import { poolSizesText } from "../protocol/worker_name.ts";
import { LOCAL_FONTS } from "./bull_board.ts";
import { CHART_STYLE, jobRateChart, jobRateLegend, pauseTimeline, spendChart } from "./charts.ts";
import { costText, spendByProvider } from "../state/spend.ts";
import { PAUSE_WINDOW_MS } from "../state/pause_history.ts";
import { type PprView, type QueueView, RECENT_BATCHES, type WorkerView } from "./view.ts";

/** How often the page reloads itself, in seconds. */
export const REFRESH_S = 5;

/** A link relative to the page (`/ppr`), so the dashboard works behind a proxy's path too. */
function queueLink(queue: string, jobId?: string): string {
  const path = `queue/${encodeURIComponent(queue)}`;
  return jobId === undefined ? path : `${path}/${encodeURIComponent(jobId)}`;
}

const STYLE = `
:root { color-scheme: light; --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f3f4f6;
  --card: #ffffff; --accent: #2563eb; --ok: #15803d; --warn: #b45309; --bad: #b91c1c; }
* { box-sizing: border-box; }
body { margin: 0; font-family: ${LOCAL_FONTS.sans}; font-size: 14px; color: var(--fg);
  background: var(--bg); }
header { display: flex; align-items: center; gap: 28px; padding: 0 24px; height: 64px;
  background: var(--card); border-bottom: 1px solid var(--line); }
header .brand { display: flex; align-items: center; gap: 8px; font-weight: 600; font-size: 18px;
  color: var(--fg); text-decoration: none; }
header nav { display: flex; gap: 20px; align-self: stretch; }
header nav a { display: flex; align-items: center; color: var(--muted); text-decoration: none;
  border-bottom: 2px solid transparent; }
header nav a[aria-current] { color: var(--fg); border-bottom-color: var(--accent); }
header .where { margin-left: auto; color: var(--muted); font-family: ${LOCAL_FONTS.mono}; font-size: 12px; }
main { padding: 16px 24px 8px; display: grid; gap: 16px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow-x: auto; }
h2 { margin: 0; padding: 12px 16px; font-size: 15px; font-weight: 600; border-bottom: 1px solid var(--line); }
h2 small { color: var(--muted); font-weight: 400; margin-left: 8px; font-size: 13px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 7px 16px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 500; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
tr:last-child td { border-bottom: none; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
td.mono { font-family: ${LOCAL_FONTS.mono}; font-size: 13px; }
td.clip { max-width: 15ch; overflow: hidden; text-overflow: ellipsis; }
td.reason { white-space: normal; max-width: 480px; }
td.empty { color: var(--muted); text-align: center; padding: 16px; }
a { color: var(--accent); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 500;
  background: #f3f4f6; color: var(--muted); }
.badge.busy, .badge.running, .badge.open { background: #dbeafe; color: #1d4ed8; }
.badge.ok, .badge.done { background: #dcfce7; color: var(--ok); }
.badge.quota_exceeded, .badge.paused { background: #fef3c7; color: var(--warn); }
.badge.auth_failed, .badge.error { background: #fee2e2; color: var(--bad); }
.muted { color: var(--muted); }
footer { padding: 8px 24px 24px; color: var(--muted); font-size: 12px; }
`;

/** What a cell shows for nothing (unknown, none). */
const DASH = `<span class="muted">—</span>`;

function badge(text: string, kind = text, hint?: string): string {
  const title = hint === undefined ? "" : ` title="${escapeHtml(hint)}"`;
  return `<span class="badge ${escapeHtml(kind)}"${title}>${escapeHtml(text)}</span>`;
}

function cell(text: string, className?: string, field?: string): string {
  const attributes = `${className ? ` class="${className}"` : ""}${
    field ? ` data-field="${field}"` : ""
  }`;
  return `<td${attributes}>${text}</td>`;
}

function numberOrDash(value: number | null): string {
  return value === null ? DASH : String(value);
}

function workerRow(worker: WorkerView): string {
  const jobs = worker.current_jobs.length === 0
    ? DASH
    : worker.current_jobs.map((job) =>
      `<a href="${escapeHtml(queueLink(job.queue, job.id))}">${escapeHtml(job.queue)} ${
        escapeHtml(job.id)
      }</a>`
    ).join(", ");
  const heartbeat = worker.heartbeat_age_s === null
    ? `<span class="muted">not registered</span>`
    : `${formatAge(worker.heartbeat_age_s * 1000)} ago`;
  return `<tr data-worker="${escapeHtml(worker.name)}">${
    [
      cell(escapeHtml(worker.name), "mono", "name"),
      cell(worker.hostname === null ? DASH : escapeHtml(worker.hostname), undefined, "host"),
      cell(numberOrDash(worker.pid), "number", "pid"),
      cell(escapeHtml(worker.queues.join(", ")), undefined, "queues"),
      cell(badge(worker.state), undefined, "state"),
      cell(numberOrDash(worker.restarts), "number", "restarts"),
      cell(jobs, undefined, "jobs"),
      cell(numberOrDash(worker.processed), "number", "processed"),
      cell(numberOrDash(worker.failed), "number", "failed"),
      cell(heartbeat, undefined, "heartbeat"),
    ].join("")
  }</tr>`;
}

function providerRow(provider: ProviderPause): string {
  return `<tr data-provider="${escapeHtml(provider.provider)}">${
    [
      cell(escapeHtml(provider.provider), "mono", "provider"),
      cell(badge(provider.state === "ok" ? "ok" : provider.state), undefined, "state"),
      cell(
        provider.reason === null ? DASH : escapeHtml(oneLine(provider.reason, 300)),
        "reason",
        "reason",
      ),
      provider.since === null
        ? cell(DASH, undefined, "since")
        : cell(escapeHtml(provider.since), "mono", "since"),
      cell(
        provider.state === "ok" ? DASH : escapeHtml(formatAge(provider.retry_in_s * 1000)),
        "number",
        "left",
      ),
    ].join("")
  }</tr>`;
}

function queueRow(queue: QueueView): string {
  return `<tr data-queue="${escapeHtml(queue.name)}">${
    [
      cell(
        `<a href="${escapeHtml(queueLink(queue.name))}">${escapeHtml(queue.name)}</a>`,
        "mono",
        "queue",
      ),
      cell(escapeHtml(queue.processor), "mono", "processor"),
      cell(escapeHtml(queue.roles.join(", ")), "muted", "roles"),
      cell(badge(queue.paused ? "paused" : "running"), undefined, "status"),
      ...JOB_STATES.map((state) => cell(String(queue.counts[state]), "number", state)),
    ].join("")
  }</tr>`;
}

/** A column heading; `hint` is its tooltip. */
interface Column {
  name: string;
  numeric?: boolean;
  hint?: string;
}

/** Dollars as the page shows them. */
const usd = (value: number) => `$${value.toFixed(4)}`;

/** One autoscaling pool's row: host, pool, workers, range, the size it wants and why. */
function autoscalerRow(record: AutoscaleRecord): string {
  const key = `${record.hostname}${record.pool === null ? "" : `:${record.pool}`}`;
  return `<tr data-autoscaler="${escapeHtml(key)}">${
    [
      cell(escapeHtml(record.hostname), "mono", "host"),
      cell(record.pool === null ? DASH : escapeHtml(record.pool), "mono", "pool"),
      cell(String(record.size), "number", "workers"),
      cell(`${record.min}–${record.max}`, "number", "range"),
      cell(numberOrDash(record.desired), "number", "wants"),
      cell(record.reason === null ? DASH : badge(record.reason), undefined, "reason"),
      cell(escapeHtml(record.detail ?? "(no look yet)"), "reason", "detail"),
    ].join("")
  }</tr>`;
}

/** One model's row of the spend table: calls and dollars today and in total. */
function spendRow(
  model: string,
  today: SpendRow | undefined,
  total: SpendRow | undefined,
): string {
  const cost = (row: SpendRow | undefined) => row === undefined ? DASH : escapeHtml(costText(row));
  return `<tr data-model="${escapeHtml(model)}">${
    [
      cell(escapeHtml(model), "mono", "model"),
      cell(String(today?.calls ?? 0), "number", "calls-today"),
      cell(cost(today), "number", "spent-today"),
      cell(String(total?.calls ?? 0), "number", "calls"),
      cell(cost(total), "number", "spent"),
    ].join("")
  }</tr>`;
}

/** One budget's row: its limit, what is spent and reserved, what is left, when it resets. */
function budgetRow(budget: BudgetState): string {
  return `<tr data-budget="${escapeHtml(budget.budget)}">${
    [
      cell(escapeHtml(budget.budget), "mono", "budget"),
      cell(escapeHtml(budget.periodId), "mono", "period"),
      cell(usd(budget.limitUsd), "number", "limit"),
      cell(usd(budget.spentUsd), "number", "spent"),
      cell(usd(budget.reservedUsd), "number", "reserved"),
      cell(usd(budget.leftUsd), "number", "left"),
      cell(escapeHtml(new Date(budget.resetAtMs).toISOString()), "mono", "resets"),
    ].join("")
  }</tr>`;
}

/**
 * One batch's row, with the columns of `ppr-worker batches`: a refused batch's state says so
 * in red, with the provider's reason as its tooltip.
 */
function batchRow(batch: BatchView): string {
  const refused = batch.error !== null;
  return `<tr data-batch="${escapeHtml(batch.id)}">${
    [
      cell(escapeHtml(batch.id), "mono", "id"),
      cell(escapeHtml(batch.provider), "mono", "provider"),
      batch.provider_batch_id === null
        ? cell(DASH, undefined, "provider-batch-id")
        // A provider's id is long (msgbatch_ and 26 characters): clipped, whole in its tooltip.
        : `<td class="mono clip" data-field="provider-batch-id" title="${
          escapeHtml(batch.provider_batch_id)
        }">${escapeHtml(batch.provider_batch_id)}</td>`,
      cell(batch.queue ? escapeHtml(batch.queue) : DASH, "mono", "queue"),
      cell(batch.model ? escapeHtml(batch.model) : DASH, "mono", "model"),
      cell(String(batch.jobs), "number", "jobs"),
      cell(
        badge(
          batchStateText(batch),
          refused ? "error" : batch.phase,
          refused ? oneLine(batch.error!, 300) : undefined,
        ),
        undefined,
        "state",
      ),
      cell(escapeHtml(formatAge(batch.age_s * 1000)), "number", "age"),
      cell(escapeHtml(batchCostText(batch)), "number", "cost"),
      cell(String(batch.succeeded), "number", "succeeded"),
      cell(String(batch.failed), "number", "failed"),
    ].join("")
  }</tr>`;
}

function section(id: string, title: string, note: string, head: Column[], rows: string[]): string {
  const headCells = head.map((column) =>
    `<th${column.numeric ? ` class="number"` : ""}${
      column.hint ? ` title="${escapeHtml(column.hint)}"` : ""
    }>${escapeHtml(column.name)}</th>`
  ).join("");
  const body = rows.length > 0
    ? rows.join("\n")
    : `<tr><td class="empty" colspan="${head.length}">none</td></tr>`;
  return `<section id="${id}"><h2>${escapeHtml(title)}<small>${escapeHtml(note)}</small></h2>
<table><thead><tr>${headCells}</tr></thead><tbody>
${body}
</tbody></table></section>`;
}

/** A section of charts under a heading. */
function chartSection(id: string, title: string, note: string, body: string): string {
  return `<section id="${id}"><h2>${escapeHtml(title)}<small>${escapeHtml(note)}</small></h2>
<div class="chart">${body}</div></section>`;
}

function page(title: string, where: string, main: string, footer: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<meta http-equiv="refresh" content="${REFRESH_S}">
<title>${escapeHtml(title)}</title>
<link rel="icon" type="image/svg+xml" href="static/images/logo.svg">
<style>${STYLE}${CHART_STYLE}</style>
</head>
<body>
<header>
<a class="brand" href="./"><img src="static/images/logo.svg" alt="" width="22" height="22">ppr-worker</a>
<nav><a href="./">Queues and jobs</a><a href="ppr" aria-current="page">Workers &amp; providers</a></nav>
<span class="where">${where}</span>
</header>
<main>
${main}
</main>
<footer>${footer}</footer>
</body>
</html>
`;
}

/**
 * The page of ppr-worker's own view: every worker of every container, each provider's pause,
 * each queue with its processor and counts. With `error`, a page that says why there is none.
 */
export function renderPprPage(view: PprView | { error: string; at: string }): string {
  const footer = `${escapeHtml(view.at)} · reloads every ${REFRESH_S} s · the same as JSON: ` +
    `<a href="api/ppr">api/ppr</a>`;
  if ("error" in view) {
    return page(
      "ppr-worker: workers and providers",
      "",
      `<section id="error"><h2>Not available</h2><table><tbody><tr>${
        cell(escapeHtml(view.error), "reason")
      }</tr></tbody></table></section>`,
      footer,
    );
  }
  const hosts = new Set(view.workers.map((worker) => worker.hostname ?? "?"));
  const pools = poolSizesText(view.workers);
  const workers = section(
    "workers",
    "Workers",
    `${view.workers.length} on ${hosts.size} host${hosts.size === 1 ? "" : "s"}, every ` +
      `container on this Redis${pools === undefined ? "" : `; pools: ${pools}`}`,
    [
      { name: "worker" },
      { name: "host" },
      { name: "pid", numeric: true },
      { name: "queues" },
      { name: "state" },
      {
        name: "restarts",
        numeric: true,
        hint: "counted by each worker's supervisor: shown when the dashboard runs beside the " +
          "pool (--dashboard), for its own workers",
      },
      { name: "current jobs" },
      { name: "processed", numeric: true, hint: "as of the last heartbeat (every 5 s)" },
      { name: "failed", numeric: true, hint: "as of the last heartbeat (every 5 s)" },
      { name: "last heartbeat" },
    ],
    view.workers.map(workerRow),
  );
  // Shown when a pool autoscales: what each one wants and why (its supervisor's log says it too).
  const autoscaling = view.autoscalers.length === 0 ? "" : section(
    "autoscalers",
    "Autoscaling",
    `${view.autoscalers.length} pool${view.autoscalers.length === 1 ? "" : "s"} with ` +
      "--autoscale, every container on this Redis",
    [
      { name: "host" },
      { name: "pool" },
      { name: "workers", numeric: true },
      { name: "range", numeric: true },
      { name: "wants", numeric: true, hint: "the size its last look decided on (once a second)" },
      { name: "reason" },
      { name: "detail" },
    ],
    view.autoscalers.map(autoscalerRow),
  );
  const paused = view.providers.filter((provider) => provider.state !== "ok").length;
  const providers = section(
    "providers",
    "LLM providers",
    paused === 0 ? "none paused" : `${paused} paused, for every worker of every container`,
    [
      { name: "provider" },
      { name: "state" },
      { name: "reason" },
      { name: "since" },
      { name: "time left", numeric: true },
    ],
    view.providers.map(providerRow),
  );
  const byModel = (rows: SpendRow[]) =>
    new Map(rows.map((row) => [`${row.provider}/${row.model}`, row]));
  const today = byModel(view.spend.today);
  const total = byModel(view.spend.total);
  const models = [...new Set([...today.keys(), ...total.keys()])].sort();
  const spentToday = view.spend.today.reduce((sum, row) => sum + row.usd, 0);
  const spend = section(
    "spend",
    "LLM spend",
    `${usd(spentToday)} today (UTC ${view.spend.day}), every container on this Redis`,
    [
      { name: "model" },
      { name: "calls today", numeric: true },
      { name: "spent today", numeric: true },
      { name: "calls", numeric: true },
      {
        name: "spent in total",
        numeric: true,
        hint: "at the price table's prices; calls of a model without a price are counted apart",
      },
    ],
    models.map((model) => spendRow(model, today.get(model), total.get(model))),
  );
  const budgets = section(
    "budgets",
    "Budgets",
    view.spend.budgets.length === 0 ? "none set (LLM_BUDGET_USD)" : "LLM_BUDGET_USD",
    [
      { name: "budget" },
      { name: "period" },
      { name: "limit", numeric: true },
      { name: "spent", numeric: true },
      {
        name: "reserved",
        numeric: true,
        hint: "the worst case of the calls in flight, settled to their real cost when they end",
      },
      { name: "left", numeric: true },
      { name: "resets" },
    ],
    view.spend.budgets.map(budgetRow),
  );
  const batches = section(
    "batches",
    "Batches",
    `${view.batches.open.length} open, ${view.batches.recent.length} ended within 7 days ` +
      `(newest ${RECENT_BATCHES} at most) · ppr-worker batches`,
    [
      { name: "batch", hint: "ppr-worker's id: what 'ppr-worker batches cancel' takes" },
      { name: "provider" },
      { name: "provider's id" },
      { name: "queue" },
      { name: "model" },
      { name: "jobs", numeric: true },
      { name: "state", hint: "submitting, open or done, with the provider's own status" },
      { name: "age", numeric: true, hint: "since the batch was created" },
      {
        name: "cost",
        numeric: true,
        hint: "at the batch price, as far as its answers are read; answers of a model " +
          "without a price are counted apart as unknown",
      },
      { name: "succeeded", numeric: true },
      { name: "failed", numeric: true },
    ],
    [...view.batches.open, ...view.batches.recent].map(batchRow),
  );
  const queues = section(
    "queues",
    "Queues",
    view.read_only ? "read-only: no actions" : "jobs: open a queue to inspect, retry, promote",
    [
      { name: "queue" },
      { name: "processor", hint: "what runs its jobs in this configuration (QUEUE_PROCESSORS)" },
      { name: "from" },
      { name: "status" },
      ...JOB_STATES.map((state) => ({ name: state, numeric: true })),
    ],
    view.queues.map(queueRow),
  );
  const jobRates = chartSection(
    "job-rates",
    "Jobs per minute",
    "completed and failed in each queue of QUEUE_NAME, the last 3 h (UTC), every container",
    view.job_rates.length === 0
      ? `<p class="note">no queue</p>`
      : jobRateLegend() + view.job_rates.map(jobRateChart).join(""),
  );
  const pauseHistory = chartSection(
    "pause-history",
    "Provider pauses",
    "the last 24 h (UTC), for every worker of every container",
    pauseTimeline(view.pause_history, Date.parse(view.at), PAUSE_WINDOW_MS),
  );
  const spendChartSection = chartSection(
    "spend-chart",
    "Tokens and dollars per provider",
    `today (UTC ${view.spend.day}), every container on this Redis`,
    spendChart(spendByProvider(view.spend.today)),
  );
  const where = `${escapeHtml(view.redis)} · prefix ${escapeHtml(view.prefix)}${
    view.read_only ? " · read-only" : ""
  }`;
  return page(
    "ppr-worker: workers and providers",
    where,
    [
      workers,
      autoscaling,
      jobRates,
      pauseHistory,
      spendChartSection,
      providers,
      spend,
      budgets,
      batches,
      queues,
    ].join("\n"),
    footer,
  );
}
