/** The `batches` and `batches cancel` commands: the fleet's provider batches, and canceling one. */

import type { RedisClient } from "../redis/connection.ts";
import { batchClientCache } from "../jobs/batch/lane.ts";
import {
  batchCostText,
  type BatchListing,
  batchStateText,
  type BatchView,
  readBatchListing,
} from "../jobs/batch/listing.ts";
import { batchIdOfProviderId, type BatchRecord, lookSoon, readBatch } from "../jobs/batch/store.ts";
import type { ProviderContext } from "../providers/provider.ts";
import { PROVIDER_NAMES } from "../providers/registry.ts";
import { formatAge, oneLine, table } from "../text/format.ts";
import { CommandError, EXIT_USAGE, printJson, runCommand, withRedis } from "./_util.ts";

/** The columns of both tables: the same as the dashboard's. */
const HEADER = [
  "id",
  "provider",
  "provider batch id",
  "queue",
  "model",
  "jobs",
  "state",
  "age",
  "cost",
  "succeeded",
  "failed",
];

function row(view: BatchView): string[] {
  return [
    view.id,
    view.provider,
    view.provider_batch_id ?? "-",
    view.queue || "-",
    view.model || "-",
    String(view.jobs),
    batchStateText(view),
    formatAge(view.age_s * 1000),
    batchCostText(view),
    String(view.succeeded),
    String(view.failed),
  ];
}

/** The table of `views` under `title`, then why each refused batch was refused. */
function section(title: string, views: readonly BatchView[]): string[] {
  if (views.length === 0) return [title];
  const refused = views.filter((view) => view.error !== null);
  return [
    title,
    table([HEADER, ...views.map(row)], { alignRight: [5, 7, 8, 9, 10] }),
    ...refused.map((view) =>
      `  ${view.id}: ${view.provider} refused it: ${oneLine(view.error!, 200)}`
    ),
  ];
}

/**
 * `batches` as text: the open batches, then those ended within 7 days, newest first.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { renderBatches } from "./batches.ts";
 *
 * assert.equal(
 *   renderBatches({ open: [], recent: [] }),
 *   "no open batches\n\nno batches ended within 7 days",
 * );
 * ```
 */
export function renderBatches(listing: BatchListing): string {
  const count = (n: number) => `${n} batch${n === 1 ? "" : "es"}`;
  return [
    ...section(
      listing.open.length === 0 ? "no open batches" : `${count(listing.open.length)} open`,
      listing.open,
    ),
    "",
    ...section(
      listing.recent.length === 0
        ? "no batches ended within 7 days"
        : `${count(listing.recent.length)} ended within 7 days, newest first`,
      listing.recent,
    ),
  ].join("\n");
}

/** What `ppr-worker batches` was asked for. */
export interface BatchesListOptions {
  /** The pool's Redis (`REDIS_URL`): the batch lane's keys do not depend on `BULL_PREFIX`. */
  redisUrl: string;
  /** At most this many of the batches ended within 7 days, newest first. */
  recent: number;
  json: boolean;
}

/** Lists the open batches and the recent ones (JSON: one line per batch, open ones first). */
export function runBatchesList(options: BatchesListOptions): Promise<number> {
  return runCommand("batches", () =>
    withRedis(options, "ppr-batches", async (redis) => {
      const listing = await readBatchListing(redis, { recent: options.recent });
      if (!options.json) console.log(renderBatches(listing));
      else for (const view of [...listing.open, ...listing.recent]) printJson(view);
      return 0;
    }));
}

/**
 * Why batch `record` cannot be canceled, in words a user can act on; `undefined` when it can
 * (it is open: the provider has it).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { cancelRefusal } from "./batches.ts";
 *
 * const open = {
 *   id: "b1", provider: "claude", model: "m", queue: "llm", phase: "open" as const, jobs: [],
 *   createdMs: 0, providerId: "msgbatch_1", stored: 0, costUsd: 0, unpriced: 0, succeeded: 0,
 *   failed: 0, polls: 0,
 * };
 * assert.equal(cancelRefusal(open, 0), undefined);
 * assert.match(cancelRefusal({ ...open, phase: "done", endedMs: 0 }, 60_000)!, /is done already/);
 * ```
 */
export function cancelRefusal(record: BatchRecord, nowMs: number): string | undefined {
  if (record.phase === "done") {
    const how = record.error !== undefined
      ? `${record.provider} refused it`
      : `${record.provider} says ${record.providerStatus ?? "ended"}`;
    const when = record.endedMs === undefined ? "" : ` ${formatAge(nowMs - record.endedMs)} ago`;
    return `batch ${record.id} is done already: it ended${when} (${how}); ` +
      "there is nothing left to cancel";
  }
  if (record.phase === "submitting" || record.providerId === undefined) {
    return `batch ${record.id} is still being submitted: ${record.provider} has not given it ` +
      "an id yet, so there is nothing to cancel there; try again in a few seconds, once " +
      "'ppr-worker batches' shows it open";
  }
  return undefined;
}

/**
 * The fleet's batch `id` names: ppr-worker's id, else the provider's id of a recorded batch.
 * `undefined` when no record has it.
 */
async function findBatch(redis: RedisClient, id: string): Promise<BatchRecord | undefined> {
  const record = await readBatch(redis, id);
  if (record) return record;
  for (const provider of PROVIDER_NAMES) {
    const batchId = await batchIdOfProviderId(redis, provider, id);
    if (batchId !== undefined) return await readBatch(redis, batchId);
  }
  return undefined;
}

/**
 * What canceling a batch does to its jobs, in words (its `--help` says the same): the desk stores
 * a `canceled` outcome for each request that had not run, and its job's try fails as transient.
 */
const CANCELED_BATCH_JOBS = "each request that had not run ends canceled, and its job is " +
  "retried by its retry policy: with tries left it goes through a lane again (the batch lane, " +
  "or a direct call with retry_lane direct), else it fails; to stop the jobs for good, remove them";

/** What `ppr-worker batches cancel` was asked for. */
export interface BatchesCancelOptions {
  /** The pool's Redis (`REDIS_URL`). */
  redisUrl: string;
  /** ppr-worker's id of the batch, or the provider's. */
  id: string;
  /**
   * Cancel the provider's batch `id` of `LLM_PROVIDER` that no record knows (one the desk
   * logged after it died while submitting it), when no record has `id`.
   */
  unrecorded: boolean;
  /** The configuration the batch clients are made with (the provider's key, its base URL). */
  context: ProviderContext;
  json: boolean;
}

/** What canceling did, as `--json` prints it. */
interface CancelReport {
  /** ppr-worker's id; `null` for an unrecorded batch. */
  id: string | null;
  provider: string;
  provider_batch_id: string;
  /** The provider's word for the batch's state after the cancel (`canceling`, `ended`). */
  provider_status: string;
  jobs: number | null;
}

/**
 * Asks the provider to cancel an open batch, and brings the desk's next look at it forward:
 * when it has ended, the desk stores a `canceled` outcome for each request that had not run,
 * and each such job is retried by its own retry policy (or fails). Refuses (exit 1) an id no
 * record has, a batch that is done, and one still being submitted; exit 2 when the batch's
 * provider has no batch API in this configuration.
 */
export function runBatchesCancel(options: BatchesCancelOptions): Promise<number> {
  return runCommand("batches cancel", () =>
    withRedis(options, "ppr-batches", async (redis) => {
      const clientOf = batchClientCache(options.context);
      const record = await findBatch(redis, options.id);
      if (!record && !options.unrecorded) {
        throw new CommandError(
          `no batch ${options.id}: it is neither ppr-worker's id of an open or recent batch nor ` +
            "the provider's id of one (see 'ppr-worker batches'). A provider's batch that no " +
            "record knows (the batch desk logs those it finds after dying mid-submit) is " +
            "canceled with --unrecorded",
        );
      }
      const refusal = record && cancelRefusal(record, Date.now());
      if (refusal) throw new CommandError(refusal);
      const provider = record?.provider ?? options.context.config.provider;
      const providerId = record?.providerId ?? options.id;
      const client = clientOf(provider);
      if (!client) {
        throw new CommandError(
          `${provider} has no batch API in this configuration: run the command with the ` +
            `settings the pool has (for claude, ANTHROPIC_API_KEY)`,
          EXIT_USAGE,
        );
      }
      let status;
      try {
        status = await client.cancel(providerId);
      } catch (error) {
        throw new CommandError(
          `${provider} did not cancel batch ${providerId}: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
      }
      if (record) await lookSoon(redis, record.id);
      const report: CancelReport = {
        id: record?.id ?? null,
        provider,
        provider_batch_id: providerId,
        provider_status: status.providerStatus,
        jobs: record ? record.jobs.length : null,
      };
      if (options.json) printJson(report);
      else console.log(cancelText(report));
      return 0;
    }));
}

/** What `batches cancel` says once the provider took the cancel. */
function cancelText(report: CancelReport): string {
  const name = report.id === null
    ? `${report.provider} batch ${report.provider_batch_id} (no record of the fleet's)`
    : `batch ${report.id} (${report.provider} ${report.provider_batch_id}, ${report.jobs} job${
      report.jobs === 1 ? "" : "s"
    })`;
  const next = report.id === null
    ? "no job waits for it: the batch desk put its jobs back to be collected when it gave it up"
    : `when it has ended, the batch desk reads it: answers already in complete their jobs; ${CANCELED_BATCH_JOBS}`;
  return `${name}: cancel asked; ${report.provider} says ${report.provider_status}.\n${next}`;
}
