/**
 * deploy/prometheus/ with Debian's Prometheus: promtool checks the shipped scrape config and alert
 * rules and runs the rules' unit tests; a real `prometheus` scrapes a running pool with the
 * shipped config and answers PromQL with what the test did.
 */

import { strict as assert } from "node:assert";
import { fileURLToPath } from "node:url";
import { Queue } from "bullmq";
import { reportSkipped, runCommand } from "../testing/command.ts";
import { startRedis } from "../testing/redis.ts";
import { startSupervisor } from "../testing/ppr.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import {
  PROMETHEUS_DIR,
  prometheusInstalled,
  type PrometheusServer,
  promtoolInstalled,
  startPrometheus,
} from "../testing/prometheus.ts";
import { waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const shippedDir = fileURLToPath(PROMETHEUS_DIR);

/** Runs promtool in deploy/prometheus/; fails with promtool's own output when it does. */
async function promtool(...args: string[]): Promise<string> {
  const result = await runCommand("promtool", args, { cwd: shippedDir, timeoutMs: 60_000 });
  const output = `${result.stdout}${result.stderr}`;
  assert.equal(result.code, 0, `promtool ${args.join(" ")} failed:\n${output}`);
  return output;
}

if (!await promtoolInstalled()) {
  reportSkipped("promtool is not installed (apt-get install prometheus)");
} else {
  Deno.test("deploy/prometheus: promtool check config accepts prometheus.yml and check rules accepts alerts.yml", async () => {
    assert.match(
      await promtool("check", "config", "prometheus.yml"),
      /SUCCESS: 1 rule files found/,
    );
    assert.match(await promtool("check", "rules", "alerts.yml"), /SUCCESS: 5 rules found/);
  });

  Deno.test("deploy/prometheus: every alert's unit test in alerts_test.yml passes (promtool test rules)", async () => {
    const tested = await Deno.readTextFile(`${shippedDir}/alerts_test.yml`);
    for (const alert of await shippedAlertNames()) {
      assert.match(tested, new RegExp(`alertname: ${alert}\\n`), `${alert} has no unit test`);
    }
    assert.match(await promtool("test", "rules", "alerts_test.yml"), /SUCCESS/);
  });
}

/** The names of the alerts in deploy/prometheus/alerts.yml. */
async function shippedAlertNames(): Promise<string[]> {
  const text = await Deno.readTextFile(`${shippedDir}/alerts.yml`);
  return [...text.matchAll(/^\s+- alert: (\w+)$/gm)].map((match) => match[1]);
}

/** The ppr_ metrics the shipped alert rules read. */
async function metricsOfAlerts(): Promise<string[]> {
  const text = await Deno.readTextFile(`${shippedDir}/alerts.yml`);
  const exprs = [...text.matchAll(/expr: (\|\n(?:\s{10}.*\n)+|.*\n)/g)].map((match) => match[1]);
  return [...new Set(exprs.flatMap((expr) => expr.match(/\bppr_[a-z_]+/g) ?? []))].sort();
}

/** The one value `expr` answers at `timeSeconds` (else now); `undefined` when it answers nothing. */
async function single(
  prometheus: PrometheusServer,
  expr: string,
  timeSeconds?: number,
): Promise<number | undefined> {
  const samples = await prometheus.query(expr, timeSeconds);
  assert.ok(samples.length <= 1, `${expr}: one series expected, got ${JSON.stringify(samples)}`);
  return samples[0]?.value;
}

/** Polls Prometheus (at most 30 s) until `expr` answers `expected`. */
function untilAnswers(prometheus: PrometheusServer, expr: string, expected: number) {
  return waitUntil(async () => (await single(prometheus, expr)) === expected, {
    what: `Prometheus to answer ${expected} to ${expr}`,
    timeoutMs: 30_000,
    intervalMs: 250,
  });
}

if (!await prometheusInstalled()) {
  reportSkipped("the prometheus server is not installed (apt-get install prometheus)");
} else {
  Deno.test({
    name:
      "a real Prometheus with the shipped scrape config, scraping a running pool: PromQL answers the jobs completed and failed (increase, rate, failure ratio), the waiting jobs, the paused provider and the workers alive and serving the queue; the shipped alerts evaluate and go pending for the pause and the queue left without workers; promtool check metrics accepts /metrics",
    ...integration,
    async fn() {
      await using redis = await startRedis();
      await using stub = startStubLlm();
      const queue = new Queue("llm", { connection: redis.client() });
      queue.on("error", () => {});
      // A killed worker stays dead for the rest of the test: an hour before its restart.
      await using supervisor = startSupervisor(
        ["--count", "2", "--restart-delay", "1h", "--restart-max-delay", "1h"],
        {
          redisUrl: redis.url,
          env: {
            LLM_PROVIDER: "openai",
            OPENAI_API_KEY: "k",
            OPENAI_BASE_URL: `${stub.url}/v1`,
            // Never reached: there so that the budget series the rules read exist.
            LLM_BUDGET_USD: "100",
          },
        },
      );
      // The only changes to the shipped config: this pool's health port, and 1 s instead of 15 s.
      await using prometheus = await startPrometheus({
        target: `127.0.0.1:${supervisor.healthPort}`,
        intervalSeconds: 1,
      });
      try {
        const health = await supervisor.waitForHealth(
          (body) => body.workers_alive === 2,
          "2 workers",
        );
        await untilAnswers(prometheus, 'up{job="ppr-worker"}', 1);
        await untilAnswers(prometheus, "ppr_workers_alive", 2);
        await untilAnswers(prometheus, 'ppr_queue_workers{queue="llm"}', 2);

        // Two batches of good and invalid jobs; each batch's end is a scrape made after it finished.
        const completed = 'ppr_queue_jobs_completed_total{queue="llm"}';
        const failed = 'ppr_queue_jobs_failed_total{queue="llm"}';
        let sent = 0;
        const runBatch = async (good: number, invalid: number) => {
          const before = {
            completed: await queue.getCompletedCount(),
            failed: await queue.getFailedCount(),
          };
          await queue.addBulk([
            ...Array.from({ length: good }, () => ({
              name: "llm",
              data: { prompt: `page ${sent++}` },
            })),
            // Not a string: the worker refuses it at once, one try, failed.
            ...Array.from({ length: invalid }, () => ({ name: "llm", data: { prompt: 42 } })),
          ]);
          const total = {
            completed: before.completed + good,
            failed: before.failed + invalid,
          };
          await waitUntil(
            async () =>
              (await queue.getCompletedCount()) === total.completed &&
              (await queue.getFailedCount()) === total.failed,
            { what: `${good} jobs completed and ${invalid} failed`, timeoutMs: 60_000 },
          );
          await untilAnswers(
            prometheus,
            `${completed} == ${total.completed} and on () ${failed} == ${total.failed}`,
            total.completed,
          );
          // The scrape's own time (timestamp() of a selector): nothing changes the counts until
          // the next batch, so the last scrape has the batch's end.
          const scrapedAt = (await single(prometheus, `timestamp(${completed})`))!;
          assert.equal(await single(prometheus, completed, scrapedAt), total.completed);
          assert.equal(await single(prometheus, failed, scrapedAt), total.failed);
          return scrapedAt;
        };
        const firstBatchEnd = await runBatch(4, 1);
        const goodJobs = 6;
        const invalidJobs = 2;
        const secondBatchEnd = await runBatch(goodJobs, invalidJobs);
        // The window from the first batch's scrape to the second's, both included (a range of
        // Prometheus 2 includes its start): no extrapolation, so increase() is exactly the
        // second batch.
        const windowMs = Math.round((secondBatchEnd - firstBatchEnd) * 1000);
        const window = `[${windowMs}ms]`;
        const at = secondBatchEnd;
        assert.equal(await single(prometheus, `increase(${completed}${window})`, at), goodJobs);
        assert.equal(await single(prometheus, `increase(${failed}${window})`, at), invalidJobs);
        const rate = await single(prometheus, `rate(${completed}${window})`, at);
        assert.ok(
          Math.abs(rate! - goodJobs / (windowMs / 1000)) < 1e-9,
          `rate ${rate}: ${goodJobs} jobs over ${windowMs} ms`,
        );
        const failureRatio = await single(
          prometheus,
          `increase(${failed}${window}) / (increase(${completed}${window}) + increase(${failed}${window}))`,
          at,
        );
        assert.ok(
          Math.abs(failureRatio! - invalidJobs / (goodJobs + invalidJobs)) < 1e-9,
          `failure ratio ${failureRatio}`,
        );

        // The provider's billing error pauses it (the shared pause in Redis), and jobs wait.
        await queue.add("llm", { prompt: "this call cannot be paid BILLING" });
        await untilAnswers(prometheus, 'ppr_llm_paused{provider="openai"}', 1);
        const waitingJobs = 5;
        await queue.addBulk(Array.from({ length: waitingJobs }, () => ({
          name: "llm",
          data: { prompt: `page ${sent++}` },
        })));
        // The jobs sent after the pause, and the one whose call met the billing error.
        const waiting = waitingJobs + 1;
        await untilAnswers(prometheus, 'ppr_queue_jobs{queue="llm",state="waiting"}', waiting);
        assert.equal(await queue.getWaitingCount(), waiting, "Redis agrees with Prometheus");
        assert.equal(await queue.getCompletedCount(), 4 + goodJobs, "no job ran during the pause");
        await waitUntil(
          async () =>
            (await prometheus.alerts()).some((alert) =>
              alert.labels.alertname === "PprProviderPaused" &&
              alert.labels.provider === "openai" && alert.state === "pending"
            ),
          { what: "PprProviderPaused pending for openai", timeoutMs: 30_000 },
        );

        // Workers killed with an hour's restart delay: alive and serving the queue go down.
        const [first, second] = health.workers;
        Deno.kill(first.pid!, "SIGKILL");
        await untilAnswers(prometheus, "ppr_workers_alive", 1);
        await untilAnswers(prometheus, `ppr_worker_up{worker="${first.name}"}`, 0);
        await untilAnswers(prometheus, 'ppr_queue_workers{queue="llm"}', 1);
        Deno.kill(second.pid!, "SIGKILL");
        await untilAnswers(prometheus, "ppr_workers_alive", 0);
        await untilAnswers(prometheus, 'ppr_queue_workers{queue="llm"}', 0);
        await waitUntil(
          async () =>
            (await prometheus.alerts()).some((alert) =>
              alert.labels.alertname === "PprQueueNoWorker" && alert.labels.queue === "llm" &&
              alert.state === "pending"
            ),
          { what: "PprQueueNoWorker pending for llm", timeoutMs: 30_000 },
        );

        // Every metric an alert reads has series, and every shipped rule evaluates without error.
        for (const metric of await metricsOfAlerts()) {
          assert.ok(
            ((await single(prometheus, `count(${metric})`)) ?? 0) > 0,
            `alerts.yml reads ${metric}, which the pool does not export`,
          );
        }
        const rules = await waitUntil(async () => {
          const each = await prometheus.rules();
          return each.every((rule) => rule.health !== "unknown") ? each : undefined;
        }, { what: "every rule evaluated", timeoutMs: 30_000 });
        assert.deepEqual(
          rules.map(({ name }) => name).sort(),
          (await shippedAlertNames()).sort(),
          "Prometheus loaded the shipped alerts",
        );
        for (const rule of rules) {
          assert.equal(rule.health, "ok", `${rule.name}: ${rule.lastError}`);
        }

        // Prometheus's own lint of the exposition, with every family filled by now.
        const response = await fetch(`http://127.0.0.1:${supervisor.healthPort}/metrics`, {
          signal: AbortSignal.timeout(5000),
        });
        const lint = await runCommand("promtool", ["check", "metrics"], {
          input: await response.text(),
          timeoutMs: 30_000,
        });
        assert.equal(lint.code, 0, `promtool check metrics:\n${lint.stdout}${lint.stderr}`);
      } catch (error) {
        throw new Error(`${error}\nprometheus said:\n${prometheus.logs.slice(-20).join("\n")}`, {
          cause: error,
        });
      } finally {
        await queue.close();
      }
    },
  });
}
