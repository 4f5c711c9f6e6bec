/**
 * The built-in recorder: writes each LLM result (`{job_id, job, result}`) to
 * `OUTPUT_DIR/daily/<day>/scrapers/<scraper>/<job>.json`, and keeps `OUTPUT_DIR/latest` and the
 * day's `summary.json` up to date.
 */

import { UnrecoverableError } from "bullmq/errors";
import type { JobProcessor } from "../job_processor.ts";
import { replaceLink, withFileLock, writeFileAtomic } from "./files.ts";
import { parseResultMessage } from "./message.ts";
import { dayOf, movesLatest, type RecordPaths, recordPaths } from "./paths.ts";
import { listScrapers, summarize } from "./summary.ts";

/** Where the recorder writes, and its clock. */
export interface RecorderOptions {
  /** `OUTPUT_DIR`. */
  outputDir: string;
  /** @default {() => new Date()} */
  now?: () => Date;
}

/** What `latest` points at now, or `undefined` when it is missing or no link. */
async function linkTarget(link: string): Promise<string | undefined> {
  try {
    return await Deno.readLink(link);
  } catch {
    return undefined;
  }
}

/**
 * Points `latest` at the day of `paths` unless it already points at a later day, and rewrites
 * the day's summary from what is on disk. The caller holds the lock: the last writer lists
 * every file renamed before it took the lock, and any file renamed later is followed by a
 * writer of its own, so the summary that stays is complete.
 */
async function updateDay(paths: RecordPaths, now: Date): Promise<void> {
  if (movesLatest(await linkTarget(paths.latest), paths.latestTarget)) {
    await replaceLink(paths.latest, paths.latestTarget).catch((error) => {
      throw new Error(`cannot point ${paths.latest} at ${paths.latestTarget}: ${error.message}`);
    });
  }
  const day = paths.latestTarget.slice("daily/".length);
  const summary = summarize(day, await listScrapers(paths.scrapersDir), now);
  await writeFileAtomic(paths.summary, JSON.stringify(summary, null, 2) + "\n");
}

/**
 * The recorder as a job processor. The day of a result is the UTC date its recorder job was
 * added (so a retry writes the same file, whenever it runs). Each file is written atomically,
 * and a retried job overwrites its own file. Data that is not a result message fails the job
 * at once, naming the field.
 */
export function createRecorder(options: RecorderOptions): JobProcessor {
  const now = options.now ?? (() => new Date());
  // A day's update still waiting for the lock, by its summary file, with the result files it
  // will count that did not exist before. A result renamed in while one waits joins it: the
  // update lists the day only once it holds the lock, so it counts that file too. A burst of
  // results then lists the day once per turn of the lock, not per result.
  const waiting = new Map<string, { update: Promise<void>; newFiles: string[] }>();
  const updateDayOnce = (paths: RecordPaths, newFile: string | undefined): Promise<void> => {
    const pending = waiting.get(paths.summary);
    if (pending) {
      if (newFile) pending.newFiles.push(newFile);
      return pending.update;
    }
    const entry = { update: Promise.resolve(), newFiles: newFile ? [newFile] : [] };
    entry.update = withFileLock(paths.lockFile, async () => {
      waiting.delete(paths.summary);
      try {
        await updateDay(paths, now());
      } catch (error) {
        // The summary could not be rewritten (a full disk): the new results it would have
        // counted go too, still under the lock, so the files and summary.json agree and each of
        // those jobs fails (and is retried) rather than leaving a file the summary does not list.
        await Promise.all(entry.newFiles.map((file) => Deno.remove(file).catch(() => {})));
        throw error;
      }
    });
    waiting.set(paths.summary, entry);
    // Failed before it held the lock: the next result tries again on its own.
    const forget = () => {
      if (waiting.get(paths.summary) === entry) waiting.delete(paths.summary);
    };
    entry.update.then(forget, forget);
    return entry.update;
  };
  return {
    async run(job, signal) {
      const parsed = parseResultMessage(job.data);
      if (!parsed.ok) throw new UnrecoverableError(parsed.error);
      const { message, jobId, scraperId } = parsed.result;
      const paths = recordPaths(options.outputDir, dayOf(job.timestamp), scraperId, jobId);
      await Deno.mkdir(paths.scraperDir, { recursive: true });
      signal.throwIfAborted();
      const recorded = { ...message, scraper_id: scraperId, recorded_at: now().toISOString() };
      const existed = await Deno.lstat(paths.file).then(() => true, () => false);
      await writeFileAtomic(paths.file, JSON.stringify(recorded, null, 2) + "\n");
      await updateDayOnce(paths, existed ? undefined : paths.file);
      return { file: paths.relativeFile };
    },
    async close() {},
  };
}
