/**
 * The dashboard end to end: `ppr-worker dashboard` against a real redis-server and two real
 * supervisors, used in Debian's Chromium through playwright-core; its access rules, its
 * read-only mode, the dashboard beside the pool, and that it never shows a secret.
 */

import { strict as assert } from "node:assert";
import { isDeepStrictEqual } from "node:util";
import { Queue } from "bullmq";
import type { Page } from "playwright-core";
import {
  type Chromium,
  chromiumForTests,
  launchChromium,
  screenshotsFolder,
} from "../testing/browser.ts";
import type { Redis } from "ioredis";
import { markDone, storeOutcome } from "../jobs/batch/store.ts";
import { usageOf } from "../providers/provider.ts";
import { pauseProvider } from "../providers/pause.ts";
import { recordBatch } from "../testing/batch_records.ts";
import { type DashboardProcess, startDashboardProcess } from "../testing/dashboard.ts";
import { baseEnv, runPpr, startSupervisor } from "../testing/ppr.ts";
import { breakJobData, failedJobs } from "../testing/jobs.ts";
import { freePort, startRedis } from "../testing/redis.ts";
import { waitUntil } from "../testing/wait.ts";

/**
 * Where the screenshots go: a temporary folder, or with PPR_SCREENSHOTS=docs docs/dashboard.md's
 * pictures (`PPR_SCREENSHOTS=docs deno test -A tests/dashboard_test.ts` renews them).
 */
const SCREENSHOTS = await screenshotsFolder();

const integration = { sanitizeOps: false, sanitizeResources: false };

/** Every secret the browser test sets; none may appear in anything the dashboard serves or logs. */
const SECRETS = {
  REDIS_PASSWORD: "redis-pw-5f2a9c81e7d3",
  DASHBOARD_PASSWORD: "dashboard-pw-93b1c0d7aa41",
  ANTHROPIC_API_KEY: "sk-ant-test-4f1e2d3c5b6a79801",
  OPENAI_API_KEY: "sk-openai-test-8a7b6c5d4e3f2019",
};
const USER = "ops";

const chromium = await chromiumForTests();
/** Said where `deno test -q` shows it, the test's name, when the browser test cannot run. */
const chromiumMissing = chromium.missing;
if (chromiumMissing) console.log(`dashboard_test:${chromiumMissing}`);

function basic(user: string, password: string): string {
  return `Basic ${btoa(`${user}:${password}`)}`;
}

/** GETs `url` and returns the status and the body, so no response is left unread. */
async function get(url: string, authorization?: string) {
  const response = await fetch(url, {
    headers: authorization ? { authorization } : {},
    signal: AbortSignal.timeout(10_000),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: await response.text(),
  };
}

/** A JSON log line as an object; `undefined` for a line that is not one. */
function parseRecord(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

const STATUSES = ["active", "waiting", "prioritized", "delayed", "completed", "failed"] as const;

/** The counts the tabs of a queue's bull-board page show (a tab without a number: 0). */
async function tabCounts(page: Page, queue: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const status of STATUSES) {
    const text = await page.locator(`a[href="/queue/${queue}?status=${status}"]`).innerText();
    counts[status] = Number(/(\d+)\s*$/.exec(text.trim())?.[1] ?? 0);
  }
  return counts;
}

/** Polls `read` until it returns `expected` (at most 20 s), else fails showing what it last read. */
async function waitForEqual<T>(read: () => Promise<T>, expected: T, what: string): Promise<void> {
  let seen: T | undefined;
  try {
    await waitUntil(async () => isDeepStrictEqual(seen = await read(), expected), {
      timeoutMs: 20_000,
      intervalMs: 250,
      what,
    });
  } catch (error) {
    assert.deepEqual(seen, expected, String(error));
  }
}

/** Opens a queue's page and waits until its tabs show `expected`. */
async function expectTabCounts(
  page: Page,
  base: string,
  queue: string,
  expected: Record<string, number>,
) {
  await page.goto(`${base}queue/${queue}`);
  await waitForEqual(() => tabCounts(page, queue), expected, `the counts of ${queue}`);
}

/** The rows of ppr-worker's workers view: name and host of each. */
async function workerRows(page: Page): Promise<string[][]> {
  return await page.locator("tr[data-worker]").evaluateAll((rows) =>
    rows.map((row) =>
      ["name", "host"].map((field) =>
        row.querySelector(`[data-field="${field}"]`)?.textContent?.trim() ?? ""
      )
    )
  );
}

/** The environment of both supervisors and the dashboard: two queues and two API keys. */
const ENV = {
  QUEUE_NAME: "llm",
  LLM_RESULT_QUEUES: "results",
  ANTHROPIC_API_KEY: SECRETS.ANTHROPIC_API_KEY,
  OPENAI_API_KEY: SECRETS.OPENAI_API_KEY,
};

/** What a browser test works with; disposing it stops every process it started. */
interface Scene extends AsyncDisposable {
  /** A client of the scene's Redis. */
  redis: Redis;
  llm: Queue;
  dashboard: DashboardProcess;
  /** The dashboard's address, ending in `/`. */
  base: string;
  browser: Chromium;
  /** A page of `browser`, without credentials until a test sets them. */
  page: Page;
  /** The body of every response the browser received. */
  bodies: Promise<string>[];
}

/**
 * Starts a password-protected redis-server, the dashboard with basic auth (`DASHBOARD_USER`
 * {@link USER}), and Chromium on it; with OpenAI paused for an hour. With 1 supervisor (web1 with
 * 1 worker) or 2 (web1 with 2 workers, web2 with 1), before the dashboard starts they have
 * completed 3 jobs (3 results waiting in `results`), failed `bad-1` (a prompt that is not text)
 * and left 1 delayed. Whatever fails on the way, what was started is stopped.
 */
async function startScene(options: { supervisors: 0 | 1 | 2 }): Promise<Scene> {
  await using stack = new AsyncDisposableStack();
  const redis = stack.use(await startRedis({ password: SECRETS.REDIS_PASSWORD }));
  const llm = new Queue("llm", { connection: redis.client() });
  const results = new Queue("results", { connection: redis.client() });
  llm.on("error", () => {});
  results.on("error", () => {});
  stack.defer(async () => {
    await llm.close();
    await results.close();
  });
  if (options.supervisors > 0) {
    const web1 = stack.use(
      startSupervisor(["--count", String(options.supervisors), "--hostname", "web1"], {
        redisUrl: redis.url,
        env: ENV,
      }),
    );
    const web2 = options.supervisors === 2
      ? stack.use(startSupervisor(["--count", "1", "--hostname", "web2"], {
        redisUrl: redis.url,
        env: ENV,
      }))
      : undefined;
    await web1.waitForHealth(
      (health) => health.workers_alive === options.supervisors,
      "web1's workers alive",
    );
    await web2?.waitForHealth((health) => health.workers_alive === 1, "web2's worker alive");
    for (const n of [1, 2, 3]) await llm.add("llm", { prompt: `hello ${n}` });
    // Fails at once (a prompt must be text); a test may fix it by hand in Redis and retry it.
    await llm.add("llm", { prompt: 42 }, { jobId: "bad-1", attempts: 1 });
    await llm.add("llm", { prompt: "later" }, { delay: 3_600_000 });
    await waitUntil(async () => {
      const [counts, waitingResults] = await Promise.all([
        llm.getJobCounts("completed", "failed", "delayed"),
        results.getWaitingCount(),
      ]);
      return counts.completed === 3 && counts.failed === 1 && counts.delayed === 1 &&
        waitingResults === 3;
    }, { what: "3 completed, 1 failed and 1 delayed job in llm, 3 results waiting" });
  }

  // A provider the workers do not use, paused as a worker pauses it after a 429.
  await pauseProvider(
    redis.client(),
    "openai",
    "quota_exceeded",
    "usage limit reached (set by the test)",
    { resetInMs: 3_600_000 },
  );

  const dashboard = stack.use(
    await startDashboardProcess([], {
      redisUrl: redis.url,
      env: {
        ...ENV,
        DASHBOARD_USER: USER,
        DASHBOARD_PASSWORD: SECRETS.DASHBOARD_PASSWORD,
        DASHBOARD_HOST: "127.0.0.1",
      },
    }),
  );
  const browser = stack.use(await launchChromium(chromium.require()));
  const bodies: Promise<string>[] = [];
  browser.context.on("response", (response) => {
    bodies.push(response.text().catch(() => ""));
  });
  const page = await browser.context.newPage();
  page.setDefaultTimeout(20_000);
  const owned = stack.move();
  return {
    redis: redis.client(),
    llm,
    dashboard,
    base: dashboard.url,
    browser,
    page,
    bodies,
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

/** Gives the browser the dashboard's credentials. */
async function logIn(scene: Scene): Promise<void> {
  await scene.browser.context.setHTTPCredentials({
    username: USER,
    password: SECRETS.DASHBOARD_PASSWORD,
  });
}

/** A test in Chromium: skipped without it (a failure when CI is set), its name says why. */
function browserTest(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: `dashboard in Chromium: ${name}${chromiumMissing}`,
    ignore: chromium.ignore,
    ...integration,
    async fn() {
      chromium.require();
      await fn();
    },
  });
}

/** Opens the failed job `bad-1` from the failed list of llm and waits for its page to load. */
async function openFailedJob({ page, base }: Scene): Promise<void> {
  await page.goto(`${base}queue/llm?status=failed`);
  await page.locator(`a[href^="/queue/llm/bad-1"]`).first().click();
  await page.waitForURL(/\/queue\/llm\/bad-1/);
  // Its page has loaded once its error shows.
  await page.getByText("invalid job data").first().waitFor();
}

/** Opens every kind of page: bull-board's home, each queue, a job, the workers view. */
async function visitEveryPage(scene: Scene): Promise<void> {
  const { page, base } = scene;
  await page.goto(base);
  for (const queue of ["llm", "results"]) {
    await page.locator(`a[href="/queue/${queue}"]`).first().waitFor();
  }
  await expectTabCounts(page, base, "results", { ...NO_JOBS, waiting: 3 });
  await openFailedJob(scene);
  await page.goto(`${base}ppr`);
  await page.locator("tr[data-worker]").first().waitFor();
}

const NO_JOBS = { active: 0, waiting: 0, prioritized: 0, delayed: 0, completed: 0, failed: 0 };

browserTest(
  "without credentials, or with wrong ones, every page, file and API answers 401 with a " +
    "basic-auth challenge",
  async () => {
    await using scene = await startScene({ supervisors: 0 });
    const { page, base } = scene;
    for (const path of ["", "ppr", "queue/llm"]) {
      const target = `${base}${path}`;
      const response = page.waitForResponse(target);
      // With no credentials to answer the challenge, Chromium gives up on the page.
      await assert.rejects(page.goto(target), /ERR_INVALID_AUTH_CREDENTIALS/);
      assert.equal((await response).status(), 401, `Chromium at /${path}`);
    }
    const wrong = [
      undefined,
      basic(USER, "not-the-password"),
      basic("intruder", SECRETS.DASHBOARD_PASSWORD),
    ];
    for (const path of ["api/ppr", "api/queues", "static/images/logo.svg", "ppr"]) {
      for (const authorization of wrong) {
        const response = await get(`${base}${path}`, authorization);
        assert.equal(response.status, 401, `/${path} with ${authorization ?? "nothing"}`);
        assert.match(
          response.headers.get("www-authenticate") ?? "",
          /^Basic realm="ppr-worker dashboard"/,
        );
      }
    }
  },
);

browserTest("bull-board lists both queues, each with its counts", async () => {
  await using scene = await startScene({ supervisors: 1 });
  await logIn(scene);
  const { page, base } = scene;
  await page.goto(base);
  for (const queue of ["llm", "results"]) {
    await page.locator(`a[href="/queue/${queue}"]`).first().waitFor();
  }
  await expectTabCounts(page, base, "llm", { ...NO_JOBS, delayed: 1, completed: 3, failed: 1 });
  await expectTabCounts(page, base, "results", { ...NO_JOBS, waiting: 3 });
});

browserTest("a failed job opens from the failed list and shows its error", async () => {
  await using scene = await startScene({ supervisors: 1 });
  await logIn(scene);
  await openFailedJob(scene);
  await scene.page.getByText(
    "invalid job data: prompt: must be a string or a list of {role, content} messages",
  ).first().waitFor();
});

browserTest(
  "a failed job, its data fixed in Redis, is retried from its page and completes",
  async () => {
    await using scene = await startScene({ supervisors: 1 });
    await logIn(scene);
    const { page, base, llm } = scene;
    await openFailedJob(scene);
    await (await llm.getJob("bad-1"))!.updateData({ prompt: "fixed by hand" });
    await page.locator("button:has(svg.lucide-refresh-cw)").click();
    await page.getByRole("alertdialog").getByRole("button", { name: "Confirm" }).click();
    await waitUntil(async () => (await (await llm.getJob("bad-1"))?.getState()) === "completed", {
      what: "bad-1 completed after its retry",
    });
    await page.goto(`${base}queue/llm?status=completed`);
    await page.locator(`a[href^="/queue/llm/bad-1"]`).first().waitFor();
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard.png` });
  },
);

browserTest(
  "bull-board's menu leads to the workers view, which lists every worker of both supervisors " +
    "with its host",
  async () => {
    await using scene = await startScene({ supervisors: 2 });
    await logIn(scene);
    const { page, base } = scene;
    await page.goto(base);
    await page.locator("button:has(svg.lucide-circle-user)").click();
    await page.getByText("Workers & providers").click();
    await page.waitForURL(`${base}ppr`);
    await waitForEqual(() => workerRows(page), [
      ["worker-web1-1", "web1"],
      ["worker-web1-2", "web1"],
      ["worker-web2-1", "web2"],
    ], "the workers of both supervisors");
    // Batches for the screenshot: one open at the provider, one read to the end.
    const { redis } = scene;
    await recordBatch(redis, "5f0c2a9e41d87b36", ["llm:101", "llm:102", "llm:103"], {
      createdMs: Date.now() - 40 * 60_000,
      providerId: "msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d",
    });
    await recordBatch(redis, "a81e0c4d7b2f9361", ["llm:91", "llm:92"], {
      createdMs: Date.now() - 3 * 3_600_000,
      providerId: "msgbatch_01GxB4mUuVgQzYvW2sT6nPq1",
    });
    for (const ref of ["llm:91", "llm:92"]) {
      await storeOutcome(redis, "a81e0c4d7b2f9361", ref, {
        outcome: "succeeded",
        batchId: "a81e0c4d7b2f9361",
        result: {
          text: "{}",
          model: "claude-haiku-4-5",
          provider: "claude",
          usage: usageOf({ input_tokens: 2400, output_tokens: 300 }),
        },
        costUsd: 0.0019,
      });
    }
    await markDone(redis, "a81e0c4d7b2f9361", { providerStatus: "ended" });
    await page.reload();
    await page.getByText("5f0c2a9e41d87b36").waitFor();
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-workers.png`, fullPage: true });
  },
);

browserTest(
  "the workers view shows each queue's processor, and a paused provider's state, reason and " +
    "time left beside a provider that is ok",
  async () => {
    await using scene = await startScene({ supervisors: 0 });
    await logIn(scene);
    const { page, base } = scene;
    await page.goto(`${base}ppr`);
    const processors = await page.locator("tr[data-queue] [data-field=processor]")
      .allInnerTexts();
    assert.deepEqual(processors, ["llm", "none"]);
    const openai = page.locator('tr[data-provider="openai"]');
    assert.equal(await openai.locator("[data-field=state]").innerText(), "quota_exceeded");
    assert.equal(
      await openai.locator("[data-field=reason]").innerText(),
      "usage limit reached (set by the test)",
    );
    assert.match(await openai.locator("[data-field=left]").innerText(), /^(59m|1h)/);
    assert.equal(
      await page.locator('tr[data-provider="echo"] [data-field=state]').innerText(),
      "ok",
    );
  },
);

browserTest(
  "no request of the browser, on any kind of page, leaves this machine; bull-board's own CSS " +
    "is served by the dashboard",
  async () => {
    await using scene = await startScene({ supervisors: 1 });
    await logIn(scene);
    await visitEveryPage(scene);
    const origin = new URL(scene.base).origin;
    const elsewhere = scene.browser.requests.filter((url) => !url.startsWith(`${origin}/`));
    assert.deepEqual(elsewhere, []);
    assert.ok(scene.browser.requests.some((url) => url.includes("/static/css/")));
  },
);

browserTest(
  "nothing the dashboard served (pages, files, APIs) or logged holds a password or an API key",
  async () => {
    await using scene = await startScene({ supervisors: 2 });
    await logIn(scene);
    await visitEveryPage(scene);
    const authorization = basic(USER, SECRETS.DASHBOARD_PASSWORD);
    const served = await Promise.all(
      [
        "",
        "ppr",
        "api/ppr",
        "api/queues?activeQueue=llm&status=latest&page=1&jobsPerPage=50",
        "api/queues?activeQueue=results&status=latest&page=1&jobsPerPage=50",
        "api/queues/llm/bad-1",
        "api/redis/stats",
      ].map(async (path) => {
        const response = await get(`${scene.base}${path}`, authorization);
        assert.equal(response.status, 200, `/${path}`);
        return response.body;
      }),
    );
    const everything = [
      ...served,
      ...await Promise.all(scene.bodies),
      ...scene.dashboard.output,
    ];
    for (const [name, secret] of Object.entries(SECRETS)) {
      const found = everything.filter((text) => text.includes(secret));
      assert.equal(found.length, 0, `${name} in: ${found[0]?.slice(0, 300)}`);
    }
  },
);

Deno.test({
  name: "dashboard --read-only: retry, promote, pause and clean answer 405, pause-all skips " +
    "the queue, and the jobs stay as they were",
  ...integration,
  async fn() {
    await using redis = await startRedis();
    const queue = new Queue("llm", { connection: redis.client() });
    queue.on("error", () => {});
    try {
      await queue.add("llm", { prompt: "later" }, { delay: 3_600_000, jobId: "later-1" });
      await using dashboard = await startDashboardProcess(["--read-only"], {
        redisUrl: redis.url,
      });
      const sameOrigin = { origin: new URL(dashboard.url).origin };
      for (
        const path of [
          "api/queues/llm/later-1/promote",
          "api/queues/llm/promote",
          "api/queues/llm/retry/failed",
          "api/queues/llm/pause",
          "api/queues/llm/clean/delayed",
        ]
      ) {
        // From the dashboard's own page, as a browser sends it (other origins get 403).
        const response = await fetch(`${dashboard.url}${path}`, {
          method: "PUT",
          headers: sameOrigin,
        });
        await response.body?.cancel();
        assert.equal(response.status, 405, path);
      }
      const pauseAll = await fetch(`${dashboard.url}api/queues/pause`, {
        method: "PUT",
        headers: sameOrigin,
      });
      await pauseAll.body?.cancel();
      assert.equal(await (await queue.getJob("later-1"))!.getState(), "delayed");
      assert.equal(await queue.isPaused(), false);
      const board = JSON.parse((await get(`${dashboard.url}api/queues`)).body);
      assert.equal(board.queues[0].readOnlyMode, true);
      assert.equal(JSON.parse((await get(`${dashboard.url}api/ppr`)).body).read_only, true);
    } finally {
      await queue.close();
    }
  },
});

Deno.test({
  name: "without DASHBOARD_USER and DASHBOARD_PASSWORD, a non-loopback --host is refused with " +
    "exit 2 and a message naming --host and the rule",
  ...integration,
  async fn() {
    await using redis = await startRedis();
    const refused = await runPpr(
      ["dashboard", "--host", "0.0.0.0"],
      baseEnv({ REDIS_URL: redis.url }),
    );
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      /--host = "0\.0\.0\.0": without DASHBOARD_USER and DASHBOARD_PASSWORD the dashboard listens on a loopback address only/,
    );
  },
});

Deno.test({
  name: "without DASHBOARD_USER and DASHBOARD_PASSWORD the dashboard listens on 127.0.0.1 only, " +
    "answers without credentials, logs a warning that says no basic auth, and exits 0 on SIGTERM",
  ...integration,
  async fn() {
    await using redis = await startRedis();
    await using dashboard = await startDashboardProcess([], { redisUrl: redis.url });
    assert.match(dashboard.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    // The warning is the line after the one that gave the URL: it may not have been read yet.
    const warning = await waitUntil(
      () =>
        dashboard.output.map(parseRecord)
          .find((record) => record?.level === "WARN" && record.host === "127.0.0.1"),
      { what: "the warning that says no basic auth", timeoutMs: 10_000 },
    );
    assert.match(String(warning.message), /no basic auth/);
    assert.equal((await get(`${dashboard.url}api/ppr`)).status, 200);
    // Another address of this machine does not reach it.
    const port = Number(new URL(dashboard.url).port);
    const other = Deno.networkInterfaces().find((address) =>
      address.family === "IPv4" && !address.address.startsWith("127.")
    );
    if (other) {
      await assert.rejects(
        Deno.connect({ hostname: other.address, port }).then((connection) => connection.close()),
        `reached on ${other.address}:${port}`,
      );
    }
    assert.equal(await dashboard.stop(), 0);
  },
});

Deno.test({
  name: "the workers view lists the fleet's batches from the batch lane's records: /api/ppr and " +
    "the page's batches table",
  ...integration,
  async fn() {
    await using redis = await startRedis();
    const client = redis.client();
    await recordBatch(client, "0123456789abcdef", ["llm:1"], {
      createdMs: Date.now(),
      providerId: "msgbatch_01",
    });
    await using dashboard = await startDashboardProcess([], { redisUrl: redis.url });
    const api = JSON.parse((await get(`${dashboard.url}api/ppr`)).body);
    assert.deepEqual(
      api.batches.open.map((batch: { id: string; provider_batch_id: string; jobs: number }) => [
        batch.id,
        batch.provider_batch_id,
        batch.jobs,
      ]),
      [["0123456789abcdef", "msgbatch_01", 1]],
    );
    assert.deepEqual(api.batches.recent, []);
    const page = await get(`${dashboard.url}ppr`);
    assert.match(page.body, /<tr data-batch="0123456789abcdef">/);
    assert.equal(await dashboard.stop(), 0);
  },
});

Deno.test({
  name: "the pool with --dashboard serves it beside its workers, with each worker's restarts; " +
    "workers never get the dashboard's password; the dashboard stops with the pool",
  ...integration,
  async fn() {
    await using redis = await startRedis();
    const port = freePort();
    const password = "beside-the-pool-pw-7c1d";
    await using supervisor = startSupervisor(
      ["--count", "2", "--dashboard", "--restart-delay", "100ms"],
      {
        redisUrl: redis.url,
        env: {
          DASHBOARD_PORT: String(port),
          DASHBOARD_HOST: "127.0.0.1",
          DASHBOARD_USER: USER,
          DASHBOARD_PASSWORD: password,
        },
      },
    );
    const health = await supervisor.waitForHealth(
      (body) => body.workers_alive === 2,
      "2 workers alive",
    );
    for (const worker of health.workers) {
      const environment = await Deno.readTextFile(`/proc/${worker.pid}/environ`);
      assert.ok(!environment.includes(password), `${worker.name} got DASHBOARD_PASSWORD`);
      assert.ok(!environment.includes("DASHBOARD_USER="), `${worker.name} got DASHBOARD_USER`);
    }

    const url = `http://127.0.0.1:${port}/api/ppr`;
    const restarts = async () => {
      const view = JSON.parse((await get(url, basic(USER, password))).body) as {
        workers: { name: string; hostname: string; restarts: number | null }[];
      };
      return view.workers.map((worker) => [worker.name, worker.hostname, worker.restarts]);
    };
    await waitForEqual(restarts, [
      ["worker-test-1", "test", 0],
      ["worker-test-2", "test", 0],
    ], "both workers with 0 restarts in /api/ppr");
    Deno.kill(health.workers.find((worker) => worker.name === "worker-test-1")!.pid!, "SIGKILL");
    await waitForEqual(restarts, [
      ["worker-test-1", "test", 1],
      ["worker-test-2", "test", 0],
    ], "worker-test-1 with 1 restart in /api/ppr");

    supervisor.signal("SIGTERM");
    assert.equal(await supervisor.waitForExit(), 0);
    await assert.rejects(fetch(url), "the dashboard still answers after the pool stopped");
  },
});

Deno.test({
  name: "the pool with --dashboard --no-health shows each worker's restarts from the pool itself",
  ...integration,
  async fn() {
    await using redis = await startRedis();
    const port = freePort();
    await using supervisor = startSupervisor(
      ["--count", "1", "--dashboard", "--no-health", "--restart-delay", "100ms"],
      { redisUrl: redis.url, env: { DASHBOARD_PORT: String(port), DASHBOARD_HOST: "127.0.0.1" } },
    );
    const url = `http://127.0.0.1:${port}/api/ppr`;
    const workers = async () => {
      const response = await get(url).catch(() => undefined);
      if (response?.status !== 200) return [];
      const view = JSON.parse(response.body) as {
        workers: { name: string; pid: number | null; restarts: number | null }[];
      };
      return view.workers;
    };
    // BullMQ lists a worker's connection before its registration (and pid) is written.
    const restarts = async () =>
      (await workers()).map((worker) => [worker.name, worker.pid !== null, worker.restarts]);
    await waitForEqual(
      restarts,
      [["worker-test-1", true, 0]],
      "worker-test-1 registered, with 0 restarts",
    );
    const [first] = await workers();
    Deno.kill(first.pid!, "SIGKILL");
    await waitForEqual(restarts, [["worker-test-1", true, 1]], "worker-test-1 with 1 restart");
    await assert.rejects(
      fetch(`http://127.0.0.1:${supervisor.healthPort}/health`),
      "no health server with --no-health",
    );
    supervisor.signal("SIGTERM");
    assert.equal(await supervisor.waitForExit(), 0);
  },
});

Deno.test({
  name: "a failed job whose data is not JSON: bull-board's failed list and the job's page answer " +
    "200, the job with stand-in data that says why, the other jobs as they are",
  ...integration,
  async fn() {
    await using redis = await startRedis();
    const client = redis.client();
    const [good, bad] = await failedJobs(client, "llm", [{ prompt: "fine" }, { prompt: "bad" }]);
    await breakJobData(client, "llm", bad);
    await using dashboard = await startDashboardProcess([], { redisUrl: redis.url });

    const list = await get(
      `${dashboard.url}api/queues?activeQueue=llm&status=failed&page=1&jobsPerPage=50`,
    );
    assert.equal(list.status, 200, list.body);
    const llm = (JSON.parse(list.body) as {
      queues: { name: string; jobs: { id: string; data: unknown }[] }[];
    }).queues.find((queue) => queue.name === "llm")!;
    const data = new Map(llm.jobs.map((job) => [job.id, job.data]));
    assert.deepEqual(data.get(good), { prompt: "fine" });
    assert.match(JSON.stringify(data.get(bad)), /job data is not valid JSON .*\{not json/);

    const one = await get(`${dashboard.url}api/queues/llm/${bad}`);
    assert.equal(one.status, 200, one.body);
    assert.match(one.body, /job data is not valid JSON/);
  },
});
