import { strict as assert } from "node:assert";
import { addSecrets } from "../log/redact.ts";
import { dashboardQueues, describeProcessor } from "./view.ts";

Deno.test("the dashboard's queues are QUEUE_NAME, then the LLM_RESULT_QUEUES not in it", () => {
  assert.deepEqual(dashboardQueues(["llm", "other"], ["recorder", "llm"]), [
    "llm",
    "other",
    "recorder",
  ]);
});

/** The description of an external processor of `mode` that runs `command`. */
function external(mode: "per-job" | "persistent", ...command: string[]): string {
  return describeProcessor({ kind: "external", mode, command });
}

Deno.test("a processor is described by its kind, an external one by its mode and command", () => {
  assert.equal(describeProcessor({ kind: "llm" }), "llm");
  assert.equal(describeProcessor({ kind: "recorder" }), "recorder");
  assert.equal(describeProcessor(undefined), "none");
  assert.equal(
    external("per-job", "python3", "-c", "import x; x.run()"),
    'per-job: python3 -c "import x; x.run()"',
  );
});

Deno.test("a processor's command never shows a secret", () => {
  addSecrets(["processor-token-0123456789"]);
  assert.equal(
    external("persistent", "./run", "--token", "processor-token-0123456789"),
    "persistent: ./run --token ***",
  );
});
