/** ppr-worker's entry point: composes the commands into one command line and runs it. */

import { auth } from "./commands/auth.ts";
import { batches } from "./commands/batches.ts";
import { cleanup } from "./commands/cleanup.ts";
import { config } from "./commands/config.ts";
import { dashboard } from "./commands/dashboard.ts";
import { enqueue } from "./commands/enqueue.ts";
import { healthcheck } from "./commands/healthcheck.ts";
import { info } from "./commands/info.ts";
import { jobs } from "./commands/jobs.ts";
import { pause, resume } from "./commands/pause.ts";
import { pool } from "./commands/pool.ts";
import { runProgram } from "./commands/program.ts";
import { requeue } from "./commands/requeue.ts";
import { scale } from "./commands/scale.ts";
import { worker } from "./commands/worker.ts";

/** Runs the command line and returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runProgram(args, {
    root: pool,
    commands: [
      worker,
      enqueue,
      healthcheck,
      dashboard,
      info,
      jobs,
      batches,
      requeue,
      cleanup,
      auth,
      config,
      pause,
      resume,
      scale,
    ],
    env: Deno.env.toObject(),
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
