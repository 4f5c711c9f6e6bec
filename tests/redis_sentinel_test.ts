/**
 * ppr-worker on a real Sentinel setup (a master, a replica, three redis-sentinel processes):
 * every command through a `redis+sentinel://` URL, jobs through `SENTINEL FAILOVER` and through
 * kill -9 of the master (lost, completed twice and the gap reported), and what `WAIT` costs.
 */

import { strict as assert } from "node:assert";
import { Queue } from "bullmq";
import { reportSkipped } from "../testing/command.ts";
import {
  assertAcknowledgedSurvived,
  assertNothingLost,
  type FailoverFigures,
  formatFigures,
  runJobsThroughFailover,
} from "../testing/failover_load.ts";
import { startDashboardProcess } from "../testing/dashboard.ts";
import { baseEnv, runPpr, startSupervisor } from "../testing/ppr.ts";
import {
  MASTER_NAME,
  sentinelInstalled,
  type SentinelSetup,
  startSentinelSetup,
} from "../testing/redis_sentinel.ts";
import type { RedisServer } from "../testing/redis.ts";
import { waitUntil } from "../testing/wait.ts";
import { Redis } from "ioredis";
import { delay } from "../async/mod.ts";
import { connectRedis, type RedisClient } from "../redis/connection.ts";
import { parseRedisUrl } from "../redis/url.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const PASSWORD = "sentinel-s3cret/@,#pw";

if (!await sentinelInstalled()) {
  reportSkipped("redis-sentinel is not installed (apt-get install redis-sentinel)");
} else {
  Deno.test({
    name:
      "Sentinel URL with an ACL user: the pool runs jobs; enqueue, info, jobs list, cleanup and the dashboard work; the password, whole or in pieces, is printed nowhere",
    ...integration,
    async fn() {
      await using setup = await startSentinelSetup({ user: { name: "ppr", password: PASSWORD } });
      await using supervisor = startSupervisor(["--count", "2"], { redisUrl: setup.url });
      await supervisor.waitForHealth((health) => health.workers_alive === 2, "the pool", 60_000);
      const env = baseEnv({ REDIS_URL: setup.url, REDIS_WAIT_REPLICAS: "1" });
      const enqueued = await runPpr(["enqueue", "--prompt", "through sentinel", "--wait"], env);
      assert.equal(enqueued.code, 0, enqueued.stderr);
      assert.match(enqueued.stdout, /"state":"completed".*"text":"through sentinel"/);
      const outputs = [enqueued.stdout, enqueued.stderr];
      for (const args of [["info"], ["jobs", "list", "--state", "completed"], ["cleanup"]]) {
        const result = await runPpr(args, env);
        assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
        outputs.push(result.stdout, result.stderr);
      }
      await using dashboard = await startDashboardProcess([], {
        redisUrl: setup.url,
        env: {},
      });
      for (const path of ["api/ppr", "api/queues?activeQueue=llm&status=completed&page=1"]) {
        const response = await fetch(`${dashboard.url}${path}`);
        const body = await response.text();
        assert.equal(response.status, 200, `${path}: ${body}`);
        assert.match(body, /"completed":1\b/, path);
        outputs.push(body);
      }
      outputs.push(...dashboard.output);
      assert.match(outputs.join("\n"), /redis\+sentinel:\/\/ppr:\*\*\*@127\.0\.0\.1:\d+,/);
      const health = await supervisor.health();
      assert.equal(health.body.redis.connected, true);
      outputs.push(...supervisor.logs, JSON.stringify(health.body));
      const pieces = [PASSWORD, encodeURIComponent(PASSWORD)];
      for (const piece of [...pieces, PASSWORD.slice(0, 12), PASSWORD.slice(-12)]) {
        assert.ok(!outputs.some((output) => output.includes(piece)), "the password is printed");
      }
    },
  });

  Deno.test({
    name:
      "Sentinel URL with a password, Sentinels that require none: the pool runs jobs and enqueue works (ioredis only warns that the Sentinels need no password)",
    ...integration,
    async fn() {
      await using setup = await startSentinelSetup({ password: PASSWORD, openSentinels: true });
      await using supervisor = startSupervisor(["--count", "1"], { redisUrl: setup.url });
      await supervisor.waitForHealth((health) => health.workers_alive === 1, "the pool", 60_000);
      const enqueued = await runPpr(
        ["enqueue", "--prompt", "open sentinels", "--wait"],
        baseEnv({ REDIS_URL: setup.url }),
      );
      assert.equal(enqueued.code, 0, enqueued.stderr);
      assert.match(enqueued.stdout, /"state":"completed".*"text":"open sentinels"/);
      assert.match(enqueued.stderr, /does not require a password, but a password was supplied/);
      assert.ok(!enqueued.stderr.includes(PASSWORD), "the password is printed");
    },
  });

  Deno.test({
    name:
      "Sentinel: SENTINEL FAILOVER with a writer each on ioredis's defaults, on failoverDetector and on ppr-worker's settings: writes lost by each (reported); ppr-worker's then writes to the new master",
    ...integration,
    async fn() {
      await using setup = await startSentinelSetup();
      const newMaster = await setup.replica();
      const writers = startWriters(setup.url);
      try {
        await delay(2000);
        await setup.sentinelClient(0).call("SENTINEL", "FAILOVER", MASTER_NAME);
        await setup.waitForMaster(newMaster);
        // The old master is demoted about 10 s later (Sentinel's INFO period) and resyncs.
        await setup.waitForReplicaInSync(60_000);
        await delay(1000);
      } finally {
        await writers.stop();
      }
      const check = setup.clientOf(newMaster);
      const rows = [];
      for (const writer of writers.all) {
        const lost = await lostWrites(check, writer);
        rows.push(`${writer.name}: ${lost} of ${writer.acked.length} acknowledged writes lost`);
      }
      console.log(`SENTINEL FAILOVER, one write every 20 ms each:\n  ${rows.join("\n  ")}`);
      const ours = writers.all.find((writer) => writer.name === "ppr-worker's settings")!;
      assert.equal(await check.exists(`${ours.name}:${ours.acked.at(-1)}`), 1);
    },
  });

  Deno.test({
    name:
      "Sentinel: CLIENT PAUSE WRITE on the master, then SENTINEL FAILOVER: ppr-worker's settings lose no acknowledged write",
    ...integration,
    async fn() {
      await using setup = await startSentinelSetup();
      const oldMaster = await setup.master();
      const newMaster = await setup.replica();
      const writers = startWriters(setup.url);
      try {
        await delay(2000);
        // Longer than the failover takes: writes wait on the old master until the clients move.
        await setup.clientOf(oldMaster).call("CLIENT", "PAUSE", "10000", "WRITE");
        await setup.sentinelClient(0).call("SENTINEL", "FAILOVER", MASTER_NAME);
        await setup.waitForMaster(newMaster);
        await setup.waitForReplicaInSync(60_000);
        await delay(1000);
      } finally {
        await writers.stop();
      }
      const check = setup.clientOf(newMaster);
      const rows = [];
      for (const writer of writers.all) {
        rows.push(
          `${writer.name}: ${await lostWrites(check, writer)} of ${writer.acked.length} lost`,
        );
      }
      console.log(`CLIENT PAUSE WRITE, then SENTINEL FAILOVER:\n  ${rows.join("\n  ")}`);
      const ours = writers.all.find((writer) => writer.name === "ppr-worker's settings")!;
      assert.equal(await lostWrites(check, ours), 0);
    },
  });

  Deno.test({
    name:
      "Sentinel: SENTINEL FAILOVER under load: the pool keeps working, no WAIT-acknowledged enqueue is lost, no job completes twice in the surviving history",
    ...integration,
    async fn() {
      const figures = await jobsThroughSentinelFault({
        workersWait: true,
        fault: async ({ setup }) => {
          await setup.sentinelClient(0).call("SENTINEL", "FAILOVER", MASTER_NAME);
        },
      });
      console.log(formatFigures("SENTINEL FAILOVER", figures));
      assertAcknowledgedSurvived(figures);
    },
  });

  Deno.test({
    name:
      "Sentinel: CLIENT PAUSE WRITE on the master, then SENTINEL FAILOVER, under load: no job lost, none completes twice",
    ...integration,
    async fn() {
      const figures = await jobsThroughSentinelFault({
        fault: async ({ setup, oldMaster }) => {
          await setup.clientOf(oldMaster).call("CLIENT", "PAUSE", "10000", "WRITE");
          await setup.sentinelClient(0).call("SENTINEL", "FAILOVER", MASTER_NAME);
        },
      });
      console.log(formatFigures("CLIENT PAUSE WRITE, then SENTINEL FAILOVER", figures));
      assertNothingLost(figures);
    },
  });

  Deno.test({
    name:
      "Sentinel: kill -9 of the master under load: the pool keeps working, no WAIT-acknowledged enqueue is lost, no job completes twice in the surviving history",
    ...integration,
    async fn() {
      const figures = await jobsThroughSentinelFault({
        fault: ({ oldMaster }) => oldMaster.stop("SIGKILL"),
        // Back without its data, the old master must come back as the new one's replica (see the
        // test after the next): WAIT can be answered again once it has synced.
        afterFault: ({ oldMaster, newMaster }) => oldMaster.start({ replicaOf: newMaster.port }),
      });
      console.log(formatFigures("kill -9 of the Sentinel master", figures));
      assertAcknowledgedSurvived(figures);
    },
  });

  Deno.test({
    name:
      "Sentinel: the master hangs (SIGSTOP, for good) under load: the pool moves to the new master, no WAIT-acknowledged enqueue is lost, no job completes twice in the surviving history",
    ...integration,
    async fn() {
      const figures = await jobsThroughSentinelFault({
        workersWait: true,
        // A hung host: its connections stay open and nothing answers on them (thawed on dispose).
        fault: ({ oldMaster }) => oldMaster.freeze(),
      });
      console.log(formatFigures("the Sentinel master hung", figures));
      assertAcknowledgedSurvived(figures);
    },
  });

  Deno.test({
    name:
      "Sentinel: a master killed with kill -9 and restarted empty as a master is promoted by the next failover and every write is lost; restarted as a replica of the new master, no WAIT-acknowledged write is lost",
    ...integration,
    async fn() {
      const empty = await writesThroughTwoFailovers({ restartAsReplica: false });
      const replica = await writesThroughTwoFailovers({ restartAsReplica: true });
      console.log(
        `two failovers, 200 writes between them: restarted empty as a master, ${empty.lost} lost; ` +
          `restarted as a replica, ${replica.lost} lost (${replica.acknowledged} acknowledged)`,
      );
      assert.equal(empty.lost, empty.written);
      assert.equal(replica.acknowledged, replica.written);
      assert.equal(replica.lost, 0);
    },
  });

  Deno.test({
    name:
      "Sentinel: 10 clients on ppr-worker's settings reconnecting while the first Sentinel hangs and the master switches: all reach the new master (none waits on the hung Sentinel, none ends with 'Connection is closed')",
    ...integration,
    async fn() {
      await using setup = await startSentinelSetup();
      const oldMaster = await setup.master();
      const newMaster = await setup.replica();
      const clients = Array.from(
        { length: 10 },
        (_, index) => connectRedis(setup.url, { name: `ppr-test-reconnect-${index}` }),
      );
      try {
        for (const client of clients) client.on("error", () => {});
        await Promise.all(clients.map((client) => client.ping()));
        await reconnectWithFirstSentinelHung(setup, oldMaster);
        await waitUntil(() => clients.every((client) => client.status !== "ready"), {
          timeoutMs: 10_000,
          what: "every client reconnecting",
        });
        await setup.sentinelClient(1).call("SENTINEL", "FAILOVER", MASTER_NAME);
        await waitUntil(
          () =>
            clients.some((client) => client.status === "end") ||
            clients.every((client) => client.status === "ready"),
          { timeoutMs: 30_000, what: "every client ready (or one ended)" },
        );
        const ended = clients.filter((client) => client.status === "end").length;
        assert.equal(ended, 0, `${ended} of 10 clients ended for good ("Connection is closed")`);
        const keys = clients.map((_, index) => `reconnected:${index}`);
        await Promise.all(clients.map((client, index) => client.set(keys[index], "1")));
        assert.equal(await setup.clientOf(newMaster).exists(...keys), keys.length);
      } finally {
        setup.sentinels[0].thaw();
        for (const client of clients) client.disconnect();
      }
    },
  });

  Deno.test({
    name:
      "Sentinel: a client's own disconnect while it waits on a hung Sentinel still ends it: it does not reconnect once the Sentinel answers",
    ...integration,
    async fn() {
      await using setup = await startSentinelSetup();
      const oldMaster = await setup.master();
      const client = connectRedis(setup.url, { name: "ppr-test-own-disconnect" });
      client.on("error", () => {});
      try {
        await client.ping();
        await reconnectWithFirstSentinelHung(setup, oldMaster);
        await waitUntil(() => client.status === "connecting", {
          timeoutMs: 10_000,
          what: "the client asking the hung Sentinel",
        });
        client.disconnect();
        setup.sentinels[0].thaw();
        await delay(3000);
        assert.equal(client.status, "end");
        const names = await setup.clientOf(oldMaster).call("CLIENT", "LIST") as string;
        assert.ok(!names.includes("name=ppr-test-own-disconnect"), names);
      } finally {
        setup.sentinels[0].thaw();
        client.disconnect();
      }
    },
  });

  Deno.test({
    name:
      "Sentinel: what REDIS_WAIT_REPLICAS=1 costs: a pool's jobs per second with and without, WAITs per job, one WAIT's round trip (reported)",
    ...integration,
    async fn() {
      await using setup = await startSentinelSetup();
      const jobs = 1000;
      const rows: string[] = [];
      const redis = connectRedis(setup.url);
      redis.on("error", () => {});
      const queue = new Queue("llm", { connection: redis });
      try {
        // The last round: the replica frozen, so each WAIT lasts its whole timeout.
        const rounds = [
          { replicas: "0", jobs, frozen: false },
          { replicas: "1", jobs, frozen: false },
          { replicas: "0", jobs, frozen: false },
          { replicas: "1", jobs, frozen: false },
          { replicas: "1", jobs: 150, frozen: true },
        ];
        let completed = 0;
        for (const round of rounds) {
          await using supervisor = startSupervisor(["--count", "2", "--concurrency", "8"], {
            redisUrl: setup.url,
            env: {
              REDIS_WAIT_REPLICAS: round.replicas,
              REDIS_WAIT_TIMEOUT: "100ms",
              LOG_LEVEL: "error",
            },
          });
          await supervisor.waitForHealth(
            (health) => health.workers_alive === 2,
            "the pool",
            60_000,
          );
          const replica = await setup.replica();
          const master = setup.clientOf(await setup.master());
          const waitsBefore = await waitCalls(master);
          if (round.frozen) replica.freeze();
          try {
            const startedMs = performance.now();
            await queue.addBulk(Array.from({ length: round.jobs }, (_, index) => ({
              name: "llm",
              data: { prompt: `cost ${completed + index}`, provider: { name: "echo" } },
            })));
            completed += round.jobs;
            await waitUntil(async () => (await queue.getCompletedCount()) === completed, {
              what: `${round.jobs} more jobs completed`,
              timeoutMs: 300_000,
              intervalMs: 50,
            });
            const seconds = (performance.now() - startedMs) / 1000;
            const waits = await waitCalls(master) - waitsBefore;
            rows.push(
              `REDIS_WAIT_REPLICAS=${round.replicas}${
                round.frozen ? " (replica frozen, REDIS_WAIT_TIMEOUT=100ms)" : ""
              }: ${round.jobs} jobs in ${seconds.toFixed(2)} s = ${
                Math.round(round.jobs / seconds)
              } jobs/s, ${(waits / round.jobs).toFixed(2)} WAIT per job`,
            );
          } finally {
            replica.thaw();
          }
        }
        // What one WAIT adds to a write that asks for it, on the same connection.
        const latencies: number[] = [];
        for (let index = 0; index < 500; index++) {
          await redis.set("wait-cost", String(index));
          const startedMs = performance.now();
          await redis.wait(1, 1000);
          latencies.push(performance.now() - startedMs);
        }
        latencies.sort((a, b) => a - b);
        rows.push(
          `one WAIT after a write: median ${latencies[250].toFixed(2)} ms, ` +
            `99th percentile ${latencies[495].toFixed(2)} ms (500 writes)`,
        );
      } finally {
        await queue.close();
        redis.disconnect();
      }
      console.log(`WAIT cost (2 workers x 8, echo jobs, Sentinel master):\n  ${rows.join("\n  ")}`);
    },
  });
}

/** A client that writes a numbered key every 20 ms, and the numbers Redis acknowledged. */
interface Writer {
  name: string;
  acked: number[];
}

/**
 * Three writers through the Sentinels: one on ioredis's defaults, one with
 * `failoverDetector: true`, one on ppr-worker's settings (`connectRedis`, blocking as a worker).
 */
function startWriters(url: string) {
  const parsed = parseRedisUrl(url);
  if (!parsed.ok || parsed.target.kind !== "sentinel") {
    throw new Error(`not a Sentinel URL: ${url}`);
  }
  const found = { sentinels: parsed.target.sentinels, name: parsed.target.masterName };
  const clients: [string, RedisClient][] = [
    ["ioredis's defaults", new Redis(found)],
    ["failoverDetector", new Redis({ ...found, failoverDetector: true })],
    ["ppr-worker's settings", connectRedis(url, { blocking: true })],
  ];
  let stopped = false;
  const all: Writer[] = [];
  const loops = clients.map(async ([name, client]) => {
    client.on("error", () => {});
    const writer: Writer = { name, acked: [] };
    all.push(writer);
    for (let index = 0; !stopped; index++) {
      try {
        await client.set(`${name}:${index}`, "1");
        writer.acked.push(index);
      } catch {
        // Not acknowledged: not counted.
      }
      await delay(20);
    }
    client.disconnect();
  });
  return {
    all,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** How many of a writer's acknowledged writes `redis` does not have. */
async function lostWrites(redis: Redis, writer: Writer): Promise<number> {
  const exists = await Promise.all(
    writer.acked.map((index) => redis.exists(`${writer.name}:${index}`)),
  );
  return exists.filter((found) => found === 0).length;
}

/** WAIT commands the server has run so far (`INFO commandstats`). */
async function waitCalls(redis: { info(section: string): Promise<string> }): Promise<number> {
  return Number(/cmdstat_wait:calls=(\d+)/.exec(await redis.info("commandstats"))?.[1] ?? 0);
}

/**
 * kill -9 of the master, Sentinel's failover to the replica, the killed server started again
 * (empty: the test servers keep no data) as a master or as a replica of the new master, 200 writes
 * on the new master (WAIT for one replica after them), then the new master frozen until the
 * Sentinels fail over to the restarted server: how many of the writes that server has.
 */
async function writesThroughTwoFailovers(
  { restartAsReplica }: { restartAsReplica: boolean },
): Promise<{ written: number; acknowledged: number; lost: number }> {
  await using setup = await startSentinelSetup();
  const first = await setup.master();
  const second = await setup.replica();
  await first.stop("SIGKILL");
  await setup.waitForMaster(second);
  await first.start(restartAsReplica ? { replicaOf: second.port } : {});
  if (restartAsReplica) await setup.waitForReplicaInSync();
  const writer = setup.clientOf(second);
  const written = 200;
  for (let index = 0; index < written; index++) await writer.set(`write:${index}`, "1");
  const acknowledgedBy = Number(await writer.call("WAIT", "1", "1000"));
  second.freeze();
  try {
    await setup.waitForMaster(first);
  } finally {
    second.thaw();
  }
  const found = await setup.clientOf(first).exists(
    ...Array.from({ length: written }, (_, index) => `write:${index}`),
  );
  return { written, acknowledged: acknowledgedBy >= 1 ? written : 0, lost: written - found };
}

/** The servers of a Sentinel setup as a fault finds them. */
interface SentinelFaultScene {
  setup: SentinelSetup;
  oldMaster: RedisServer;
  newMaster: RedisServer;
}

/**
 * A fresh Sentinel setup, and jobs through a pool on it while `fault` happens to its master (then
 * until every Sentinel names the replica master); with `workersWait`, the pool runs with
 * `REDIS_WAIT_REPLICAS=1`.
 */
async function jobsThroughSentinelFault(options: {
  fault: (scene: SentinelFaultScene) => Promise<void> | void;
  afterFault?: (scene: SentinelFaultScene) => Promise<void>;
  workersWait?: boolean;
}): Promise<FailoverFigures> {
  await using setup = await startSentinelSetup();
  const scene = { setup, oldMaster: await setup.master(), newMaster: await setup.replica() };
  assert.notEqual(scene.oldMaster, scene.newMaster);
  return await runJobsThroughFailover({
    redisUrl: setup.url,
    prefix: "bull",
    poolEnv: options.workersWait
      ? { REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT: "500ms" }
      : undefined,
    fault: async () => {
      await options.fault(scene);
      await setup.waitForMaster(scene.newMaster);
    },
    afterFault: options.afterFault && (() => options.afterFault!(scene)),
  });
}

/**
 * Hangs the setup's first Sentinel (the one a client asks first: the URL's first, which answered
 * it last) and drops every client of `master`, so they reconnect through it. Thaw it afterwards.
 */
async function reconnectWithFirstSentinelHung(
  setup: SentinelSetup,
  master: RedisServer,
): Promise<void> {
  setup.sentinels[0].freeze();
  await setup.clientOf(master).call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");
}
