/** `deno task dev`: the supervisor with 2 echo workers against a local Redis, started here when none answers. */

import { selfCommand } from "../supervisor/self_command.ts";
import { ensureWorkerBundle, PROGRAM_ROOT } from "./bundle.ts";
// The suite's throwaway redis-server (free port, own temp dir, keeps nothing) serves dev too.
import { answersPing, startRedis } from "../testing/redis.ts";

const DEFAULT_URL = "redis://127.0.0.1:6379";

const env = Deno.env.toObject();
let redisUrl = env.REDIS_URL || DEFAULT_URL;
let throwaway: AsyncDisposable | undefined;
const target = new URL(redisUrl);
if (!(await answersPing(target.hostname, Number(target.port || 6379)))) {
  if (env.REDIS_URL) {
    console.error(`dev: REDIS_URL is set but nothing answers there; start that Redis first`);
    Deno.exit(1);
  }
  try {
    const redis = await startRedis();
    redisUrl = redis.url;
    throwaway = redis;
    console.error(
      `dev: no Redis on ${DEFAULT_URL}; started a throwaway redis-server on port ${redis.port}`,
    );
  } catch (error) {
    console.error(
      `dev: no Redis answers on ${DEFAULT_URL} and redis-server could not be started (${
        (error as Error).message
      }); install it (apt-get install redis-server) or set REDIS_URL`,
    );
    Deno.exit(1);
  }
}

// Workers start from the worker bundle, as under `deno task start`: built now when a source changed.
await ensureWorkerBundle(PROGRAM_ROOT, (line) => console.error(`dev: ${line}`)).catch((error) =>
  console.error(`dev: the worker bundle was not built (${error.message}); workers load the modules`)
);

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
await throwaway?.[Symbol.asyncDispose]();
Deno.exit(code);
