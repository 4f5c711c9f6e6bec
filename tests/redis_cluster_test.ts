/**
 * ppr-worker on a real Redis Cluster (three masters with a replica each): every command through
 * a `redis-cluster://` URL, the untagged prefix refused, `WAIT` on the right master, and jobs
 * through kill -9 of the master holding the queues (lost, completed twice and the gap reported).
 */

import { strict as assert } from "node:assert";
import { commandRuns, reportSkipped } from "../testing/command.ts";
import {
  assertAcknowledgedSurvived,
  assertNothingLost,
  formatFigures,
  runJobsThroughFailover,
} from "../testing/failover_load.ts";
import { startDashboardProcess } from "../testing/dashboard.ts";
import { baseEnv, logRecords, runPpr, startSupervisor } from "../testing/ppr.ts";
import { startRedisCluster } from "../testing/redis_cluster.ts";
import { connectRedis } from "../redis/connection.ts";
import { keySlot, workerKey } from "../redis/keys.ts";
import { connectionMarkOf, waitForReplicas } from "../redis/wait_replicas.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const PASSWORD = "cluster-s3cret/@,#pw";
const PREFIX = "{ppr}";

if (!await commandRuns("redis-cli", ["--version"])) {
  reportSkipped("redis-cli is not installed (apt-get install redis-tools), it joins the cluster");
} else {
  Deno.test({
    name:
      "Cluster URL with an ACL user and BULL_PREFIX={ppr}: the pool runs jobs; enqueue, info, jobs list, cleanup and the dashboard work; the password, whole or in pieces, is printed nowhere",
    ...integration,
    async fn() {
      await using cluster = await startRedisCluster({ user: { name: "ppr", password: PASSWORD } });
      await using supervisor = startSupervisor(["--count", "3"], {
        redisUrl: cluster.url,
        env: { BULL_PREFIX: PREFIX },
      });
      await supervisor.waitForHealth((health) => health.workers_alive === 3, "the pool", 60_000);
      const registrationMasters = new Set(
        await Promise.all(
          [1, 2, 3].map((n) => cluster.masterOf(workerKey(`worker-test-${n}`))),
        ),
      );
      assert.ok(registrationMasters.size > 1, "the registrations are on more than one master");
      const env = baseEnv({
        REDIS_URL: cluster.url,
        BULL_PREFIX: PREFIX,
        REDIS_WAIT_REPLICAS: "1",
      });
      const enqueued = await runPpr(["enqueue", "--prompt", "through the cluster", "--wait"], env);
      assert.equal(enqueued.code, 0, enqueued.stderr);
      assert.match(enqueued.stdout, /"state":"completed".*"text":"through the cluster"/);
      const outputs = [enqueued.stdout, enqueued.stderr];
      for (const args of [["info"], ["jobs", "list", "--state", "completed"], ["cleanup"]]) {
        const result = await runPpr(args, env);
        assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
        outputs.push(result.stdout, result.stderr);
      }
      await using dashboard = await startDashboardProcess([], {
        redisUrl: cluster.url,
        env: { BULL_PREFIX: PREFIX },
      });
      for (const path of ["api/ppr", "api/queues?activeQueue=llm&status=completed&page=1"]) {
        const response = await fetch(`${dashboard.url}${path}`);
        const body = await response.text();
        assert.equal(response.status, 200, `${path}: ${body}`);
        assert.match(body, /"completed":1\b/, path);
        outputs.push(body);
      }
      outputs.push(...dashboard.output);
      const info = outputs.join("\n");
      assert.match(info, /redis-cluster:\/\/ppr:\*\*\*@127\.0\.0\.1:\d+,/);
      // The registrations live on several masters: the scan found every one.
      assert.match(info, /3 workers on 1 host/);
      assert.match(info, /kept 3 registrations of live workers/);
      outputs.push(...supervisor.logs, JSON.stringify((await supervisor.health()).body));
      const pieces = [PASSWORD, encodeURIComponent(PASSWORD)];
      for (const piece of [...pieces, PASSWORD.slice(0, 12), PASSWORD.slice(-12)]) {
        assert.ok(!outputs.some((output) => output.includes(piece)), "the password is printed");
      }
    },
  });

  Deno.test({
    name:
      "Cluster: a BULL_PREFIX without a hash tag is refused at start, exit 2, with the reason and the fix",
    ...integration,
    async fn() {
      const result = await runPpr(
        ["--count", "1"],
        baseEnv({ REDIS_URL: "redis-cluster://127.0.0.1:7000", BULL_PREFIX: "bull" }),
      );
      assert.equal(result.code, 2);
      assert.match(
        result.stderr,
        /BULL_PREFIX \(--prefix\) = "bull": must hold a hash tag such as \{ppr\} when REDIS_URL \(--redis-url\) is a Redis Cluster.*CROSSSLOT.*e\.g\. BULL_PREFIX=\{ppr\}/,
      );
    },
  });

  Deno.test({
    name:
      "Cluster: a refused password ends the supervisor's crash loop with status 1 and a reason that names it, as with one server",
    ...integration,
    async fn() {
      await using cluster = await startRedisCluster({ password: "right" });
      await using supervisor = startSupervisor(
        ["--count", "1", "--restart-delay", "100ms", "--restart-intensity", "2"],
        { redisUrl: cluster.url.replace(":right@", ":wrong@"), env: { BULL_PREFIX: PREFIX } },
      );
      assert.equal(await supervisor.waitForExit(60_000), 1);
      const exiting = logRecords(supervisor.logs).find((record) => record.code === 1);
      assert.ok(exiting, supervisor.logs.slice(-10).join("\n"));
      assert.match(String(exiting.reason), /RESTART_INTENSITY/);
      assert.match(String(exiting.reason), /WRONGPASS/);
    },
  });

  Deno.test({
    name:
      "Cluster: WAIT goes to the master of the queue's slot: acknowledged by its replica, not acknowledged while that replica is frozen",
    ...integration,
    async fn() {
      await using cluster = await startRedisCluster();
      const key = `${PREFIX}:llm:meta`;
      const master = await cluster.masterOf(key);
      const replica = await cluster.replicaOf(master);
      const redis = connectRedis(cluster.url);
      redis.on("error", () => {});
      try {
        await redis.set(key, "warm-up: the client knows the slots");
        const since = connectionMarkOf(redis, key);
        await redis.set(`${PREFIX}:written`, "1");
        assert.deepEqual(
          await waitForReplicas(redis, key, since, { replicas: 1, timeoutMs: 5000 }),
          { acknowledged: true, replicas: 1 },
        );
        replica.freeze();
        await redis.set(`${PREFIX}:written`, "2");
        assert.deepEqual(
          await waitForReplicas(redis, key, since, { replicas: 1, timeoutMs: 300 }),
          { acknowledged: false, replicas: 0, reason: "0 of 1 replica(s) within 300 ms" },
        );
        const waits = /cmdstat_wait:calls=(\d+)/.exec(
          await cluster.clientOf(master).info("commandstats"),
        );
        assert.equal(
          waits?.[1],
          "2",
          `the WAITs went to port ${master.port} (slot ${keySlot(key)})`,
        );
      } finally {
        replica.thaw();
        redis.disconnect();
      }
    },
  });

  Deno.test({
    name:
      "Cluster: kill -9 of the master holding {ppr} under load: the pool keeps working, no WAIT-acknowledged enqueue is lost, no job completes twice in the surviving history",
    ...integration,
    async fn() {
      await using cluster = await startRedisCluster();
      const master = await cluster.masterOf(`${PREFIX}:llm:meta`);
      const replica = await cluster.replicaOf(master);
      const figures = await runJobsThroughFailover({
        redisUrl: cluster.url,
        prefix: PREFIX,
        poolEnv: { REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT: "500ms" },
        fault: async () => {
          await master.stop("SIGKILL");
          await cluster.waitForMaster(replica);
        },
        // Back, the old master becomes the new one's replica: WAIT can be answered again.
        afterFault: () => master.start(),
      });
      console.log(formatFigures("kill -9 of the Cluster master of {ppr}", figures));
      assertAcknowledgedSurvived(figures);
    },
  });

  Deno.test({
    name:
      "Cluster: CLUSTER FAILOVER (a planned switchover: the master holds writes until its replica has them) under load: no job lost, none completes twice",
    ...integration,
    async fn() {
      await using cluster = await startRedisCluster();
      const master = await cluster.masterOf(`${PREFIX}:llm:meta`);
      const replica = await cluster.replicaOf(master);
      const figures = await runJobsThroughFailover({
        redisUrl: cluster.url,
        prefix: PREFIX,
        fault: async () => {
          await cluster.clientOf(replica).call("CLUSTER", "FAILOVER");
          await cluster.waitForMaster(replica);
        },
      });
      console.log(formatFigures("CLUSTER FAILOVER of the master of {ppr}", figures));
      assertNothingLost(figures);
    },
  });
}
