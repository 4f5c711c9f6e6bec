import { strict as assert } from "node:assert";
import { renderRequeue, requeueSelection } from "./requeue.ts";

Deno.test("requeueSelection: --failed with --id or --all; without --failed, with neither or with both it is a usage error", () => {
  assert.deepEqual(requeueSelection({ failed: true, ids: ["1", "2"] }), {
    ok: true,
    ids: ["1", "2"],
  });
  assert.deepEqual(requeueSelection({ failed: true, all: true }), { ok: true, ids: "all" });
  assert.match((requeueSelection({ ids: ["1"] }) as { error: string }).error, /--failed/);
  assert.match(
    (requeueSelection({ failed: true }) as { error: string }).error,
    /--id ID \.\.\. or --all/,
  );
  assert.match(
    (requeueSelection({ failed: true, all: true, ids: ["1"] }) as { error: string }).error,
    /not both/,
  );
});

Deno.test("renderRequeue: how many were requeued, then each job asked for that was not, and why", () => {
  const text = renderRequeue({
    requeued: [{ queue: "llm", id: "1" }, { queue: "llm", id: "2" }],
    not_found: ["9"],
    not_failed: [{ queue: "llm", id: "3", state: "completed" }],
    errors: [{ queue: "llm", id: "4", error: "Job 4 is locked" }],
    unreadable: [{ queue: "llm", id: "5", error: "job data is not valid JSON (x): {" }],
  });
  assert.equal(
    text,
    "requeued 2 failed jobs of llm (attempts reset)\n" +
      "  9: not found\n" +
      "  llm 3: not failed (completed), left as it is\n" +
      "  llm 4: not requeued: Job 4 is locked\n" +
      "  llm 5: unreadable, not requeued: job data is not valid JSON (x): {",
  );
  assert.equal(
    renderRequeue({ requeued: [], not_found: [], not_failed: [], errors: [], unreadable: [] }),
    "requeued 0 failed jobs (attempts reset)",
  );
});
