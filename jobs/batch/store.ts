/**
 * The batch lane's state in Redis: the jobs being collected, the batches they went into, each
 * job's outcome once its batch has ended, and the jobs to wake. Every step that moves a job is one
 * Lua script, so that a job is in one place at a time whatever dies between two steps. Every key
 * carries the hash tag `{batch}`: one script's keys share a slot when Redis is a cluster.
 */

import type { RedisClient } from "../../redis/connection.ts";
import type { ProviderResult } from "../../providers/provider.ts";
import type { FailureKind } from "../../providers/errors.ts";

/** What every key of the batch lane starts with; `{batch}` is the Redis Cluster hash tag. */
export const BATCH_PREFIX = "ppr:{batch}:";

/** The jobs waiting for a batch: a sorted set of job refs scored by when each was collected (ms). */
export const COLLECTING_KEY = `${BATCH_PREFIX}collecting`;
/** Where each job of the lane is: a hash of job ref → `collecting` or the id of its batch. */
export const PLACE_KEY = `${BATCH_PREFIX}place`;
/** The batches not yet read to the end: a sorted set of batch ids scored by their next look (ms). */
export const OPEN_KEY = `${BATCH_PREFIX}open`;
/** The batches read to the end: a sorted set of batch ids scored by when they ended (ms). */
export const RECENT_KEY = `${BATCH_PREFIX}recent`;
/** The jobs whose outcome is stored and which are to leave `delayed`: a set of job refs. */
export const WAKE_KEY = `${BATCH_PREFIX}wake`;
/** The provider's ids of the fleet's batches: a hash of `<provider>:<provider id>` → batch id. */
export const PROVIDER_IDS_KEY = `${BATCH_PREFIX}provider-ids`;
/** The lease of the fleet's one batch desk (the submitter and poller). */
export const DESK_LEASE_KEY = `${BATCH_PREFIX}desk`;

/** A batch's record: a hash of {@link BatchRecord}'s fields. */
export function batchKey(batchId: string): string {
  return `${BATCH_PREFIX}batch:${batchId}`;
}

/** A job's outcome from its batch, for the worker that takes the job next. */
export function outcomeKey(ref: string): string {
  return `${BATCH_PREFIX}outcome:${ref}`;
}

/** How long a batch's record and its jobs' outcomes are kept after it ended: 7 days. */
export const BATCH_KEEP_MS = 7 * 86_400_000;

/**
 * A job as the lane names it: `<queue>:<job id>`. Queue names hold no `:` (see `names` in
 * `config/rules.ts`), so the first one splits it.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { jobRef, parseJobRef } from "./store.ts";
 *
 * assert.equal(jobRef("llm", "42"), "llm:42");
 * assert.deepEqual(parseJobRef("llm:a:b"), { queue: "llm", id: "a:b" });
 * ```
 */
export function jobRef(queue: string, id: string): string {
  return `${queue}:${id}`;
}

/** The queue and job id of a {@link jobRef}. */
export function parseJobRef(ref: string): { queue: string; id: string } {
  const colon = ref.indexOf(":");
  return { queue: ref.slice(0, colon), id: ref.slice(colon + 1) };
}

/**
 * Where a batch stands in ppr-worker:
 * - `submitting`: its jobs are taken from the collection and it is being sent; if the desk dies
 *   now, or its create gets no answer, the desk finds out later whether the provider has it
 *   (see `docs/batch-lane.md`);
 * - `open`: the provider has it (its id is recorded); it is polled until it ends;
 * - `done`: it ended and every job's outcome is stored.
 */
export type BatchPhase = "submitting" | "open" | "done";

/** A batch as Redis records it. */
export interface BatchRecord {
  id: string;
  provider: string;
  model: string;
  queue: string;
  phase: BatchPhase;
  /** The job refs in the order of their requests: request `i` has custom id `ppr-<id>-<i>`. */
  jobs: string[];
  /** When its submission began (ms). */
  createdMs: number;
  /** The provider's id, once it accepted the batch. */
  providerId?: string;
  /** The provider's own word for its state, as last seen. */
  providerStatus?: string;
  submittedMs?: number;
  endedMs?: number;
  /** Outcomes stored so far. */
  stored: number;
  /** What its answers cost at the batch price, in US dollars, as far as stored. */
  costUsd: number;
  /** Answers of a model that has no price: their cost is unknown, never counted as 0. */
  unpriced: number;
  /** Its requests by outcome, as far as stored. */
  succeeded: number;
  failed: number;
  /** Why a batch ended without a provider batch (its create was refused). */
  error?: string;
  /** Looks at it so far, for the backoff of the next one. */
  polls: number;
  /** Taken back after its desk died mid-submit: matched to the provider's batch by time. */
  adopted?: boolean;
}

/** What a job's batch made of it. */
export type StoredOutcome =
  | {
    outcome: "succeeded";
    batchId: string;
    /** The provider's answer, as the direct lane maps it. */
    result: Omit<ProviderResult, "cost_usd">;
    /** At the batch price; `null` when the model has no price. */
    costUsd: number | null;
    /** When the job was collected (ms). */
    collectedMs?: number;
  }
  | {
    outcome: "errored" | "expired" | "canceled";
    batchId: string;
    kind: FailureKind;
    message: string;
  };

/** The custom id of request `index` of batch `batchId`. */
export function customIdOf(batchId: string, index: number): string {
  return `ppr-${batchId}-${index}`;
}

/**
 * The request index a custom id names in batch `batchId`, or `undefined` when it is not one of
 * that batch's (an adopted batch that turns out to be another one).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { customIdOf, requestIndexOf } from "./store.ts";
 *
 * assert.equal(requestIndexOf("b1", customIdOf("b1", 7)), 7);
 * assert.equal(requestIndexOf("b1", customIdOf("b2", 7)), undefined);
 * ```
 */
export function requestIndexOf(batchId: string, customId: string): number | undefined {
  const prefix = `ppr-${batchId}-`;
  if (!customId.startsWith(prefix)) return undefined;
  const index = Number(customId.slice(prefix.length));
  return Number.isInteger(index) && index >= 0 ? index : undefined;
}

/** Collects a job unless the lane has it already; returns `collecting` or its batch's id either way. */
const COLLECT = `
local place = redis.call('HGET', KEYS[2], ARGV[1])
if place then return place end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], 'collecting')
return 'collecting'`;

/**
 * Takes the jobs of ARGV[6..] that are still collected into batch KEYS[3] (phase submitting, of
 * provider ARGV[3], model ARGV[4] and queue ARGV[5]): returns the refs taken, in order.
 */
const TAKE = `
local taken, times = {}, {}
for i = 6, #ARGV do
  local ref = ARGV[i]
  local score = redis.call('ZSCORE', KEYS[1], ref)
  if score and redis.call('HGET', KEYS[2], ref) == 'collecting' then
    redis.call('ZREM', KEYS[1], ref)
    redis.call('HSET', KEYS[2], ref, ARGV[1])
    taken[#taken + 1] = ref
    times[#times + 1] = score
  end
end
if #taken == 0 then return {} end
redis.call('HSET', KEYS[3], 'id', ARGV[1], 'phase', 'submitting', 'created_ms', ARGV[2],
  'jobs', cjson.encode(taken), 'collected', cjson.encode(times), 'stored', 0, 'cost_usd', 0,
  'unpriced', 0, 'succeeded', 0, 'failed', 0, 'polls', 0, 'provider', ARGV[3], 'model', ARGV[4],
  'queue', ARGV[5])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
return taken`;

/**
 * Records the provider's id ARGV[2] of batch KEYS[1] (ARGV[1]: `<provider>:<provider id>`) as
 * the fleet's, and, if the batch is still `submitting`, makes it `open` with that id, first looked
 * at ARGV[3] (ARGV[4]: now, ARGV[5]: `1` when adopted, ARGV[6]: its id). Returns 1 when it did,
 * 0 when the batch had moved on (taken over by another desk, or collected again) or is gone.
 */
const MARK_SUBMITTED = `
redis.call('HSET', KEYS[2], ARGV[1], ARGV[6])
if redis.call('HGET', KEYS[1], 'phase') ~= 'submitting' then return 0 end
redis.call('HSET', KEYS[1], 'phase', 'open', 'provider_id', ARGV[2], 'submitted_ms', ARGV[4])
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'adopted', 1) end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[6])
return 1`;

/**
 * Puts the jobs of batch ARGV[1] that no outcome was stored for back into the collection, and
 * forgets the batch: its submission failed, or the provider never had it.
 */
const RETURN = `
local jobs = redis.call('HGET', KEYS[3], 'jobs')
local times = cjson.decode(redis.call('HGET', KEYS[3], 'collected') or '[]')
local returned = 0
if jobs then
  for i, ref in ipairs(cjson.decode(jobs)) do
    if redis.call('HGET', KEYS[2], ref) == ARGV[1] then
      redis.call('HSET', KEYS[2], ref, 'collecting')
      redis.call('ZADD', KEYS[1], times[i] or ARGV[2], ref)
      returned = returned + 1
    end
  end
end
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
return returned`;

/**
 * Stores the outcome of job ARGV[2] from batch ARGV[1], if the job is still placed in it (a
 * second read of the same results stores nothing twice), and marks it to be woken.
 */
const STORE = `
if redis.call('HGET', KEYS[1], ARGV[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('HINCRBY', KEYS[4], 'stored', 1)
redis.call('HINCRBY', KEYS[4], ARGV[5], 1)
if ARGV[6] == 'unpriced' then
  redis.call('HINCRBY', KEYS[4], 'unpriced', 1)
elseif ARGV[6] ~= '' then
  redis.call('HINCRBYFLOAT', KEYS[4], 'cost_usd', ARGV[6])
end
return 1`;

/** Runs `source` with its keys and arguments. */
function run(redis: RedisClient, source: string, keys: string[], args: (string | number)[]) {
  return redis.eval(source, keys.length, ...keys, ...args);
}

/**
 * Collects the job `ref` at `nowMs`, unless the lane has it already. Returns where it is now:
 * `collecting`, or the id of the batch it is in.
 */
export async function collectJob(
  redis: RedisClient,
  ref: string,
  nowMs = Date.now(),
): Promise<string> {
  return String(await run(redis, COLLECT, [COLLECTING_KEY, PLACE_KEY], [ref, nowMs]));
}

/** Where the lane has job `ref`: its stored outcome, `collecting`, a batch id, or nothing. */
export async function placeOf(
  redis: RedisClient,
  ref: string,
): Promise<{ outcome: StoredOutcome } | { place: string } | undefined> {
  const [outcome, place] = await redis.multi().get(outcomeKey(ref)).hget(PLACE_KEY, ref).exec() ??
    [];
  if (outcome?.[1]) return { outcome: JSON.parse(String(outcome[1])) as StoredOutcome };
  if (place?.[1]) return { place: String(place[1]) };
  return undefined;
}

/** Forgets a job's stored outcome once its worker has acted on it (a failed try, a retry). */
export async function dropOutcome(redis: RedisClient, ref: string): Promise<void> {
  await redis.del(outcomeKey(ref));
}

/** The collected jobs, oldest first, with when each was collected (ms); at most `limit`. */
export async function collectedJobs(
  redis: RedisClient,
  limit: number,
): Promise<{ ref: string; collectedMs: number }[]> {
  const flat = await redis.zrange(COLLECTING_KEY, 0, limit - 1, "WITHSCORES");
  const jobs = [];
  for (let i = 0; i < flat.length; i += 2) {
    jobs.push({ ref: flat[i], collectedMs: Number(flat[i + 1]) });
  }
  return jobs;
}

/** How many jobs are collected, and when the oldest was (ms), if any. */
export async function collectionSize(
  redis: RedisClient,
): Promise<{ count: number; oldestMs: number | undefined }> {
  const [count, oldest] = await Promise.all([
    redis.zcard(COLLECTING_KEY),
    redis.zrange(COLLECTING_KEY, 0, 0, "WITHSCORES"),
  ]);
  return { count, oldestMs: oldest.length === 2 ? Number(oldest[1]) : undefined };
}

/** Takes a collected job out of the lane for good: it is gone from BullMQ, or failed at once. */
export async function forgetCollected(redis: RedisClient, ref: string): Promise<void> {
  await redis.multi().zrem(COLLECTING_KEY, ref).hdel(PLACE_KEY, ref).exec();
}

/**
 * Forgets all the lane holds for job `ref`: its outcome, its place (collected or in a batch) and
 * its wake. For a job that has never been collected: what is there is an earlier job's with the
 * same id (removed, then added again); that job's batch, if still open, stores nothing for it.
 */
export async function forgetEarlierJob(redis: RedisClient, ref: string): Promise<void> {
  await redis.multi()
    .del(outcomeKey(ref))
    .zrem(COLLECTING_KEY, ref)
    .hdel(PLACE_KEY, ref)
    .srem(WAKE_KEY, ref)
    .exec();
}

/**
 * Starts batch `batchId` with those of `refs` still collected: recorded as `submitting`, with
 * its provider, model and queue (what it is built for), before anything is sent. Returns the refs
 * taken, in the order of their requests.
 */
export async function takeIntoBatch(
  redis: RedisClient,
  batchId: string,
  batch: { provider: string; model: string; queue: string },
  refs: readonly string[],
  nowMs = Date.now(),
): Promise<string[]> {
  const taken = await run(
    redis,
    TAKE,
    [COLLECTING_KEY, PLACE_KEY, batchKey(batchId), OPEN_KEY],
    [batchId, nowMs, batch.provider, batch.model, batch.queue, ...refs],
  );
  return (taken as string[]) ?? [];
}

/**
 * Records that the provider accepted batch `batchId` as `providerId`: it is `open`, first looked
 * at `nextPollMs`, if it is still `submitting`. `false`: it had moved on meanwhile (another desk
 * took it over, or collected its jobs again, while this one waited for the answer); the
 * provider's id is recorded as the fleet's all the same, so that no recovery takes it for
 * another batch.
 */
export async function markSubmitted(
  redis: RedisClient,
  batchId: string,
  provider: string,
  providerId: string,
  nextPollMs: number,
  options: { adopted?: boolean; nowMs?: number } = {},
): Promise<boolean> {
  return await run(
    redis,
    MARK_SUBMITTED,
    [batchKey(batchId), PROVIDER_IDS_KEY, OPEN_KEY],
    [
      `${provider}:${providerId}`,
      providerId,
      nextPollMs,
      options.nowMs ?? Date.now(),
      options.adopted ? 1 : 0,
      batchId,
    ],
  ) === 1;
}

/**
 * Puts the jobs of batch `batchId` that have no stored outcome back into the collection, and
 * forgets the batch. Returns how many went back.
 */
export async function returnToCollection(
  redis: RedisClient,
  batchId: string,
  nowMs = Date.now(),
): Promise<number> {
  return Number(
    await run(
      redis,
      RETURN,
      [COLLECTING_KEY, PLACE_KEY, batchKey(batchId), OPEN_KEY],
      [batchId, nowMs],
    ),
  );
}

/** What one stored outcome adds to its batch's record. */
function tallyOf(outcome: StoredOutcome): { field: string; cost: string } {
  if (outcome.outcome !== "succeeded") return { field: "failed", cost: "" };
  return {
    field: "succeeded",
    cost: outcome.costUsd === null ? "unpriced" : String(outcome.costUsd),
  };
}

/**
 * Stores job `ref`'s outcome from batch `batchId` and marks the job to be woken, if the job is
 * still in that batch. `false`: stored already (a second read of the same results).
 */
export async function storeOutcome(
  redis: RedisClient,
  batchId: string,
  ref: string,
  outcome: StoredOutcome,
): Promise<boolean> {
  const { field, cost } = tallyOf(outcome);
  return await run(
    redis,
    STORE,
    [PLACE_KEY, outcomeKey(ref), WAKE_KEY, batchKey(batchId)],
    [batchId, ref, JSON.stringify(outcome), BATCH_KEEP_MS, field, cost],
  ) === 1;
}

/** The jobs of batch `batchId` that are still placed in it: no outcome stored for them yet. */
export async function jobsAwaitingOutcome(
  redis: RedisClient,
  record: BatchRecord,
): Promise<string[]> {
  if (record.jobs.length === 0) return [];
  const places = await redis.hmget(PLACE_KEY, ...record.jobs);
  return record.jobs.filter((_, index) => places[index] === record.id);
}

/**
 * Records a look at batch ARGV[1] while it is `submitting` or `open`; a batch that is done (read by
 * another desk meanwhile) or gone is left as it is: 0.
 */
const POLLED = `
local phase = redis.call('HGET', KEYS[1], 'phase')
if phase ~= 'submitting' and phase ~= 'open' then return 0 end
redis.call('HSET', KEYS[1], 'provider_status', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'polls', 1)
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1`;

/**
 * Records a look at a batch that has not ended: its status, and when to look again. `false`: it
 * was done or gone by then (another desk read it: a frozen desk's late look changes nothing).
 */
export async function markPolled(
  redis: RedisClient,
  batchId: string,
  providerStatus: string,
  nextPollMs: number,
): Promise<boolean> {
  return await run(redis, POLLED, [batchKey(batchId), OPEN_KEY], [
    batchId,
    providerStatus,
    nextPollMs,
  ]) === 1;
}

/** Records that batch `batchId` is done: every outcome stored. Its record is kept {@link BATCH_KEEP_MS}. */
export async function markDone(
  redis: RedisClient,
  batchId: string,
  fields: { providerStatus?: string; error?: string; nowMs?: number },
): Promise<void> {
  const nowMs = fields.nowMs ?? Date.now();
  await redis.multi()
    .hset(batchKey(batchId), {
      phase: "done",
      ended_ms: nowMs,
      ...(fields.providerStatus ? { provider_status: fields.providerStatus } : {}),
      ...(fields.error ? { error: fields.error } : {}),
    })
    .pexpire(batchKey(batchId), BATCH_KEEP_MS)
    .zrem(OPEN_KEY, batchId)
    .zadd(RECENT_KEY, nowMs, batchId)
    .zremrangebyscore(RECENT_KEY, "-inf", nowMs - BATCH_KEEP_MS)
    .exec();
}

/** The open batches due for a look at `nowMs` (submitting ones included), at most `limit`. */
export async function dueBatches(
  redis: RedisClient,
  nowMs: number,
  limit = 100,
): Promise<string[]> {
  return await redis.zrangebyscore(OPEN_KEY, "-inf", nowMs, "LIMIT", 0, limit);
}

/** Whether the provider's batch `providerId` is one of the fleet's (recorded). */
export async function isKnownProviderBatch(
  redis: RedisClient,
  provider: string,
  providerId: string,
): Promise<boolean> {
  return await redis.hexists(PROVIDER_IDS_KEY, `${provider}:${providerId}`) === 1;
}

/**
 * The id of the fleet's batch that `provider` knows as `providerId`; `undefined` when no record
 * has it (never submitted by this fleet, or forgotten after its jobs went back to be collected).
 */
export async function batchIdOfProviderId(
  redis: RedisClient,
  provider: string,
  providerId: string,
): Promise<string | undefined> {
  return await redis.hget(PROVIDER_IDS_KEY, `${provider}:${providerId}`) ?? undefined;
}

/**
 * Brings the desk's next look at open batch `batchId` forward to `nowMs` (after a cancel was
 * asked for, so that the desk reads it soon rather than at its next `BATCH_POLL_INTERVAL`).
 * Nothing happens once the batch has left the open set (done, or put back).
 */
export async function lookSoon(
  redis: RedisClient,
  batchId: string,
  nowMs = Date.now(),
): Promise<void> {
  await redis.zadd(OPEN_KEY, "XX", nowMs, batchId);
}

/** Parses a batch's record hash; `undefined` when it is not there. */
export function parseBatchRecord(hash: Record<string, string>): BatchRecord | undefined {
  if (!hash.id) return undefined;
  const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  return {
    id: hash.id,
    provider: hash.provider ?? "",
    model: hash.model ?? "",
    queue: hash.queue ?? "",
    phase: (hash.phase ?? "submitting") as BatchPhase,
    jobs: JSON.parse(hash.jobs ?? "[]"),
    createdMs: Number(hash.created_ms ?? 0),
    providerId: hash.provider_id,
    providerStatus: hash.provider_status,
    submittedMs: number(hash.submitted_ms),
    endedMs: number(hash.ended_ms),
    stored: Number(hash.stored ?? 0),
    costUsd: Number(hash.cost_usd ?? 0),
    unpriced: Number(hash.unpriced ?? 0),
    succeeded: Number(hash.succeeded ?? 0),
    failed: Number(hash.failed ?? 0),
    error: hash.error,
    polls: Number(hash.polls ?? 0),
    ...(hash.adopted ? { adopted: true } : {}),
  };
}

/** The record of batch `batchId`, or `undefined` once it is gone. */
export async function readBatch(
  redis: RedisClient,
  batchId: string,
): Promise<BatchRecord | undefined> {
  return parseBatchRecord(await redis.hgetall(batchKey(batchId)));
}

/** When each job of `record` was collected (ms), in the order of its requests. */
export async function collectedTimes(redis: RedisClient, batchId: string): Promise<number[]> {
  return JSON.parse(await redis.hget(batchKey(batchId), "collected") ?? "[]").map(Number);
}

/** The fleet's open batches (newest first) and those that ended within 7 days (newest first, at most `recent`). */
export async function listBatches(
  redis: RedisClient,
  options: { recent?: number } = {},
): Promise<{ open: BatchRecord[]; recent: BatchRecord[] }> {
  const [openIds, recentIds] = await Promise.all([
    redis.zrange(OPEN_KEY, 0, -1),
    redis.zrevrange(RECENT_KEY, 0, (options.recent ?? 20) - 1),
  ]);
  const read = async (ids: string[]) =>
    (await Promise.all(ids.map((id) => readBatch(redis, id)))).filter((record) =>
      record !== undefined
    );
  const open = (await read(openIds)).sort((a, b) => b.createdMs - a.createdMs);
  return { open, recent: await read(recentIds) };
}

/** The refs of the jobs to wake, at most `limit`. */
export async function jobsToWake(redis: RedisClient, limit = 1000): Promise<string[]> {
  return await redis.srandmember(WAKE_KEY, limit) as unknown as string[];
}

/** Takes jobs off the list to wake (woken, or gone). */
export async function woken(redis: RedisClient, refs: readonly string[]): Promise<void> {
  if (refs.length > 0) await redis.srem(WAKE_KEY, ...refs);
}

/** Takes the desk's lease for `leaseMs`, or renews it if `owner` holds it; `false`: another holds it. */
export async function holdDeskLease(
  redis: RedisClient,
  owner: string,
  leaseMs: number,
): Promise<boolean> {
  return await run(
    redis,
    `local holder = redis.call('GET', KEYS[1])
if holder == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`,
    [DESK_LEASE_KEY],
    [owner, leaseMs],
  ) === 1;
}

/** Gives the desk's lease up, if `owner` still holds it. */
export async function releaseDeskLease(redis: RedisClient, owner: string): Promise<void> {
  await run(
    redis,
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
    [DESK_LEASE_KEY],
    [owner],
  );
}
