import { strict as assert } from "node:assert";
import type { Registration } from "../redis/registrations.ts";
import { workerNameOfClient } from "../redis/bullmq_internals.ts";
import { workerInfos } from "./workers.ts";

const NOW = Date.parse("2026-01-01T12:00:00Z");

function registration(
  name: string,
  hostname: string,
  extra: Partial<Registration> = {},
): Registration {
  return {
    name,
    hostname,
    pid: 100,
    queues: ["llm"],
    started_at: "2026-01-01T11:00:00Z",
    heartbeat_at: "2026-01-01T11:59:57Z",
    active_jobs: 0,
    processed: 5,
    failed: 1,
    ...extra,
  };
}

Deno.test("workerInfos: a registered worker holding active jobs is busy and lists them; heartbeat age in seconds", () => {
  const [busy, idle] = workerInfos(
    [registration("worker-a-1", "a"), registration("worker-b-1", "b")],
    [
      { queue: "llm", id: "7", processedBy: "worker-a-1" },
      { queue: "llm", id: "8", processedBy: "worker-a-1" },
      { queue: "llm", id: "9", processedBy: undefined },
    ],
    [],
    { now: NOW },
  );
  assert.equal(busy.state, "busy");
  assert.deepEqual(busy.current_jobs, [{ queue: "llm", id: "7" }, { queue: "llm", id: "8" }]);
  assert.equal(busy.heartbeat_age_s, 3);
  assert.equal(idle.state, "idle");
  assert.deepEqual(idle.current_jobs, []);
});

Deno.test("workerInfos: BullMQ workers without a registration are listed once, unregistered; registered ones are not repeated", () => {
  const workers = workerInfos(
    [registration("worker-a-1", "a")],
    [],
    [
      { queue: "llm", name: "worker-a-1" },
      { queue: "llm", name: "python-worker" },
      { queue: "other", name: "python-worker" },
    ],
    { now: NOW },
  );
  assert.deepEqual(workers.map((worker) => [worker.name, worker.registered]), [
    ["python-worker", false],
    ["worker-a-1", true],
  ]);
  assert.deepEqual(workers[0].queues, ["llm", "other"]);
  assert.equal(workers[0].hostname, null);
});

Deno.test("workerInfos: with onlyQueues, only workers of those queues; names sorted numerically", () => {
  const workers = workerInfos(
    [
      registration("worker-a-10", "a"),
      registration("worker-a-2", "a"),
      registration("worker-x-1", "x", { queues: ["other"] }),
    ],
    [],
    [],
    { now: NOW, onlyQueues: ["llm"] },
  );
  assert.deepEqual(workers.map((worker) => worker.name), ["worker-a-2", "worker-a-10"]);
});

Deno.test("workerNameOfClient: the name after BullMQ's ':w:' marker, '(unnamed)' without one", () => {
  assert.equal(workerNameOfClient("bull:bGxt:w:worker-web1-1"), "worker-web1-1");
  assert.equal(workerNameOfClient("{ppr}:bGxt:w:a:b"), "a:b");
  assert.equal(workerNameOfClient("bull:bGxt"), "(unnamed)");
});
