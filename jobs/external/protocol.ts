/** What external processors say: exit codes, the per-job result on stdout, the persistent protocol's lines. Pure. */

import { UnrecoverableError } from "bullmq/errors";

/** The exit code (BSD's `EX_USAGE`, "the input was wrong") that makes a failure permanent: no retry. */
export const EXIT_PERMANENT = 64;
/** How much of a processor's stderr a failure reason carries, at most. */
export const STDERR_TAIL_CHARS = 1000;

/**
 * A command as failure reasons name it: its words, shortened.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { commandName } from "./protocol.ts";
 *
 * const command = ["python3", "-m", "app.reconciler.job"];
 * assert.equal(commandName(command), "python3 -m app.reconciler.job");
 * ```
 */
export function commandName(command: string[]): string {
  const text = command.join(" ");
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The last lines of a stream, at most `maxChars` of them, joined with ` | ` for a one-line reason. */
export function createTail(maxChars = STDERR_TAIL_CHARS) {
  const lines: string[] = [];
  let chars = 0;
  return {
    push(line: string): void {
      const trimmed = line.trim();
      if (trimmed === "") return;
      lines.push(trimmed);
      // Each line counts with the " | " that joins it to the next.
      chars += trimmed.length + 3;
      while (lines.length > 1 && chars - 3 > maxChars) chars -= lines.shift()!.length + 3;
    },
    text(): string {
      const text = lines.join(" | ");
      return text.length > maxChars ? `...${text.slice(-maxChars)}` : text;
    },
  };
}

/**
 * The failure of a process that ended unsuccessfully: exit code 64 is permanent
 * (`UnrecoverableError`), any other code or a signal is transient. The reason ends with the
 * tail of its stderr.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { exitFailure } from "./protocol.ts";
 *
 * const failure = exitFailure("python3 job.py", { code: 1, signal: null }, "ValueError: boom");
 * assert.equal(failure.message, "python3 job.py exited with code 1: ValueError: boom");
 * const permanent = exitFailure("python3 job.py", { code: 64, signal: null }, "");
 * assert.equal(permanent.name, "UnrecoverableError"); // not retried
 * ```
 */
export function exitFailure(
  name: string,
  status: { code: number; signal: string | null },
  stderrTail: string,
): Error {
  const tail = stderrTail === "" ? " (nothing on stderr)" : `: ${stderrTail}`;
  if (status.signal) return new Error(`${name} was killed by ${status.signal}${tail}`);
  if (status.code === EXIT_PERMANENT) {
    return new UnrecoverableError(
      `${name} exited with code ${EXIT_PERMANENT} (permanent: not retried)${tail}`,
    );
  }
  return new Error(`${name} exited with code ${status.code}${tail}`);
}

/**
 * A per-job processor's stdout: one JSON value, the job's result.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseOutput } from "./protocol.ts";
 *
 * assert.deepEqual(parseOutput('{"rows": 3}\n'), { ok: true, result: { rows: 3 } });
 * assert.equal(parseOutput("done").ok, false); // printed no JSON on stdout (...): done
 * ```
 */
export function parseOutput(stdout: string): { ok: true; result: unknown } | {
  ok: false;
  error: string;
} {
  if (stdout.trim() === "") {
    return { ok: false, error: "printed nothing on stdout (its result must be JSON there)" };
  }
  try {
    return { ok: true, result: JSON.parse(stdout) };
  } catch (error) {
    const oneLine = (text: string) => text.replace(/\s+/g, " ").trim().slice(0, 200);
    return {
      ok: false,
      error: `printed no JSON on stdout (${oneLine((error as Error).message)}): ${oneLine(stdout)}`,
    };
  }
}

/**
 * The request line a persistent processor reads for one job.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { requestLine } from "./protocol.ts";
 *
 * assert.equal(requestLine("42", { url: "x" }), '{"id":"42","data":{"url":"x"}}\n');
 * ```
 */
export function requestLine(id: string, data: unknown): string {
  return JSON.stringify({ id, data }) + "\n";
}

/** A persistent processor's answer for one job. */
export type Response =
  | { id: string; ok: true; result: unknown }
  | { id: string; ok: false; error: string; permanent: boolean };

/**
 * Reads one line of a persistent processor's stdout: `{"id", "result"}` or
 * `{"id", "error", "permanent"}` (`permanent` defaults to false). Anything else is
 * `{ invalid }`, saying why.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseResponse } from "./protocol.ts";
 *
 * assert.deepEqual(parseResponse('{"id": "42", "error": "no such row", "permanent": true}'), {
 *   id: "42",
 *   ok: false,
 *   error: "no such row",
 *   permanent: true,
 * });
 * ```
 */
export function parseResponse(line: string): Response | { invalid: string } {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    return { invalid: "not JSON" };
  }
  if (typeof message !== "object" || message === null || Array.isArray(message)) {
    return { invalid: "not a JSON object" };
  }
  const { id, result, error, permanent } = message as Record<string, unknown>;
  if (typeof id !== "string" && typeof id !== "number") {
    return { invalid: "no id (a string)" };
  }
  if (permanent !== undefined && typeof permanent !== "boolean") {
    return { invalid: "permanent is not true or false" };
  }
  if (error !== undefined && error !== null) {
    const text = typeof error === "string" ? error : JSON.stringify(error);
    return { id: String(id), ok: false, error: text, permanent: permanent === true };
  }
  if (!("result" in (message as object))) return { invalid: "neither result nor error" };
  return { id: String(id), ok: true, result };
}
