/** Runs a command to its end for tests, scripts and the bench: its output, its exit code, a deadline. */

/** What a command printed, and its exit code. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How a command is run. */
export interface RunOptions {
  env?: Record<string, string>;
  /** Only `env`, nothing of this process's environment. @default {false} */
  clearEnv?: boolean;
  cwd?: string;
  /** Its stdin; without it stdin is empty (and not a terminal). */
  input?: string;
  /** It is killed with SIGKILL after this long. */
  timeoutMs?: number;
}

/**
 * Runs `command` to the end and returns its output; never throws for a non-zero exit.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { runCommand } from "./command.ts";
 *
 * const result = await runCommand(Deno.execPath(), ["eval", "console.log('hi'); Deno.exit(3)"], {
 *   timeoutMs: 10_000,
 * });
 * assert.deepEqual(result, { code: 3, stdout: "hi\n", stderr: "" });
 * ```
 */
export async function runCommand(
  command: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const child = new Deno.Command(command, {
    args,
    env: options.env,
    clearEnv: options.clearEnv ?? false,
    cwd: options.cwd,
    stdin: options.input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = options.timeoutMs === undefined
    ? undefined
    : setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
  try {
    if (options.input !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.input));
      await writer.close();
    }
    const output = await child.output();
    return {
      code: output.code,
      stdout: new TextDecoder().decode(output.stdout),
      stderr: new TextDecoder().decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether `program args` runs here and exits 0: for tests that need a system package and skip,
 * saying why, without it. Spawning a missing program throws at once; this answers `false`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { commandRuns } from "./command.ts";
 *
 * assert.equal(await commandRuns(Deno.execPath(), ["--version"]), true);
 * assert.equal(await commandRuns("no-such-program-anywhere", []), false);
 * ```
 */
export async function commandRuns(program: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(program, { args, stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

/**
 * Says in the test report why tests of this file are skipped: an ignored test whose name is the
 * reason (`deno test -q` shows no console output, but lists every test by name).
 */
export function reportSkipped(reason: string): void {
  Deno.test({ name: `skipped: ${reason}`, ignore: true, fn() {} });
}
