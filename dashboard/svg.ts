/** Small pieces of server-rendered SVG charts: elements, scales, axis ticks, clock labels. */

import { escapeHtml } from "./html.ts";

/** Attribute values of an element; `undefined` leaves the attribute out. */
export type Attributes = Record<string, string | number | undefined>;

/**
 * An SVG (or HTML) element with escaped attribute values; `children` is markup, not escaped.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { element } from "./svg.ts";
 *
 * assert.equal(element("rect", { x: 1, "data-state": "a<b" }), `<rect x="1" data-state="a&lt;b"/>`);
 * assert.equal(element("g", {}, "<rect/>"), "<g><rect/></g>");
 * ```
 */
export function element(tag: string, attributes: Attributes, children?: string): string {
  const text = Object.entries(attributes)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => ` ${name}="${escapeHtml(String(value))}"`)
    .join("");
  return children === undefined ? `<${tag}${text}/>` : `<${tag}${text}>${children}</${tag}>`;
}

/** An SVG `<text>` of escaped `content`. */
export function svgText(content: string, attributes: Attributes): string {
  return element("text", attributes, escapeHtml(content));
}

/**
 * The top of a count axis: the smallest of 1, 2, 5 × 10ⁿ (n ≥ 0) that is at least `value`, so
 * the axis ends on a round number; 1 for nothing.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { axisTop } from "./svg.ts";
 *
 * assert.equal(axisTop(0), 1);
 * assert.equal(axisTop(3), 5);
 * assert.equal(axisTop(7), 10);
 * assert.equal(axisTop(11), 20);
 * ```
 */
export function axisTop(value: number): number {
  for (let scale = 1;; scale *= 10) {
    for (const step of [1, 2, 5]) {
      if (step * scale >= value) return step * scale;
    }
  }
}

/**
 * `HH:MM` of an epoch-ms moment in UTC.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { clockUtc } from "./svg.ts";
 *
 * assert.equal(clockUtc(Date.UTC(2026, 11, 7, 5, 9)), "05:09");
 * ```
 */
export function clockUtc(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

/**
 * The moments from `fromMs` to `toMs` that are whole multiples of `stepMs` (UTC), for the ticks
 * of a time axis.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { timeTicks } from "./svg.ts";
 *
 * assert.deepEqual(timeTicks(50, 260, 100), [100, 200]);
 * ```
 */
export function timeTicks(fromMs: number, toMs: number, stepMs: number): number[] {
  const ticks: number[] = [];
  for (let tick = Math.ceil(fromMs / stepMs) * stepMs; tick <= toMs; tick += stepMs) {
    ticks.push(tick);
  }
  return ticks;
}
