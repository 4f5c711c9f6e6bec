/**
 * The image and the compose stack, run for real: `deno task test:containers` builds the local
 * image (scripts/image.ts) on a Docker engine of its own and runs it with docker-compose. Skipped
 * unless PPR_CONTAINER_TESTS=1 (it needs root and Debian's docker.io and docker-compose); each
 * step prints its figure.
 */

import { strict as assert } from "node:assert";
import type { Job } from "bullmq";
import { parse } from "yaml";
import { CORE_SETTINGS } from "../../config/config.ts";
import { parseDurationMs } from "../../config/duration.ts";
import { buildLocalImage, type LocalBuild, megabytes, sizeReport } from "../../scripts/image.ts";
import { delay } from "../../async/mod.ts";
import { waitUntil } from "../../testing/wait.ts";
import { type Engine, startEngine } from "./engine.ts";
import {
  echoJob,
  health,
  healthPort,
  processFacts,
  type Stack,
  upStack,
  waitForHealth,
} from "./stack.ts";

const enabled = Deno.env.get("PPR_CONTAINER_TESTS") === "1";
const container = { ignore: !enabled, sanitizeOps: false, sanitizeResources: false };
const ROOT = new URL("../../", import.meta.url);

const compose = parse(await Deno.readTextFile(new URL("compose.yaml", ROOT)));
const STOP_GRACE_MS = parseDurationMs(compose.services.worker.stop_grace_period)!;
const DRAIN_TIMEOUT_MS = parseDurationMs(compose.services.worker.environment.DRAIN_TIMEOUT)!;
const VERSION = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).version as string;

/** A figure for the log and for docs/containers-and-scaling.md: one line each. */
function figure(text: string): void {
  console.log(`containers: ${text}`);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

// The engine and the image are made once, by the first test that needs them, and every test
// after that uses them; afterAll stops everything whatever happened.
let engineStarted: Promise<Engine> | undefined;
let imageBuilt: Promise<LocalBuild> | undefined;
const stacks = new Set<Stack>();

function engine(): Promise<Engine> {
  engineStarted ??= startEngine();
  return engineStarted;
}

function image(): Promise<LocalBuild> {
  imageBuilt ??= (async () => {
    const started = performance.now();
    const build = await buildLocalImage((await engine()).client, { log: () => {} });
    figure(`image built in ${seconds(performance.now() - started)}`);
    for (const line of await sizeReport(build)) figure(line);
    return build;
  })();
  return imageBuilt;
}

/** Brings up a compose project with the local images; taken down in afterAll if a test did not. */
async function stack(
  project: string,
  env: Record<string, string>,
  options: { overrides?: string[]; upArgs?: string[] } = {},
): Promise<Stack> {
  const build = await image();
  const started = await upStack(await engine(), project, {
    PPR_IMAGE: build.image,
    REDIS_IMAGE: build.redisImage,
    ...env,
  }, options);
  stacks.add(started);
  return started;
}

async function down(project: Stack): Promise<void> {
  stacks.delete(project);
  await project.down();
}

Deno.test.afterAll(async () => {
  if (!enabled) return;
  for (const project of stacks) await project.down().catch(() => {});
  const running = await engineStarted?.catch(() => undefined);
  await running?.[Symbol.asyncDispose]();
});

/** Docker's health status of a container. */
async function healthStatus(engine: Engine, id: string): Promise<string | undefined> {
  return (await engine.inspect(id)).State.Health?.Status;
}

/** The ids of `jobs` in a state other than completed, with that state. */
async function unfinished(jobs: Job[]): Promise<string[]> {
  const states = await Promise.all(jobs.map(async (job) => `${job.id}:${await job.getState()}`));
  return states.filter((state) => !state.endsWith(":completed"));
}

/** Waits until every one of `jobs` completed; `what` names them in the timeout message. */
async function allCompleted(jobs: Job[], what: string, timeoutMs = 60_000): Promise<void> {
  let left: string[] = [];
  try {
    await waitUntil(async () => {
      left = await unfinished(jobs);
      return left.length === 0;
    }, { timeoutMs, intervalMs: 250, what });
  } catch (error) {
    throw new Error(`${(error as Error).message}; not completed: ${left.join(", ")}`);
  }
}

/** Jobs one container of the pool runs at once: WORKER_COUNT 3 x compose's WORKER_CONCURRENCY. */
const SLOTS_PER_CONTAINER = 3 *
  Number(/:-(\d+)\}/.exec(compose.services.worker.environment.WORKER_CONCURRENCY)?.[1] ?? 1);

/** compose.yaml's host ports for /health. */
const HEALTH_PORTS = Array.from({ length: 10 }, (_, n) => 8080 + n);

function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "0.0.0.0", port }).close();
    return true;
  } catch {
    return false;
  }
}

// Project names: one per compose stack, so each has its own network and volumes.
const POOL = "pprpool";

// -- 1. the image --------------------------------------------------------------------------------

/** One entry of the image's file system. */
interface ImageFile {
  path: string;
  /** As `ls -l` shows it, e.g. `drwxrwxrwt`. */
  mode: string;
  uid: number;
}

let exportListing: Promise<ImageFile[]> | undefined;
/** Every entry of the image's file system (`docker export` of a container made from it). */
function imageFiles(): Promise<ImageFile[]> {
  exportListing ??= (async () => {
    const docker = await engine();
    const build = await image();
    const id = await docker.docker(["create", build.image]);
    try {
      // docker export | tar -t, read while it is written (a full pipe would stop both).
      const exported = new Deno.Command(docker.client.command, {
        args: ["export", id],
        env: docker.client.env,
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const listing = new Deno.Command("tar", {
        args: ["-tv", "--numeric-owner"],
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const timer = setTimeout(() => {
        for (const child of [exported, listing]) {
          try {
            child.kill("SIGKILL");
          } catch {
            // gone
          }
        }
      }, 120_000);
      try {
        const [, output, status] = await Promise.all([
          exported.stdout.pipeTo(listing.stdin),
          listing.output(),
          exported.status,
        ]);
        assert.ok(status.success && output.success, "docker export | tar -t");
        // "drwxrwxrwt 0/0 0 2026-11-30 09:24 tmp/", "lrwxrwxrwx 0/0 0 ... etc/mtab -> /proc/mounts"
        return new TextDecoder().decode(output.stdout).split("\n").filter(Boolean).map((line) => {
          const [, mode, uid, path] = /^(\S+)\s+(\d+)\/\d+\s+\d+\s+\S+\s+\S+\s+(.*)$/.exec(line)!;
          return {
            path: path.replace(/ -> .*$/, "").replace(/\/$/, ""),
            mode,
            uid: Number(uid),
          };
        });
      } finally {
        clearTimeout(timer);
      }
    } finally {
      await docker.tryDocker(["rm", "-f", id]);
    }
  })();
  return exportListing;
}

Deno.test(
  "image: no shell in it, runs as nonroot (65532) under tini as PID 1; ppr-worker --version, healthcheck and claude --version work inside",
  container,
  async () => {
    const docker = await engine();
    const build = await image();
    figure(`image size: ${megabytes(build.sizes.image)}`);

    const files = await imageFiles();
    const shells = files.map((file) => file.path)
      .filter((path) => /(^|\/)(sh|bash|dash|ash|busybox)$/.test(path));
    assert.deepEqual(shells, [], "no shell anywhere in the image");
    const entry = (path: string) => files.find((file) => file.path === path);
    assert.equal(entry("tmp")?.mode, "drwxrwxrwt", "/tmp: mode 1777, as distroless has it");
    for (const path of ["home/nonroot", "home/nonroot/.claude"]) {
      assert.equal(entry(path)?.uid, 65532, `${path} is nonroot's`);
    }
    const noShell = await docker.tryDocker(["run", "--rm", "--entrypoint", "/bin/sh", build.image]);
    assert.notEqual(noShell.code, 0);
    assert.match(noShell.stderr, /no such file or directory/);

    const info = JSON.parse(await docker.docker(["image", "inspect", build.image]))[0];
    assert.equal(info.Config.User, "65532:65532");

    // The pool with no network at all: Redis unreachable, but it runs and serves /health.
    const id = await docker.docker([
      "run",
      "-d",
      "--network",
      "none",
      "-e",
      "LLM_PROVIDER=echo",
      build.image,
    ]);
    try {
      const facts = await waitUntil(async () => {
        const facts = await processFacts(await docker.inspect(id));
        return facts.children.length > 0 ? facts : undefined;
      }, { timeoutMs: 30_000, what: "tini's child, the supervisor" });
      assert.equal(facts.pid1Exe, "/usr/bin/tini");
      assert.equal(facts.pid1InnerPid, 1, "tini is PID 1 in the container");
      assert.equal(facts.pid1Uid, 65532);
      assert.equal(facts.children.length, 1);
      assert.equal(facts.children[0].uid, 65532, "the supervisor runs as nonroot");
      // The local image runs the source with deno (production: the compiled binary itself).
      assert.ok(
        facts.children[0].cmdline.includes("/app/src/main.ts") ||
          facts.children[0].cmdline[0] === "/app/ppr-worker",
        facts.children[0].cmdline.join(" "),
      );

      assert.equal(await docker.docker(["exec", id, "/app/ppr-worker", "--version"]), VERSION);

      // healthcheck reads the pool's own /health inside the container: degraded (exit 0) within
      // REDIS_GRACE, unhealthy (exit 1) past it; anything else means it did not reach it.
      const checked = await waitUntil(async () => {
        const result = await docker.tryDocker(["exec", id, "/app/ppr-worker", "healthcheck"]);
        return /^(healthy|degraded|unhealthy) \(\d+\/1 workers alive\)$/.test(result.stdout.trim())
          ? result
          : undefined;
      }, { timeoutMs: 30_000, intervalMs: 500, what: "healthcheck to read /health" });
      assert.equal(checked.code, checked.stdout.startsWith("unhealthy") ? 1 : 0);
      figure(`healthcheck inside, no Redis: "${checked.stdout.trim()}", exit ${checked.code}`);

      const claude = await docker.docker([
        "exec",
        "-e",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
        id,
        "/usr/local/bin/claude",
        "--version",
      ]);
      assert.equal(claude, `${build.parts.claudeVersion} (Claude Code)`);
    } finally {
      await docker.tryDocker(["rm", "-f", id]);
    }
  },
);

Deno.test(
  "image: /app/src holds every module main.ts loads and no test (the .dockerignore'd build context)",
  container,
  async () => {
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "main.ts"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "null",
    }).output();
    const graph = JSON.parse(new TextDecoder().decode(stdout)) as {
      modules: { specifier: string }[];
    };
    const local = graph.modules.map((module) => module.specifier)
      .filter((specifier) => specifier.startsWith(ROOT.href))
      .map((specifier) => specifier.slice(ROOT.href.length));
    assert.ok(local.includes("main.ts") && local.length > 20, local.join(","));
    const files = new Set((await imageFiles()).map((file) => file.path));
    const missing = local.filter((path) => !files.has(`app/src/${path}`));
    assert.deepEqual(missing, [], "modules missing from the image");
    for (const file of ["deno.json", "deno.lock"]) assert.ok(files.has(`app/src/${file}`), file);
    const tests = [...files].filter((path) =>
      path.startsWith("app/src/") &&
      (/_test\.ts$/.test(path) || /^app\/src\/(tests|testing)\//.test(path))
    );
    assert.deepEqual(tests, [], "tests left in the build context");
    figure(`/app/src: ${local.length} modules of main.ts's graph, no tests`);
  },
);

// -- 2-5. the pool in compose ---------------------------------------------------------------------

let pool: Stack | undefined;

Deno.test(
  "compose up with WORKER_COUNT=3: tini is PID 1, Redis is noeviction with AOF, 3 workers process jobs enqueued from the host, the container turns healthy",
  container,
  async () => {
    const docker = await engine();
    // compose.yaml publishes /health on 8080-8089: a port taken on this host would fail the stack.
    const taken = HEALTH_PORTS.filter((port) => !portFree(port));
    assert.deepEqual(taken, [], "ports of 8080-8089 that something on this host already uses");
    const started = performance.now();
    pool = await stack(POOL, { WORKER_COUNT: "3", LLM_PROVIDER: "echo" });
    const [id] = await pool.containers("worker");
    assert.ok(id, "a worker container");
    const info = await docker.inspect(id);
    assert.notEqual(info.HostConfig.Init, true, "compose adds no init of its own");
    const facts = await processFacts(info);
    assert.equal(facts.pid1Exe, "/usr/bin/tini");
    assert.equal(facts.pid1InnerPid, 1);

    const redis = pool.redis();
    assert.deepEqual(await redis.config("GET", "maxmemory-policy"), [
      "maxmemory-policy",
      "noeviction",
    ]);
    assert.deepEqual(await redis.config("GET", "appendonly"), ["appendonly", "yes"]);

    const port = await healthPort(docker, id);
    const hostname = info.Config.Hostname;
    const names = [1, 2, 3].map((n) => `worker-${hostname}-${n}`);
    await waitForHealth(
      port,
      (body) =>
        body.workers.length === 3 && body.workers.every((worker) => worker.state === "idle"),
      "3 idle workers",
    );
    const queue = pool.queue();
    const jobs = await queue.addBulk(
      Array.from({ length: 30 }, (_, n) => ({ name: "llm", data: echoJob(`page ${n}`, 200) })),
    );
    await allCompleted(jobs, "30 jobs to complete");
    const done = await Promise.all(jobs.map((job) => queue.getJob(job.id!)));
    for (const job of done) {
      assert.equal(job!.returnvalue.text, job!.data.prompt);
      assert.ok(names.includes(job!.processedBy!), job!.processedBy);
    }
    const usedWorkers = new Set(done.map((job) => job!.processedBy));
    figure(`30 echo jobs done by ${usedWorkers.size} of the container's 3 workers`);
    assert.ok(usedWorkers.size >= 2, "jobs spread over the worker processes");

    await waitUntil(async () => (await healthStatus(docker, id)) === "healthy", {
      timeoutMs: 90_000,
      intervalMs: 250,
      what: "Docker's health status healthy",
    });
    figure(
      `time to healthy (compose up to Docker's health status "healthy"; its interval is 15 s): ${
        seconds(performance.now() - started)
      }`,
    );
    const check = await docker.docker(["exec", id, "/app/ppr-worker", "healthcheck"]);
    assert.equal(check, "healthy (3/3 workers alive)");
  },
);

/** The worker containers of the pool, with their hostnames and health ports. */
interface WorkerContainer {
  id: string;
  hostname: string;
  port: number;
}

let scaled: WorkerContainer[] = [];

Deno.test(
  "compose --scale worker=3: 3 containers x 3 workers, every worker name unique with its container's hostname, each /health on its own port of 8080-8089",
  container,
  async () => {
    assert.ok(pool, "the pool of the previous test");
    const docker = await engine();
    const started = performance.now();
    await pool.compose(["up", "-d", "--no-build", "--scale", "worker=3"]);
    const ids = await pool.containers("worker");
    assert.equal(ids.length, 3);
    scaled = [];
    for (const id of ids) {
      const info = await docker.inspect(id);
      scaled.push({ id, hostname: info.Config.Hostname, port: await healthPort(docker, id) });
    }
    const ports = scaled.map((worker) => worker.port);
    assert.equal(new Set(ports).size, 3, `distinct ports: ${ports}`);
    for (const port of ports) assert.ok(port >= 8080 && port <= 8089, `port ${port}`);
    const allNames: string[] = [];
    for (const worker of scaled) {
      const body = await waitForHealth(
        worker.port,
        (body) => body.workers.length === 3 && body.workers.every((w) => w.state === "idle"),
        `3 idle workers behind port ${worker.port}`,
      );
      // The port answers for its own container: the names carry that container's hostname.
      assert.deepEqual(
        body.workers.map((w) => w.name),
        [1, 2, 3].map((n) => `worker-${worker.hostname}-${n}`),
      );
      allNames.push(...body.workers.map((w) => w.name));
    }
    assert.equal(new Set(allNames).size, 9, allNames.join(", "));
    figure(
      `--scale worker=3: 9 workers ready on ports ${ports.join(", ")} in ${
        seconds(performance.now() - started)
      }`,
    );

    const queue = pool.queue();
    const jobs = await queue.addBulk(
      Array.from({ length: 45 }, (_, n) => ({ name: "llm", data: echoJob(`scaled ${n}`, 300) })),
    );
    await allCompleted(jobs, "45 jobs to complete");
    const hosts = new Set(
      (await Promise.all(jobs.map((job) => queue.getJob(job.id!))))
        .map((job) => /^worker-(.+)-\d+$/.exec(job!.processedBy!)![1]),
    );
    figure(`45 echo jobs done by ${hosts.size} of the 3 containers`);
    assert.ok(hosts.size >= 2, "jobs spread over the containers");
  },
);

/**
 * Waits until every slot of the `containers` running containers holds a job, then returns the
 * active jobs of the container with `hostname`.
 */
async function fullSlots(stack: Stack, hostname: string, containers: number): Promise<Job[]> {
  const queue = stack.queue();
  return await waitUntil(async () => {
    const active = await queue.getActive();
    if (active.length < containers * SLOTS_PER_CONTAINER) return undefined;
    const mine = active.filter((job) => job.processedBy?.startsWith(`worker-${hostname}-`));
    return mine.length > 0 ? mine : undefined;
  }, { timeoutMs: 20_000, intervalMs: 100, what: "every slot to hold a job" });
}

Deno.test(
  "docker stop with jobs in flight: the container drains within DRAIN_TIMEOUT and exits 0 before stop_grace_period; every job completes, none lost or failed",
  container,
  async () => {
    assert.ok(pool && scaled.length === 3, "the scaled pool of the previous test");
    const docker = await engine();
    const target = scaled[0];
    const queue = pool.queue();
    const jobs = await queue.addBulk(
      // More jobs than the 3 containers have slots, so every container holds some.
      Array.from(
        { length: 3 * SLOTS_PER_CONTAINER + 9 },
        (_, n) => ({ name: "llm", data: echoJob(`stop ${n}`, 4000) }),
      ),
    );
    const held = await fullSlots(pool, target.hostname, 3);
    const stopTimeout = (await docker.inspect(target.id)).Config.StopTimeout;
    // compose stops with stop_grace_period; `docker stop` alone uses the container's StopTimeout.
    const graceSeconds = Math.round(STOP_GRACE_MS / 1000);
    const started = performance.now();
    await docker.docker(
      ["stop", "--time", String(graceSeconds), target.id],
      STOP_GRACE_MS + 30_000,
    );
    const stopMs = performance.now() - started;
    const stopped = await docker.inspect(target.id);
    assert.equal(stopped.State.Running, false);
    assert.equal(stopped.State.ExitCode, 0, "exit 0: a drain, not a SIGKILL (137)");
    assert.ok(stopMs < DRAIN_TIMEOUT_MS + 5000, `stopped in ${stopMs} ms`);
    assert.ok(stopMs < STOP_GRACE_MS, "before stop_grace_period");

    await allCompleted(jobs, `${jobs.length} jobs to complete`, 60_000);
    const done = await Promise.all(jobs.map((job) => queue.getJob(job.id!)));
    for (const job of done) {
      assert.equal(job!.failedReason, undefined);
      assert.equal(job!.attemptsMade, 1, `job ${job!.id}: one attempt`);
    }
    const heldIds = new Set(held.map((job) => job.id));
    const finishedByTarget =
      done.filter((job) =>
        heldIds.has(job!.id) && job!.processedBy?.startsWith(`worker-${target.hostname}-`)
      ).length;
    figure(
      `docker stop with ${held.length} jobs in flight (4 s each): exit 0 after ${
        seconds(stopMs)
      } (DRAIN_TIMEOUT ${seconds(DRAIN_TIMEOUT_MS)}, stop_grace_period ${
        seconds(STOP_GRACE_MS)
      }, the container's own StopTimeout ${
        stopTimeout ?? "unset (docker stop's default: 10 s)"
      }); ${finishedByTarget} finished by the draining container, ${
        held.length - finishedByTarget
      } given back and finished by the others; ${jobs.length}/${jobs.length} completed`,
    );
  },
);

Deno.test(
  "docker kill with jobs in flight: the dead container's jobs run again in the other containers once their locks lapse (BullMQ's stalled-job check), each stalled once with no attempt spent; every job completes, none lost or failed",
  container,
  async () => {
    assert.ok(pool && scaled.length === 3, "the scaled pool of the previous tests");
    const docker = await engine();
    const target = scaled[1];
    const queue = pool.queue();
    const jobs = await queue.addBulk(
      // More jobs than the 2 containers left have slots, so the one killed holds some.
      Array.from(
        { length: 2 * SLOTS_PER_CONTAINER + 6 },
        (_, n) => ({ name: "llm", data: echoJob(`kill ${n}`, 5000) }),
      ),
    );
    const held = await fullSlots(pool, target.hostname, 2);
    const killed = performance.now();
    await docker.docker(["kill", target.id]);
    // Each job of the dead container: when another container took it up.
    const restartedAt = new Map<string, number>();
    await waitUntil(async () => {
      for (const job of held) {
        if (restartedAt.has(job.id!)) continue;
        const now = await queue.getJob(job.id!);
        const state = await now!.getState();
        const elsewhere = now!.processedBy &&
          !now!.processedBy.startsWith(`worker-${target.hostname}-`);
        if ((state === "active" || state === "completed") && elsewhere) {
          restartedAt.set(job.id!, performance.now() - killed);
        }
      }
      return restartedAt.size === held.length;
    }, { timeoutMs: 150_000, intervalMs: 250, what: "the dead container's jobs to run elsewhere" });
    await allCompleted(jobs, `${jobs.length} jobs to complete`, 60_000);
    const recoveredMs = performance.now() - killed;
    const done = await Promise.all(jobs.map((job) => queue.getJob(job.id!)));
    for (const job of done) {
      assert.equal(job!.failedReason, undefined, `job ${job!.id}`);
      assert.equal(job!.attemptsMade, 1, `job ${job!.id}: one attempt`);
    }
    const heldIds = new Set(held.map((job) => job.id));
    for (const job of done.filter((job) => heldIds.has(job!.id))) {
      assert.equal(job!.stalledCounter, 1, `job ${job!.id}: stalled once, when its host died`);
      assert.ok(
        !job!.processedBy!.startsWith(`worker-${target.hostname}-`),
        `job ${job!.id} completed elsewhere: ${job!.processedBy}`,
      );
    }
    const firstRestart = Math.min(...restartedAt.values());
    const lastRestart = Math.max(...restartedAt.values());
    figure(
      `docker kill with ${held.length} jobs in flight: they ran again in the other containers ` +
        `${seconds(firstRestart)}-${seconds(lastRestart)} after the kill (BullMQ's stalled-job ` +
        `check: LOCK_DURATION ${CORE_SETTINGS.lockDurationMs.default}, STALLED_INTERVAL ${CORE_SETTINGS.stalledIntervalMs.default}); all ${jobs.length} completed ${
          seconds(recoveredMs)
        } after it, none failed, each of the ${held.length} stalled once`,
    );
  },
);

// -- 6. the Claude CLI, logged out ----------------------------------------------------------------

Deno.test(
  "logged-out Claude CLI inside: /health says claude_authenticated false, jobs wait in the queue with no attempt spent, the CLI's login folder is the volume",
  container,
  async () => {
    if (pool) {
      await down(pool);
      pool = undefined;
    }
    const docker = await engine();
    const started = performance.now();
    const claude = await stack("pprclaude", { WORKER_COUNT: "1", LLM_PROVIDER: "claude" });
    const [id] = await claude.containers("worker");
    const port = await healthPort(docker, id);
    const body = await waitForHealth(
      port,
      (body) => body.claude_authenticated === false,
      "claude_authenticated false",
    );
    figure(
      `logged-out CLI: claude_authenticated false after ${
        seconds(performance.now() - started)
      }; /health ${body.status}, llm ${body.llm.state}`,
    );
    assert.equal(body.provider, "claude");

    const queue = claude.queue();
    const jobs = await queue.addBulk(
      Array.from({ length: 3 }, (_, n) => ({ name: "llm", data: { prompt: `claude ${n}` } })),
    );
    // For 10 s: no job completes or fails. A job may start once: the CLI's "Not logged in" gives
    // it back (an auth failure spends no attempt) and pauses the provider.
    const seen = new Set<string>();
    const watchUntil = Date.now() + 10_000;
    while (Date.now() < watchUntil) {
      for (const job of jobs) {
        const state = await job.getState();
        seen.add(state);
        assert.ok(!["completed", "failed"].includes(state), `job ${job.id}: ${state}`);
      }
      await delay(250);
    }
    const finalStates: string[] = [];
    let starts = 0;
    for (const job of jobs) {
      const now = (await queue.getJob(job.id!))!;
      const state = await now.getState();
      finalStates.push(state);
      assert.ok(
        ["waiting", "wait", "prioritized", "delayed"].includes(state),
        `job ${job.id}: ${state}`,
      );
      assert.equal(now.attemptsMade, 0, `job ${job.id}: no attempt spent`);
      assert.equal(now.failedReason, undefined);
      starts += now.attemptsStarted ?? 0;
    }
    const paused = await health(port);
    figure(
      `3 jobs for the logged-out CLI after 10 s: ${finalStates.join(", ")}; 0 attempts spent, ` +
        `${starts} start(s) in all (states seen: ${
          [...seen].join(", ")
        }); /health ${paused.status}, llm ${paused.llm.state}`,
    );

    // The CLI's whole configuration (also .claude.json) is on the claude-config volume.
    const info = await docker.inspect(id);
    const configDir = info.Config.Env.find((entry) => entry.startsWith("CLAUDE_CONFIG_DIR="))!
      .split("=")[1];
    const volume = info.Mounts.find((mount) => mount.Destination === configDir);
    assert.ok(volume && volume.Type === "volume", `a volume at ${configDir}`);
    const status = await docker.tryDocker([
      "exec",
      "-e",
      "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
      id,
      "/usr/local/bin/claude",
      "auth",
      "status",
    ]);
    const auth = JSON.parse(status.stdout);
    assert.equal(auth.loggedIn, false);
    assert.equal(auth.configDirectory, configDir);
    // Nothing written in the container's own layer under HOME: all went to the volume.
    const changed = (await docker.docker(["diff", id])).split("\n").filter((line) => {
      const path = line.slice(2);
      return path.startsWith("/home/nonroot/") && path !== configDir &&
        !path.startsWith(`${configDir}/`);
    });
    assert.deepEqual(changed, []);
    const mountpoint = JSON.parse(await docker.docker(["volume", "inspect", volume.Name!]))[0]
      .Mountpoint as string;
    const onVolume = [...Deno.readDirSync(mountpoint)].map((entry) => entry.name).sort();
    assert.ok(onVolume.includes(".claude.json"), `the volume holds ${onVolume.join(", ")}`);
    figure(`the claude-config volume (${configDir}) holds the CLI's ${onVolume.join(", ")}`);
    await down(claude);
  },
);

// -- 7. a read-only root ------------------------------------------------------------------------

Deno.test(
  "read_only root with a tmpfs /tmp: the pool starts and turns healthy, echo jobs complete, a job for the Claude CLI runs it and waits for a login",
  container,
  async () => {
    const docker = await engine();
    const started = performance.now();
    const readOnly = await stack("pprreadonly", { WORKER_COUNT: "2", LLM_PROVIDER: "echo" }, {
      overrides: ["read_only.yaml"],
    });
    const [id] = await readOnly.containers("worker");
    const info = await docker.inspect(id);
    assert.equal(info.HostConfig.ReadonlyRootfs, true);
    assert.ok(info.HostConfig.Tmpfs && "/tmp" in info.HostConfig.Tmpfs, "a tmpfs at /tmp");
    const port = await healthPort(docker, id);
    await waitForHealth(
      port,
      (body) =>
        body.workers.length === 2 && body.workers.every((worker) => worker.state === "idle"),
      "2 idle workers",
    );
    const queue = readOnly.queue();
    const jobs = await queue.addBulk(
      Array.from({ length: 10 }, (_, n) => ({ name: "llm", data: echoJob(`read-only ${n}`, 100) })),
    );
    await allCompleted(jobs, "10 jobs to complete");
    // The CLI runs (its working folder under /tmp, its config on the volume) and says "Not logged
    // in": an auth failure, so the job waits and spends no attempt, instead of a write error.
    const claudeJob = await queue.add("llm", { prompt: "hello", provider: { name: "claude" } });
    const waiting = await waitUntil(async () => {
      const now = (await queue.getJob(claudeJob.id!))!;
      const state = await now.getState();
      return ["delayed", "waiting", "wait"].includes(state) && now.attemptsStarted! > 0
        ? { now, state }
        : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250, what: "the Claude job to run and wait for a login" });
    assert.equal(waiting.now.attemptsMade, 0);
    assert.equal(waiting.now.failedReason, undefined);
    const logs = await docker.docker(["logs", id]).catch(() => "");
    assert.doesNotMatch(logs, /EROFS|read-only file system/i);
    await waitUntil(async () => (await healthStatus(docker, id)) === "healthy", {
      timeoutMs: 90_000,
      intervalMs: 250,
      what: "Docker's health status healthy",
    });
    figure(
      `read-only root: healthy after ${
        seconds(performance.now() - started)
      }; 10/10 echo jobs done; the Claude job ran the CLI and is ${waiting.state}, 0 attempts spent`,
    );
    await down(readOnly);
  },
);
