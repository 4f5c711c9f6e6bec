import { strict as assert } from "node:assert";
import { autoscaleRecord } from "../testing/autoscale_record.ts";
import { escapeHtml } from "./html.ts";
import { renderPprPage } from "./page.ts";
import type { BatchView } from "../jobs/batch/listing.ts";
import type { PprView } from "./view.ts";

const VIEW: PprView = {
  autoscalers: [],
  at: "2026-11-30T09:00:00.000Z",
  redis: "redis://:***@cache:6379",
  prefix: "bull",
  read_only: false,
  queues: [{
    name: "llm",
    paused: false,
    counts: { waiting: 2, prioritized: 0, active: 1, delayed: 0, completed: 7, failed: 1 },
    roles: ["QUEUE_NAME"],
    processor: "llm",
  }],
  providers: [{
    provider: "claude",
    state: "quota_exceeded",
    reason: "usage limit reached <b>",
    since: "2026-11-30T08:59:00.000Z",
    resumes_at: "2026-11-30T09:59:00.000Z",
    retry_in_s: 3600,
  }],
  workers: [{
    name: "worker-web1-1",
    hostname: "web1",
    pid: 42,
    queues: ["llm"],
    state: "busy",
    current_jobs: [{ queue: "llm", id: "17" }],
    processed: 7,
    failed: 1,
    started_at: "2026-11-30T08:00:00.000Z",
    heartbeat_age_s: 3,
    registered: true,
    restarts: null,
  }, {
    name: "python-worker",
    hostname: null,
    pid: null,
    queues: ["llm"],
    state: "idle",
    current_jobs: [],
    processed: null,
    failed: null,
    started_at: null,
    heartbeat_age_s: null,
    registered: false,
    restarts: null,
  }],
  spend: {
    day: "2026-11-30",
    today: [{
      provider: "claude",
      model: "claude-sonnet-5-5",
      usd: 0.0123,
      calls: 3,
      unknownCostCalls: 0,
      failedCalls: 0,
      input_tokens: 100,
      output_tokens: 20,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    }],
    total: [
      {
        provider: "claude",
        model: "claude-sonnet-5-5",
        usd: 1.5,
        calls: 90,
        unknownCostCalls: 0,
        failedCalls: 0,
        input_tokens: 100,
        output_tokens: 20,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
      {
        provider: "openai",
        model: "mystery-1",
        usd: 0,
        calls: 4,
        unknownCostCalls: 4,
        failedCalls: 0,
        input_tokens: 100,
        output_tokens: 20,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    ],
    todayByQueue: [],
    totalByQueue: [],
    budgets: [{
      budget: "provider claude",
      scope: { scope: "provider", provider: "claude", limitUsd: 5 },
      limitUsd: 5,
      spentUsd: 1.25,
      reservedUsd: 0.5,
      leftUsd: 3.25,
      resetAtMs: Date.UTC(2026, 11, 1),
      periodId: "2026-11-30",
    }],
  },
  job_rates: [],
  pause_history: [{ provider: "claude", spans: [] }],
  batches: {
    open: [
      batch({
        id: "aaaaaaaaaaaaaaaa",
        provider_batch_id: "msgbatch_01",
        provider_status: "in_progress",
        jobs: 2,
        age_s: 90,
      }),
      batch({ id: "bbbbbbbbbbbbbbbb", phase: "submitting", age_s: 1 }),
    ],
    recent: [
      batch({
        id: "cccccccccccccccc",
        provider_batch_id: "msgbatch_02",
        model: "mystery-1",
        phase: "done",
        provider_status: "ended",
        jobs: 4,
        age_s: 7200,
        ended_at: "2026-11-30T08:30:00.000Z",
        cost_usd: 0.0021,
        unpriced: 1,
        stored: 4,
        succeeded: 3,
        failed: 1,
      }),
      batch({
        id: "dddddddddddddddd",
        phase: "done",
        jobs: 1,
        stored: 1,
        failed: 1,
        age_s: 60,
        error: "requests.0: too <big>",
      }),
    ],
  },
};

/** A batch of claude-haiku-4-5 in queue llm, open, nothing read yet; `fields` override. */
function batch(fields: Partial<BatchView> & { id: string }): BatchView {
  return {
    provider: "claude",
    provider_batch_id: null,
    queue: "llm",
    model: "claude-haiku-4-5",
    jobs: 1,
    phase: "open",
    provider_status: null,
    created_at: "2026-11-30T08:00:00.000Z",
    ended_at: null,
    age_s: 0,
    cost_usd: 0,
    unpriced: 0,
    stored: 0,
    succeeded: 0,
    failed: 0,
    error: null,
    ...fields,
  };
}

/** The text of the cell `field` in the row whose attribute `key` is `value`. */
function cellOf(html: string, key: string, value: string, field: string): string {
  const row = new RegExp(`<tr data-${key}="${value}">(.*?)</tr>`, "s").exec(html)?.[1];
  assert.ok(row, `no row ${key}=${value}`);
  const cell = new RegExp(`<td[^>]*data-field="${field}"[^>]*>(.*?)</td>`, "s").exec(row)?.[1];
  assert.ok(cell !== undefined, `no cell ${field} in row ${value}`);
  return cell.replace(/<[^>]+>/g, "");
}

Deno.test("escapeHtml escapes the five characters that end text or an attribute", () => {
  assert.equal(
    escapeHtml(`<a href="x" title='y'>&</a>`),
    "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
  );
});

Deno.test("the page shows each worker's host, state, current jobs and heartbeat, and unknowns as a dash", () => {
  const html = renderPprPage(VIEW);
  assert.equal(cellOf(html, "worker", "worker-web1-1", "host"), "web1");
  assert.equal(cellOf(html, "worker", "worker-web1-1", "state"), "busy");
  assert.equal(cellOf(html, "worker", "worker-web1-1", "jobs"), "llm 17");
  assert.match(html, /href="queue\/llm\/17"/);
  assert.equal(cellOf(html, "worker", "worker-web1-1", "heartbeat"), "3s ago");
  assert.equal(cellOf(html, "worker", "worker-web1-1", "restarts"), "—");
  assert.equal(cellOf(html, "worker", "python-worker", "host"), "—");
  assert.equal(cellOf(html, "worker", "python-worker", "heartbeat"), "not registered");
  assert.match(html, /2 on 2 hosts/);
});

Deno.test("the page's workers section sums up the workers of WORKER_POOLS per host and pool", () => {
  const [first] = VIEW.workers;
  const pooled = {
    ...VIEW,
    workers: [
      { ...first, name: "worker-web1@llm-1" },
      { ...first, name: "worker-web1@llm-2" },
      { ...first, name: "worker-web1@recorder-1" },
    ],
  };
  assert.match(
    renderPprPage(pooled),
    /3 on 1 host, every container on this Redis; pools: web1@llm 2, web1@recorder 1/,
  );
  assert.doesNotMatch(renderPprPage(VIEW), /pools:/);
});

Deno.test("the page shows a paused provider's reason, escaped, and the time left", () => {
  const html = renderPprPage(VIEW);
  assert.equal(cellOf(html, "provider", "claude", "state"), "quota_exceeded");
  assert.match(html, /usage limit reached &lt;b&gt;/);
  assert.equal(cellOf(html, "provider", "claude", "left"), "1h");
  assert.match(html, /1 paused, for every worker of every container/);
});

Deno.test("the page shows each queue's processor, where it is configured and its counts", () => {
  const html = renderPprPage(VIEW);
  assert.equal(cellOf(html, "queue", "llm", "processor"), "llm");
  assert.equal(cellOf(html, "queue", "llm", "roles"), "QUEUE_NAME");
  assert.equal(cellOf(html, "queue", "llm", "completed"), "7");
  assert.equal(cellOf(html, "queue", "llm", "failed"), "1");
  assert.match(html, /href="queue\/llm"/);
});

Deno.test("the page loads nothing from another host and has no script", () => {
  const html = renderPprPage(VIEW);
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
  assert.doesNotMatch(html, /<script/);
});

Deno.test("without a view the page says why", () => {
  const html = renderPprPage({ error: "cannot read Redis: connection refused", at: VIEW.at });
  assert.match(html, /Not available/);
  assert.match(html, /cannot read Redis: connection refused/);
});

Deno.test("the page shows each model's calls and dollars today and in total, unpriced calls apart (a model of unpriced calls only as unpriced, never $0), and each budget with what is left", () => {
  const html = renderPprPage(VIEW);
  assert.equal(cellOf(html, "model", "claude/claude-sonnet-5-5", "calls-today"), "3");
  assert.equal(cellOf(html, "model", "claude/claude-sonnet-5-5", "spent-today"), "$0.0123");
  assert.equal(cellOf(html, "model", "claude/claude-sonnet-5-5", "spent"), "$1.5000");
  assert.equal(cellOf(html, "model", "openai/mystery-1", "spent-today"), "—");
  assert.equal(cellOf(html, "model", "openai/mystery-1", "spent"), "unpriced (4 calls)");
  assert.equal(cellOf(html, "budget", "provider claude", "left"), "$3.2500");
  assert.equal(cellOf(html, "budget", "provider claude", "reserved"), "$0.5000");
  assert.equal(cellOf(html, "budget", "provider claude", "resets"), "2026-12-01T00:00:00.000Z");
  assert.match(html, /\$0\.0123 today \(UTC 2026-11-30\)/);
});

Deno.test("the page shows each open and recent batch with the columns of 'ppr-worker batches': ids, provider, queue, model, jobs, state, age, cost with unpriced answers as unknown, outcomes", () => {
  const html = renderPprPage(VIEW);
  const open = (field: string) => cellOf(html, "batch", "aaaaaaaaaaaaaaaa", field);
  assert.equal(open("id"), "aaaaaaaaaaaaaaaa");
  assert.equal(open("provider"), "claude");
  assert.equal(open("provider-batch-id"), "msgbatch_01");
  assert.equal(open("queue"), "llm");
  assert.equal(open("model"), "claude-haiku-4-5");
  assert.equal(open("jobs"), "2");
  assert.equal(open("state"), "open (in_progress)");
  assert.equal(open("age"), "1m30s");
  assert.equal(open("cost"), "-", "nothing read yet");
  assert.equal(open("succeeded"), "0");
  assert.equal(open("failed"), "0");
  assert.equal(cellOf(html, "batch", "bbbbbbbbbbbbbbbb", "state"), "submitting");
  assert.equal(cellOf(html, "batch", "bbbbbbbbbbbbbbbb", "provider-batch-id"), "—");
  const done = (field: string) => cellOf(html, "batch", "cccccccccccccccc", field);
  assert.equal(done("state"), "done (ended)");
  assert.equal(done("age"), "2h");
  assert.equal(done("cost"), "$0.0021 + unknown (1 unpriced)");
  assert.equal(done("succeeded"), "3");
  assert.equal(done("failed"), "1");
  assert.ok(
    html.indexOf('data-batch="bbbbbbbbbbbbbbbb"') < html.indexOf('data-batch="cccccccccccccccc"'),
    "open batches before recent ones",
  );
  assert.match(html, /2 open, 2 ended within 7 days \(newest 10 at most\)/);
});

Deno.test("the page shows a refused batch's state in red with the provider's reason, escaped, as its tooltip", () => {
  const html = renderPprPage(VIEW);
  assert.equal(cellOf(html, "batch", "dddddddddddddddd", "state"), "done (refused)");
  assert.match(
    html,
    /<span class="badge error" title="requests\.0: too &lt;big&gt;">done \(refused\)<\/span>/,
  );
  assert.equal(cellOf(html, "batch", "dddddddddddddddd", "cost"), "$0.0000");
});

Deno.test("with no batch the page's batches table says none", () => {
  const html = renderPprPage({ ...VIEW, batches: { open: [], recent: [] } });
  assert.match(html, /<section id="batches">.*?<td class="empty" colspan="11">none<\/td>/s);
});

Deno.test("the page shows each autoscaling pool with its workers, range, the size it wants and why, and no such section when no pool autoscales", () => {
  assert.ok(!renderPprPage(VIEW).includes('id="autoscalers"'));
  const html = renderPprPage({
    ...VIEW,
    autoscalers: [autoscaleRecord({ pool: "recorder" })],
  });
  assert.match(html, /id="autoscalers"/);
  assert.equal(cellOf(html, "autoscaler", "web1:recorder", "workers"), "3");
  assert.equal(cellOf(html, "autoscaler", "web1:recorder", "range"), "1–8");
  assert.equal(cellOf(html, "autoscaler", "web1:recorder", "wants"), "5");
  assert.equal(
    cellOf(html, "autoscaler", "web1:recorder", "detail"),
    "12 jobs wait for 3 free slots",
  );
});
