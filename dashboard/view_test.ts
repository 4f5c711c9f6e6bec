import { strict as assert } from "node:assert";
import { addSecrets } from "../log/redact.ts";
import { dashboardQueues, describeProcessor, providerView } from "./view.ts";

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

Deno.test("a provider's pause shows its reason and time left; a pause past its end is ok", () => {
  const pause = {
    state: "auth_failed" as const,
    reason: "Not logged in",
    since: Date.parse("2026-11-30T09:00:00Z"),
    retry_at: Date.parse("2026-11-30T09:05:00Z"),
  };
  assert.deepEqual(providerView("claude", pause, Date.parse("2026-11-30T09:01:00.500Z")), {
    provider: "claude",
    state: "auth_failed",
    reason: "Not logged in",
    since: "2026-11-30T09:00:00.000Z",
    resumes_at: "2026-11-30T09:05:00.000Z",
    retry_in_s: 240,
  });
  assert.equal(providerView("claude", pause, pause.retry_at).state, "ok");
  assert.equal(providerView("echo", undefined, 0).retry_in_s, 0);
});
