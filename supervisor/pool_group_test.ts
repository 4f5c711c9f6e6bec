import { strict as assert } from "node:assert";
import type { PoolSnapshot, SlotSnapshot } from "../health/status.ts";
import { mergeSnapshots } from "./pool_group.ts";

function slot(name: string): SlotSnapshot {
  return {
    name,
    index: 1,
    state: "running",
    pid: 1,
    restarts: 0,
    uptimeS: 1,
    activeJobs: 0,
    processed: 0,
    failed: 0,
    rssBytes: 0,
  };
}

function snapshot(slots: SlotSnapshot[], extra: Partial<PoolSnapshot> = {}): PoolSnapshot {
  return {
    size: slots.length,
    slots,
    draining: false,
    intensityExceeded: false,
    restartsInPeriod: 0,
    ...extra,
  };
}

Deno.test("the one unnamed pool's snapshot is /health's as it is", () => {
  const one = snapshot([slot("worker-a-1")]);
  assert.equal(mergeSnapshots([{ name: undefined, snapshot: one }]), one);
});

Deno.test("several pools add up their sizes and restarts, each slot marked with its pool; any draining or past its intensity makes the whole so", () => {
  const merged = mergeSnapshots([
    { name: "llm", snapshot: snapshot([slot("worker-a@llm-1"), slot("worker-a@llm-2")]) },
    {
      name: "recorder",
      snapshot: snapshot([slot("worker-a@recorder-1")], {
        draining: true,
        intensityExceeded: true,
        restartsInPeriod: 2,
      }),
    },
  ]);
  assert.equal(merged.size, 3);
  assert.equal(merged.restartsInPeriod, 2);
  assert.equal(merged.draining, true);
  assert.equal(merged.intensityExceeded, true);
  assert.deepEqual(merged.slots.map((slot) => [slot.name, slot.pool]), [
    ["worker-a@llm-1", "llm"],
    ["worker-a@llm-2", "llm"],
    ["worker-a@recorder-1", "recorder"],
  ]);
});
