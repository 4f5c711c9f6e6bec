/**
 * `deno task image`: the local image `ppr-worker:local`, built from this machine's own files with
 * no registry. It assembles stand-ins for the Dockerfile's four parts FROM scratch, then builds
 * the Dockerfile's final stage (the same as production's) from them:
 *
 * - base: production's gcr.io/distroless/cc-debian12:nonroot; here the host's glibc (`ldd`),
 *   CA certificates, /etc/passwd with `nonroot`, /tmp (1777), /home/nonroot.
 * - app: production's `/app/ppr-worker` from `deno compile`; here `deno`, the Deno cache and the
 *   source (the build context, through .dockerignore), run by a tiny launcher at that path.
 * - claude: the CLI's native binary from its npm package, here the one installed globally.
 * - tini: Debian's `tini-static`, here the host's (`apt-get install tini`).
 *
 * It also builds `ppr-local/redis` (Debian's redis-server FROM scratch) for the compose file's
 * `REDIS_IMAGE`. Usage: `deno task image` (the daemon of `DOCKER_HOST`, or the default one).
 */

import { runCommand as run } from "../testing/command.ts";
import { findRealClaudeCli } from "../testing/real_claude.ts";
export { run };
export type { RunResult } from "../testing/command.ts";

const ROOT = new URL("../", import.meta.url);
const ROOT_PATH = decodeURIComponent(ROOT.pathname);

/** The local image's tag. */
export const LOCAL_IMAGE = "ppr-worker:local";
/** The stand-in Redis image's tag, for compose's `REDIS_IMAGE`. */
export const LOCAL_REDIS_IMAGE = "ppr-local/redis:latest";
/** The stand-ins for the Dockerfile's parts, by build argument. */
export const PART_IMAGES = {
  BASE_IMAGE: "ppr-local/base:latest",
  APP_IMAGE: "ppr-local/app:latest",
  CLAUDE_IMAGE: "ppr-local/claude:latest",
  TINI_IMAGE: "ppr-local/tini:latest",
} as const;

/** The app part's first layer: the launcher, deno and the Deno cache; the source goes on top. */
const APP_RUNTIME_IMAGE = "ppr-local/app-runtime:latest";

/** User nonroot of distroless images. */
const NONROOT = 65532;
/** User redis of the official Redis images. */
const REDIS_USER = 999;

/** A docker client: its executable and the environment it runs with (`DOCKER_HOST`, ...). */
export interface Docker {
  command: string;
  env: Record<string, string>;
}

/** Runs a docker command; throws with its output when it fails. */
export async function docker(
  client: Docker,
  args: string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<string> {
  const result = await run(client.command, args, {
    env: client.env,
    cwd: options.cwd,
    timeoutMs: options.timeoutMs ?? 600_000,
  });
  if (result.code !== 0) {
    throw new Error(
      `docker ${args.join(" ")} exited with ${result.code}: ${
        (result.stderr || result.stdout).trim().slice(-4000)
      }`,
    );
  }
  return result.stdout.trim();
}

/**
 * The first client of `$DOCKER`, `docker` and Debian's `/usr/bin/docker` that builds with
 * BuildKit: one with the buildx plugin, or a 20.10 client (BuildKit built in). The Dockerfile
 * needs BuildKit: the legacy builder would build the production stages too, which pull images.
 */
export async function findDockerClient(env: Record<string, string>): Promise<Docker> {
  const candidates = [env.DOCKER, "docker", "/usr/bin/docker"].filter((name): name is string =>
    Boolean(name)
  );
  const clientEnv = { ...env, DOCKER_BUILDKIT: "1" };
  const tried: string[] = [];
  for (const command of candidates) {
    const version = await run(command, ["version", "--format", "{{.Client.Version}}"], {
      env: clientEnv,
      timeoutMs: 30_000,
    }).catch(() => undefined);
    const major = Number(version?.stdout.trim().split(".")[0]);
    if (!version || !major) {
      tried.push(`${command}: not found`);
      continue;
    }
    if (major < 23) return { command, env: clientEnv };
    const buildx = await run(command, ["buildx", "version"], { env: clientEnv, timeoutMs: 30_000 });
    if (buildx.code === 0) return { command, env: clientEnv };
    tried.push(`${command}: client ${version.stdout.trim()} without the buildx plugin`);
  }
  throw new Error(
    `no docker client that builds with BuildKit (${tried.join("; ")}); install Docker's buildx ` +
      `plugin, or Debian's docker.io (its /usr/bin/docker has BuildKit built in)`,
  );
}

/** The local files the stand-in parts are made of. */
export interface LocalParts {
  /** The `deno` executable (this one). */
  deno: string;
  /** The Claude CLI's native binary, from the npm package `@anthropic-ai/claude-code-linux-x64`. */
  claude: string;
  claudeVersion: string;
  /** Debian's `tini-static`. */
  tini: string;
  /** Debian's redis-server and redis-cli, for the stand-in Redis. */
  redisServer: string;
  redisCli: string;
  /** The CA bundle. */
  caCertificates: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function isElf(path: string): Promise<boolean> {
  try {
    const file = await Deno.open(path);
    try {
      const head = new Uint8Array(4);
      await file.read(head);
      return head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
    } finally {
      file.close();
    }
  } catch {
    return false;
  }
}

/**
 * The Claude CLI's native Linux binary: the pinned version the tests use (Deno's npm cache,
 * fetched there when missing), else the global npm package, else `claude` on PATH.
 */
async function findClaudeBinary(): Promise<string> {
  const pinned = await findRealClaudeCli();
  const arch = Deno.build.arch === "aarch64" ? "arm64" : "x64";
  const platformPackage = `@anthropic-ai/claude-code-linux-${arch}`;
  const npmRoot = (await run("npm", ["root", "-g"]).catch(() => undefined))?.stdout.trim();
  const candidates = npmRoot
    ? [
      `${npmRoot}/@anthropic-ai/claude-code/node_modules/${platformPackage}/claude`,
      `${npmRoot}/${platformPackage}/claude`,
    ]
    : [];
  if (pinned) candidates.unshift(pinned.path);
  const onPath = (await run("sh", ["-c", "command -v claude"]).catch(() => undefined))?.stdout
    .trim();
  if (onPath) candidates.push(await Deno.realPath(onPath).catch(() => onPath));
  for (const candidate of candidates) {
    if (await isElf(candidate)) return candidate;
  }
  throw new Error(
    `the Claude CLI's native binary was not found (looked at ${
      candidates.join(", ") || "nothing"
    });` +
      ` install it: npm install -g @anthropic-ai/claude-code`,
  );
}

/** Finds every local part; throws naming what is missing and how to install it. */
export async function findLocalParts(): Promise<LocalParts> {
  const need = async (path: string, install: string) => {
    if (!(await exists(path))) throw new Error(`${path} not found: ${install}`);
    return await Deno.realPath(path);
  };
  const claude = await findClaudeBinary();
  const version = await run(claude, ["--version"], {
    env: {
      PATH: "/usr/bin:/bin",
      HOME: "/nonexistent",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    },
    timeoutMs: 30_000,
  });
  return {
    deno: Deno.execPath(),
    claude,
    claudeVersion: version.stdout.trim().split(" ")[0],
    tini: await need("/usr/bin/tini-static", "apt-get install tini"),
    redisServer: await need("/usr/bin/redis-server", "apt-get install redis-server"),
    redisCli: await need("/usr/bin/redis-cli", "apt-get install redis-tools"),
    caCertificates: await need(
      "/etc/ssl/certs/ca-certificates.crt",
      "apt-get install ca-certificates",
    ),
  };
}

/** The shared libraries `ldd` lists for `binaries` (the dynamic loader included), as paths. */
export async function sharedLibraries(binaries: string[]): Promise<string[]> {
  const libraries = new Set<string>();
  for (const binary of binaries) {
    const result = await run("ldd", [binary]);
    if (result.code !== 0) throw new Error(`ldd ${binary} failed: ${result.stderr.trim()}`);
    for (const line of result.stdout.split("\n")) {
      const path = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
      if (path) libraries.add(path);
    }
  }
  return [...libraries].sort();
}

/** Puts `source` at `target`: a hard link when the file system allows, else a copy. */
async function place(source: string, target: string, mode?: number): Promise<void> {
  await Deno.mkdir(target.replace(/\/[^/]*$/, ""), { recursive: true });
  const real = await Deno.realPath(source);
  try {
    if (mode !== undefined) throw new Error("a mode of its own needs a copy");
    await Deno.link(real, target);
  } catch {
    await Deno.copyFile(real, target);
    if (mode !== undefined) await Deno.chmod(target, mode);
  }
}

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.writeTextFile(`${dir}/${path}`, text);
  }
}

/** An empty folder with `mode` (mkdir's mode is cut by the umask; chmod's is not). */
async function emptyDir(path: string, mode: number): Promise<void> {
  await Deno.mkdir(path, { recursive: true });
  await Deno.chmod(path, mode);
}

/** A base like gcr.io/distroless/cc-debian12:nonroot: glibc, CA certificates, nonroot, /tmp. */
async function stageBase(dir: string, libraries: string[], parts: LocalParts): Promise<void> {
  for (const library of libraries) await place(library, `${dir}/rootfs${library}`);
  await place(parts.caCertificates, `${dir}/rootfs/etc/ssl/certs/ca-certificates.crt`);
  await writeFiles(`${dir}/rootfs`, {
    "etc/passwd": "root:x:0:0:root:/root:/sbin/nologin\n" +
      "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
      `nonroot:x:${NONROOT}:${NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n`,
    "etc/group": `root:x:0:\nnobody:x:65534:\nnonroot:x:${NONROOT}:\n`,
    "etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
  });
  await emptyDir(`${dir}/rootfs/tmp`, 0o1777);
  await emptyDir(`${dir}/rootfs/root`, 0o700);
  await emptyDir(`${dir}/rootfs/home`, 0o755); // root's, as in distroless
  await emptyDir(`${dir}/nonroot`, 0o700);
  await Deno.writeTextFile(
    `${dir}/Dockerfile`,
    `FROM scratch
COPY rootfs/ /
COPY --chown=${NONROOT}:${NONROOT} nonroot/ /home/nonroot/
USER ${NONROOT}:${NONROOT}
WORKDIR /home/nonroot
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
`,
  );
}

/** The app's runtime: the launcher at /app/ppr-worker, deno, and a Deno cache of every dependency. */
async function stageAppRuntime(dir: string, parts: LocalParts): Promise<void> {
  await Deno.mkdir(`${dir}/app`, { recursive: true });
  const compiled = await run("cc", [
    "-static",
    "-Os",
    "-s",
    "-o",
    `${dir}/app/ppr-worker`,
    `${ROOT_PATH}docker/ppr-worker-launcher.c`,
  ]);
  if (compiled.code !== 0) {
    throw new Error(
      `cc could not build docker/ppr-worker-launcher.c (apt-get install gcc libc6-dev): ${compiled.stderr}`,
    );
  }
  await place(parts.deno, `${dir}/app/deno`);
  // The cache of exactly what main.ts loads, for `deno run --cached-only` (no registry at run time).
  const installed = await run(
    parts.deno,
    ["install", "-q", "--frozen", "--entrypoint", "main.ts"],
    {
      cwd: ROOT_PATH,
      env: { ...Deno.env.toObject(), DENO_DIR: `${dir}/app/deno-dir`, DENO_NO_UPDATE_CHECK: "1" },
      timeoutMs: 300_000,
    },
  );
  if (installed.code !== 0) throw new Error(`deno install failed: ${installed.stderr}`);
  // Transpiled code is cached by path: what was made here, for this checkout, is no use at /app/src.
  await Deno.remove(`${dir}/app/deno-dir/gen`, { recursive: true }).catch(() => {});
  await Deno.writeTextFile(`${dir}/Dockerfile`, "FROM scratch\nCOPY app/ /app/\n");
  // The source comes from the build context itself, through .dockerignore, as production's does.
  await Deno.writeTextFile(
    `${dir}/src.Dockerfile`,
    `FROM ${APP_RUNTIME_IMAGE}\nCOPY . /app/src/\n`,
  );
}

async function stageClaude(dir: string, parts: LocalParts): Promise<void> {
  await place(parts.claude, `${dir}/claude`);
  await emptyDir(`${dir}/claude-config`, 0o755);
  await Deno.writeTextFile(
    `${dir}/Dockerfile`,
    "FROM scratch\nCOPY claude /claude\nCOPY claude-config/ /claude-config/\n",
  );
}

async function stageTini(dir: string, parts: LocalParts): Promise<void> {
  await place(parts.tini, `${dir}/usr/bin/tini-static`);
  await Deno.writeTextFile(`${dir}/Dockerfile`, "FROM scratch\nCOPY usr/ /usr/\n");
}

/** A Redis image like redis:7-alpine's command line: redis-server and redis-cli on PATH, /data. */
async function stageRedis(dir: string, parts: LocalParts): Promise<void> {
  const libraries = await sharedLibraries([parts.redisServer, parts.redisCli]);
  for (const library of libraries) await place(library, `${dir}/rootfs${library}`);
  // Debian's redis-server is a link to redis-check-rdb, which acts on the name it is run by.
  await place(parts.redisServer, `${dir}/rootfs/usr/local/bin/redis-server`);
  await place(parts.redisCli, `${dir}/rootfs/usr/local/bin/redis-cli`);
  await writeFiles(`${dir}/rootfs`, {
    "etc/passwd":
      `root:x:0:0:root:/root:/sbin/nologin\nredis:x:${REDIS_USER}:${REDIS_USER}:redis:/data:/sbin/nologin\n`,
    "etc/group": `root:x:0:\nredis:x:${REDIS_USER}:\n`,
  });
  await emptyDir(`${dir}/rootfs/tmp`, 0o1777);
  await emptyDir(`${dir}/data`, 0o755);
  await Deno.writeTextFile(
    `${dir}/Dockerfile`,
    `FROM scratch
COPY rootfs/ /
COPY --chown=${REDIS_USER}:${REDIS_USER} data/ /data/
USER ${REDIS_USER}:${REDIS_USER}
WORKDIR /data
ENV PATH=/usr/local/bin:/usr/bin:/bin
EXPOSE 6379
CMD ["redis-server"]
`,
  );
}

/** Image sizes in bytes, as `docker image inspect` reports them. */
export interface ImageSizes {
  base: number;
  app: number;
  claude: number;
  tini: number;
  /** ppr-worker:local, the whole image. */
  image: number;
  redis: number;
}

async function imageSize(client: Docker, tag: string): Promise<number> {
  return Number(await docker(client, ["image", "inspect", "--format", "{{.Size}}", tag]));
}

/** What `buildLocalImage` made. */
export interface LocalBuild {
  image: string;
  redisImage: string;
  parts: LocalParts;
  sizes: ImageSizes;
  seconds: number;
}

/**
 * Builds the stand-in parts, then `ppr-worker:local` from the repository's Dockerfile (its final
 * stage, unchanged) and `ppr-local/redis`. `log` gets one line per step.
 */
export async function buildLocalImage(
  client: Docker,
  options: { log?: (line: string) => void } = {},
): Promise<LocalBuild> {
  const log = options.log ?? ((line: string) => console.error(line));
  const started = performance.now();
  const parts = await findLocalParts();
  if (!Deno.version.deno.startsWith("2.9.")) {
    log(
      `image: warning: deno ${Deno.version.deno}; production compiles with the Dockerfile's DENO_VERSION`,
    );
  }
  const staging = await Deno.makeTempDir({ prefix: "ppr-image-" });
  const build = async (tag: string, context: string, dockerfile: string) => {
    const stepStarted = performance.now();
    await docker(client, ["build", "-q", "-t", tag, "-f", dockerfile, context]);
    log(`image: built ${tag} (${((performance.now() - stepStarted) / 1000).toFixed(1)} s)`);
  };
  try {
    const libraries = await sharedLibraries([parts.deno, parts.claude]);
    for (const name of ["base", "app", "claude", "tini", "redis"]) {
      await Deno.mkdir(`${staging}/${name}`);
    }
    await stageBase(`${staging}/base`, libraries, parts);
    await stageAppRuntime(`${staging}/app`, parts);
    await stageClaude(`${staging}/claude`, parts);
    await stageTini(`${staging}/tini`, parts);
    await stageRedis(`${staging}/redis`, parts);

    await build(PART_IMAGES.BASE_IMAGE, `${staging}/base`, `${staging}/base/Dockerfile`);
    await build(APP_RUNTIME_IMAGE, `${staging}/app`, `${staging}/app/Dockerfile`);
    await build(PART_IMAGES.APP_IMAGE, ROOT_PATH, `${staging}/app/src.Dockerfile`);
    await build(PART_IMAGES.CLAUDE_IMAGE, `${staging}/claude`, `${staging}/claude/Dockerfile`);
    await build(PART_IMAGES.TINI_IMAGE, `${staging}/tini`, `${staging}/tini/Dockerfile`);
    await build(LOCAL_REDIS_IMAGE, `${staging}/redis`, `${staging}/redis/Dockerfile`);

    const finalStarted = performance.now();
    await docker(client, [
      "build",
      "-q",
      ...Object.entries(PART_IMAGES).flatMap(([arg, tag]) => ["--build-arg", `${arg}=${tag}`]),
      "-t",
      LOCAL_IMAGE,
      ROOT_PATH,
    ]);
    log(
      `image: built ${LOCAL_IMAGE} from the Dockerfile (${
        ((performance.now() - finalStarted) / 1000).toFixed(1)
      } s)`,
    );
    const sizes: ImageSizes = {
      base: await imageSize(client, PART_IMAGES.BASE_IMAGE),
      app: await imageSize(client, PART_IMAGES.APP_IMAGE),
      claude: await imageSize(client, PART_IMAGES.CLAUDE_IMAGE),
      tini: await imageSize(client, PART_IMAGES.TINI_IMAGE),
      image: await imageSize(client, LOCAL_IMAGE),
      redis: await imageSize(client, LOCAL_REDIS_IMAGE),
    };
    return {
      image: LOCAL_IMAGE,
      redisImage: LOCAL_REDIS_IMAGE,
      parts,
      sizes,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

/** Megabytes (10^6 bytes, as `docker images` counts), one decimal. */
export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * Debian 12's packages that gcr.io/distroless/cc-debian12 is made of: their installed size on
 * this host (`dpkg-query`), in bytes, as the estimate of the production base; `undefined` where
 * dpkg is not there.
 */
export async function distrolessCcEstimate(): Promise<number | undefined> {
  const packages = [
    "base-files",
    "netbase",
    "tzdata",
    "ca-certificates",
    "libc6",
    "libssl3",
    "libgcc-s1",
    "libgomp1",
    "libstdc++6",
  ];
  const result = await run("dpkg-query", ["-W", "-f", "${Installed-Size}\n", ...packages])
    .catch(() => undefined);
  if (!result || result.code !== 0) return undefined;
  const kib = result.stdout.split("\n").filter(Boolean).reduce(
    (sum, line) => sum + Number(line),
    0,
  );
  return kib * 1024;
}

/** The image's size, part by part, and the production image's expected size, as lines to print. */
export async function sizeReport(build: LocalBuild): Promise<string[]> {
  const { sizes } = build;
  const base = await distrolessCcEstimate();
  const lines = [
    `local image ${build.image}: ${megabytes(sizes.image)}`,
    `  base (stand-in: glibc, CA certificates, nonroot): ${megabytes(sizes.base)}`,
    `  app (deno ${Deno.version.deno} + the Deno cache + the source + launcher): ${
      megabytes(sizes.app)
    }`,
    `  claude (the CLI ${build.parts.claudeVersion}, native binary): ${megabytes(sizes.claude)}`,
    `  tini (tini-static): ${megabytes(sizes.tini)}`,
  ];
  if (base !== undefined) {
    const production = base + sizes.app + sizes.claude + sizes.tini;
    lines.push(
      `production image, expected: at most ${megabytes(production)} = distroless cc-debian12 ` +
        `(~${megabytes(base)}, its Debian packages' installed size) + the compiled binary ` +
        `(at most the local app part, ${megabytes(sizes.app)}: deno compile embeds the same ` +
        `modules in denort, the runtime without deno's tooling) + claude + tini`,
    );
  }
  return lines;
}

if (import.meta.main) {
  try {
    const client = await findDockerClient(Deno.env.toObject());
    const build = await buildLocalImage(client);
    for (const line of await sizeReport(build)) console.log(line);
    console.log(
      `run it: PPR_IMAGE=${LOCAL_IMAGE} REDIS_IMAGE=${LOCAL_REDIS_IMAGE} docker compose up -d`,
    );
  } catch (error) {
    console.error(`image: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
