/**
 * Checks values against schemas that hold regular expressions, off the event loop and within a
 * deadline: a `pattern` that backtracks catastrophically (`^(a+)+$` against a long near-match)
 * can run for hours inside V8's regular expression engine, where no timer or abort can reach it.
 */

import type { SchemaPattern } from "./schema.ts";
import type { CheckReply } from "./schema_check_worker.ts";

/**
 * How long one check may take. A check of a real answer takes well under a millisecond; past
 * this, the pattern is taken for a runaway one.
 */
export const SCHEMA_CHECK_DEADLINE_MS = 2000;
/** Web Workers kept for the next checks; more are made while several checks run at once. */
const IDLE_CHECKERS_KEPT = 2;

/** A check that did not end within its deadline: the schema's patterns are named. */
export class SchemaCheckTimeout extends Error {
  constructor(readonly patterns: SchemaPattern[], readonly deadlineMs: number) {
    const named = patterns.map(({ pattern, at }) => `${JSON.stringify(pattern)} at ${at}`);
    super(
      `checking the answer against the schema's ${
        named.length === 1 ? "pattern" : `patterns (one of them)`
      } ${named.join(", ")} did not end within ${
        deadlineMs / 1000
      } s: a pattern that backtracks catastrophically on this answer; rewrite it without nested quantifiers`,
    );
    this.name = "SchemaCheckTimeout";
  }
}

/** One check at a time per Web Worker; a Web Worker that overran is terminated, not reused. */
export interface SchemaChecker {
  /**
   * The problems of `value` against the schema (`schemaText` is its JSON), none when valid.
   * Rejects with `SchemaCheckTimeout` naming `patterns` past the deadline.
   */
  check(schemaText: string, patterns: SchemaPattern[], value: unknown): Promise<string[]>;
  /** Terminates every Web Worker. */
  close(): void;
}

/**
 * The Web Worker's module, from this one: beside it among the sources (and in a compiled binary),
 * under `jobs/` in the worker bundle, whose shared modules all sit at its top (scripts/bundle.ts).
 */
const CHECK_WORKER_MODULE = import.meta.url.endsWith(".ts")
  ? "./schema_check_worker.ts"
  : "./jobs/schema_check_worker.js";

/**
 * A checker that runs each check in a Web Worker of its own for its duration, so one runaway
 * check stops no other. Web Workers are made on first use (about 10 MB each) and up to
 * `IDLE_CHECKERS_KEPT` are kept.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { createSchemaChecker } from "./schema_check.ts";
 *
 * const checker = createSchemaChecker({ deadlineMs: 500 });
 * const schema = JSON.stringify({ type: "string", pattern: "^(a+)+$" });
 * const patterns = [{ at: "/", pattern: "^(a+)+$" }];
 * try {
 *   assert.deepEqual(await checker.check(schema, patterns, "aaa"), []);
 *   await assert.rejects(checker.check(schema, patterns, "a".repeat(44) + "b"), {
 *     name: "SchemaCheckTimeout",
 *   });
 * } finally {
 *   checker.close();
 * }
 * ```
 */
export function createSchemaChecker(
  options: {
    /** @default {SCHEMA_CHECK_DEADLINE_MS} */
    deadlineMs?: number;
  } = {},
): SchemaChecker {
  const deadlineMs = options.deadlineMs ?? SCHEMA_CHECK_DEADLINE_MS;
  const idle: Worker[] = [];
  const busy = new Set<Worker>();

  const take = () =>
    idle.pop() ?? new Worker(new URL(CHECK_WORKER_MODULE, import.meta.url), { type: "module" });

  return {
    check(schemaText, patterns, value) {
      const worker = take();
      busy.add(worker);
      return new Promise<string[]>((resolve, reject) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const settle = (outcome: () => void, reusable: boolean) => {
          clearTimeout(timer);
          worker.onmessage = null;
          worker.onerror = null;
          busy.delete(worker);
          if (reusable && idle.length < IDLE_CHECKERS_KEPT) idle.push(worker);
          else worker.terminate();
          outcome();
        };
        worker.onmessage = ({ data }: MessageEvent<CheckReply>) => {
          if ("started" in data) {
            // The deadline is the check's own: a Web Worker's start-up (loading the validator)
            // is not counted against the pattern.
            timer = setTimeout(
              () => settle(() => reject(new SchemaCheckTimeout(patterns, deadlineMs)), false),
              deadlineMs,
            );
          } else if ("error" in data) {
            settle(() => reject(new Error(data.error)), true);
          } else {
            settle(() => resolve(data.problems), true);
          }
        };
        worker.onerror = (event) => {
          event.preventDefault();
          settle(() => reject(new Error(`the schema check failed: ${event.message}`)), false);
        };
        worker.postMessage({ schemaText, value });
      });
    },
    close() {
      for (const worker of [...idle, ...busy]) worker.terminate();
      idle.length = 0;
      busy.clear();
    },
  };
}
