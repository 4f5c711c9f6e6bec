/**
 * A Docker engine of the container tests' own: Debian's dockerd with its own data, state and
 * socket under a temporary folder, no iptables rules and no forwarding (containers reach each
 * other and the host, nothing else), stopped with everything it ran on dispose.
 */

import { type Docker, docker, run, type RunResult } from "../../scripts/image.ts";
import { delay } from "../../async/mod.ts";
import { processExists, waitUntil } from "../../testing/wait.ts";

/** Debian's client: BuildKit built in (the `docker` first on PATH may lack buildx). */
const DOCKER_CLIENT = "/usr/bin/docker";

/** A running dockerd and the clients that talk to it. */
export interface Engine extends AsyncDisposable {
  /** The folder that holds its data, state, socket, pid file and log. */
  dir: string;
  /** Debian's docker client, pointed at this engine. */
  client: Docker;
  /** Runs a docker command against this engine; throws with its output when it fails. */
  docker(args: string[], timeoutMs?: number): Promise<string>;
  /** Runs a docker command against this engine; returns whatever happened. */
  tryDocker(args: string[], timeoutMs?: number): Promise<RunResult>;
  /** `docker inspect` of one object, parsed. */
  inspect(id: string): Promise<ContainerInfo>;
  /** The last lines of dockerd's log, for failure messages. */
  logTail(lines?: number): Promise<string>;
}

/** The parts of `docker inspect` the tests read. */
export interface ContainerInfo {
  Id: string;
  Name: string;
  Config: { Hostname: string; User: string; Env: string[]; StopTimeout?: number };
  State: {
    Status: string;
    Running: boolean;
    Pid: number;
    ExitCode: number;
    Health?: { Status: string };
  };
  HostConfig: { ReadonlyRootfs: boolean; Tmpfs?: Record<string, string>; Init?: boolean | null };
  Mounts: { Type: string; Name?: string; Source: string; Destination: string }[];
}

/** Why this machine cannot run the engine, or `undefined` when it can. */
export async function engineUnavailable(): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "dockerd needs root";
  for (const binary of ["dockerd", "containerd", "runc", DOCKER_CLIENT]) {
    const found = await run("sh", ["-c", `command -v ${binary}`], { env: { PATH: enginePath() } });
    if (found.code !== 0) return `${binary} not found (apt-get install docker.io)`;
  }
  return undefined;
}

function enginePath(): string {
  return `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
}

/**
 * Starts dockerd under a new folder of `PPR_ENGINE_ROOT` (else of /tmp; short, for socket paths)
 * and waits until it answers (at most `timeoutMs`).
 */
export async function startEngine(options: { timeoutMs?: number } = {}): Promise<Engine> {
  const unavailable = await engineUnavailable();
  if (unavailable) throw new Error(`cannot start a Docker engine here: ${unavailable}`);
  const parent = Deno.env.get("PPR_ENGINE_ROOT") || "/tmp";
  const dir = await Deno.makeTempDir({ dir: parent, prefix: "ppr-engine-" });
  const socket = `unix://${dir}/docker.sock`;
  const daemon = new Deno.Command("dockerd", {
    args: [
      "--data-root",
      `${dir}/data`,
      "--exec-root",
      `${dir}/x`,
      "--pidfile",
      `${dir}/dockerd.pid`,
      "-H",
      socket,
      // No rules in the host's firewall, no routing past the host: the containers are this
      // machine's own test hosts; published ports go through docker-proxy on the host.
      "--iptables=false",
      "--ip-forward=false",
      "--ip-masq=false",
      "--bridge=none",
      "--log-level=warn",
    ],
    env: { PATH: enginePath() },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logTo = async (stream: ReadableStream<Uint8Array>) => {
    const file = await Deno.open(`${dir}/dockerd.log`, { create: true, append: true });
    await stream.pipeTo(file.writable).catch(() => {});
  };
  const logged = Promise.all([logTo(daemon.stdout), logTo(daemon.stderr)]);
  let exited = false;
  const status = daemon.status.then((value) => {
    exited = true;
    return value;
  });

  await Deno.mkdir(`${dir}/client`);
  const client: Docker = {
    command: DOCKER_CLIENT,
    env: {
      PATH: enginePath(),
      HOME: dir,
      DOCKER_HOST: socket,
      DOCKER_CONFIG: `${dir}/client`,
      DOCKER_BUILDKIT: "1",
    },
  };
  const tryDocker = (args: string[], timeoutMs = 120_000) =>
    run(client.command, args, { env: client.env, timeoutMs });
  const logTail = async (lines = 30) => {
    const text = await Deno.readTextFile(`${dir}/dockerd.log`).catch(() => "");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  };

  const stop = async () => {
    // Every container first (their shims outlive a daemon that is killed), then the daemon.
    const ids = await tryDocker(["ps", "-aq"], 30_000);
    const all = ids.stdout.split("\n").filter(Boolean);
    if (all.length > 0) await tryDocker(["rm", "-f", "-v", ...all], 120_000);
    // A network's bridge interface outlives the daemon on the host: remove the networks first.
    await tryDocker(["network", "prune", "-f"], 60_000);
    if (!exited) {
      try {
        daemon.kill("SIGTERM");
      } catch {
        // gone
      }
      const stopped = await Promise.race([
        status.then(() => true),
        delay(30_000).then(() => false),
      ]);
      if (!stopped) {
        try {
          daemon.kill("SIGKILL");
        } catch {
          // gone
        }
        await status;
      }
    }
    await logged;
    // The containerd that dockerd started stops with it; if dockerd was killed it may not have.
    await stopByPidFile(`${dir}/x/containerd/containerd.pid`);
    await unmountUnder(dir);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  try {
    await waitUntil(async () => {
      if (exited) throw new Error(`dockerd exited: ${await logTail()}`);
      return (await tryDocker(["version", "--format", "{{.Server.Version}}"], 10_000)).code === 0;
    }, { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 250, what: "dockerd to answer" });
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    dir,
    client,
    docker: (args, timeoutMs = 120_000) => docker(client, args, { timeoutMs }),
    tryDocker,
    async inspect(id) {
      const [info] = JSON.parse(await docker(client, ["inspect", id])) as ContainerInfo[];
      return info;
    },
    logTail,
    [Symbol.asyncDispose]: stop,
  };
}

/** Stops the process named by a pid file, if it still runs: SIGTERM, then SIGKILL after 10 s. */
async function stopByPidFile(path: string): Promise<void> {
  const pid = Number((await Deno.readTextFile(path).catch(() => "")).trim());
  if (!pid || !processExists(pid)) return;
  try {
    Deno.kill(pid, "SIGTERM");
    await waitUntil(() => !processExists(pid), { timeoutMs: 10_000, what: `pid ${pid} to exit` });
  } catch {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

/** Unmounts whatever is still mounted under `dir` (overlay layers, netns), deepest first. */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await Deno.readTextFile("/proc/self/mounts").catch(() => ""))
    .split("\n")
    .map((line) => line.split(" ")[1]?.replace(/\\040/g, " "))
    .filter((target): target is string => Boolean(target) && target.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const target of mounts) await run("umount", ["-l", target]).catch(() => {});
}
