/**
 * The autoscalers' records in Redis: each autoscaling pool's range, size and last decision,
 * written by its supervisor and expired by TTL, so that `info` shows what every host's
 * autoscaler wants and why.
 */

import type { RedisClient } from "./connection.ts";
import { AUTOSCALE_KEY_PATTERN, autoscaleKey } from "./keys.ts";
import { readScanned } from "./scan.ts";

/** What a supervisor says about one autoscaling pool under `ppr:autoscale:<host>[:<pool>]`. */
export interface AutoscaleRecord {
  hostname: string;
  /** The pool's name in `WORKER_POOLS`; `null`: the one pool of `--autoscale`. */
  pool: string | null;
  min: number;
  max: number;
  /** Its workers now, without those draining away. */
  size: number;
  /** The size it wants; `null` before its first look. */
  desired: number | null;
  /** Why, as a label (`backlog`, `idle`, `provider_paused`, ...). */
  reason: string | null;
  /** Why, in words with the figures. */
  detail: string | null;
  /** When it was written, ISO. */
  at: string;
}

/** Seconds a record outlives its last write: a supervisor that stops leaves none for long. */
export const AUTOSCALE_RECORD_TTL_S = 15;

/** Writes or refreshes `record` with its TTL. */
export async function writeAutoscaleRecord(
  redis: RedisClient,
  record: AutoscaleRecord,
): Promise<void> {
  await redis.set(
    autoscaleKey(record.hostname, record.pool),
    JSON.stringify(record),
    "EX",
    AUTOSCALE_RECORD_TTL_S,
  );
}

/** Removes a record: its pool no longer autoscales, or its supervisor stops. */
export async function removeAutoscaleRecord(
  redis: RedisClient,
  hostname: string,
  pool: string | null,
): Promise<void> {
  await redis.del(autoscaleKey(hostname, pool));
}

/** A record as stored, every field of its type; `undefined` for anything else. */
function parseRecord(value: string | null): AutoscaleRecord | undefined {
  if (value === null) return undefined;
  try {
    const record = JSON.parse(value);
    const nullOr = (field: unknown, type: "string" | "number") =>
      field === null || typeof field === type;
    const valid = typeof record?.hostname === "string" && nullOr(record.pool, "string") &&
      typeof record.min === "number" && typeof record.max === "number" &&
      typeof record.size === "number" && nullOr(record.desired, "number") &&
      nullOr(record.reason, "string") && nullOr(record.detail, "string") &&
      typeof record.at === "string";
    return valid ? record : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every autoscaler's record, sorted by host and pool, read with `SCAN` on every master of a
 * Cluster, each key alone (`GET`); an unreadable record is left out.
 */
export async function listAutoscaleRecords(redis: RedisClient): Promise<AutoscaleRecord[]> {
  const found = await readScanned(redis, AUTOSCALE_KEY_PATTERN, parseRecord);
  return found.sort((a, b) =>
    a.hostname.localeCompare(b.hostname) || (a.pool ?? "").localeCompare(b.pool ?? "")
  );
}
