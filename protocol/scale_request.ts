/** `ppr-worker scale` over Redis pub/sub: the request every supervisor hears, and each one's answer. */

/** Resize the pool of `host` (every supervisor's when `undefined`) to `size` workers. */
export interface ScaleRequest {
  id: string;
  size: number;
  host: string | undefined;
  /** Only this pool of `WORKER_POOLS`; `undefined`: the supervisor's one pool. */
  pool?: string;
}

/** What one supervisor did with a request. */
export interface ScaleAnswer {
  host: string;
  /** The pool it resized, when it runs `WORKER_POOLS`. */
  pool?: string;
  /** Why it resized nothing although addressed (it runs several pools and none was named). */
  error?: string;
  /** Not addressed (`--host` named another): it changed nothing. */
  skipped: boolean;
  from: number;
  to: number;
  /** Why `to` is not the size asked for, or what comes next (an autoscaler goes on from it). */
  note?: string;
}

/**
 * The request as one line of JSON, and back; `undefined` for anything else.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { formatScaleRequest, parseScaleRequest } from "./scale_request.ts";
 *
 * const request = { id: "a1", size: 4, host: undefined };
 * assert.deepEqual(parseScaleRequest(formatScaleRequest(request)), request);
 * assert.equal(parseScaleRequest('{"id":"a1","size":0}'), undefined);
 * ```
 */
export function parseScaleRequest(text: string): ScaleRequest | undefined {
  try {
    const value = JSON.parse(text);
    if (typeof value?.id !== "string" || !Number.isInteger(value.size) || value.size < 1) {
      return undefined;
    }
    const host = typeof value.host === "string" ? value.host : undefined;
    const pool = typeof value.pool === "string" ? value.pool : undefined;
    return { id: value.id, size: value.size, host, ...(pool !== undefined ? { pool } : {}) };
  } catch {
    return undefined;
  }
}

/** Serialises a request for `PUBLISH`. */
export function formatScaleRequest(request: ScaleRequest): string {
  return JSON.stringify(request);
}

/** Parses one supervisor's answer; `undefined` for anything else. */
export function parseScaleAnswer(text: string): ScaleAnswer | undefined {
  try {
    const value = JSON.parse(text);
    return typeof value?.host === "string" && typeof value.skipped === "boolean" &&
        Number.isInteger(value.from) && Number.isInteger(value.to)
      ? value as ScaleAnswer
      : undefined;
  } catch {
    return undefined;
  }
}
