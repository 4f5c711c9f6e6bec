/** The worker bundle against real processes: where a supervisor's workers start from, and why. */

import { strict as assert } from "node:assert";
import { producerQueue } from "../testing/jobs.ts";
import { ensureWorkerBundle } from "../scripts/bundle.ts";
import { logRecords, startSupervisor, type Supervisor } from "../testing/ppr.ts";
import { startRedis } from "../testing/redis.ts";
import { waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

/** What a copy of the program needs to run and to be bundled: main.ts's folders and config. */
const PROGRAM = [
  "main.ts",
  "deno.json",
  "deno.lock",
  "async",
  "cli",
  "commands",
  "config",
  "dashboard",
  "economics",
  "health",
  "jobs",
  "log",
  "protocol",
  "providers",
  "redis",
  "scripts",
  "state",
  "supervisor",
  "telemetry",
  "testing",
  "text",
  "worker",
];

/** A copy of this checkout's program in a temporary folder, so that a test may edit a source. */
async function programCopy(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "ppr-program-" });
  const here = decodeURIComponent(new URL("..", import.meta.url).pathname);
  const copy = await new Deno.Command("cp", {
    args: ["-r", ...PROGRAM.map((name) => `${here}${name}`), root],
  }).output();
  assert.ok(copy.success, new TextDecoder().decode(copy.stderr));
  return root;
}

/** The module a running worker process was started from: the last argument before `worker`. */
function entryOf(pid: number): string {
  const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
  return cmdline[cmdline.indexOf("worker") - 1];
}

/** Starts a pool of one worker from the program in `root`; returns it and its worker's entry. */
async function oneWorkerPool(root: string, redisUrl: string) {
  const supervisor = startSupervisor(["--count", "1"], {
    redisUrl,
    main: `file://${root}/main.ts`,
    env: { LOG_LEVEL: "info" },
  });
  const health = await supervisor.waitForHealth(
    (body) => body.workers.length === 1 && body.workers[0].state === "idle",
    "an idle worker",
  );
  return { supervisor, entry: entryOf(health.workers[0].pid!) };
}

function startLine(supervisor: Supervisor) {
  return logRecords(supervisor.logs).find((record) =>
    record.message.startsWith("workers start from the worker bundle") ||
    record.message.startsWith("workers load the modules")
  )?.message;
}

Deno.test(
  "workers start from the worker bundle while it matches the sources and run a schema's pattern check there; after a source changes they load the modules, and the log says why",
  integration,
  async () => {
    const root = await programCopy();
    await using redis = await startRedis();
    const queue = producerQueue(redis);
    try {
      const built = await ensureWorkerBundle(root);
      assert.ok("entry" in built, JSON.stringify(built));
      {
        const { supervisor, entry } = await oneWorkerPool(root, redis.url);
        await using _ = supervisor;
        assert.equal(entry, built.entry);
        assert.equal(startLine(supervisor), `workers start from the worker bundle ${built.entry}`);
        // A pattern is checked in a Web Worker of its own module: the bundle must carry it.
        const job = await queue.add("llm", {
          prompt: JSON.stringify({ code: "12345" }),
          format: {
            type: "object",
            properties: { code: { type: "string", pattern: "^[0-9]+$" } },
            required: ["code"],
          },
        });
        await waitUntil(async () => (await job.getState()) === "completed", {
          what: "the job with a pattern to complete",
          timeoutMs: 30_000,
        });
        const done = (await queue.getJob(job.id!))!;
        assert.deepEqual(done.returnvalue.parsed, { code: "12345" });
      }
      await Deno.writeTextFile(
        `${root}/worker/run.ts`,
        `${await Deno.readTextFile(`${root}/worker/run.ts`)}\n// edited after the build\n`,
      );
      {
        const { supervisor, entry } = await oneWorkerPool(root, redis.url);
        await using _ = supervisor;
        assert.equal(entry, `${root}/main.ts`);
        assert.equal(
          startLine(supervisor),
          "workers load the modules: a source changed since the worker bundle was built (deno task bundle)",
        );
      }
    } finally {
      await queue.close();
      await Deno.remove(root, { recursive: true });
    }
  },
);
