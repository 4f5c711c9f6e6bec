import { strict as assert } from "node:assert";
import { createInFlight } from "./in_flight.ts";
import { createReporter, type Tally } from "./reporter.ts";

Deno.test("a job that starts or finishes is reported within the same tick, once per tick", async () => {
  const lines: string[] = [];
  const tally: Tally = { processed: 0, failed: 0, givenBack: 0 };
  const inFlight = createInFlight();
  const reporter = createReporter({
    supervised: true,
    inFlight,
    tally,
    write: (line) => void lines.push(line),
  });
  const job = inFlight.add("llm", "1", "token-1");
  reporter.jobStarted();
  await Promise.resolve();
  assert.deepEqual(JSON.parse(lines[0]).active, [{ queue: "llm", id: "1", token: "token-1" }]);
  inFlight.remove(job);
  tally.processed++;
  reporter.countsChanged();
  reporter.countsChanged();
  await Promise.resolve();
  assert.equal(lines.length, 2, "two changes in one tick: one line");
  assert.equal(JSON.parse(lines[1]).processed, 1);
  assert.deepEqual(JSON.parse(lines[1]).active, []);
});
