/**
 * The charts of the dashboard's workers view end to end: real jobs (some failing) through a real
 * pool on a real redis-server, LLM calls to the stub APIs (one provider priced, one not),
 * provider pauses set and ended as the workers and the probe do it, and the page read in
 * Debian's Chromium through playwright-core.
 */

import { strict as assert } from "node:assert";
import type { Job } from "bullmq";
import type { Page } from "playwright-core";
import { chromiumForTests, launchChromium, screenshotsFolder } from "../testing/browser.ts";
import { clearPause, pauseProvider } from "../providers/pause.ts";
import { startDashboardProcess } from "../testing/dashboard.ts";
import { producerQueue } from "../testing/jobs.ts";
import { startSupervisor } from "../testing/ppr.ts";
import { startRedis } from "../testing/redis.ts";
import { startStubAnthropic } from "../testing/stub_anthropic.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { waitUntil } from "../testing/wait.ts";
import { spendChart } from "../dashboard/charts.ts";

/** Where the screenshot goes: a temporary folder, or with PPR_SCREENSHOTS=docs docs/dashboard.md's. */
const SCREENSHOTS = await screenshotsFolder();
const chromium = await chromiumForTests();

/** A job's tokens, all four kinds. */
function tokensOf(job: Job): number {
  const usage = job.returnvalue.usage;
  return usage.input_tokens + usage.output_tokens + usage.cache_creation_input_tokens +
    usage.cache_read_input_tokens;
}

/** The `data-*` attribute `name` of every element `selector` finds, as numbers. */
async function numbers(page: Page, selector: string, name: string): Promise<number[]> {
  return (await page.locator(selector).evaluateAll(
    (elements, attribute) => elements.map((element) => element.getAttribute(attribute)),
    name,
  )).map(Number);
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

Deno.test({
  name: `dashboard charts in Chromium: the jobs per minute add up to the jobs the pool completed ` +
    `and failed, each provider's pauses are drawn with their reason, and the tokens and dollars ` +
    `per provider today are the jobs' own, an unpriced provider's shown as unpriced; at 600 px ` +
    `wide every chart fits its section${chromium.missing}`,
  ignore: chromium.ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chromiumPath = chromium.require();
    await using stack = new AsyncDisposableStack();
    const redis = stack.use(await startRedis());
    const anthropic = stack.use(startStubAnthropic());
    const openai = stack.use(startStubLlm());
    const env = {
      QUEUE_NAME: "llm",
      LLM_PROVIDER: "claude",
      ANTHROPIC_API_KEY: "sk-ant-test",
      ANTHROPIC_BASE_URL: anthropic.url,
      OPENAI_API_KEY: "sk-openai-test",
      OPENAI_BASE_URL: `${openai.url}/v1`,
    };
    const queue = producerQueue(redis);
    stack.defer(() => queue.close());
    const supervisor = stack.use(startSupervisor(["--count", "2"], { redisUrl: redis.url, env }));
    await supervisor.waitForHealth((health) => health.workers_alive === 2, "2 workers alive");

    // 4 jobs on Claude (priced), 2 on an OpenAI model without a price, 3 that fail at once.
    const added = [
      ...await Promise.all([1, 2, 3, 4].map((n) => queue.add("llm", { prompt: `page ${n}` }))),
      ...await Promise.all([1, 2].map((n) =>
        queue.add("llm", {
          prompt: `other page ${n}`,
          provider: { name: "openai", model: "mystery-model-1" },
        })
      )),
      ...await Promise.all([1, 2, 3].map(() => queue.add("llm", { prompt: 42 }, { attempts: 1 }))),
    ];
    await waitUntil(async () => {
      const counts = await queue.getJobCounts("completed", "failed");
      return counts.completed === 6 && counts.failed === 3;
    }, { what: "6 jobs completed and 3 failed", timeoutMs: 60_000 });
    const done = await Promise.all(added.slice(0, 6).map((job) => queue.getJob(job.id!)));
    const claudeJobs = done.slice(0, 4) as Job[];
    const openaiJobs = done.slice(4) as Job[];
    const claudeUsd = sum(claudeJobs.map((job) => job.returnvalue.cost_usd));
    assert.ok(claudeUsd > 0, "the Claude jobs cost something");

    // OpenAI paused for its quota and resumed (the probe's clearPause); Claude out of budget now.
    const client = redis.client();
    await pauseProvider(client, "openai", "quota_exceeded", "usage limit reached", {
      resetInMs: 3_600_000,
    });
    await clearPause(client, "openai");
    await pauseProvider(client, "claude", "budget", "budget spent", {
      untilMs: Date.now() + 2 * 3_600_000,
    });

    const dashboard = stack.use(await startDashboardProcess([], { redisUrl: redis.url, env }));
    const browser = stack.use(
      await launchChromium(chromiumPath, {
        viewport: { width: 1280, height: 900 },
      }),
    );
    const page = await browser.context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${dashboard.url}ppr`);

    const llmChart = page.locator('#job-rates svg[data-queue="llm"]');
    assert.equal(await llmChart.getAttribute("data-completed"), "6");
    assert.equal(await llmChart.getAttribute("data-failed"), "3");
    const minutes = '#job-rates svg[data-queue="llm"] g[data-minute]';
    assert.equal(sum(await numbers(page, minutes, "data-completed")), 6);
    assert.equal(sum(await numbers(page, minutes, "data-failed")), 3);
    assert.equal(
      await llmChart.getAttribute("aria-label"),
      "llm: 6 completed and 3 failed in the last 3 h, per minute",
    );

    const pauses = await page.locator("#pause-history rect[data-provider]").evaluateAll(
      (rects) =>
        rects.map((rect) => [
          rect.getAttribute("data-provider"),
          rect.getAttribute("data-state"),
          rect.getAttribute("data-ongoing"),
        ]),
    );
    assert.deepEqual(pauses.sort(), [
      ["claude", "budget", "true"],
      ["openai", "quota_exceeded", "false"],
    ]);

    const claude = page.locator('#spend-chart g[data-provider="claude"]');
    assert.equal(
      Number(await claude.getAttribute("data-tokens")),
      sum(claudeJobs.map(tokensOf)),
    );
    assert.ok(Math.abs(Number(await claude.getAttribute("data-usd")) - claudeUsd) < 1e-9);
    assert.equal(
      await claude.locator('[data-field="cost"]').textContent(),
      `$${claudeUsd.toFixed(4)}`,
    );
    const unpriced = page.locator('#spend-chart g[data-provider="openai"]');
    assert.equal(
      Number(await unpriced.getAttribute("data-tokens")),
      sum(openaiJobs.map(tokensOf)),
    );
    assert.equal(await unpriced.locator('[data-field="cost"]').textContent(), "unpriced (2 calls)");

    // The three charts together, as docs/dashboard.md shows them.
    const top = (await page.locator("#job-rates").boundingBox())!;
    const bottom = (await page.locator("#spend-chart").boundingBox())!;
    await page.screenshot({
      path: `${SCREENSHOTS}/dashboard-charts.png`,
      fullPage: true,
      clip: { x: 0, y: top.y - 8, width: 1280, height: bottom.y + bottom.height - top.y + 16 },
    });

    // 600 px wide (a phone, half a laptop's screen): each chart shrinks to its section, whole,
    // its "now" end in view, and no section scrolls sideways.
    await page.setViewportSize({ width: 600, height: 900 });
    const clipped = await page.locator(".chart svg").evaluateAll((svgs) =>
      svgs.flatMap((svg) => {
        const section = svg.closest("section")!;
        const chart = svg.getBoundingClientRect();
        const room = section.getBoundingClientRect();
        return chart.right > room.right + 0.5 || section.scrollWidth > section.clientWidth
          ? [`${svg.getAttribute("aria-label")}: ${Math.round(chart.right)} > ${room.right}`]
          : [];
      })
    );
    assert.deepEqual(clipped, [], "every chart within its section at 600 px");
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-charts-narrow.png`, fullPage: true });
  },
});

Deno.test({
  name: `spend chart in Chromium: its longest figures (thousands of dollars beside hundreds of ` +
    `unpriced calls, billions of tokens) are drawn inside the chart, none cut at its right ` +
    `edge, none running into the next column${chromium.missing}`,
  ignore: chromium.ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using browser = await launchChromium(chromium.require(), {
      viewport: { width: 1280, height: 400 },
    });
    const page = await browser.context.newPage();
    const provider = (name: string, usd: number, unknownCostCalls: number) => ({
      provider: name,
      usd,
      calls: 120_000,
      unknownCostCalls,
      failedCalls: 0,
      input_tokens: 2_123_456_789,
      output_tokens: 345_678_901,
      cache_creation_input_tokens: 12_345_678,
      cache_read_input_tokens: 987_654_321,
    });
    await page.setContent(
      `<html><body style="margin:0;font-family:sans-serif">${
        spendChart([provider("openai", 12_345.6789, 999), provider("claude", 1, 0)])
      }</body></html>`,
    );
    const overflows = await page.locator("svg[data-chart=spend]").evaluate((svg) => {
      const width = (svg as unknown as { viewBox: { baseVal: { width: number } } }).viewBox.baseVal
        .width;
      return [...svg.querySelectorAll("text")].flatMap((text) => {
        const box = (text as unknown as { getBBox(): { x: number; width: number } }).getBBox();
        return box.x + box.width > width || box.x < 0
          ? [`${text.textContent} (${Math.round(box.x)} to ${Math.round(box.x + box.width)})`]
          : [];
      });
    });
    assert.deepEqual(overflows, [], "every figure inside the chart's width");
    // Each row's token figure ends before its dollars begin (the bar, or the figure without one).
    const crowded = await page.locator("svg[data-chart=spend] g[data-provider]").evaluateAll(
      (rows) =>
        rows.flatMap((row) => {
          type Box = { x: number; width: number };
          const boxOf = (selector: string) =>
            (row.querySelector(selector) as unknown as { getBBox(): Box } | null)?.getBBox();
          const tokens = boxOf("[data-field=tokens]")!;
          const dollars = Math.min(
            boxOf("[data-field=cost]")!.x,
            boxOf("rect:not([data-kind])")?.x ?? Infinity,
          );
          return tokens.x + tokens.width + 8 > dollars ? [row.getAttribute("data-provider")] : [];
        }),
    );
    assert.deepEqual(crowded, [], "every token figure clear of its row's dollars");
  },
});
