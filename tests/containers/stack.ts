/**
 * The repository's compose.yaml run by docker-compose against the tests' own engine, with
 * tests/containers/compose.test.yaml on top (Redis published on a loopback port for the test's
 * own BullMQ client), and ways to reach its containers from the host.
 */

import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { run } from "../../scripts/image.ts";
import { answersPing, freePort } from "../../testing/redis.ts";
import { waitUntil } from "../../testing/wait.ts";
import type { HealthBody } from "../../testing/ppr.ts";
import type { ContainerInfo, Engine } from "./engine.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const HERE = decodeURIComponent(new URL("./", import.meta.url).pathname);

/**
 * The compose command: `COMPOSE` (e.g. `docker compose` for v2), else Debian's
 * `docker-compose` 1.29, the one CI installs.
 */
function composeCommand(): string[] {
  return (Deno.env.get("COMPOSE") || "docker-compose").split(" ").filter(Boolean);
}

/** A compose project started by a test. */
export interface Stack extends AsyncDisposable {
  project: string;
  /** The host port of the project's Redis (127.0.0.1). */
  redisPort: number;
  /** Runs `docker-compose -p <project> -f ... <args>`; throws with its output when it fails. */
  compose(args: string[], timeoutMs?: number): Promise<string>;
  /** The ids of a service's containers, running or not. */
  containers(service: string): Promise<string[]>;
  /** A client of the project's Redis; closed with the stack. */
  redis(): Redis;
  /** A BullMQ queue on the project's Redis; closed with the stack. */
  queue(name?: string): Queue;
  /** `docker-compose down -v`: containers, network and volumes. */
  down(): Promise<void>;
}

/**
 * Brings up `compose.yaml` (plus `overrides` from tests/containers/) as project `project` with
 * `env` and waits for its Redis to answer on the host. Disposing takes it down.
 */
export async function upStack(
  engine: Engine,
  project: string,
  env: Record<string, string>,
  options: { overrides?: string[]; upArgs?: string[] } = {},
): Promise<Stack> {
  const redisPort = freePort();
  const files = [
    "compose.yaml",
    `${HERE}compose.test.yaml`,
    ...(options.overrides ?? []).map((
      name,
    ) => `${HERE}${name}`),
  ];
  const [command, ...prefix] = composeCommand();
  const composeEnv = {
    ...engine.client.env,
    PPR_TEST_REDIS_PORT: String(redisPort),
    ...env,
  };
  const compose = async (args: string[], timeoutMs = 180_000) => {
    const result = await run(
      command,
      [
        ...prefix,
        "--ansi",
        "never",
        "-p",
        project,
        ...files.flatMap((file) => ["-f", file]),
        ...args,
      ],
      { env: composeEnv, cwd: ROOT, timeoutMs },
    );
    if (result.code !== 0) {
      throw new Error(
        `compose ${args.join(" ")} exited with ${result.code}: ${
          (result.stderr || result.stdout).trim().slice(-3000)
        }`,
      );
    }
    return result.stdout.trim();
  };
  const clients: Redis[] = [];
  const queues: Queue[] = [];
  let isDown = false;
  const down = async () => {
    if (isDown) return;
    isDown = true;
    for (const queue of queues) await queue.close().catch(() => {});
    for (const client of clients) client.disconnect();
    await compose(["down", "-v", "--timeout", "10"], 120_000).catch(() => {});
  };
  const stack: Stack = {
    project,
    redisPort,
    compose,
    async containers(service) {
      return (await compose(["ps", "-q", service], 60_000)).split("\n").filter(Boolean);
    },
    redis() {
      const client = new Redis({ host: "127.0.0.1", port: redisPort, maxRetriesPerRequest: null });
      client.on("error", () => {});
      clients.push(client);
      return client;
    },
    queue(name = "llm") {
      const queue = new Queue(name, { connection: stack.redis() });
      queue.on("error", () => {});
      queues.push(queue);
      return queue;
    },
    down,
    [Symbol.asyncDispose]: down,
  };
  try {
    await compose(["up", "-d", "--no-build", ...(options.upArgs ?? [])]);
    await waitUntil(() => answersPing("127.0.0.1", redisPort), {
      timeoutMs: 30_000,
      what: `the project's Redis on 127.0.0.1:${redisPort}`,
    });
  } catch (error) {
    await down();
    throw error;
  }
  return stack;
}

/** The host port that a container's port 8080 (its /health) is published on. */
export async function healthPort(engine: Engine, id: string): Promise<number> {
  const mapping = await engine.docker(["port", id, "8080/tcp"]);
  const port = Number(/:(\d+)\s*$/m.exec(mapping)?.[1]);
  if (!port) throw new Error(`container ${id} publishes no port for 8080: ${mapping}`);
  return port;
}

/** GET /health on a host port. */
export async function health(port: number): Promise<HealthBody> {
  const response = await fetch(`http://127.0.0.1:${port}/health`, {
    signal: AbortSignal.timeout(5000),
  });
  return await response.json() as HealthBody;
}

/** Polls /health on `port` until `check` holds (at most `timeoutMs`); returns that body. */
export function waitForHealth(
  port: number,
  check: (body: HealthBody) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<HealthBody> {
  return waitUntil(async () => {
    const body = await health(port);
    return check(body) ? body : undefined;
  }, { timeoutMs, intervalMs: 250, what });
}

/** What the host sees of a container's process tree: its PID 1 and that one's children. */
export interface ProcessFacts {
  /** The executable of the container's PID 1, as the container names it. */
  pid1Exe: string;
  /** Its pid inside the container (the last NSpid field): 1 for the container's init. */
  pid1InnerPid: number;
  pid1Uid: number;
  /** The command lines of PID 1's children. */
  children: { pid: number; uid: number; cmdline: string[] }[];
}

async function uidOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

/** Reads a running container's PID 1 and its children from the host's /proc. */
export async function processFacts(info: ContainerInfo): Promise<ProcessFacts> {
  const pid = info.State.Pid;
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const nspid = /^NSpid:\s+(.+)$/m.exec(status)?.[1].trim().split(/\s+/).map(Number) ?? [];
  const childPids = (await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`))
    .trim().split(/\s+/).filter(Boolean).map(Number);
  const children = [];
  for (const child of childPids) {
    const cmdline = (await Deno.readTextFile(`/proc/${child}/cmdline`)).split("\0").filter(Boolean);
    children.push({ pid: child, uid: await uidOf(child), cmdline });
  }
  return {
    pid1Exe: await Deno.readLink(`/proc/${pid}/exe`),
    pid1InnerPid: nspid[nspid.length - 1],
    pid1Uid: await uidOf(pid),
    children,
  };
}

/** The echo provider's job payload: returns the prompt after `latencyMs`. */
export function echoJob(prompt: string, latencyMs = 0) {
  return { prompt, provider: { name: "echo", latency_ms: latencyMs } };
}
