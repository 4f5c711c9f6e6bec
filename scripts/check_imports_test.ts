import { strict as assert } from "node:assert";
import { findCycle, violations } from "./check_imports.ts";

const edge = (from: string, to: string) => ({ from, to, example: `${from}/a.ts -> ${to}/b.ts` });

Deno.test("imports down the layers pass; up, sideways, into tests or unknown folders are named", () => {
  assert.deepEqual(violations([edge("worker", "jobs"), edge("jobs", "providers")]), []);
  assert.deepEqual(
    violations([
      edge("providers", "jobs"),
      edge("supervisor", "worker"),
      edge("worker", "testing"),
      edge("misc", "config"),
    ]),
    [
      "providers -> jobs (providers/a.ts -> jobs/b.ts): a lower layer imports a higher one",
      "supervisor -> worker (supervisor/a.ts -> worker/b.ts): folders of the same layer import each other",
      "worker -> testing (worker/a.ts -> testing/b.ts): the program imports a test or tool folder",
      "misc -> config (misc/a.ts -> config/b.ts): misc/ is in no layer of LAYERS",
    ],
  );
});

Deno.test("findCycle returns the loop between folders, and undefined without one", () => {
  assert.equal(findCycle([edge("a", "b"), edge("b", "c"), edge("a", "c")]), undefined);
  assert.deepEqual(findCycle([edge("a", "b"), edge("b", "c"), edge("c", "a")]), [
    "a",
    "b",
    "c",
    "a",
  ]);
});
