/** Text made safe for HTML and SVG markup. */

/**
 * `text` safe inside HTML text and quoted attribute values.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { escapeHtml } from "./html.ts";
 *
 * assert.equal(escapeHtml(`<a href="x">&`), "&lt;a href=&quot;x&quot;&gt;&amp;");
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ENTITIES[char]);
}

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
