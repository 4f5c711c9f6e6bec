/**
 * The floor of a Claude CLI call's cost: the real CLI run directly, with ppr-worker's exact
 * flags and environment, per call: wall time, CPU time and peak RSS. Logged out (no request at
 * all: start-up and shut-down only) and logged in with an OAuth token (a subscription login,
 * the CLI's case) against the stub Messages API. Flag variants that might start faster are
 * measured beside them, with whether the OAuth login still works; and the auth probe
 * (`claude auth status`). Part of `deno task bench`.
 */

import { claudeArgs } from "../providers/claude_cli/args.ts";
import { claudeCliEnv } from "../providers/claude_cli/env.ts";
import { startStubAnthropic } from "../testing/stub_anthropic.ts";
import type { Record as RecordRow } from "./claude_cli.ts";
import { cpuOf, statusMbOf } from "./proc.ts";

const CALLS = Number(Deno.env.get("BENCH_CLI_FLOOR_CALLS") ?? 7);
/** One call's cost and outcome. */
interface Call {
  wallMs: number;
  cpuMs: number;
  peakRssMb: number;
  code: number;
  stdout: string;
}

/** Runs `cli args` with `input` on stdin to the end, nothing else running meanwhile. */
async function measureCall(
  cli: string,
  args: string[],
  env: Record<string, string>,
  input: string,
): Promise<Call> {
  const cpuBefore = cpuOf("self").children;
  const started = performance.now();
  const child = new Deno.Command(cli, {
    args,
    env,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let peakRssMb = 0;
  // VmHWM only grows: the last sample before the exit is the peak, less what the last 5 ms add.
  const sampler = setInterval(() => {
    peakRssMb = Math.max(peakRssMb, statusMbOf(child.pid, "VmHWM"));
  }, 5);
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input)).catch(() => {});
  await writer.close().catch(() => {});
  const output = await child.output();
  clearInterval(sampler);
  return {
    wallMs: performance.now() - started,
    cpuMs: (cpuOf("self").children - cpuBefore) * 1000,
    peakRssMb,
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
  };
}

/** Median of each figure over `CALLS` calls, after one unmeasured call (disk cache). */
async function medianOf(run: () => Promise<Call>): Promise<Call> {
  await run();
  const calls: Call[] = [];
  for (let index = 0; index < CALLS; index++) calls.push(await run());
  const mid = (pick: (call: Call) => number) =>
    calls.map(pick).sort((a, b) => a - b)[Math.floor(calls.length / 2)];
  return {
    wallMs: mid((call) => call.wallMs),
    cpuMs: mid((call) => call.cpuMs),
    peakRssMb: mid((call) => call.peakRssMb),
    code: calls.at(-1)!.code,
    stdout: calls.at(-1)!.stdout,
  };
}

/** Command lines measured: ppr-worker's, the CLI's defaults, and variants that might start faster. */
function variants(): { name: string; args: string[] }[] {
  const ours = claudeArgs({ messages: [{ role: "user", content: "x" }] }, "cold");
  return [
    { name: "ppr-worker's flags", args: ours },
    { name: "claude -p alone (the CLI's defaults)", args: ["-p", "--output-format", "json"] },
    { name: "+ --disable-slash-commands", args: [...ours, "--disable-slash-commands"] },
    { name: "+ --safe-mode", args: [...ours, "--safe-mode"] },
    { name: "+ --bare", args: [...ours, "--bare"] },
  ];
}

/** Measures the floor of a CLI call and of the auth probe; records rows under `claude-cli floor`. */
export async function benchClaudeCliFloor(record: RecordRow, cli: string): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "ppr-bench-claude-floor-" });
  await using stub = startStubAnthropic();
  try {
    const loggedOut = claudeCliEnv({ PATH: Deno.env.get("PATH"), HOME: home });
    const loggedIn = claudeCliEnv({
      PATH: Deno.env.get("PATH"),
      HOME: home,
      CLAUDE_CODE_OAUTH_TOKEN: "bench-oauth-token",
      ANTHROPIC_BASE_URL: stub.url,
    });
    const group = "claude-cli floor";
    for (const variant of variants()) {
      const withFlags = variant.args;
      const out = await medianOf(() => measureCall(cli, withFlags, loggedOut, "Say hi."));
      record(
        group,
        `${variant.name}, logged out: wall / CPU / peak RSS per call`,
        out.wallMs,
        "ms",
        `${Math.round(out.cpuMs)} ms CPU, ${Math.round(out.peakRssMb)} MB; median of ${CALLS}`,
      );
      stub.clear();
      const real = await medianOf(() => measureCall(cli, withFlags, loggedIn, "Say hi."));
      const oauthWorks = real.code === 0 &&
        stub.jobRequests().some((request) => request.headers.bearer === "bench-oauth-token");
      record(
        group,
        `${variant.name}, OAuth login, stub API: wall / CPU / peak RSS per call`,
        real.wallMs,
        "ms",
        `${Math.round(real.cpuMs)} ms CPU, ${Math.round(real.peakRssMb)} MB; login ${
          oauthWorks ? "works" : "NOT used"
        }`,
      );
    }
    for (const [login, env] of [["logged out", loggedOut], ["OAuth login", loggedIn]] as const) {
      const probe = await medianOf(() => measureCall(cli, ["auth", "status"], env, ""));
      record(
        group,
        `auth probe (claude auth status), ${login}: wall / CPU / peak RSS`,
        probe.wallMs,
        "ms",
        `${Math.round(probe.cpuMs)} ms CPU, ${Math.round(probe.peakRssMb)} MB`,
      );
    }
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}
