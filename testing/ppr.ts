/** Runs ppr-worker as a real process, exactly as the `start` task does, and watches it from outside. */

import { selfCommand } from "../supervisor/self_command.ts";
import { deadline, forEachLine } from "../async/mod.ts";
import { runCommand, type RunResult } from "./command.ts";
import { freePort } from "./redis.ts";
import { processExists, waitUntil } from "./wait.ts";

const MAIN = new URL("../main.ts", import.meta.url).href;

/**
 * The command line of `deno task start`: same permission set, same V8 flags; `main` (a file URL)
 * runs another copy of the program.
 */
export function pprCommand(args: string[], main = MAIN): { command: string; args: string[] } {
  const self = selfCommand({ standalone: false, execPath: Deno.execPath(), mainModule: main });
  return { command: self.command, args: [...self.args, ...args] };
}

/** The environment tests give ppr-worker: nothing from the developer's shell leaks in. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  const keep = ["PATH", "HOME", "DENO_DIR", "TMPDIR", "XDG_CACHE_HOME", "NPM_CONFIG_REGISTRY"];
  const env: Record<string, string> = {};
  for (const name of keep) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  // Tests give the fake Claude CLI a HOME of its own; Deno's cache must not move with it.
  env.DENO_DIR ??= `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`}/deno`;
  return { ...env, LOG_FORMAT: "json", ...extra };
}

/**
 * Runs a ppr-worker command to the end; returns its exit code and output. With `input`, that
 * text is its stdin (else stdin is empty and not a terminal).
 */
export function runPpr(
  args: string[],
  env: Record<string, string> = baseEnv(),
  timeoutMs = 60_000,
  input?: string,
): Promise<RunResult> {
  const { command, args: fullArgs } = pprCommand(args);
  return runCommand(command, fullArgs, { env, clearEnv: true, input, timeoutMs });
}

/** The body of /health, as the tests read it. */
export interface HealthBody {
  status: string;
  claude_authenticated: boolean | null;
  worker_count: number;
  queue: string;
  workers_alive: number;
  provider: string;
  redis: { connected: boolean; latency_ms: number | null };
  llm: {
    state: string;
    retry_in_seconds: number;
    reason: string | null;
    resumes_at: string | null;
  };
  workers: {
    name: string;
    pid: number | null;
    state: string;
    restarts: number;
    uptime_s: number;
    active_jobs: number;
    processed: number;
    failed: number;
  }[];
  uptime_s: number;
  version: string;
  /** With `--autoscale`. */
  autoscale?: {
    min: number;
    max: number;
    desired: number | null;
    reason: string | null;
    detail: string | null;
  };
}

/** A supervisor process started by a test, and ways to watch it. */
export interface Supervisor extends AsyncDisposable {
  pid: number;
  healthPort: number;
  /** Every stderr line so far (JSON log records). */
  logs: string[];
  signal(signal: Deno.Signal): void;
  /** The exit code once it has exited, else `undefined`. */
  readonly exitCode: number | undefined;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  health(): Promise<{ httpStatus: number; body: HealthBody }>;
  /** Polls /health (every `intervalMs`, 100 by default) until `check` holds; returns that body. */
  waitForHealth(
    check: (body: HealthBody) => boolean,
    what: string,
    timeoutMs?: number,
    intervalMs?: number,
  ): Promise<HealthBody>;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Waits for the exit code, killing the process if it does not exit in time. */
  waitForExit(timeoutMs?: number): Promise<number>;
}

/**
 * Starts the supervisor with `args` against `redisUrl` on a free health port (in `cwd`, when given).
 * With `detached`, it leads a process group of its own, which its workers join: `kill -9 -<pid>`
 * (`Deno.kill(-supervisor.pid, "SIGKILL")`) kills them all at once, as a machine's crash would.
 * Disposing it kills it and every worker it started, whatever the test did.
 */
export function startSupervisor(
  args: string[],
  options: {
    redisUrl: string;
    env?: Record<string, string>;
    cwd?: string;
    detached?: boolean;
    /** The program's main.ts, as a file URL: another copy's (default: this checkout's). */
    main?: string;
  },
): Supervisor {
  const healthPort = freePort();
  const { command, args: fullArgs } = pprCommand([
    "--health-port",
    String(healthPort),
    "--health-host",
    "127.0.0.1",
    "--hostname",
    "test",
    ...args,
  ], options.main);
  const child = new Deno.Command(command, {
    args: fullArgs,
    env: baseEnv({ REDIS_URL: options.redisUrl, LLM_PROVIDER: "echo", ...options.env }),
    cwd: options.cwd,
    detached: options.detached,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  const workerPids = new Set<number>();
  const output = Promise.all([
    forEachLine(child.stdout, (line) => logs.push(line)),
    forEachLine(child.stderr, (line) => {
      logs.push(line);
      if (Deno.env.get("PPR_TEST_VERBOSE")) console.error(line);
      const started = /"pid":(\d+)/.exec(line);
      if (started && line.includes("starting")) workerPids.add(Number(started[1]));
    }),
  ]);
  let exitCode: number | undefined;
  const exited = (async () => {
    const status = await child.status;
    exitCode = status.code;
    await output;
    return status.code;
  })();

  const health = async () => {
    const response = await fetch(`http://127.0.0.1:${healthPort}/health`, {
      signal: AbortSignal.timeout(5000),
    });
    return { httpStatus: response.status, body: await response.json() as HealthBody };
  };

  const supervisor: Supervisor = {
    pid: child.pid,
    healthPort,
    logs,
    exited,
    get exitCode() {
      return exitCode;
    },
    signal(signal) {
      try {
        child.kill(signal);
      } catch (error) {
        if (exitCode === undefined) throw error;
        // Deno's "Child process has already terminated" says nothing of why: say it.
        throw new Error(
          `${signal} to supervisor pid ${child.pid}: it had already exited with code ${exitCode}; ` +
            `its last log lines: ${lastLogLines({ logs })}`,
        );
      }
    },
    health,
    waitForHealth(check, what, timeoutMs = 30_000, intervalMs = 100) {
      return waitUntil(async () => {
        const { body } = await health();
        return check(body) ? body : undefined;
      }, { timeoutMs, intervalMs, what });
    },
    waitForLog(pattern, timeoutMs = 30_000) {
      return waitUntil(() => logs.find((line) => pattern.test(line)), {
        timeoutMs,
        what: `a log line matching ${pattern}`,
      });
    },
    async waitForExit(timeoutMs = 60_000) {
      try {
        return await deadline(exited, timeoutMs);
      } catch {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
        throw new Error(`supervisor did not exit within ${timeoutMs} ms`);
      }
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await exited;
      // Orphaned workers drain on stdin EOF; a test must not leave even those behind.
      for (const pid of workerPids) {
        if (processExists(pid)) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // gone meanwhile
          }
        }
      }
    },
  };
  return supervisor;
}

/** A supervisor's last log lines on one line, for a message that says why it ended. */
export function lastLogLines(supervisor: Pick<Supervisor, "logs">, count = 5): string {
  return supervisor.logs.slice(-count).join(" | ") || "no log lines";
}

/**
 * kill -9 of a supervisor and every worker of it at once, as an OOM kill of its container or a
 * power cut does; returns once all are gone.
 */
export async function killWithWorkers(supervisor: Supervisor): Promise<void> {
  const { body } = await supervisor.health();
  const pids = [supervisor.pid, ...body.workers.flatMap((worker) => worker.pid ?? [])];
  for (const pid of pids) Deno.kill(pid, "SIGKILL");
  await supervisor.exited;
  await waitUntil(() => pids.every((pid) => !processExists(pid)), {
    what: "the supervisor and its workers gone",
  });
}

/** A JSON log record as written with LOG_FORMAT=json: level, message, logger and its properties. */
export type LogRecord = Record<string, unknown> & { level: string; message: string };

/** The JSON log records among `lines`; lines that are not JSON records are skipped. */
export function logRecords(lines: string[]): LogRecord[] {
  const records: LogRecord[] = [];
  for (const line of lines) {
    try {
      const record = JSON.parse(line);
      if (record !== null && typeof record === "object" && typeof record.level === "string") {
        records.push(record);
      }
    } catch {
      // not a JSON line
    }
  }
  return records;
}

/**
 * Waits (at most `timeoutMs`) for a log record of `supervisor` (or of its workers) for which
 * `check` holds, and returns it. Tests find records by their properties, not their wording.
 */
export function waitForRecord(
  supervisor: Pick<Supervisor, "logs">,
  check: (record: LogRecord) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<LogRecord> {
  return waitUntil(() => logRecords(supervisor.logs).find(check), {
    timeoutMs,
    what: `a log record: ${what}`,
  });
}
