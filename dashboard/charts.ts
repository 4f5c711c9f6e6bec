/**
 * The charts of ppr-worker's own page, as inline SVG rendered on the server: jobs per minute per
 * queue, the providers' pauses over time, tokens and dollars per provider today. Each mark
 * carries its figures in `data-*` attributes and a `<title>`, so readers and tests get the
 * numbers, not only the picture.
 */

import type { QueueJobRates } from "../state/job_rates.ts";
import type { ProviderPauseHistory } from "../state/pause_history.ts";
import { costText, type ProviderSpend } from "../state/spend.ts";
import type { PauseReason } from "../providers/pause.ts";
import { escapeHtml } from "./html.ts";
import { axisTop, clockUtc, element, svgText, timeTicks } from "./svg.ts";

/** The width of every chart, in CSS pixels (the page's sections are about as wide). */
const WIDTH = 1180;
const MINUTE_MS = 60_000;
/** Where the plot of a chart with a label column starts. */
const LABEL_COLUMN = 110;

/** The colours of the marks, named for what they show. */
export const CHART_COLOURS = {
  completed: "#16a34a",
  failed: "#dc2626",
  auth_failed: "#dc2626",
  quota_exceeded: "#d97706",
  budget: "#7c3aed",
  billing: "#0e7490",
  input_tokens: "#2563eb",
  output_tokens: "#93c5fd",
  cache_creation_input_tokens: "#0d9488",
  cache_read_input_tokens: "#99f6e4",
  usd: "#15803d",
} as const satisfies Record<string, string>;

/** The CSS of the charts and their legends, added to the page's. */
export const CHART_STYLE = `
.chart { padding: 8px 16px 12px; }
.chart h3 { margin: 8px 0 4px; font-size: 13px; font-weight: 600; }
.chart h3 small { color: var(--muted); font-weight: 400; margin-left: 8px; }
.chart svg { display: block; font-size: 11px; max-width: 100%; height: auto; }
.chart svg text { fill: var(--muted); }
.chart svg text.value { fill: var(--fg); }
.chart svg .grid { stroke: var(--line); }
.chart svg .axis { stroke: #9ca3af; }
.legend { display: flex; gap: 16px; margin: 4px 0; color: var(--muted); font-size: 12px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px;
  vertical-align: -1px; }
.chart .note { color: var(--muted); font-size: 12px; margin: 4px 0 0; }
`;

/** A legend: a swatch and a name for each colour. */
function legend(entries: [name: string, colour: string][]): string {
  return `<div class="legend">${
    entries.map(([name, colour]) =>
      `<span><i style="background:${colour}"></i>${escapeHtml(name)}</span>`
    ).join("")
  }</div>`;
}

/** The horizontal grid lines and count labels of a plot `height` high, counting up to `top`. */
function countAxis(top: number, plot: { x: number; y: number; width: number; height: number }) {
  const ticks = top === 1 ? [0, 1] : [0, top / 2, top];
  return ticks.map((tick) => {
    const y = plot.y + plot.height - (tick / top) * plot.height;
    return element("line", {
      class: tick === 0 ? "axis" : "grid",
      x1: plot.x,
      x2: plot.x + plot.width,
      y1: y,
      y2: y,
    }) + svgText(String(tick), { x: plot.x - 6, y: y + 4, "text-anchor": "end" });
  }).join("");
}

/**
 * The time labels under a plot covering `fromMs` to `toMs` (now), one every `stepMs`, and
 * `now UTC` at its right end; a label too close to it is left out.
 */
function timeAxis(
  fromMs: number,
  toMs: number,
  stepMs: number,
  plot: { x: number; width: number; baseline: number },
): string {
  const right = plot.x + plot.width;
  const ticks = timeTicks(fromMs, toMs, stepMs).map((tick) => {
    const x = plot.x + ((tick - fromMs) / (toMs - fromMs)) * plot.width;
    const line = element("line", {
      class: "axis",
      x1: x,
      x2: x,
      y1: plot.baseline,
      y2: plot.baseline + 4,
    });
    return right - x < 70 ? line : line +
      svgText(clockUtc(tick), { x, y: plot.baseline + 16, "text-anchor": "middle" });
  }).join("");
  return ticks + svgText("now UTC", { x: right, y: plot.baseline + 16, "text-anchor": "end" });
}

/**
 * One queue's jobs per minute: a bar per minute, completed below failed, with a count axis in
 * jobs per minute and a time axis in UTC. Each minute with jobs is a `<g data-minute
 * data-completed data-failed>`; the `<svg>` carries the window's sums.
 */
export function jobRateChart(rates: QueueJobRates): string {
  const height = 150;
  const plot = { x: 48, y: 8, width: WIDTH - 48 - 12, height: height - 8 - 24 };
  const minutes = rates.minutes.length;
  const top = axisTop(Math.max(0, ...rates.minutes.map((m) => m.completed + m.failed)));
  const slot = plot.width / minutes;
  const barHeight = (jobs: number) => (jobs / top) * plot.height;
  const baseline = plot.y + plot.height;
  const bars = rates.minutes.map((minute, index) => {
    if (minute.completed + minute.failed === 0) return "";
    const x = plot.x + index * slot + slot * 0.1;
    const width = Math.max(1, slot * 0.8);
    const completedHeight = barHeight(minute.completed);
    const failedHeight = barHeight(minute.failed);
    const at = clockUtc(Date.parse(minute.minute));
    return element(
      "g",
      {
        "data-minute": minute.minute,
        "data-completed": minute.completed,
        "data-failed": minute.failed,
      },
      [
        element(
          "title",
          {},
          escapeHtml(`${at} UTC: ${minute.completed} completed, ${minute.failed} failed`),
        ),
        minute.completed > 0
          ? element("rect", {
            x,
            width,
            y: baseline - completedHeight,
            height: completedHeight,
            fill: CHART_COLOURS.completed,
          })
          : "",
        minute.failed > 0
          ? element("rect", {
            x,
            width,
            y: baseline - completedHeight - failedHeight,
            height: failedHeight,
            fill: CHART_COLOURS.failed,
          })
          : "",
      ].join(""),
    );
  }).join("");
  const fromMs = Date.parse(rates.minutes[0]?.minute ?? new Date(0).toISOString());
  const toMs = fromMs + minutes * MINUTE_MS;
  const label = `${rates.queue}: ${rates.completed} completed and ${rates.failed} failed in ` +
    `the last ${minutes / 60} h, per minute`;
  const body = [
    countAxis(top, plot),
    svgText("jobs / min", {
      x: 12,
      y: plot.y + plot.height / 2,
      transform: `rotate(-90 12 ${plot.y + plot.height / 2})`,
      "text-anchor": "middle",
    }),
    timeAxis(fromMs, toMs, 30 * MINUTE_MS, { ...plot, baseline }),
    bars,
    rates.recorded ? "" : svgText(
      "no job of this queue has ended since its workers record metrics (within the last day)",
      { x: plot.x + plot.width / 2, y: plot.y + plot.height / 2, "text-anchor": "middle" },
    ),
  ].join("");
  return `<h3>${escapeHtml(rates.queue)}<small>${rates.completed} completed · ${rates.failed} ` +
    `failed</small></h3>` + element("svg", {
      width: WIDTH,
      height,
      viewBox: `0 0 ${WIDTH} ${height}`,
      role: "img",
      "aria-label": label,
      "data-queue": rates.queue,
      "data-completed": rates.completed,
      "data-failed": rates.failed,
    }, body);
}

/** The legend of the job rate charts. */
export function jobRateLegend(): string {
  return legend([["completed", CHART_COLOURS.completed], ["failed", CHART_COLOURS.failed]]);
}

/** The reasons a pause can have, with their colours, in the legend's order. */
const PAUSE_COLOURS: [PauseReason, string][] = [
  ["auth_failed", CHART_COLOURS.auth_failed],
  ["quota_exceeded", CHART_COLOURS.quota_exceeded],
  ["budget", CHART_COLOURS.budget],
  ["billing", CHART_COLOURS.billing],
];

/**
 * The providers' pauses over `windowMs` up to `nowMs`: a row per provider, a bar per pause
 * coloured by its reason, at least 2 px wide so a short one shows. Each bar is a
 * `<rect data-provider data-state data-start data-end data-ongoing>` with a `<title>`.
 */
export function pauseTimeline(
  histories: readonly ProviderPauseHistory[],
  nowMs: number,
  windowMs: number,
): string {
  const rowHeight = 26;
  const plot = { x: LABEL_COLUMN, y: 6, width: WIDTH - LABEL_COLUMN - 12 };
  const baseline = plot.y + histories.length * rowHeight;
  const height = baseline + 24;
  const fromMs = nowMs - windowMs;
  const xOf = (ms: number) => plot.x + ((ms - fromMs) / windowMs) * plot.width;
  const colour = new Map(PAUSE_COLOURS);
  const rows = histories.map((history, row) => {
    const y = plot.y + row * rowHeight;
    const spans = history.spans.map((span) => {
      const start = Date.parse(span.start);
      const end = Date.parse(span.end);
      const x = xOf(start);
      return element(
        "rect",
        {
          "data-provider": history.provider,
          "data-state": span.state,
          "data-start": span.start,
          "data-end": span.end,
          "data-ongoing": String(span.ongoing),
          x,
          y: y + 5,
          width: Math.max(2, xOf(end) - x),
          height: rowHeight - 10,
          rx: 2,
          fill: colour.get(span.state),
        },
        `<title>${
          escapeHtml(
            `${history.provider} ${span.state} ${clockUtc(start)}–${
              span.ongoing ? "now, ongoing" : clockUtc(end)
            } UTC`,
          )
        }</title>`,
      );
    }).join("");
    return element("line", {
      class: "grid",
      x1: plot.x,
      x2: plot.x + plot.width,
      y1: y + rowHeight,
      y2: y + rowHeight,
    }) +
      svgText(history.provider, {
        x: plot.x - 10,
        y: y + rowHeight / 2 + 4,
        "text-anchor": "end",
      }) +
      (history.spans.length === 0
        ? svgText("no pause", { x: plot.x + 6, y: y + rowHeight / 2 + 4 })
        : spans);
  }).join("");
  const paused = histories.filter((history) => history.spans.length > 0).length;
  return element("svg", {
    width: WIDTH,
    height,
    viewBox: `0 0 ${WIDTH} ${height}`,
    role: "img",
    "aria-label": `provider pauses in the last ${windowMs / 3_600_000} h: ` +
      `${paused} of ${histories.length} providers paused at some time`,
    "data-chart": "pauses",
  }, rows + timeAxis(fromMs, nowMs, 3 * 3_600_000, { ...plot, baseline })) +
    legend(PAUSE_COLOURS);
}

/** The token kinds as the spend chart stacks them, with their names in its legend. */
const TOKEN_KINDS = [
  ["input_tokens", "input"],
  ["output_tokens", "output"],
  ["cache_creation_input_tokens", "cache write"],
  ["cache_read_input_tokens", "cache read"],
] as const;

/** `n` with thousands separated: `12,345`. */
const grouped = (n: number) => n.toLocaleString("en-US");

/**
 * Tokens and dollars per provider today: per provider a bar of its tokens, stacked by kind,
 * and a bar of its dollars, each on its own scale, with the figures written beside them. Each
 * provider is a `<g data-provider data-tokens data-usd data-unpriced-calls ...>`.
 */
export function spendChart(providers: readonly ProviderSpend[]): string {
  if (providers.length === 0) {
    return `<p class="note">no LLM call today</p>`;
  }
  const rowHeight = 34;
  // Room after each bar for its figure: billions of tokens; thousands of dollars with hundreds of
  // unpriced calls (tests/dashboard_charts_test.ts draws those in Chromium).
  const tokensPlot = { x: LABEL_COLUMN, width: 440 };
  const usdPlot = { x: LABEL_COLUMN + 440 + 180, width: 160 };
  const header = 20;
  const height = header + providers.length * rowHeight + 4;
  const tokensOf = (spend: ProviderSpend) =>
    TOKEN_KINDS.reduce((sum, [kind]) => sum + spend[kind], 0);
  const tokensTop = Math.max(1, ...providers.map(tokensOf));
  const usdTop = Math.max(0, ...providers.map((spend) => spend.usd));
  const rows = providers.map((spend, row) => {
    const y = header + row * rowHeight;
    const barY = y + 8;
    const barHeight = rowHeight - 16;
    let x = tokensPlot.x;
    const tokenBars = TOKEN_KINDS.map(([kind, name]) => {
      const width = (spend[kind] / tokensTop) * tokensPlot.width;
      const bar = spend[kind] === 0 ? "" : element(
        "rect",
        {
          x,
          y: barY,
          width: Math.max(1, width),
          height: barHeight,
          fill: CHART_COLOURS[kind],
          "data-kind": kind,
          "data-tokens": spend[kind],
        },
        `<title>${escapeHtml(`${spend.provider}: ${grouped(spend[kind])} ${name} tokens`)}</title>`,
      );
      x += width;
      return bar;
    }).join("");
    const tokens = tokensOf(spend);
    const usdWidth = usdTop === 0 ? 0 : (spend.usd / usdTop) * usdPlot.width;
    const cost = costText(spend);
    return element(
      "g",
      {
        "data-provider": spend.provider,
        "data-tokens": tokens,
        "data-usd": spend.usd,
        "data-calls": spend.calls,
        "data-unpriced-calls": spend.unknownCostCalls,
      },
      [
        svgText(spend.provider, {
          x: LABEL_COLUMN - 10,
          y: barY + barHeight / 2 + 4,
          "text-anchor": "end",
        }),
        tokenBars,
        svgText(`${grouped(tokens)} tokens`, {
          class: "value",
          x: x + 6,
          y: barY + barHeight / 2 + 4,
          "data-field": "tokens",
        }),
        usdWidth > 0
          ? element("rect", {
            x: usdPlot.x,
            y: barY,
            width: Math.max(1, usdWidth),
            height: barHeight,
            fill: CHART_COLOURS.usd,
          })
          : "",
        svgText(cost, {
          class: "value",
          x: usdPlot.x + usdWidth + 6,
          y: barY + barHeight / 2 + 4,
          "data-field": "cost",
        }),
      ].join(""),
    );
  }).join("");
  const headings = svgText("tokens today", { x: tokensPlot.x, y: 13 }) +
    svgText("US dollars today (at the price table's prices)", { x: usdPlot.x, y: 13 });
  return element("svg", {
    width: WIDTH,
    height,
    viewBox: `0 0 ${WIDTH} ${height}`,
    role: "img",
    "aria-label": "LLM tokens and US dollars per provider today: " +
      providers.map((spend) =>
        `${spend.provider} ${grouped(tokensOf(spend))} tokens, ${costText(spend)}`
      ).join("; "),
    "data-chart": "spend",
  }, headings + rows) +
    legend([
      ...TOKEN_KINDS.map(([kind, name]): [string, string] => [
        `${name} tokens`,
        CHART_COLOURS[kind],
      ]),
      ["US dollars", CHART_COLOURS.usd],
    ]);
}
