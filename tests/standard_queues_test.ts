/**
 * Standard queues with real processes, a real redis-server and real Python scripts: the
 * recorder, external processors per job and persistent, the processor mapping, and a whole day
 * from an LLM job to its file.
 */

import { commandRuns, reportSkipped } from "../testing/command.ts";
import { strict as assert } from "node:assert";
import { type Job, Queue } from "bullmq";
import { startRedis } from "../testing/redis.ts";
import { baseEnv, runPpr, startSupervisor, type Supervisor } from "../testing/ppr.ts";
import { processExists, waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

const hasPython3 = await commandRuns("python3", ["--version"]);
if (!hasPython3) {
  reportSkipped("python3 is not installed: the tests whose processors are Python scripts");
}
/** For tests whose processors are Python scripts: skipped, saying why, without python3. */
const withPython = { ...integration, ignore: !hasPython3 };
type RedisServer = Awaited<ReturnType<typeof startRedis>>;

/** The Python processors of these tests, in a temporary directory of their own. */
const SCRIPTS: Record<string, string> = {
  "env_job.py": `
import json, os, sys
json.load(sys.stdin)
json.dump(dict(os.environ), sys.stdout)
`,
  "echo_job.py": `
import json, os, sys
data = json.load(sys.stdin)
print("read the job", file=sys.stderr)
json.dump({"got": data, "job_id": os.environ["PPR_JOB_ID"], "queue": os.environ["PPR_QUEUE"]}, sys.stdout)
`,
  "text_job.py": `
import sys
sys.stdin.read()
print("done: 3 rows")
`,
  "failing_job.py": `
import sys
for line in range(1, 101):
    print(f"stderr line {line}: some words of a traceback", file=sys.stderr)
sys.exit(3)
`,
  "permanent_job.py": `
import sys
print("row 7 has no id", file=sys.stderr)
sys.exit(64)
`,
  "hanging_job.py": `
import os, subprocess, sys, time
child = subprocess.Popen(["sleep", "300"])
with open(sys.argv[1] + ".part", "w") as pids:
    pids.write(f"{os.getpid()} {child.pid}")
os.rename(sys.argv[1] + ".part", sys.argv[1])
time.sleep(300)
`,
  // Answers each request on a thread of its own, so answers can come out of order.
  "persistent.py": `
import json, os, sys, threading, time
marker = sys.argv[1]
lock = threading.Lock()

def reply(message):
    with lock:
        sys.stdout.write(json.dumps(message) + "\\n")
        sys.stdout.flush()

def handle(request):
    data = request["data"]
    if data.get("crash") and not os.path.exists(marker):
        open(marker, "w").close()
        print("crashing now", file=sys.stderr, flush=True)
        os._exit(3)
    if data.get("exit"):
        print(f"exiting with {data['exit']}", file=sys.stderr, flush=True)
        os._exit(data["exit"])
    if data.get("hang"):
        time.sleep(300)
    if data.get("fail"):
        reply({"id": request["id"], "error": "row is bad", "permanent": data["fail"] == "permanent"})
        return
    time.sleep(data.get("sleep", 0))
    reply({"id": request["id"], "result": {"pid": os.getpid(), "data": data}})

for line in sys.stdin:
    threading.Thread(target=handle, args=(json.loads(line),)).start()
`,
};

/** A ppr-worker pool for one test, and everything it needs; disposing stops and removes it all. */
interface Stand extends AsyncDisposable {
  redis: RedisServer;
  supervisor: Supervisor;
  /** Where the Python processors are. */
  scripts: string;
  /** `OUTPUT_DIR`. */
  output: string;
  /** A producer for `name` (closed on dispose). */
  queue(name: string): Queue;
}

/**
 * Starts a redis-server and a supervisor serving `queues` (1 worker unless `args` says
 * `--count`), with the scripts written out and `OUTPUT_DIR` set, and waits for its workers.
 * `env` may name the scripts' directory as `$SCRIPTS`.
 */
async function stand(queues: string, env: Record<string, string> = {}, args: string[] = []) {
  const redis = await startRedis();
  const scripts = await Deno.makeTempDir({ prefix: "ppr-processors-" });
  const output = await Deno.makeTempDir({ prefix: "ppr-output-" });
  for (const [name, text] of Object.entries(SCRIPTS)) {
    await Deno.writeTextFile(`${scripts}/${name}`, text.trimStart());
  }
  const countAt = args.indexOf("--count");
  const count = countAt < 0 ? 1 : Number(args[countAt + 1]);
  const supervisor = startSupervisor([
    ...(countAt < 0 ? ["--count", "1"] : []),
    "--queue",
    queues,
    ...args,
  ], {
    redisUrl: redis.url,
    env: {
      OUTPUT_DIR: output,
      ...Object.fromEntries(
        Object.entries(env).map(([name, value]) => [name, value.replaceAll("$SCRIPTS", scripts)]),
      ),
    },
  });
  const producers: Queue[] = [];
  const result: Stand = {
    redis,
    supervisor,
    scripts,
    output,
    queue(name) {
      const queue = new Queue(name, { connection: redis.client() });
      queue.on("error", () => {});
      producers.push(queue);
      return queue;
    },
    async [Symbol.asyncDispose]() {
      await Promise.allSettled(producers.map((queue) => queue.close()));
      await supervisor[Symbol.asyncDispose]();
      await redis[Symbol.asyncDispose]();
      await Deno.remove(scripts, { recursive: true });
      await Deno.remove(output, { recursive: true });
    },
  };
  try {
    await supervisor.waitForHealth((body) => body.workers_alive === count, `${count} worker(s)`);
  } catch (error) {
    await result[Symbol.asyncDispose]();
    throw error;
  }
  return result;
}

/** Waits until `job` has completed or failed for good and returns it as it is then. */
async function settled(queue: Queue, job: Job, what: string, timeoutMs = 30_000): Promise<Job> {
  await waitUntil(async () => ["completed", "failed"].includes(await job.getState()), {
    what,
    timeoutMs,
  });
  return (await queue.getJob(job.id!))!;
}

/** `{job_id, job, result}` as LLM_RESULT_QUEUES sends it. */
function resultMessage(jobId: string, scraperId: string | undefined, text = "answer") {
  return {
    job_id: jobId,
    job: { prompt: "page", metadata: scraperId === undefined ? {} : { scraper_id: scraperId } },
    result: {
      text,
      model: "echo",
      provider: "echo",
      usage: { input_tokens: 1, output_tokens: 1 },
      duration_ms: 0,
    },
  };
}

/** Every file and link below `dir`, as paths relative to it. */
async function filesBelow(dir: string, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/${prefix}`)) {
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) found.push(...await filesBelow(dir, `${path}/`));
    else found.push(path);
  }
  return found.sort();
}

const readJson = async (path: string) => JSON.parse(await Deno.readTextFile(path));
const dayOfJob = (job: Job) => new Date(job.timestamp).toISOString().slice(0, 10);

Deno.test(
  "recorder: results from two scrapers land in daily/<day>/scrapers/<scraper>/<job>.json, latest points at the day, summary.json counts each scraper",
  integration,
  async () => {
    await using pool = await stand("recorder", {}, ["--concurrency", "4"]);
    const recorder = pool.queue("recorder");
    const jobs = await Promise.all([
      recorder.add("r", resultMessage("101", "food_bank_x", "first")),
      recorder.add("r", resultMessage("102", "food_bank_x")),
      recorder.add("r", resultMessage("103", "pantry/y")),
      recorder.add("r", resultMessage("104", undefined)),
    ]);
    const done = await Promise.all(jobs.map((job) => settled(recorder, job, `job ${job.id}`)));
    for (const job of done) assert.equal(await job.getState(), "completed", job.failedReason);
    const day = dayOfJob(done[0]);
    assert.deepEqual(done[0].returnvalue, { file: `daily/${day}/scrapers/food_bank_x/101.json` });
    assert.deepEqual(await filesBelow(pool.output), [
      ".recorder.lock",
      `daily/${day}/scrapers/food_bank_x/101.json`,
      `daily/${day}/scrapers/food_bank_x/102.json`,
      `daily/${day}/scrapers/pantry_y/103.json`,
      `daily/${day}/scrapers/unknown/104.json`,
      `daily/${day}/summary.json`,
      "latest",
    ]);
    const recorded = await readJson(`${pool.output}/daily/${day}/scrapers/food_bank_x/101.json`);
    assert.equal(recorded.job_id, "101");
    assert.equal(recorded.scraper_id, "food_bank_x");
    assert.equal(recorded.result.text, "first");
    assert.deepEqual(recorded.job.metadata, { scraper_id: "food_bank_x" });
    assert.equal(await Deno.readLink(`${pool.output}/latest`), `daily/${day}`);
    const summary = await readJson(`${pool.output}/latest/summary.json`);
    assert.equal(summary.date, day);
    assert.equal(summary.total, 4);
    assert.deepEqual(summary.scrapers, { food_bank_x: 2, pantry_y: 1, unknown: 1 });
  },
);

Deno.test(
  "recorder: a job whose first try failed after writing its file (the day's update could not finish) leaves no file behind, so summary.json and the files agree; its retry writes it, and leaves no other file",
  integration,
  async () => {
    await using pool = await stand("recorder");
    const recorder = pool.queue("recorder");
    // A directory where the `latest` link goes makes the first try fail after the file is written.
    await Deno.mkdir(`${pool.output}/latest/blocker`, { recursive: true });
    const job = await recorder.add("r", resultMessage("7", "s1"), {
      attempts: 2,
      backoff: { type: "fixed", delay: 600_000 },
    });
    await waitUntil(async () => (await job.getState()) === "delayed", {
      what: "the first try to fail and wait for its retry",
    });
    const day = dayOfJob(job);
    const file = `${pool.output}/daily/${day}/scrapers/s1/7.json`;
    assert.match((await recorder.getJob(job.id!))!.failedReason, /cannot point .*latest/);
    assert.deepEqual(await filesBelow(`${pool.output}/daily/${day}/scrapers`), [], "no file left");
    await Deno.remove(`${pool.output}/latest`, { recursive: true });
    await job.promote();
    const done = await settled(recorder, job, "the retry");
    assert.equal(await done.getState(), "completed", done.failedReason);
    assert.equal(done.attemptsMade, 2);
    assert.equal((await readJson(file)).job_id, "7");
    assert.deepEqual(await filesBelow(`${pool.output}/daily/${day}/scrapers`), ["s1/7.json"]);
    assert.equal((await readJson(`${pool.output}/latest/summary.json`)).total, 1);
  },
);

Deno.test(
  "recorder: workers killed with kill -9 while writing many results leave no partial file; every result is recorded once and parses",
  integration,
  async () => {
    await using pool = await stand("recorder", {}, [
      "--count",
      "2",
      "--concurrency",
      "4",
      "--restart-delay",
      "100ms",
    ]);
    const recorder = pool.queue("recorder");
    const JOBS = 300;
    const big = "x".repeat(100_000);
    await recorder.addBulk(Array.from({ length: JOBS }, (_, index) => ({
      name: "r",
      data: resultMessage(`job-${index}`, `scraper-${index % 3}`, big),
    })));
    const scrapers = (day: string) => `${pool.output}/daily/${day}/scrapers`;
    const recordedCount = async () => {
      const [latest] = await filesBelow(`${pool.output}/daily`).catch(() => []);
      if (!latest) return 0;
      const day = latest.split("/")[0];
      return (await filesBelow(scrapers(day))).filter((name) => name.endsWith(".json")).length;
    };
    for (const atLeast of [JOBS / 4, JOBS / 2]) {
      await waitUntil(async () => (await recordedCount()) >= atLeast, {
        what: `${atLeast} results on disk`,
      });
      const { body } = await pool.supervisor.health();
      for (const worker of body.workers) if (worker.pid) Deno.kill(worker.pid, "SIGKILL");
    }
    await waitUntil(async () => (await recorder.getCompletedCount()) === JOBS, {
      what: `all ${JOBS} jobs to complete after the kills`,
      timeoutMs: 120_000,
    });
    assert.equal(await recorder.getFailedCount(), 0);
    const day = (await filesBelow(`${pool.output}/daily`))[0].split("/")[0];
    const files = await filesBelow(scrapers(day));
    const results = files.filter((name) => !name.split("/")[1].startsWith("."));
    assert.equal(results.length, JOBS);
    for (const name of results) {
      const recorded = await readJson(`${scrapers(day)}/${name}`);
      assert.equal(recorded.result.text, big, name);
    }
    // A kill between write and rename can only leave a hidden temporary file, never a result.
    for (const name of files.filter((name) => !results.includes(name))) {
      assert.match(name, /\/\.job-\d+\.json\.[0-9a-f]{8}\.tmp$/);
    }
    const summary = await readJson(`${pool.output}/daily/${day}/summary.json`);
    assert.equal(summary.total, JOBS);
    assert.deepEqual(summary.scrapers, { "scraper-0": 100, "scraper-1": 100, "scraper-2": 100 });
  },
);

Deno.test(
  "recorder: data that is not {job_id, job, result} fails at once, naming the field",
  integration,
  async () => {
    await using pool = await stand("recorder");
    const recorder = pool.queue("recorder");
    const job = await recorder.add("r", { job_id: "1", job: { metadata: { scraper_id: [1] } } }, {
      attempts: 3,
    });
    const failed = await settled(recorder, job, "the bad job");
    assert.equal(await failed.getState(), "failed");
    assert.equal(failed.attemptsMade, 1);
    assert.equal(
      failed.failedReason,
      "invalid result message: result: is required; " +
        "job.metadata.scraper_id: must be a string or integer or null",
    );
    assert.deepEqual(await filesBelow(pool.output), []);
  },
);

Deno.test(
  "per-job processor: job data on stdin, the JSON on stdout is the result, PPR_JOB_ID and PPR_QUEUE set",
  withPython,
  async () => {
    await using pool = await stand("reconciler", {
      QUEUE_PROCESSORS: "reconciler=python3 $SCRIPTS/echo_job.py",
    });
    const queue = pool.queue("reconciler");
    const job = await queue.add("r", { org: "food bank", rows: [1, 2] });
    const done = await settled(queue, job, "the job");
    assert.equal(await done.getState(), "completed", done.failedReason);
    assert.deepEqual(done.returnvalue, {
      got: { org: "food bank", rows: [1, 2] },
      job_id: job.id,
      queue: "reconciler",
    });
  },
);

Deno.test(
  "per-job processor: its environment holds the base variables, PPR_QUEUE, PPR_JOB_ID and what PROCESSOR_ENV names; no API key and no REDIS_URL",
  withPython,
  async () => {
    await using pool = await stand("reconciler", {
      QUEUE_PROCESSORS: "reconciler=python3 $SCRIPTS/env_job.py",
      OPENAI_API_KEY: "sk-openai-not-for-processors-1234",
      ANTHROPIC_API_KEY: "sk-ant-not-for-processors-5678",
      DATABASE_URL: "postgres://reconciler@db/app",
      UNNAMED_VARIABLE: "not passed",
      PROCESSOR_ENV: "DATABASE_URL",
    });
    const queue = pool.queue("reconciler");
    const done = await settled(queue, await queue.add("r", {}), "the job");
    assert.equal(await done.getState(), "completed", done.failedReason);
    const env = done.returnvalue as Record<string, string>;
    assert.equal(env.PPR_QUEUE, "reconciler");
    assert.equal(env.PPR_JOB_ID, done.id);
    assert.equal(env.DATABASE_URL, "postgres://reconciler@db/app");
    assert.ok(env.PATH, "PATH is passed");
    for (
      const withheld of ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "REDIS_URL", "UNNAMED_VARIABLE"]
    ) {
      assert.equal(env[withheld], undefined, `${withheld} is withheld`);
    }
  },
);

/** Runs one job with `attempts` through `script`, a per-job processor, and returns it failed. */
async function failedPerJob(script: string, attempts: number): Promise<Job> {
  await using pool = await stand("reconciler", {
    QUEUE_PROCESSORS: `reconciler=python3 $SCRIPTS/${script}`,
  });
  const queue = pool.queue("reconciler");
  const failed = await settled(queue, await queue.add("r", {}, { attempts }), "the job");
  assert.equal(await failed.getState(), "failed");
  return failed;
}

Deno.test(
  "per-job processor: stdout that is not JSON fails the try, saying what was printed",
  withPython,
  async () => {
    const failed = await failedPerJob("text_job.py", 2);
    assert.equal(failed.attemptsMade, 2, "not JSON is transient: retried");
    assert.match(
      failed.failedReason,
      /^failed 2 times; try 1: python3 \S+\/text_job.py printed no JSON on stdout \(.*\): done: 3 rows; try 2: /,
    );
  },
);

Deno.test(
  "per-job processor: a non-zero exit fails the try with the exit code and the tail of stderr, and is retried",
  withPython,
  async () => {
    const failed = await failedPerJob("failing_job.py", 2);
    assert.equal(failed.attemptsMade, 2);
    assert.match(
      failed.failedReason,
      /failing_job.py exited with code 3: .*stderr line 99: some words of a traceback \| stderr line 100: some words of a traceback$/,
    );
    assert.doesNotMatch(failed.failedReason, /stderr line 1:/, "only the tail");
  },
);

Deno.test(
  "per-job processor: exit code 64 fails the job for good on its first attempt",
  withPython,
  async () => {
    const failed = await failedPerJob("permanent_job.py", 5);
    assert.equal(failed.attemptsMade, 1);
    assert.match(
      failed.failedReason,
      /permanent_job.py exited with code 64 \(permanent: not retried\): row 7 has no id$/,
    );
  },
);

Deno.test(
  "per-job processor: PROCESSOR_TIMEOUT kills the process and the grandchild it started; the try fails as transient",
  withPython,
  async () => {
    await using pool = await stand("reconciler", {
      QUEUE_PROCESSORS: "reconciler=python3 $SCRIPTS/hanging_job.py $SCRIPTS/hanging.pids",
      PROCESSOR_TIMEOUT: "1s",
    });
    const queue = pool.queue("reconciler");
    const job = await queue.add("r", {}, {
      attempts: 2,
      backoff: { type: "fixed", delay: 600_000 },
    });
    const pids = await waitUntil(
      async () =>
        (await Deno.readTextFile(`${pool.scripts}/hanging.pids`).catch(() => "")) ||
        undefined,
      { what: "the processor to start its grandchild" },
    );
    const [processorPid, grandchildPid] = pids.split(" ").map(Number);
    await waitUntil(() => !processExists(processorPid) && !processExists(grandchildPid), {
      what: "the processor and its grandchild to be killed",
    });
    await waitUntil(async () => (await job.getState()) === "delayed", {
      what: "the job to wait for its retry",
    });
    assert.match(
      (await queue.getJob(job.id!))!.failedReason,
      /hanging_job.py \S+ timed out after 1 s \(PROCESSOR_TIMEOUT\); its process group was killed/,
    );
  },
);

const PERSISTENT = "scraper=persistent:python3 $SCRIPTS/persistent.py $SCRIPTS/crashed";

Deno.test(
  "persistent processor: one process answers many jobs at concurrency 4, each job its own answer, error answers fail as asked",
  withPython,
  async () => {
    await using pool = await stand("scraper", { QUEUE_PROCESSORS: PERSISTENT }, [
      "--concurrency",
      "4",
    ]);
    const queue = pool.queue("scraper");
    const jobs = await queue.addBulk(Array.from({ length: 40 }, (_, index) => ({
      name: "s",
      // Every fourth job answers late: answers come out of order.
      data: { index, sleep: index % 4 === 0 ? 0.1 : 0 },
    })));
    const done = await Promise.all(jobs.map((job) => settled(queue, job, `job ${job.id}`)));
    const pids = new Set<number>();
    for (const [index, job] of done.entries()) {
      assert.equal(await job.getState(), "completed", job.failedReason);
      assert.equal(job.returnvalue.data.index, index);
      pids.add(job.returnvalue.pid);
    }
    assert.equal(pids.size, 1, "one process for every job");
    const [pid] = pids;
    assert.ok(processExists(pid), "it is still running");
    const permanent = await settled(
      queue,
      await queue.add("s", { fail: "permanent" }, { attempts: 3 }),
      "the permanent failure",
    );
    assert.equal(await permanent.getState(), "failed");
    assert.equal(permanent.attemptsMade, 1);
    assert.equal(permanent.failedReason, "row is bad");
    const transient = await settled(
      queue,
      await queue.add("s", { fail: "transient" }, { attempts: 2 }),
      "the transient failure",
    );
    assert.equal(transient.attemptsMade, 2);
    assert.equal(transient.failedReason, "failed 2 times; try 1: row is bad; try 2: row is bad");
    const after = await settled(queue, await queue.add("s", { index: 99 }), "a last job");
    assert.equal(after.returnvalue.pid, pid, "errors do not restart the process");
  },
);

Deno.test(
  "persistent processor: a process that dies mid-job fails only that job's try (retried; for good on exit code 64), and a new process with a new pid takes the next jobs",
  withPython,
  async () => {
    await using pool = await stand("scraper", { QUEUE_PROCESSORS: PERSISTENT });
    const queue = pool.queue("scraper");
    const first = await settled(queue, await queue.add("s", { index: 1 }), "a first job");
    const firstPid = first.returnvalue.pid;
    const retried = await settled(
      queue,
      await queue.add("s", { crash: true }, { attempts: 2 }),
      "the job whose process died",
    );
    assert.equal(await retried.getState(), "completed", retried.failedReason);
    assert.equal(retried.attemptsMade, 2, "its try failed and it was retried");
    assert.match(
      retried.stacktrace?.[0] ?? "",
      /the processor died while running the job: python3 \S+persistent.py \S+ \(pid \d+\) exited with code 3: crashing now/,
    );
    assert.notEqual(retried.returnvalue.pid, firstPid, "a new process");
    assert.equal(processExists(firstPid), false);
    const next = await settled(queue, await queue.add("s", { index: 2 }), "the next job");
    assert.equal(await next.getState(), "completed");
    assert.equal(next.returnvalue.pid, retried.returnvalue.pid);
    const permanent = await settled(
      queue,
      await queue.add("s", { exit: 64 }, { attempts: 3 }),
      "a job whose process exits with code 64",
    );
    assert.equal(await permanent.getState(), "failed");
    assert.equal(permanent.attemptsMade, 1, "exit code 64 is permanent in this mode too");
    assert.match(
      permanent.failedReason,
      /exited with code 64 \(permanent: not retried\): exiting with 64$/,
    );
    const last = await settled(queue, await queue.add("s", { index: 3 }), "a job after that");
    assert.equal(await last.getState(), "completed", last.failedReason);
    assert.notEqual(last.returnvalue.pid, next.returnvalue.pid);
  },
);

Deno.test(
  "persistent processor: a request past PROCESSOR_TIMEOUT fails its try, and its process is killed and started again",
  withPython,
  async () => {
    await using pool = await stand("scraper", {
      QUEUE_PROCESSORS: PERSISTENT,
      PROCESSOR_TIMEOUT: "1s",
    });
    const queue = pool.queue("scraper");
    const first = await settled(queue, await queue.add("s", { index: 1 }), "a first job");
    const firstPid = first.returnvalue.pid;
    const hanging = await queue.add("s", { hang: true }, {
      attempts: 2,
      backoff: { type: "fixed", delay: 600_000 },
    });
    await waitUntil(async () => (await hanging.getState()) === "delayed", {
      what: "the hanging job's try to time out",
    });
    assert.match(
      (await queue.getJob(hanging.id!))!.failedReason,
      /persistent.py \S+ timed out after 1 s \(PROCESSOR_TIMEOUT\); its process was killed and starts again/,
    );
    await waitUntil(() => !processExists(firstPid), { what: "the old process to be gone" });
    const next = await settled(queue, await queue.add("s", { index: 2 }), "the next job");
    assert.equal(await next.getState(), "completed", next.failedReason);
    assert.notEqual(next.returnvalue.pid, firstPid);
  },
);

Deno.test(
  "a queue of QUEUE_NAME that no processor runs is a configuration error: exit 2, naming the queue, with the other problems",
  withPython,
  async () => {
    const { code, stderr } = await runPpr(
      ["--queue", "llm,reconciler", "--count", "0"],
      baseEnv({ QUEUE_PROCESSORS: "scraper=persistent:python3 worker.py" }),
    );
    assert.equal(code, 2);
    assert.match(stderr, /invalid configuration \(2 problems\)/);
    assert.match(stderr, /--count = "0": must be an integer from 1 to 20/);
    assert.match(
      stderr,
      /--queue = "llm,reconciler": queue "reconciler" has no processor: map it in QUEUE_PROCESSORS \(--processors\)/,
    );
  },
);

Deno.test(
  "a whole day: an LLM job's result goes to LLM_RESULT_QUEUES=recorder and is recorded to its file by the same supervisor serving llm,recorder",
  integration,
  async () => {
    await using pool = await stand("llm,recorder", { LLM_RESULT_QUEUES: "recorder" });
    const llm = pool.queue("llm");
    const recorder = pool.queue("recorder");
    const job = await llm.add("llm", {
      prompt: "the page text",
      provider: { name: "echo" },
      metadata: { scraper_id: "food_bank_x" },
    });
    const done = await settled(llm, job, "the LLM job");
    assert.equal(await done.getState(), "completed", done.failedReason);
    const recordJob = await waitUntil(() => recorder.getJob(`llm-${job.id}`), {
      what: "the result on the recorder queue",
    });
    const recorded = await settled(recorder, recordJob, "the recorder job");
    assert.equal(await recorded.getState(), "completed", recorded.failedReason);
    const content = await readJson(`${pool.output}/latest/scrapers/food_bank_x/${job.id}.json`);
    assert.equal(content.job_id, job.id);
    assert.deepEqual(content.result, done.returnvalue);
    assert.deepEqual(content.job, done.data);
    assert.equal(await Deno.readLink(`${pool.output}/latest`), `daily/${dayOfJob(recorded)}`);
    assert.deepEqual((await readJson(`${pool.output}/latest/summary.json`)).scrapers, {
      food_bank_x: 1,
    });
  },
);

Deno.test(
  "a pool serving only standard queues does not probe the LLM provider, so a missing login pauses nothing",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    await using redis = await startRedis();
    const home = await Deno.makeTempDir({ prefix: "ppr-no-login-" });
    try {
      await using supervisor = startSupervisor(["--count", "1", "--queue", "recorder"], {
        redisUrl: redis.url,
        env: {
          HOME: home,
          LLM_PROVIDER: "claude",
          CLAUDE_CLI: "/nonexistent/claude",
          LLM_PROBE_INTERVAL: "1s",
          OUTPUT_DIR: `${home}/output`,
        },
      });
      const health = await supervisor.waitForHealth((body) => body.workers_alive === 1, "worker");
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal(await redis.client().exists("ppr:llm:pause:claude"), 0);
      assert.equal(health.claude_authenticated, null);
      assert.equal((await supervisor.health()).body.llm.state, "ok");
    } finally {
      await Deno.remove(home, { recursive: true }).catch(() => {});
    }
  },
);
