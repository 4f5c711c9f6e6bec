/** The `scale` command: resizes running supervisors through Redis (pub/sub), and prints what each one did. */

import { deadline } from "../async/mod.ts";
import { SCALE_CHANNEL, scaleAnswersChannel } from "../redis/keys.ts";
import {
  formatScaleRequest,
  parseScaleAnswer,
  type ScaleAnswer,
} from "../protocol/scale_request.ts";
import { CommandError, printJson, runCommand, withRedis } from "./_util.ts";

/** What `ppr-worker scale` was asked for. */
export interface ScaleOptions {
  redisUrl: string;
  size: number;
  /** Only the supervisor running as this host; `undefined`: every one. */
  host: string | undefined;
  /** Only this pool of `WORKER_POOLS`; `undefined`: each supervisor's one pool. */
  pool?: string;
  /** How long to wait for the supervisors' answers. @default {3000} */
  answerTimeoutMs?: number;
  json: boolean;
}

/**
 * Publishes the request and waits for an answer from every supervisor that heard it (or
 * `answerTimeoutMs`); prints one line per supervisor addressed. Exit 0 when at least one
 * resized (or already had the size), 1 when none runs (as `host`) or none answered.
 */
export function runScale(options: ScaleOptions): Promise<number> {
  return runCommand(
    "scale",
    () =>
      withRedis(options, "ppr-scale", async (redis) => {
        const id = crypto.randomUUID();
        const answers: ScaleAnswer[] = [];
        let heardBy = Infinity;
        const allAnswered = Promise.withResolvers<void>();
        const subscriber = redis.duplicate();
        subscriber.on("error", () => {});
        try {
          subscriber.on("message", (_channel: string, message: string) => {
            const answer = parseScaleAnswer(message);
            if (answer) answers.push(answer);
            if (answers.length >= heardBy) allAnswered.resolve();
          });
          await subscriber.subscribe(scaleAnswersChannel(id));
          heardBy = Number(
            await redis.publish(
              SCALE_CHANNEL,
              formatScaleRequest({
                id,
                size: options.size,
                host: options.host,
                ...(options.pool !== undefined ? { pool: options.pool } : {}),
              }),
            ),
          );
          if (answers.length >= heardBy) allAnswered.resolve();
          await deadline(allAnswered.promise, options.answerTimeoutMs ?? 3000).catch(() => {});
        } finally {
          subscriber.disconnect();
        }
        const addressed = answers.filter((answer) => !answer.skipped)
          .sort((a, b) => a.host.localeCompare(b.host));
        const refused = addressed.filter((answer) => answer.error !== undefined);
        if (options.json) {
          for (const answer of addressed) printJson(answer);
        } else {
          for (const answer of addressed) {
            if (answer.error !== undefined) continue;
            const what = answer.from === answer.to
              ? `stays at ${answer.to} worker(s)`
              : `${answer.from} -> ${answer.to} worker(s)${
                answer.to < answer.from ? " (the removed ones drain)" : ""
              }`;
            const pool = answer.pool === undefined ? "" : ` pool ${answer.pool}`;
            console.log(`${answer.host}${pool}: ${what}${answer.note ? `; ${answer.note}` : ""}`);
          }
        }
        if (refused.length > 0) {
          throw new CommandError(
            refused.map((answer) => `${answer.host} resized nothing: ${answer.error}`).join("\n"),
          );
        }
        if (addressed.length === 0) {
          const where = options.host === undefined ? "" : ` as host ${options.host}`;
          throw new CommandError(
            options.pool !== undefined
              ? `no supervisor${where} runs a pool ${options.pool} on this Redis (${answers.length} other(s) answered)`
              : options.host === undefined
              ? "no supervisor answered: none runs on this Redis (or none of this version)"
              : `no supervisor runs as host ${options.host} on this Redis (${answers.length} other(s) answered)`,
          );
        }
        return 0;
      }),
  );
}
