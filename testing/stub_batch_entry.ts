/** One request of a stub batch (Anthropic's or OpenAI's): what its markers ask, when it is done, what it answers. */

import { lastUserTextOf, type MessagesBody, parseMarkers } from "./stub_anthropic.ts";

/**
 * How one request of a batch ends once it is processed: answered, refused with an HTTP status
 * (400: the request itself is wrong; 500: the provider failed), or never run before the batch's
 * window closed.
 */
export type EntryOutcome =
  | { type: "succeeded" }
  | { type: "errored"; status: 400 | 500; message: string }
  | { type: "expired" };

/** What a request came to when its batch ended: its outcome, or canceled with the batch. */
export type EntryResult = EntryOutcome | { type: "canceled" };

/**
 * The outcome a request asks for by markers in its user text, unless `invalid` (why its
 * parameters are wrong, as the API validates them only while processing) makes it a 400:
 * - `BATCH_ERRORED`: errored, as a provider failure (500);
 * - `BATCH_ERRORED=400`: errored, as an invalid request (400);
 * - `BATCH_EXPIRED`: not run before the batch's window closed.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { entryOutcome } from "./stub_batch_entry.ts";
 *
 * assert.deepEqual(entryOutcome("hello", undefined), { type: "succeeded" });
 * assert.deepEqual(entryOutcome("BATCH_EXPIRED", undefined), { type: "expired" });
 * assert.equal(entryOutcome("BATCH_ERRORED=400 x", undefined).type, "errored");
 * assert.deepEqual(entryOutcome("hello", "model: Field required"), {
 *   type: "errored",
 *   status: 400,
 *   message: "model: Field required",
 * });
 * ```
 */
export function entryOutcome(userText: string, invalid: string | undefined): EntryOutcome {
  if (invalid !== undefined) return { type: "errored", status: 400, message: invalid };
  if (userText.includes("BATCH_ERRORED=400")) {
    return { type: "errored", status: 400, message: "stub: invalid request (BATCH_ERRORED=400)" };
  }
  if (userText.includes("BATCH_ERRORED")) {
    return { type: "errored", status: 500, message: "stub: internal server error (BATCH_ERRORED)" };
  }
  if (userText.includes("BATCH_EXPIRED")) return { type: "expired" };
  return { type: "succeeded" };
}

/**
 * When request `index` of `count` is done: the batch's processing time is shared out evenly, in
 * the order of the requests, the last one done at its end. So a batch canceled or expired half way
 * has a first half done and a second half not, as a real one may.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { entryDoneAt } from "./stub_batch_entry.ts";
 *
 * assert.deepEqual([0, 1, 2, 3].map((i) => entryDoneAt(1000, 400, i, 4)), [1100, 1200, 1300, 1400]);
 * assert.equal(entryDoneAt(1000, 0, 3, 4), 1000);
 * ```
 */
export function entryDoneAt(startMs: number, processingMs: number, index: number, count: number) {
  return startMs + processingMs * (index + 1) / count;
}

/**
 * How a batch's processing was cut short: every request not done by `atMs` ends as `as` (a
 * canceled batch's, an expired batch's). `atMs: -Infinity`: none was run at all.
 */
export interface Cutoff {
  atMs: number;
  as: "canceled" | "expired";
}

/**
 * A new cutoff at `atMs` (a cancel's, an expiry's) that keeps an earlier one's time: the
 * requests that one stopped stay stopped.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { cutAt } from "./stub_batch_entry.ts";
 *
 * assert.deepEqual(cutAt(undefined, 500, "canceled"), { atMs: 500, as: "canceled" });
 * assert.deepEqual(cutAt({ atMs: -Infinity, as: "expired" }, 500, "canceled"), {
 *   atMs: -Infinity,
 *   as: "canceled",
 * });
 * ```
 */
export function cutAt(previous: Cutoff | undefined, atMs: number, as: Cutoff["as"]): Cutoff {
  return { atMs: Math.min(atMs, previous?.atMs ?? atMs), as };
}

/**
 * What a request came to when its batch ended: its own outcome if it was done by the cutoff (or
 * there was none); else the cutoff's. A request that asked to expire never runs.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { entryResult } from "./stub_batch_entry.ts";
 *
 * const succeeded = { type: "succeeded" } as const;
 * assert.deepEqual(entryResult(succeeded, 100, undefined), succeeded);
 * assert.deepEqual(entryResult(succeeded, 100, { atMs: 100, as: "canceled" }), succeeded);
 * assert.deepEqual(entryResult(succeeded, 101, { atMs: 100, as: "canceled" }), { type: "canceled" });
 * assert.deepEqual(entryResult({ type: "expired" }, 0, undefined), { type: "expired" });
 * ```
 */
export function entryResult(
  outcome: EntryOutcome,
  doneAtMs: number,
  cutoff: Cutoff | undefined,
): EntryResult {
  if (outcome.type === "expired") return outcome;
  if (cutoff === undefined || doneAtMs <= cutoff.atMs) return outcome;
  return { type: cutoff.as };
}

/** The user's text of a Messages or Chat Completions body (both put it in `messages`). */
export function userTextOf(body: unknown): string {
  return lastUserTextOf(body as MessagesBody);
}

/**
 * The answer to a request, as the other stubs give it: `stub: <user text>`; when the request asks
 * for a JSON schema's output, JSON text: the object of a `JSON{...}` marker, else the user text
 * itself when it is a JSON object, else `{"answer": "stub: <user text>"}`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { answerText } from "./stub_batch_entry.ts";
 *
 * assert.equal(answerText("hi", false), "stub: hi");
 * assert.equal(answerText('{"a":1}', true), '{"a":1}');
 * assert.equal(answerText('say JSON{"b":2}', true), '{"b":2}');
 * assert.equal(answerText("hi", true), '{"answer":"stub: hi"}');
 * ```
 */
export function answerText(userText: string, wantsJson: boolean): string {
  if (!wantsJson) return `stub: ${userText}`;
  const structured = parseMarkers(userText).structured;
  if (structured) return JSON.stringify(structured);
  try {
    const parsed = JSON.parse(userText);
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) return userText;
  } catch {
    // not JSON: wrapped below
  }
  return JSON.stringify({ answer: `stub: ${userText}` });
}

/** A token count as the Anthropic stub makes one: 4 characters a token, at least 1. */
export const tokensOf = (text: string): number => Math.max(1, Math.ceil(text.length / 4));

/** Both APIs' window: a batch not done 24 hours after its creation expires. */
export const WINDOW_MS = 24 * 60 * 60 * 1000;

/** A random id with a prefix, in the style of the APIs' ids (`msgbatch_…`, `batch_…`, `file-…`). */
export const stubId = (prefix: string): string =>
  `${prefix}${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;

/**
 * The wall time of a reading of `clock`, anchored when this is called: the APIs report
 * timestamps, and under a test's fake clock they move only as the fake time does.
 */
export function wallTimeOf(clock: { now(): number }): (clockMs: number) => number {
  const anchorWall = Date.now();
  const anchorClock = clock.now();
  return (clockMs) => anchorWall + (clockMs - anchorClock);
}
