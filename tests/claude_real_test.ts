/**
 * The real Claude CLI (`npm:@anthropic-ai/claude-code`), logged out: proves the command line
 * ppr-worker builds is accepted and that the logged-out answers are read as auth failures.
 * It cannot reach Anthropic from here, so no prompt is ever answered.
 */

import { strict as assert } from "node:assert";
import {
  claudeArgs,
  claudeAuthStatus,
  parseCliOutput,
  runInGroup,
} from "../providers/claude_cli.ts";
import { LlmError } from "../providers/errors.ts";

/** The real CLI: REAL_CLAUDE_CLI, or `claude` on PATH when it is Anthropic's (not the test fake). */
async function findRealCli(): Promise<string | undefined> {
  const candidates = [Deno.env.get("REAL_CLAUDE_CLI"), "claude"].filter(Boolean) as string[];
  for (const candidate of candidates) {
    try {
      const { stdout, success } = await new Deno.Command(candidate, {
        args: ["--version"],
        stdout: "piped",
        stderr: "null",
      })
        .output();
      if (success && /Claude Code/.test(new TextDecoder().decode(stdout))) return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

const cli = await findRealCli();
if (!cli) {
  console.log("claude_real_test: the real Claude CLI is not installed; these tests are skipped");
}
const home = cli ? await Deno.makeTempDir({ prefix: "ppr-real-claude-" }) : "";
const env = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: home };

Deno.test({ name: "real CLI: `auth status` logged out is detected", ignore: !cli }, async () => {
  const status = await claudeAuthStatus({ cli: cli!, env });
  assert.equal(status.loggedIn, false);
  assert.equal(status.detail, "not logged in");
});

Deno.test({
  name: "real CLI: ppr-worker's flags are accepted; the logged-out answer is auth",
  ignore: !cli,
}, async () => {
  const args = claudeArgs({
    model: "claude-haiku-4-5",
    format: { schema: { type: "object", properties: { a: { type: "string" } } } },
    messages: [{ role: "system", content: "Answer in JSON." }, { role: "user", content: "hi" }],
  });
  const output = await runInGroup(cli!, args, env, "hi", AbortSignal.timeout(60_000));
  assert.doesNotMatch(output.stderr, /unknown option/);
  assert.throws(
    () => parseCliOutput(output, "claude-haiku-4-5"),
    (error: LlmError) => error.kind === "auth" && /Not logged in/.test(error.message),
  );
});

Deno.test({
  name: "real CLI: an unknown flag is refused (so the flags above were really checked)",
  ignore: !cli,
}, async () => {
  const output = await runInGroup(
    cli!,
    ["-p", "--no-such-flag"],
    env,
    "",
    AbortSignal.timeout(60_000),
  );
  assert.equal(output.code, 1);
  assert.match(output.stderr, /unknown option '--no-such-flag'/);
  assert.throws(
    () => parseCliOutput(output, undefined),
    (error: LlmError) => /refused its arguments/.test(error.message),
  );
  await Deno.remove(home, { recursive: true }).catch(() => {});
});
