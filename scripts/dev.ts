/** `deno task dev`: the supervisor with 2 echo workers against a local Redis, started here when none answers. */

import { selfCommand } from "../supervisor/command.ts";

const DEFAULT_URL = "redis://127.0.0.1:6379";

async function answersPing(hostname: string, port: number): Promise<boolean> {
  try {
    const connection = await Deno.connect({ hostname, port });
    try {
      await connection.write(new TextEncoder().encode("PING\r\n"));
      const buffer = new Uint8Array(64);
      const read = await Promise.race([
        connection.read(buffer),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 1000)),
      ]);
      const reply = read ? new TextDecoder().decode(buffer.subarray(0, read)) : "";
      // -NOAUTH also means a Redis server answers (the URL carries the password).
      return reply.startsWith("+PONG") || reply.startsWith("-NOAUTH");
    } finally {
      connection.close();
    }
  } catch {
    return false;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Starts a throwaway redis-server that keeps nothing; returns its URL and a stop function. */
async function throwawayRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "ppr-dev-redis-" });
  let server: Deno.ChildProcess;
  try {
    server = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      stdout: "null",
      stderr: "inherit",
    }).spawn();
  } catch (error) {
    throw new Error(
      `no Redis answers on ${DEFAULT_URL} and redis-server could not be started (${
        (error as Error).message
      }); install it (apt-get install redis-server) or set REDIS_URL`,
    );
  }
  for (let tries = 0; tries < 100 && !(await answersPing("127.0.0.1", port)); tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.error(
    `dev: no Redis on ${DEFAULT_URL}; started a throwaway redis-server on port ${port}`,
  );
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      try {
        server.kill("SIGTERM");
      } catch {
        // already gone
      }
      await server.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

const env = Deno.env.toObject();
let redisUrl = env.REDIS_URL || DEFAULT_URL;
let stopRedis: (() => Promise<void>) | undefined;
const target = new URL(redisUrl);
if (!(await answersPing(target.hostname, Number(target.port || 6379)))) {
  if (env.REDIS_URL) {
    console.error(`dev: REDIS_URL is set but nothing answers there; start that Redis first`);
    Deno.exit(1);
  }
  const redis = await throwawayRedis();
  redisUrl = redis.url;
  stopRedis = redis.stop;
}

const self = selfCommand({
  standalone: false,
  execPath: Deno.execPath(),
  mainModule: new URL("../main.ts", import.meta.url).href,
});
const supervisor = new Deno.Command(self.command, {
  args: [...self.args, ...Deno.args],
  env: {
    WORKER_COUNT: "2",
    LLM_PROVIDER: "echo",
    LOG_FORMAT: "pretty",
    ...env,
    REDIS_URL: redisUrl,
  },
  stdin: "null",
}).spawn();

// Ctrl-C reaches the supervisor itself (same process group): passing it on would count as a
// second signal and stop it at once. A SIGTERM sent to this script alone is passed on.
Deno.addSignalListener("SIGINT", () => {});
Deno.addSignalListener("SIGTERM", () => {
  try {
    supervisor.kill("SIGTERM");
  } catch {
    // already gone
  }
});
const { code } = await supervisor.status;
await stopRedis?.();
Deno.exit(code);
