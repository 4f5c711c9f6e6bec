/** V8_MODE against real processes: the V8 flags each worker really runs with. */

import { strict as assert } from "node:assert";
import { Queue } from "bullmq";
import { startRedis } from "../testing/redis.ts";
import { startSupervisor } from "../testing/ppr.ts";
import { waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

/**
 * The `--v8-flags` of a running worker, from its command line in /proc, but the heap limit
 * (`--max-old-space-size`, set in a container with a memory limit).
 */
function v8FlagsOf(pid: number): string[] {
  const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
  assert.ok(cmdline.includes("worker"), `pid ${pid} is a worker: ${cmdline.join(" ")}`);
  return cmdline.filter((arg) => arg.startsWith("--v8-flags="))
    .flatMap((arg) => arg.slice("--v8-flags=".length).split(","))
    .filter((flag) => !flag.startsWith("--max-old-space-size="));
}

for (
  const [mode, expected] of [
    [undefined, ["--lite-mode"]],
    ["jit", []],
  ] as const
) {
  Deno.test(
    `V8_MODE=${mode ?? "(unset)"}: the workers run with V8 flags [${
      expected.join(",")
    }] and take jobs`,
    integration,
    async () => {
      await using redis = await startRedis();
      const queue = new Queue("llm", { connection: redis.client() });
      await using supervisor = startSupervisor(["--count", "2"], {
        redisUrl: redis.url,
        env: mode === undefined ? {} : { V8_MODE: mode },
      });
      try {
        const health = await supervisor.waitForHealth(
          (body) => body.workers.length === 2 && body.workers.every((w) => w.state === "idle"),
          "2 idle workers",
        );
        for (const worker of health.workers) {
          assert.deepEqual(v8FlagsOf(worker.pid!), expected, worker.name);
        }
        await queue.addBulk(
          Array.from({ length: 10 }, (_, index) => ({
            name: "llm",
            data: { prompt: `page ${index}`, provider: { name: "echo" } },
          })),
        );
        await waitUntil(async () => (await queue.getCompletedCount()) === 10, {
          what: "10 completed jobs",
          timeoutMs: 30_000,
        });
      } finally {
        await queue.close();
        supervisor.signal("SIGTERM");
        await supervisor.waitForExit();
      }
    },
  );
}
