import { strict as assert } from "node:assert";
import { createReloader, type ReloadSource } from "./reload.ts";
import { waitUntil } from "../testing/wait.ts";

/** A reload source whose file holds `contents[i]` at its i-th read; `undefined` is an invalid file. */
function fakeSource(contents: (Record<string, string> | undefined)[]) {
  const reads: number[] = [];
  const source: ReloadSource = {
    file: "/pool.env",
    flags: {},
    env: { LLM_MODEL_NAME: "m0" },
    read() {
      reads.push(reads.length);
      const env = contents[reads.length - 1];
      return Promise.resolve(
        env ? { ok: true, env } : { ok: false, errors: ['LLM_TIMEOUT = "x": must be a duration'] },
      );
    },
    workerEnvOf: (env) => ({ ...env, FOR_WORKERS: "1" }),
  };
  return { source, reads };
}

Deno.test("a reload whose file is invalid neither changes the workers' environment nor restarts them", async () => {
  const { source } = fakeSource([undefined]);
  const workerEnvs: Record<string, string>[] = [];
  let restarts = 0;
  const reloader = createReloader({
    source,
    setWorkerEnv: (env) => workerEnvs.push(env),
    rollingRestart: () => Promise.resolve(void restarts++),
  });
  reloader.request();
  await reloader.idle();
  assert.deepEqual(workerEnvs, []);
  assert.equal(restarts, 0);
});

Deno.test("a valid reload gives the workers the new environment, then restarts them", async () => {
  const { source } = fakeSource([{ LLM_MODEL_NAME: "m1", WORKER_COUNT: "9" }]);
  const steps: string[] = [];
  const reloader = createReloader({
    source,
    setWorkerEnv: (env) => steps.push(`env ${JSON.stringify(env)}`),
    rollingRestart: () => Promise.resolve(void steps.push("restart")),
  });
  reloader.request();
  await reloader.idle();
  // WORKER_COUNT waits for the next start: the workers do not get it.
  assert.deepEqual(steps, ['env {"LLM_MODEL_NAME":"m1","FOR_WORKERS":"1"}', "restart"]);
});

Deno.test("requests during a reload: the queued one reads the file when it begins", async () => {
  const { source, reads } = fakeSource([{ LLM_MODEL_NAME: "m1" }, { LLM_MODEL_NAME: "m3" }]);
  const models: string[] = [];
  let finishRestart!: () => void;
  const reloader = createReloader({
    source,
    setWorkerEnv: (env) => models.push(env.LLM_MODEL_NAME),
    rollingRestart: () => new Promise<void>((resolve) => (finishRestart = resolve)),
  });
  assert.deepEqual([reloader.request(), reloader.request(), reloader.request()], [
    "started",
    "queued",
    "coalesced",
  ]);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(reads, [0], "one read while the first restart runs");
  finishRestart();
  await waitUntil(() => models.length === 2, {
    what: "the queued reload's restart",
    timeoutMs: 5000,
  });
  finishRestart();
  await reloader.idle();
  assert.deepEqual(reads, [0, 1]);
  assert.deepEqual(models, ["m1", "m3"]);
});

Deno.test("without an env file a request restarts the workers as they are", async () => {
  let restarts = 0;
  const reloader = createReloader({
    setWorkerEnv: () => assert.fail("no environment to change"),
    rollingRestart: () => Promise.resolve(void restarts++),
  });
  reloader.request();
  await reloader.idle();
  assert.equal(restarts, 1);
});
