/**
 * The fleet's batch desk: one supervisor at a time (a Redis lease, taken over within seconds
 * when its holder dies) submits the collected jobs as batches, polls the open batches, stores
 * each job's outcome when its batch ends and wakes the job, so that a worker completes it.
 *
 * Every step is recorded in Redis before the next one starts (see `jobs/batch/store.ts`): a
 * batch is recorded as `submitting` with its jobs before it is sent, and its provider id right
 * after the provider accepts it. A desk that dies between the two leaves a `submitting` batch,
 * which the next holder matches to the provider's batches by time, or puts back to be collected;
 * so does a create that got no answer (a timeout), which the provider may have made all the same.
 */

import type { Logger } from "@logtape/logtape";
import type { Job, Queue } from "bullmq";
import type { RedisClient } from "../redis/connection.ts";
import type { Config } from "../config/config.ts";
import { BATCH_PRICE_SHARE, type PriceTable } from "../economics/prices.ts";
import {
  afterFailedCreate,
  batchClientCache,
  type BatchPlan,
  batchPlanOf,
} from "../jobs/batch/lane.ts";
import {
  type BatchRecord,
  collectedJobs,
  collectedTimes,
  collectionSize,
  customIdOf,
  dueBatches,
  forgetCollected,
  holdDeskLease,
  isKnownProviderBatch,
  jobsAwaitingOutcome,
  jobsToWake,
  markDone,
  markPolled,
  markSubmitted,
  OPEN_KEY,
  parseJobRef,
  readBatch,
  releaseDeskLease,
  requestIndexOf,
  returnToCollection,
  type StoredOutcome,
  storeOutcome,
  takeIntoBatch,
  woken,
} from "../jobs/batch/store.ts";
import { type PreparedJob, prepareJob } from "../jobs/llm/runner.ts";
import { ledgerOf, pricingOf } from "../jobs/llm/spending_of.ts";
import type { CallPlan } from "../jobs/llm/spending.ts";
import type { BatchClient, BatchEntryResult, BatchStatus } from "../providers/batch/batch.ts";
import { LlmError } from "../providers/errors.ts";
import { readPause } from "../providers/pause.ts";
import type { ProviderContext } from "../providers/provider.ts";
import { loadQueueClass } from "../redis/bullmq_internals.ts";

/** How long the desk's lease outlives its holder's last renewal (a supervisor killed with kill -9). */
export const DESK_LEASE_MS = 10_000;
/**
 * How often the holder renews the desk's lease while a step runs: a step can outlast the lease (a
 * create uploading a large batch, a long results file), and a lease that ran out mid-step would
 * let another supervisor's desk take over the batch this one is still sending or reading.
 */
const DESK_RENEW_MS = DESK_LEASE_MS / 5;
/** The first look at a batch comes this soon after its submit; each next one twice as late, up to `BATCH_POLL_INTERVAL`. */
const FIRST_POLL_MS = 2_000;
/**
 * A `submitting` batch no desk is sending is older than this before the holder recovers it: the
 * create of a desk that lost its lease mid-submit has had time to end.
 */
const RECOVER_AFTER_MS = 15_000;
/** How far before a `submitting` batch's start a provider's batch may have been created and be it. */
const ADOPT_WINDOW_MS = 60_000;
/** Most jobs the desk reads from the collection at once. */
const MAX_COLLECTED_READ = 100_000;
/** How long the desk leaves the collection unread after a read that submitted nothing. */
const RELOAD_AFTER_IDLE_MS = 10_000;
/** Jobs loaded from BullMQ at once. */
const LOAD_CHUNK = 500;

/** What the desk runs with. */
export interface BatchDeskOptions {
  config: Config;
  context: ProviderContext;
  redis: RedisClient;
  prices: PriceTable;
  logger: Logger;
  /** Who holds the lease (unique per supervisor). */
  owner: string;
}

/** A collected job, loaded and planned. */
interface Collected {
  ref: string;
  collectedMs: number;
  plan: BatchPlan;
}

/**
 * The chunks of a group of collected jobs (oldest first) that are due for a batch: every full
 * one, and the last, the rest under `maxJobs`, once its oldest job has waited `maxWaitMs`; until
 * then it waits for more jobs. Every chunk but the last is full, by count or by bytes.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { dueChunks } from "./batch_desk.ts";
 *
 * const chunk = (size: number, collectedMs: number) =>
 *   Array.from({ length: size }, () => ({ collectedMs }));
 * const sizes = (chunks: { collectedMs: number }[][]) => chunks.map((each) => each.length);
 * // 7 jobs, at most 5 a batch: the 2 collected at 900 ms wait, at 1000 ms, for a wait of 1000 ms.
 * assert.deepEqual(sizes(dueChunks([chunk(5, 0), chunk(2, 900)], 5, 1000, 1000)), [5]);
 * assert.deepEqual(sizes(dueChunks([chunk(5, 0), chunk(2, 0)], 5, 1000, 1000)), [5, 2]);
 * assert.deepEqual(sizes(dueChunks([chunk(5, 0), chunk(5, 900)], 5, 1000, 1000)), [5, 5]);
 * ```
 */
export function dueChunks<T extends { collectedMs: number }>(
  chunks: T[][],
  maxJobs: number,
  maxWaitMs: number,
  nowMs: number,
): T[][] {
  const rest = chunks.at(-1);
  if (!rest || rest.length >= maxJobs || nowMs - rest[0].collectedMs >= maxWaitMs) return chunks;
  return chunks.slice(0, -1);
}

/**
 * Starts the desk: it tries for the lease on every tick and, while it holds it, wakes the jobs
 * whose outcomes are stored, submits what is due, and polls the open batches.
 */
export function startBatchDesk(options: BatchDeskOptions) {
  const { config, redis, logger, owner } = options;
  const pricing = pricingOf(options.prices);
  // Reservations last as long as a batch may: its 24 hours, the collection and an hour more.
  const ledger = ledgerOf(config, redis, {
    reservationTtlMs: 25 * 3_600_000 + config.batchMaxWaitMs,
    rateLimits: false,
  });
  const clientOf = batchClientCache(options.context);
  const queues = new Map<string, Promise<Queue>>();
  const queueOf = (name: string) => {
    let queue = queues.get(name);
    if (!queue) {
      queue = loadQueueClass().then((Queue) =>
        new Queue(name, { connection: redis, prefix: config.prefix })
      );
      queues.set(name, queue);
    }
    return queue;
  };
  const jobOf = async (ref: string): Promise<Job | undefined> => {
    const { queue, id } = parseJobRef(ref);
    return await (await queueOf(queue)).getJob(id);
  };
  /** The batches this desk is sending right now: not to be recovered by itself. */
  const sending = new Set<string>();
  /** The models whose unpriced answers the desk has warned about. */
  const warnedUnpriced = new Set<string>();
  /** Per provider: no submit before this time (after a failed one). */
  const submitHeldUntil = new Map<string, number>();
  let holding = false;
  let stopped = false;
  /** No reading of the collection before this time: the last read submitted nothing. */
  let quietUntil = 0;
  const tickMs = Math.min(1000, config.batchPollMs);

  const planOfCall = (
    record: Pick<BatchRecord, "id" | "provider" | "model" | "queue">,
    ref: string,
  ): CallPlan => ({
    callId: `batch:${record.id}:${ref}`,
    provider: record.provider,
    model: record.model || "default",
    queue: record.queue,
    inputTokens: 0,
    maxOutputTokens: 0,
  });

  /** Settles a job's reservation at no cost: its request never ran (or was never sent). */
  const releaseReservation = (
    record: Pick<BatchRecord, "id" | "provider" | "model" | "queue">,
    ref: string,
  ) =>
    ledger.settle(planOfCall(record, ref), { costUsd: 0, failed: true }).catch((error) =>
      logger.warn("batch {batch}: a reservation was not released: {error}", {
        batch: record.id,
        error: String(error),
      })
    );

  /** Promotes the jobs whose outcomes are stored; a job still active is tried again next tick. */
  async function wakeJobs(): Promise<void> {
    const refs = await jobsToWake(redis);
    const done: string[] = [];
    await Promise.all(refs.map(async (ref) => {
      const job = await jobOf(ref);
      if (!job) return void done.push(ref);
      const state = await job.getState();
      if (state === "active") return; // its worker is parking it, or completing it now
      if (state === "delayed") {
        try {
          await job.promote();
        } catch (error) {
          // Moved meanwhile (its park ran out, a worker took it): looked at again next tick.
          logger.debug("batch lane: job {ref} not promoted: {error}", {
            ref,
            error: String(error),
          });
          return;
        }
      }
      done.push(ref);
    }));
    await woken(redis, done);
  }

  /** Loads and plans the collected jobs; those gone from BullMQ leave the lane. */
  async function loadCollected(): Promise<Collected[]> {
    const entries = await collectedJobs(redis, MAX_COLLECTED_READ);
    const loaded: Collected[] = [];
    for (let start = 0; start < entries.length; start += LOAD_CHUNK) {
      const chunk = entries.slice(start, start + LOAD_CHUNK);
      const jobs = await Promise.all(chunk.map((entry) => jobOf(entry.ref)));
      for (const [index, entry] of chunk.entries()) {
        const job = jobs[index];
        let prepared: PreparedJob | undefined;
        try {
          prepared = job ? prepareJob(job.data, config) : undefined;
        } catch {
          prepared = undefined; // its worker checked it; its data changed since
        }
        if (!prepared) {
          await forgetCollected(redis, entry.ref);
          continue;
        }
        loaded.push({ ...entry, plan: batchPlanOf(prepared, options.context, pricing) });
      }
    }
    return loaded;
  }

  /** Submits every group of collected jobs that is due: full, or its oldest waited `BATCH_MAX_WAIT`. */
  async function submitDue(now: number): Promise<void> {
    if (now < quietUntil) return;
    const { count, oldestMs } = await collectionSize(redis);
    if (count === 0) return;
    if (count < config.batchMaxJobs && now - oldestMs! < config.batchMaxWaitMs) return;
    const groups = new Map<string, Collected[]>();
    for (const job of await loadCollected()) {
      const queue = parseJobRef(job.ref).queue;
      const key = `${job.plan.provider}\u0000${job.plan.model}\u0000${queue}`;
      const group = groups.get(key);
      if (group) group.push(job);
      else groups.set(key, [job]);
    }
    let submittedAny = false;
    // Without a submission, the collection is not read again for a while (a paused provider, a
    // spent budget): at the latest when a group's oldest job is due.
    let nextLoad = now + RELOAD_AFTER_IDLE_MS;
    for (const [key, jobs] of groups) {
      const [provider, model, queue] = key.split("\u0000");
      const dueAt = jobs[0].collectedMs + config.batchMaxWaitMs;
      if (jobs.length < config.batchMaxJobs && now < dueAt) {
        nextLoad = Math.min(nextLoad, dueAt);
        continue;
      }
      if ((submitHeldUntil.get(provider) ?? 0) > now) continue;
      const pause = await readPause(redis, provider);
      if (pause) {
        logger.debug("batch lane: {provider} is paused ({reason}): {count} job(s) wait", {
          provider,
          reason: pause.reason,
          count: jobs.length,
        });
        continue;
      }
      const client = clientOf(provider);
      if (!client) continue;
      // A rest under BATCH_MAX_JOBS waits for more jobs, as a group of its size would.
      const due = dueChunks(chunksOf(client, jobs), maxJobsOf(client), config.batchMaxWaitMs, now);
      for (const chunk of due) {
        if (stopped || !holding) return;
        const submitted = await submit(provider, model, queue, chunk);
        submittedAny ||= submitted;
        if (!submitted) break;
      }
    }
    quietUntil = submittedAny ? 0 : nextLoad;
  }

  /** Most jobs in one batch of `client`'s provider: `BATCH_MAX_JOBS`, or fewer if it takes fewer. */
  const maxJobsOf = (client: BatchClient) =>
    Math.min(config.batchMaxJobs, client.limits.maxRequests);

  /** Splits jobs into batches the provider takes: `BATCH_MAX_JOBS`, its request and byte limits. */
  function chunksOf(client: BatchClient, jobs: Collected[]): Collected[][] {
    const maxJobs = maxJobsOf(client);
    const chunks: Collected[][] = [];
    let chunk: Collected[] = [];
    let bytes = 0;
    for (const job of jobs) {
      const size = client.requestBytes({
        customId: customIdOf("0123456789abcdef", chunk.length),
        request: job.plan.request,
      });
      if (chunk.length > 0 && (chunk.length >= maxJobs || bytes + size > client.limits.maxBytes)) {
        chunks.push(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(job);
      bytes += size;
    }
    if (chunk.length > 0) chunks.push(chunk);
    return chunks;
  }

  /**
   * Submits one batch: its jobs' worst cases reserved in the budgets (those that do not fit wait
   * for the reset), recorded as `submitting`, created, then recorded `open` with the provider's
   * id. Returns `false` when the provider or a budget refused it: the group's other batches wait.
   */
  async function submit(
    provider: string,
    model: string,
    queue: string,
    jobs: Collected[],
  ): Promise<boolean> {
    const client = clientOf(provider)!;
    const id = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
    const record = { id, provider, model, queue };
    let admitted = jobs;
    let refused = false;
    if (ledger.hasBudget(provider, queue)) {
      admitted = [];
      for (const job of jobs) {
        const admission = await ledger.admit({
          ...planOfCall(record, job.ref),
          worstCaseUsd: job.plan.worstCaseUsd,
        });
        if (!admission.admitted) {
          refused = true;
          if (admission.reason === "budget") {
            logger.info(
              "batch lane: budget {budget} reached (${spent} spent, ${reserved} reserved of ${limit}): {count} job(s) wait for its reset",
              {
                budget: admission.budget,
                spent: admission.spentUsd.toFixed(4),
                reserved: admission.reservedUsd.toFixed(4),
                limit: admission.limitUsd,
                count: jobs.length - admitted.length,
              },
            );
          }
          break;
        }
        admitted.push(job);
      }
      if (admitted.length === 0) return false;
    }
    sending.add(id);
    try {
      const taken = await takeIntoBatch(
        redis,
        id,
        { provider, model, queue },
        admitted.map((job) => job.ref),
      );
      const takenSet = new Set(taken);
      for (const job of admitted) {
        if (!takenSet.has(job.ref)) await releaseReservation(record, job.ref);
      }
      if (taken.length === 0) return !refused;
      const planOf = new Map(admitted.map((job) => [job.ref, job.plan]));
      const requests = taken.map((ref, index) => ({
        customId: customIdOf(id, index),
        request: planOf.get(ref)!.request,
      }));
      let status: BatchStatus;
      try {
        status = await client.create(requests);
      } catch (error) {
        await submitFailed({ ...record, jobs: taken }, error);
        return false;
      }
      if (!await markSubmitted(redis, id, provider, status.id, Date.now() + FIRST_POLL_MS)) {
        await answeredTooLate(record, status.id);
        return false;
      }
      logger.info(
        "batch {batch}: {count} job(s) of {queue} submitted to {provider} as {providerId}",
        {
          batch: id,
          count: taken.length,
          queue,
          provider,
          providerId: status.id,
        },
      );
      return !refused;
    } finally {
      sending.delete(id);
    }
  }

  /**
   * The provider accepted a batch after it had moved on without this desk (which lost its lease
   * meanwhile: frozen, or cut off from Redis). Another desk found the provider's batch and adopted
   * it: it is that desk's. Or it put the jobs back to be collected: the provider's batch is then
   * no record's, and is canceled, so that its requests do not run (and cost) twice.
   */
  async function answeredTooLate(
    record: Pick<BatchRecord, "id" | "provider">,
    providerId: string,
  ): Promise<void> {
    const now = await readBatch(redis, record.id);
    const fields = { batch: record.id, provider: record.provider, providerId };
    if (now?.providerId === providerId) {
      logger.info(
        "batch {batch}: {provider} answered its create ({providerId}) after another desk had taken the batch over: it is that desk's",
        fields,
      );
      return;
    }
    try {
      await clientOf(record.provider)!.cancel(providerId);
      logger.warn(
        "batch {batch}: {provider} answered its create ({providerId}) after its jobs had been collected again: that batch is canceled",
        fields,
      );
    } catch (error) {
      logger.error(
        "batch {batch}: {provider} answered its create ({providerId}) after its jobs had been collected again, and canceling that batch failed ({error}): cancel it at {provider}, or its requests run twice",
        { ...fields, error: error instanceof Error ? error.message : String(error) },
      );
    }
  }

  /**
   * A create that failed (see `afterFailedCreate`): requests the provider refuses fail their jobs
   * (by their retry policy); a refusal of the call puts the jobs back to be collected; with no
   * answer to go by, the batch stays `submitting` and is looked for at the provider in
   * `RECOVER_AFTER_MS`, as a dead desk's is. Either of the last two holds the provider's next
   * submit for a minute.
   */
  async function submitFailed(
    record: Pick<BatchRecord, "id" | "provider" | "model" | "queue" | "jobs">,
    error: unknown,
  ): Promise<void> {
    const failure = error instanceof LlmError ? error : undefined;
    const message = error instanceof Error ? error.message : String(error);
    const after = afterFailedCreate(error);
    if (after === "fail") {
      for (const ref of record.jobs) await releaseReservation(record, ref);
      for (const ref of record.jobs) {
        await storeOutcome(redis, record.id, ref, {
          outcome: "errored",
          batchId: record.id,
          kind: "invalid",
          message: `the provider refused the batch: ${message}`,
        });
      }
      await markDone(redis, record.id, { error: message });
      logger.error("batch {batch}: {provider} refused it: {error}; its {count} job(s) fail", {
        batch: record.id,
        provider: record.provider,
        error: message,
        count: record.jobs.length,
      });
      return;
    }
    submitHeldUntil.set(record.provider, Date.now() + 60_000);
    if (after === "look") {
      // Its reservations stay: the batch may run. recover() settles what it finds.
      logger.warn(
        "batch {batch}: {provider} did not answer its create ({error}): it may have the batch; in {seconds} s the desk looks for it among {provider}'s batches, to take it, or to collect its {count} job(s) again",
        {
          batch: record.id,
          provider: record.provider,
          error: message,
          seconds: RECOVER_AFTER_MS / 1000,
          count: record.jobs.length,
        },
      );
      return;
    }
    for (const ref of record.jobs) await releaseReservation(record, ref);
    const returned = await returnToCollection(redis, record.id);
    logger.warn(
      "batch lane: submitting to {provider} failed ({kind}: {error}); {count} job(s) wait to be collected again in a minute",
      {
        provider: record.provider,
        kind: failure?.kind ?? "transient",
        error: message,
        count: returned,
      },
    );
  }

  /** Looks at each open batch that is due, and reads those that have ended. */
  async function pollDue(now: number): Promise<void> {
    for (const id of await dueBatches(redis, now)) {
      if (stopped || !holding) return;
      if (sending.has(id)) continue;
      const record = await readBatch(redis, id);
      if (!record) {
        await redis.zrem(OPEN_KEY, id);
        continue;
      }
      try {
        if (record.phase === "submitting") await recover(record, now);
        else if (record.phase === "open") await poll(record);
      } catch (error) {
        const retryMs = Math.min(config.batchPollMs, FIRST_POLL_MS * 2 ** record.polls);
        logger.warn("batch {batch}: looking at it failed: {error}; again in {seconds} s", {
          batch: id,
          error: error instanceof Error ? error.message : String(error),
          seconds: retryMs / 1000,
        });
        await markPolled(redis, id, record.providerStatus ?? "unknown", Date.now() + retryMs);
      }
    }
  }

  /**
   * A batch left `submitting`, its create unanswered (its desk died mid-submit, or the provider
   * did not answer it): the provider's one batch created since, that no record knows, is it; with none (or more than one to choose from), its jobs are put back to
   * be collected, and the ids of the unknown batches are logged, to cancel by hand.
   */
  async function recover(record: BatchRecord, now: number): Promise<void> {
    if (now - record.createdMs < RECOVER_AFTER_MS) {
      await markPolled(redis, record.id, "submitting", record.createdMs + RECOVER_AFTER_MS);
      return;
    }
    const client = clientOf(record.provider);
    const unknown: BatchStatus[] = [];
    if (client) {
      for (const batch of await client.list({ limit: 20 })) {
        if (batch.createdAt < record.createdMs - ADOPT_WINDOW_MS) continue;
        if (!await isKnownProviderBatch(redis, record.provider, batch.id)) unknown.push(batch);
      }
    }
    if (unknown.length === 1) {
      const adopted = await markSubmitted(
        redis,
        record.id,
        record.provider,
        unknown[0].id,
        Date.now(),
        { adopted: true },
      );
      // Not adopted: its own desk heard the answer meanwhile, and recorded it.
      if (!adopted) return;
      logger.warn(
        "batch {batch}: its create went unanswered (its desk died, or {provider} did not answer); {provider}'s batch {providerId}, created since and known to no record, is taken to be it (its custom ids confirm it when it ends)",
        { batch: record.id, provider: record.provider, providerId: unknown[0].id },
      );
      return;
    }
    for (const ref of record.jobs) await releaseReservation(record, ref);
    const returned = await returnToCollection(redis, record.id);
    logger.warn(
      "batch {batch}: its create went unanswered (its desk died, or {provider} did not answer) and {provider} has {found}: its {count} job(s) are collected again{hint}",
      {
        batch: record.id,
        provider: record.provider,
        found: unknown.length === 0 ? "no batch of it" : `${unknown.length} unknown batches since`,
        count: returned,
        hint: unknown.length === 0
          ? ""
          : `; if one of ${
            unknown.map((batch) => batch.id).join(", ")
          } is it, cancel it: ppr-worker batches cancel --unrecorded --provider ${record.provider} <id>`,
      },
    );
  }

  /** Looks at an open batch: when it has ended, reads its results. */
  async function poll(record: BatchRecord): Promise<void> {
    const client = clientOf(record.provider);
    if (!client) throw new Error(`${record.provider} has no batch API in this configuration`);
    const status = await client.retrieve(record.providerId!);
    if (status.state !== "ended") {
      const nextMs = Math.min(config.batchPollMs, FIRST_POLL_MS * 2 ** (record.polls + 1));
      await markPolled(redis, record.id, status.providerStatus, Date.now() + nextMs);
      return;
    }
    await readResults(record, status);
  }

  /**
   * Reads an ended batch's results: each job's outcome is stored (its cost at the batch price,
   * settled in the budgets) and the job woken. A second read stores nothing twice.
   */
  async function readResults(record: BatchRecord, status: BatchStatus): Promise<void> {
    const client = clientOf(record.provider)!;
    const times = await collectedTimes(redis, record.id);
    let matched = 0;
    for await (const entry of client.results(record.providerId!)) {
      const index = requestIndexOf(record.id, entry.customId);
      const ref = index === undefined ? undefined : record.jobs[index];
      if (ref === undefined) continue;
      matched++;
      const outcome = await outcomeOf(record, ref, entry, times[index!]);
      await storeOutcome(redis, record.id, ref, outcome);
    }
    const left = await jobsAwaitingOutcome(redis, record);
    if (left.length > 0 && record.adopted && matched === 0) {
      // The adopted batch was another one: these jobs were never sent.
      for (const ref of left) await releaseReservation(record, ref);
      const returned = await returnToCollection(redis, record.id);
      logger.warn(
        "batch {batch}: the adopted {provider} batch {providerId} holds none of its requests: its {count} job(s) are collected again",
        {
          batch: record.id,
          provider: record.provider,
          providerId: record.providerId,
          count: returned,
        },
      );
      return;
    }
    for (const ref of left) {
      await releaseReservation(record, ref);
      await storeOutcome(redis, record.id, ref, {
        outcome: "errored",
        batchId: record.id,
        kind: "transient",
        message:
          `${record.provider} reported no result for this request of batch ${record.providerId}`,
      });
    }
    await markDone(redis, record.id, { providerStatus: status.providerStatus });
    const done = await readBatch(redis, record.id);
    logger.info(
      "batch {batch} ended ({status}): {succeeded} succeeded, {failed} failed; ${cost} at the batch price{unpriced}",
      {
        batch: record.id,
        status: status.providerStatus,
        succeeded: done?.succeeded ?? 0,
        failed: done?.failed ?? 0,
        cost: (done?.costUsd ?? 0).toFixed(6),
        unpriced: done?.unpriced ? ` (${done.unpriced} unpriced answers not counted)` : "",
      },
    );
  }

  /** A result entry as the job's stored outcome; its reservation settled to what it cost. */
  async function outcomeOf(
    record: BatchRecord,
    ref: string,
    entry: BatchEntryResult,
    collectedMs: number | undefined,
  ): Promise<StoredOutcome> {
    const plan = planOfCall(record, ref);
    if (entry.outcome === "succeeded") {
      const { cost_usd: _reported, ...result } = entry.result;
      const model = result.model || record.model;
      const costUsd = pricing.costOf(record.provider, model, result.usage, BATCH_PRICE_SHARE);
      if (costUsd === undefined && !warnedUnpriced.has(`${record.provider}/${model}`)) {
        // Once per model: a batch of an unpriced model would say it for every answer.
        warnedUnpriced.add(`${record.provider}/${model}`);
        logger.warn("{model} has no price: its batch answers cost unknown; add it to LLM_PRICES", {
          model: `${record.provider}/${model}`,
        });
      }
      await ledger.settle(plan, {
        costUsd,
        usage: result.usage,
        ...(model !== plan.model ? { answeredModel: model } : {}),
      }).catch((error) =>
        logger.warn("batch {batch}: a settlement failed in Redis: {error}", {
          batch: record.id,
          error: String(error),
        })
      );
      return {
        outcome: "succeeded",
        batchId: record.id,
        result,
        costUsd: costUsd ?? null,
        collectedMs,
      };
    }
    await releaseReservation(record, ref);
    if (entry.outcome === "errored") {
      return {
        outcome: "errored",
        batchId: record.id,
        kind: entry.error.kind,
        message: entry.error.message,
      };
    }
    return {
      outcome: entry.outcome,
      batchId: record.id,
      kind: "transient",
      message: `the batch was ${entry.outcome} before this request ran`,
    };
  }

  /** Renews the lease in the middle of a step; once another desk holds it, this one stops stepping. */
  async function renew(): Promise<void> {
    if (!holding || stopped) return;
    try {
      holding = await holdDeskLease(redis, owner, DESK_LEASE_MS);
    } catch {
      return; // Redis unreachable: the step's own calls fail too, and the next tick tries again
    }
    if (!holding) {
      logger.warn("batch desk: another supervisor holds the desk's lease now; this one stops");
    }
  }

  async function tick(): Promise<void> {
    holding = await holdDeskLease(redis, owner, DESK_LEASE_MS);
    if (!holding) return;
    let renewing = Promise.resolve();
    const renewal = setInterval(() => (renewing = renew()), DESK_RENEW_MS);
    try {
      const now = Date.now();
      await wakeJobs();
      await submitDue(now);
      await pollDue(now);
      await wakeJobs();
    } finally {
      clearInterval(renewal);
      // Settled before a stop gives the lease up, so that no late renewal takes it back.
      await renewing;
    }
  }

  let timer: ReturnType<typeof setTimeout> | undefined;
  const loop = async (): Promise<void> => {
    if (stopped) return;
    try {
      await tick();
    } catch (error) {
      logger.warn("batch desk: {error}", {
        error: error instanceof Error ? error.message : String(error),
      });
    }
    if (!stopped) timer = setTimeout(() => (running = loop()), tickMs);
  };
  let running = loop();

  return {
    /** Stops after the step in progress and gives the lease up. */
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await running;
      if (holding) await releaseDeskLease(redis, owner).catch(() => {});
      await Promise.allSettled(
        [...queues.values()].map(async (queue) => await (await queue).close()),
      );
    },
  };
}
