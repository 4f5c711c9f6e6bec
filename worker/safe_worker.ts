/**
 * A BullMQ Worker that fails a job whose record is corrupt (data or options not JSON, a tries
 * count that is no number) at once, with the reason, instead of leaving it in `active` or losing it.
 */

import type { Job, JobJson, Processor, WorkerOptions } from "bullmq";
import { UnrecoverableError } from "bullmq/errors";
import { redact } from "../log/redact.ts";
import { dataNotJson } from "../state/unreadable_jobs.ts";
import {
  guardJobFetch,
  JOB_FIELDS,
  jobKey,
  undecodableJobs,
  Worker,
  workerClient,
} from "../redis/bullmq_internals.ts";

/** Where the reason goes in the stand-in data of a job whose record is corrupt. */
const CORRUPT = "__ppr_corrupt_record__";
/** The repair of such a record (before it can be failed), kept on the job: more problems found. */
const REPAIRED = Symbol("record repaired");

/** At most this much of a corrupt field's value is quoted in the reason. */
const QUOTED_CHARS = 100;

function quoted(value: unknown): string {
  return JSON.stringify(String(value ?? "").slice(0, QUOTED_CHARS));
}

/**
 * A Worker for records written by something other than BullMQ, or damaged:
 * - data that is not JSON: BullMQ throws while taking the job, outside any processor, and the
 *   job stays in `active` until the stalled-job check, again and again;
 * - options that are not JSON: the same, one step earlier, before the Worker even sees the job
 *   (see `guardJobFetch`);
 * - a tries count (`atm`) that is not a whole number: the job runs, then BullMQ's finishing
 *   script fails half way, after taking the job out of `active`: the job is in no list, lost.
 * Each such job fails at once (`UnrecoverableError`, no retry) with a reason that names the
 * field and quotes its value; the record is first repaired as far as BullMQ needs to fail it
 * (`opts` `{}`, `atm` 0), so the failure itself cannot break.
 */
export class SafeWorker extends Worker {
  constructor(name: string, processor: Processor, options: WorkerOptions) {
    super(name, processor, options);
    guardJobFetch(this, () => this.failUndecodable());
  }

  protected override createJob(data: JobJson, jobId: string): Job {
    const problems: string[] = [];
    let job: Job;
    try {
      job = super.createJob(data, jobId);
    } catch (error) {
      problems.push(dataNotJson(data.data, error));
      job = super.createJob({ ...data, data: "{}" }, jobId);
    }
    const attemptsMade = (data as { attemptsMade?: unknown }).attemptsMade;
    const attemptsCorrupt = typeof attemptsMade === "number" && !Number.isInteger(attemptsMade);
    if (problems.length === 0 && !attemptsCorrupt) return job;
    let repaired: Promise<string[]> = Promise.resolve([]);
    if (attemptsCorrupt) {
      // BullMQ's finishing script adds 1 to it in Redis: repaired first, or the job is lost.
      job.attemptsMade = 0;
      repaired = this.repair(jobId, JOB_FIELDS.attemptsMade, "0").then((raw) => [
        `attemptsMade (atm) is not a whole number: ${quoted(raw)}`,
      ]);
    }
    job.data = { [CORRUPT]: problems };
    (job as unknown as Record<symbol, Promise<string[]>>)[REPAIRED] = repaired;
    return job;
  }

  /** Sets `field` of a job's record to `value`; resolves with the value it had. */
  private async repair(jobId: string, field: string, value: string): Promise<string | null> {
    const redis = workerClient(this);
    const key = jobKey(this.opts.prefix ?? "bull", this.name, jobId);
    const [[, raw]] = (await redis.multi().hget(key, field).hset(key, field, value).exec())! as [
      [Error | null, string | null],
    ];
    return raw;
  }

  /** Fails the active jobs of this Worker whose options cannot be decoded. */
  private async failUndecodable(): Promise<void> {
    const redis = workerClient(this);
    const prefix = this.opts.prefix ?? "bull";
    for (const found of await undecodableJobs(redis, prefix, this.name, [this.id])) {
      await this.repair(found.id, JOB_FIELDS.opts, "{}");
      const job = await this.Job.fromId(this, found.id);
      if (!job) continue;
      // Stored as the job's failed reason and shown by every tool: no known secret in it.
      const reason = redact(
        `the job's record is corrupt: opts is not JSON (${found.error}): ${quoted(found.rawOpts)}`,
      );
      await job.moveToFailed(new UnrecoverableError(reason), found.token);
      this.emit("error", new Error(`job ${found.id} failed: ${reason}`));
    }
  }
}

/**
 * Throws `UnrecoverableError` (no retry) for the stand-in data of a job whose record is
 * corrupt, once its record is repaired enough for BullMQ to fail it.
 */
export async function assertSound(job: Job): Promise<void> {
  const data = job.data as unknown;
  if (typeof data === "object" && data !== null && CORRUPT in data) {
    const problems = [
      ...(data as Record<string, string[]>)[CORRUPT],
      ...await (job as unknown as Record<symbol, Promise<string[]>>)[REPAIRED],
    ];
    throw new UnrecoverableError(`the job's record is corrupt: ${problems.join("; ")}`);
  }
}
