/**
 * The external processor that keeps one long-lived process per worker process: a request line
 * `{"id", "data"}` per job on its stdin, a response line `{"id", "result"}` or
 * `{"id", "error", "permanent"}` per job on its stdout, several in flight at once.
 */

import { UnrecoverableError } from "bullmq/errors";
import { abortable, delay, forEachLine, settlesWithin } from "../../async/mod.ts";
import { killProcessGroup } from "../../providers/process_groups.ts";
import type { JobProcessor } from "../job_processor.ts";
import { type ExternalOptions, type ProcessorProcess, startProcess } from "./process.ts";
import { commandName, exitFailure, parseResponse, requestLine } from "./protocol.ts";

/** First delay before a process that died is started again; doubles per death in a row. */
export const RESTART_BASE_MS = 500;
/** Cap of the restart delay. */
export const RESTART_MAX_MS = 30_000;
/** How long a stopping process may take to exit after its stdin closed, before it is killed. */
export const STOP_GRACE_MS = 2000;

const encoder = new TextEncoder();

/** A job waiting for its response. */
interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
}

/** One run of the processor's process. */
interface Running extends ProcessorProcess {
  writer: WritableStreamDefaultWriter<Uint8Array>;
  pending: Map<string, Pending>;
  exited: Promise<Deno.CommandStatus>;
  /** Resolves once its exit has been handled: its jobs failed, its next start scheduled. */
  gone: Promise<void>;
  /** Set when ppr-worker kills it: why, for the other jobs it held. */
  killedFor?: string;
}

/**
 * One process of `options.command` for this worker process and queue, started at once and
 * started again (after `RESTART_BASE_MS`, doubling up to `RESTART_MAX_MS` while it keeps dying
 * without answering) whenever it dies. A death fails only the jobs it held, as transient (as
 * permanent when it exits with code 64). A
 * job past `PROCESSOR_TIMEOUT` fails as transient and its process is killed (and started
 * again). `close` closes its stdin, waits `STOP_GRACE_MS` for it to exit, then kills it.
 */
export function createPersistentProcessor(options: ExternalOptions): JobProcessor {
  const { logger, queue } = options;
  const name = commandName(options.command);
  let running: Running | undefined;
  /** Why the last start failed, while no process runs: jobs fail with it instead of waiting. */
  let startError: Error | undefined;
  let deathsInRow = 0;
  let closed = false;
  /** Aborted by `close`: ends the wait for the next start. */
  const closing = new AbortController();
  /** Resolves when the next start, while one is scheduled, has happened (or been called off). */
  let restarted: Promise<void> | undefined;

  function start(): void {
    let process: ProcessorProcess;
    try {
      process = startProcess(options);
    } catch (error) {
      startError = error as Error;
      logger.error("{queue} processor: {error}", { queue, error: startError.message });
      return died();
    }
    startError = undefined;
    const self: Running = {
      ...process,
      writer: process.child.stdin.getWriter(),
      pending: new Map(),
      exited: process.child.status,
      gone: process.child.status.then((status) => handleExit(self, status)),
    };
    running = self;
    logger.info("{queue} processor started: {name} (pid {pid})", {
      queue,
      name,
      pid: process.child.pid,
    });
    void forEachLine(process.child.stdout, (line) => answer(self, line)).catch(() => {});
  }

  /** Fails the jobs a process held when it died, and schedules the next start. */
  async function handleExit(self: Running, status: Deno.CommandStatus): Promise<void> {
    // Its last words on stderr belong in the reason.
    await settlesWithin(self.stderrDone, 1000);
    if (running === self) running = undefined;
    const failure = self.killedFor
      ? new Error(self.killedFor)
      : exitFailure(`${name} (pid ${self.child.pid})`, status, self.stderrTail());
    // Exit code 64 is permanent here too: the jobs it held fail for good.
    const Failure = failure instanceof UnrecoverableError ? UnrecoverableError : Error;
    const why = failure.message;
    for (const pending of self.pending.values()) {
      pending.reject(new Failure(`the processor died while running the job: ${why}`));
    }
    self.pending.clear();
    if (closed) return;
    logger.warn("{queue} processor died: {why}", { queue, why });
    died();
  }

  /** Schedules the next start, later for each death in a row. */
  function died(): void {
    if (closed) return;
    const delayMs = Math.min(RESTART_BASE_MS * 2 ** deathsInRow, RESTART_MAX_MS);
    deathsInRow++;
    restarted = delay(delayMs, { signal: closing.signal }).then(() => {
      restarted = undefined;
      if (!closed && !running) start();
    }, () => {
      restarted = undefined;
    });
  }

  function answer(self: Running, line: string): void {
    if (line.trim() === "") return;
    const response = parseResponse(line);
    if ("invalid" in response) {
      logger.warn("{queue} processor printed a line that is no response ({why}): {line}", {
        queue,
        why: response.invalid,
        line: line.slice(0, 200),
      });
      return;
    }
    const pending = self.pending.get(response.id);
    if (!pending) {
      logger.warn("{queue} processor answered job {id}, which it no longer holds", {
        queue,
        id: response.id,
      });
      return;
    }
    self.pending.delete(response.id);
    deathsInRow = 0;
    if (response.ok) pending.resolve(response.result);
    else {
      pending.reject(
        response.permanent ? new UnrecoverableError(response.error) : new Error(response.error),
      );
    }
  }

  /** The running process, once there is one. */
  async function ready(signal: AbortSignal): Promise<Running> {
    while (true) {
      if (closed) throw new Error("the worker is stopping");
      if (running && !running.killedFor) return running;
      if (running) await abortable(running.gone, signal);
      else if (startError) throw startError;
      else if (restarted) await abortable(restarted, signal);
      else start();
    }
  }

  function send(self: Running, id: string, data: unknown, signal: AbortSignal): Promise<unknown> {
    if (self.pending.has(id)) throw new Error(`job ${id} is already in flight in the processor`);
    return new Promise((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      };
      const timer = setTimeout(() => {
        if (!self.pending.delete(id)) return;
        settle();
        self.killedFor = `killed after job ${id} timed out`;
        killProcessGroup(self.child.pid);
        reject(
          new Error(
            `${name} timed out after ${options.timeoutMs / 1000} s (PROCESSOR_TIMEOUT); ` +
              "its process was killed and starts again",
          ),
        );
      }, options.timeoutMs);
      const onAbort = () => {
        self.pending.delete(id);
        settle();
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      self.pending.set(id, {
        resolve(result) {
          settle();
          resolve(result);
        },
        reject(error) {
          settle();
          reject(error);
        },
      });
      // A write to a process that died fails; its exit fails the job.
      self.writer.write(encoder.encode(requestLine(id, data))).catch(() => {});
    });
  }

  start();
  return {
    async run(job, signal) {
      return await send(await ready(signal), job.id, job.data, signal);
    },
    async close() {
      closed = true;
      closing.abort();
      const self = running;
      if (!self) return;
      // Drain: stdin closed is the processor's signal to finish and exit.
      await self.writer.close().catch(() => {});
      if (!(await settlesWithin(self.exited, STOP_GRACE_MS))) {
        logger.warn("{queue} processor did not exit within {ms} ms of its stdin closing; killed", {
          queue,
          ms: STOP_GRACE_MS,
        });
        killProcessGroup(self.child.pid);
        await settlesWithin(self.exited, 1000);
      }
    },
  };
}
