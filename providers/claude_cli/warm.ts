/**
 * Warm mode: long-lived `claude -p --input-format stream-json` processes, each serving one job
 * at a time and starting a new conversation (`/clear`) after every job.
 */

import { abortable, forEachLine } from "../../async/mod.ts";
import { LlmError } from "../errors.ts";
import type { LlmRequest, ProviderResult } from "../provider.ts";
import { claudeArgs, claudeInput } from "./args.ts";
import type { CliSetup } from "./cold.ts";
import { killProcessGroup } from "../process_groups.ts";
import { spawnInGroup } from "./process_group.ts";
import { type CliResult, resultOf } from "./result.ts";

/** How long `/clear` may take before the process is replaced instead (the first one takes ~0.5 s). */
const CLEAR_TIMEOUT_MS = 30_000;

/** The limits of a worker's warm processes. */
export interface WarmPoolOptions {
  /** Most processes at once: the jobs a worker process runs at once. */
  maxProcesses: number;
  /** A process is replaced after this many jobs (`CLAUDE_CLI_MAX_JOBS`). */
  maxJobsPerProcess: number;
  /** A process idle this long is stopped (`CLAUDE_CLI_IDLE`). */
  idleMs: number;
}

type WarmState = "busy" | "clearing" | "idle" | "dead";

/** One long-lived CLI process, bound to the flags it was started with. */
interface WarmProcess {
  key: string;
  pid: number;
  state: WarmState;
  jobsDone: number;
  /** Runs one job to its result line; the process is `clearing` or `dead` afterwards. */
  run(input: string, request: LlmRequest): Promise<ProviderResult>;
  kill(): void;
}

function userLine(content: string): string {
  return JSON.stringify({ type: "user", message: { role: "user", content } }) + "\n";
}

/**
 * Starts one warm process. `onIdle` is called when it can take the next job, `onDead` once
 * when it has gone (killed, crashed, recycled).
 */
function startWarmProcess(
  setup: CliSetup,
  args: string[],
  key: string,
  options: WarmPoolOptions,
  events: { onIdle(process: WarmProcess): void; onDead(process: WarmProcess): void },
): WarmProcess {
  const child = spawnInGroup({ ...setup, args });
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  const stderrTail: string[] = [];
  let waiting: { resolve(result: CliResult): void; reject(error: Error): void } | undefined;
  let resetsAt: number | undefined;

  const process: WarmProcess = {
    key,
    pid: child.pid,
    state: "busy",
    jobsDone: 0,
    run,
    kill,
  };

  /** The next result line; an abort of `signal` before it comes kills the process group. */
  const nextResult = (signal?: AbortSignal) =>
    new Promise<CliResult>((resolve, reject) => {
      if (process.state === "dead") return reject(exitedError());
      const onAbort = () => {
        waiting = undefined;
        kill();
        reject(signal!.reason);
      };
      waiting = {
        resolve(result) {
          signal?.removeEventListener("abort", onAbort);
          resolve(result);
        },
        reject(error) {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });

  const exitedError = () =>
    new LlmError(
      "transient",
      `the Claude CLI exited during the job${
        stderrTail.length > 0 ? `: ${stderrTail.join(" | ").slice(0, 500)}` : ""
      }`,
    );

  void forEachLine(child.stdout, (line) => {
    if (!line.startsWith("{")) return;
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line);
    } catch {
      return;
    }
    if (message.type === "rate_limit_event") {
      const info = message.rate_limit_info as { status?: string; resetsAt?: number } | undefined;
      if (info?.status === "rejected" && typeof info.resetsAt === "number") {
        resetsAt = info.resetsAt * 1000;
      }
    } else if (message.type === "result") {
      const current = waiting;
      waiting = undefined;
      current?.resolve(message as CliResult);
    }
  }).catch(() => {});
  void forEachLine(child.stderr, (line) => {
    if (line.trim() === "") return;
    stderrTail.push(line.trim());
    if (stderrTail.length > 5) stderrTail.shift();
  }).catch(() => {});
  void child.status.then(() => {
    const wasAlive = process.state !== "dead";
    process.state = "dead";
    // The group itself is killed and forgotten by spawnProcessGroup once its leader has exited.
    clearTimeout(idleTimer);
    waiting?.reject(exitedError());
    waiting = undefined;
    if (wasAlive) events.onDead(process);
  });

  let idleTimer: ReturnType<typeof setTimeout> | undefined;

  function kill(): void {
    clearTimeout(idleTimer);
    killProcessGroup(child.pid);
  }

  async function send(content: string): Promise<void> {
    await writer.write(encoder.encode(userLine(content))).catch(() => {});
  }

  /** Starts a new conversation, then offers the process for the next job; replaces it on any trouble. */
  async function clearThenIdle(): Promise<void> {
    const cleared = nextResult(AbortSignal.timeout(CLEAR_TIMEOUT_MS));
    await send("/clear");
    try {
      const result = await cleared;
      if ((result as { local_command?: string }).local_command !== "clear") {
        throw new Error("/clear was not run");
      }
    } catch {
      return kill();
    }
    if (process.state === "dead") return;
    process.state = "idle";
    idleTimer = setTimeout(kill, options.idleMs);
    events.onIdle(process);
  }

  async function run(input: string, request: LlmRequest): Promise<ProviderResult> {
    clearTimeout(idleTimer);
    process.state = "busy";
    resetsAt = undefined;
    const answered = nextResult(request.signal);
    await send(input);
    const parsed = await answered;
    process.jobsDone++;
    let result: ProviderResult;
    try {
      result = resultOf(parsed, {
        requestedModel: request.model,
        schemaAsked: request.format !== undefined,
        resetsAt,
      });
    } catch (error) {
      // Recycled on any error: a failed prompt would otherwise stay in its conversation.
      kill();
      throw error;
    }
    if (process.jobsDone >= options.maxJobsPerProcess) kill();
    else {
      process.state = "clearing";
      void clearThenIdle();
    }
    return result;
  }

  return process;
}

/**
 * A worker's warm CLI processes, keyed by their flags (model, system prompt, schema): a job
 * takes an idle process with its flags, else a new one while there are fewer than
 * `maxProcesses`, else replaces an idle one of other flags, else waits for one to be free.
 */
export function createWarmPool(setup: () => Promise<CliSetup>, options: WarmPoolOptions) {
  const processes = new Set<WarmProcess>();
  const waiters = new Set<() => void>();
  let closed = false;
  const wakeOne = () => {
    const [first] = waiters;
    if (first) {
      waiters.delete(first);
      first();
    }
  };
  const events = {
    onIdle: () => wakeOne(),
    onDead: (process: WarmProcess) => {
      processes.delete(process);
      wakeOne();
    },
  };

  async function acquire(key: string, args: string[], signal: AbortSignal): Promise<WarmProcess> {
    while (true) {
      if (closed) throw new LlmError("transient", "the worker is stopping");
      signal.throwIfAborted();
      const idle = [...processes].filter((process) => process.state === "idle");
      const same = idle.find((process) => process.key === key);
      if (same) {
        same.state = "busy";
        return same;
      }
      if (processes.size >= options.maxProcesses && idle.length > 0) {
        idle[0].state = "dead";
        idle[0].kill();
        processes.delete(idle[0]);
      }
      if (processes.size < options.maxProcesses) {
        const process = startWarmProcess(await setup(), args, key, options, events);
        processes.add(process);
        return process;
      }
      // Until a process is idle or gone (`wakeOne` takes the waiter out), or the job aborts.
      const woken = Promise.withResolvers<void>();
      waiters.add(woken.resolve);
      try {
        await abortable(woken.promise, signal);
      } finally {
        waiters.delete(woken.resolve);
      }
    }
  }

  return {
    /** Runs one job on a warm process. */
    async call(request: LlmRequest): Promise<ProviderResult> {
      const args = claudeArgs(request, "warm");
      const process = await acquire(JSON.stringify(args), args, request.signal);
      return await process.run(claudeInput(request.messages), request);
    },
    /** Kills every process. */
    close(): void {
      closed = true;
      for (const process of processes) process.kill();
      processes.clear();
      for (const wake of waiters) wake();
    },
    /** The pids of the live processes (for tests and metrics). */
    pids(): number[] {
      return [...processes].map((process) => process.pid);
    },
  };
}
