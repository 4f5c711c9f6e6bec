import { strict as assert } from "node:assert";
import type { Snapshot } from "../state/snapshot.ts";
import type { WorkerInfo } from "../state/workers.ts";
import { renderAutoscalers, renderInfo, renderSpend } from "./info.ts";
import { autoscaleRecord } from "../testing/autoscale_record.ts";

/** A registered, idle worker of queue llm, as the read model gives it. */
function worker(name: string, hostname: string, extra: Partial<WorkerInfo> = {}): WorkerInfo {
  return {
    name,
    hostname,
    pid: 100,
    queues: ["llm"],
    state: "idle",
    current_jobs: [],
    processed: 5,
    failed: 1,
    started_at: "2026-01-01T11:00:00Z",
    heartbeat_age_s: 3,
    registered: true,
    ...extra,
  };
}

Deno.test("renderInfo: a queue row with its status and counts, a worker row per worker, hosts counted", () => {
  const snapshot: Snapshot = {
    autoscalers: [],
    at: "2026-01-01T12:00:00.000Z",
    redis: "redis://:***@cache:6379",
    prefix: "bull",
    queues: [{
      name: "llm",
      paused: true,
      counts: { waiting: 3, prioritized: 0, active: 1, delayed: 0, completed: 12, failed: 2 },
    }],
    workers: [
      worker("worker-a-1", "a"),
      worker("worker-b-1", "b", { state: "busy", current_jobs: [{ queue: "llm", id: "7" }] }),
    ],
  };
  const text = renderInfo(snapshot);
  assert.match(text, /^Redis redis:\/\/:\*\*\*@cache:6379, prefix bull/);
  assert.match(text, /llm\s+paused\s+3\s+0\s+1\s+0\s+12\s+2/);
  assert.match(text, /2 workers on 2 hosts/);
  assert.match(text, /worker-a-1\s+a\s+100\s+llm\s+idle\s+5\s+1\s+3s ago\s+-/);
  assert.match(text, /worker-b-1\s+b\s+100\s+llm\s+busy\s+5\s+1\s+3s ago\s+7/);
  assert.match(renderInfo({ ...snapshot, queues: [], workers: [] }), /no queues\n\nno workers/);
});

Deno.test("renderInfo: workers of WORKER_POOLS are summed up per host and pool after the workers' count", () => {
  const snapshot: Snapshot = {
    autoscalers: [],
    at: "2026-01-01T12:00:00.000Z",
    redis: "redis://cache:6379",
    prefix: "bull",
    queues: [],
    workers: [
      worker("worker-a@llm-1", "a"),
      worker("worker-a@llm-2", "a"),
      worker("worker-a@recorder-1", "a"),
      worker("worker-b-1", "b"),
    ],
  };
  assert.match(renderInfo(snapshot), /4 workers on 2 hosts; pools: a@llm 2, a@recorder 1\n/);
  assert.doesNotMatch(
    renderInfo({ ...snapshot, workers: [worker("worker-b-1", "b")] }),
    /pools:/,
  );
});

Deno.test("renderSpend: a model whose calls all lack a price costs 'unpriced', never $0; a model with some keeps its dollars and its unpriced calls apart", () => {
  const row = (model: string, usd: number, calls: number, unknownCostCalls: number) => ({
    provider: "openai",
    model,
    usd,
    calls,
    unknownCostCalls,
    failedCalls: 0,
    input_tokens: 10,
    output_tokens: 5,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  });
  const rows = [row("local-llama", 0, 2, 2), row("gpt-4o-mini", 0.5, 3, 1)];
  const text = renderSpend({
    day: "2026-12-07",
    today: rows,
    total: rows,
    todayByQueue: [],
    totalByQueue: [],
    budgets: [],
  }).join("\n");
  assert.match(text, /openai\/local-llama\s+2\s+unpriced \(2 calls\)\s+2\s+unpriced \(2 calls\)/);
  assert.match(text, /openai\/gpt-4o-mini\s+3\s+\$0\.5000 \+ 1 unpriced call\s+3/);
  assert.ok(!text.includes("$0.0000"), text);
});

Deno.test("renderAutoscalers: each autoscaling pool of each host with its workers, range, the size it wants and why; nothing without one", () => {
  assert.deepEqual(renderAutoscalers([]), []);
  const text = renderAutoscalers([
    autoscaleRecord(),
    autoscaleRecord({
      hostname: "web2",
      pool: "recorder",
      max: 4,
      size: 1,
      desired: null,
      reason: null,
      detail: null,
    }),
  ]).join("\n");
  assert.match(text, /Autoscaling/);
  assert.match(text, /web1\s+-\s+3\s+1-8\s+5\s+backlog: 12 jobs wait for 3 free slots/);
  assert.match(text, /web2\s+recorder\s+1\s+1-4\s+-\s+\(no look yet\)/);
});
