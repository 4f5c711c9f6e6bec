/** Runs `ppr-worker dashboard` as a real process, as the `start` task would, and stops it whatever a test does. */

import { deadline, forEachLine } from "../async/mod.ts";
import { baseEnv, pprCommand } from "./ppr.ts";
import { freePort } from "./redis.ts";
import { waitUntil } from "./wait.ts";

/** A dashboard process started by a test. */
export interface DashboardProcess extends AsyncDisposable {
  /** Where it answers, e.g. `http://127.0.0.1:41234/`. */
  url: string;
  /** Every line it wrote on stdout and stderr so far. */
  output: string[];
  /** Sends SIGTERM and resolves with the exit code (SIGKILL after 10 s). */
  stop(): Promise<number>;
}

/**
 * Starts `ppr-worker dashboard --port <free port> ...args` against `redisUrl` and waits (at most
 * 30 s) until it says where it listens. Throws with its output when it exits first.
 */
export async function startDashboardProcess(
  args: string[],
  options: { redisUrl: string; env?: Record<string, string> },
): Promise<DashboardProcess> {
  const { command, args: fullArgs } = pprCommand([
    "dashboard",
    "--port",
    String(freePort()),
    ...args,
  ]);
  const child = new Deno.Command(command, {
    args: fullArgs,
    env: baseEnv({ REDIS_URL: options.redisUrl, ...options.env }),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const streams = Promise.all([
    forEachLine(child.stdout, (line) => output.push(line)),
    forEachLine(child.stderr, (line) => output.push(line)),
  ]);
  let exitCode: number | undefined;
  const exited = (async () => {
    const status = await child.status;
    await streams;
    exitCode = status.code;
    return status.code;
  })();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    try {
      return await deadline(exited, 10_000);
    } catch {
      child.kill("SIGKILL");
      return await exited;
    }
  };
  try {
    const found = await waitUntil((): { url: string } | { exitCode: number } | undefined => {
      if (exitCode !== undefined) return { exitCode };
      // The record that announces where it listens is the one with a url and a port.
      for (const line of output) {
        try {
          const { url, port } = JSON.parse(line);
          if (typeof url === "string" && typeof port === "number") return { url };
        } catch {
          // not a JSON line
        }
      }
      return undefined;
    }, { timeoutMs: 30_000, what: "the dashboard to listen" });
    if ("exitCode" in found) throw new Error(`the dashboard exited ${found.exitCode}`);
    return { url: found.url, output, stop, [Symbol.asyncDispose]: async () => void await stop() };
  } catch (error) {
    await stop();
    throw new Error(`${error instanceof Error ? error.message : error}:\n${output.join("\n")}`);
  }
}
