/**
 * The Claude CLI client with the real, pinned CLI against the stub Messages API: a job's cost
 * ceiling (`maxCostUsd`) runs it cold with `--max-budget-usd` even in warm mode. Skipped, with
 * the reason in the report, without the CLI.
 */

import { strict as assert } from "node:assert";
import { reportSkipped } from "../../testing/command.ts";
import {
  claudeCliPids,
  findRealClaudeCli,
  realClaudeCliMissing,
} from "../../testing/real_claude.ts";
import { startStubAnthropic, type StubAnthropic } from "../../testing/stub_anthropic.ts";
import { waitUntil } from "../../testing/wait.ts";
import { LlmError } from "../errors.ts";
import { liveProcessGroups } from "../process_groups.ts";
import type { LlmRequest, ProviderClient } from "../provider.ts";
import { createClaudeCliClient } from "./client.ts";
import { claudeCliEnv } from "./env.ts";

const cli = await findRealClaudeCli();
const ignore = cli === undefined;
if (ignore) reportSkipped(`the real Claude CLI is not available (${realClaudeCliMissing})`);

// The CLI's processes outlive a test's own promises by design (a warm pool), until close().
const integration = { ignore, sanitizeOps: false, sanitizeResources: false };

/** A warm-mode client logged in with an OAuth token against `stub`; closed, HOME removed. */
async function warmClient(
  stub: StubAnthropic,
): Promise<ProviderClient & AsyncDisposable> {
  const home = await Deno.makeTempDir({ prefix: "ppr-claude-budget-home-" });
  const client = createClaudeCliClient({
    cli: cli!.path,
    env: claudeCliEnv({
      PATH: Deno.env.get("PATH"),
      HOME: home,
      ANTHROPIC_BASE_URL: stub.url,
      CLAUDE_CODE_OAUTH_TOKEN: "test-oauth-token",
    }),
    mode: "warm",
    maxProcesses: 1,
    maxJobsPerProcess: 100,
    idleMs: 60_000,
  });
  return {
    ...client,
    async [Symbol.asyncDispose]() {
      await client.close?.();
      await waitUntil(() => liveProcessGroups().length === 0, { what: "the CLI to be gone" });
      await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
}

const job = (prompt: string, maxCostUsd?: number): LlmRequest => ({
  messages: [{ role: "user", content: prompt }],
  maxCostUsd,
  signal: AbortSignal.timeout(60_000),
});

Deno.test({
  name: "real CLI, warm mode: a job with maxCostUsd runs in a process of its own, which is gone " +
    "after it; a job without one keeps its warm process",
  ...integration,
}, async () => {
  await using stub = startStubAnthropic();
  await using client = await warmClient(stub);
  const ceilinged = await client.call(job("with a ceiling", 5));
  assert.equal(ceilinged.text, "stub: with a ceiling");
  assert.ok(ceilinged.cost_usd! > 0 && ceilinged.cost_usd! < 5, `${ceilinged.cost_usd}`);
  assert.deepEqual(claudeCliPids(stub.url), [], "the ceilinged job's process has exited");
  const plain = await client.call(job("without one"));
  assert.equal(plain.text, "stub: without one");
  assert.equal(claudeCliPids(stub.url).length, 1, "the plain job's warm process stays");
});

Deno.test({
  name: "real CLI: a job whose call crosses its maxCostUsd fails as invalid, naming the ceiling " +
    "and what the call cost (the CLI checks after the call: it was made and paid for)",
  ...integration,
}, async () => {
  await using stub = startStubAnthropic();
  await using client = await warmClient(stub);
  const error = await client.call(job("too dear", 0.0000001)).then(
    (result) => assert.fail(`expected a failure, got ${JSON.stringify(result)}`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof LlmError, String(error));
  assert.equal(error.kind, "invalid");
  assert.match(
    error.message,
    /^the job's max_cost_usd \(\$1e-7\) was reached: Reached maximum budget \(\$1e-7\); the call cost \$0\.\d+$/,
  );
  assert.equal(stub.messageRequests().length, 1);
  assert.equal(stub.messageRequests()[0].answer.status, 200);
});
