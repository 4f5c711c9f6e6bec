/** `LLM_FALLBACK`: the provider (and model) an LLM queue's jobs go to while their own is paused or overloaded. */

import type { KnownNames } from "./rules.ts";

/** A provider, and the model to ask it for (its default when unset). */
export interface LlmTarget {
  provider: string;
  model?: string;
}

/** The fallback of every LLM queue (`all`), and of single queues, which win over it. */
export interface Fallbacks {
  all?: LlmTarget;
  byQueue: Record<string, LlmTarget>;
}

const QUEUE_NAME = /^[A-Za-z0-9_.\-{}]+$/;

/**
 * Parses `LLM_FALLBACK`: `;`-separated entries, each `<provider>[/<model>]` (every LLM queue)
 * or `<queue>=<provider>[/<model>]` (that queue).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseFallbacks } from "./fallback_rule.ts";
 *
 * assert.deepEqual(parseFallbacks("openai/gpt-4o-mini;urgent=claude", { providers: ["claude", "openai"] }), {
 *   ok: true,
 *   fallbacks: {
 *     all: { provider: "openai", model: "gpt-4o-mini" },
 *     byQueue: { urgent: { provider: "claude" } },
 *   },
 * });
 * ```
 */
export function parseFallbacks(
  text: string,
  known: KnownNames,
): { ok: true; fallbacks: Fallbacks } | { ok: false; error: string } {
  const fallbacks: Fallbacks = { byQueue: {} };
  for (const entry of text.split(";").map((each) => each.trim()).filter((each) => each !== "")) {
    const equals = entry.indexOf("=");
    const queue = equals < 0 ? undefined : entry.slice(0, equals).trim();
    const targetText = equals < 0 ? entry : entry.slice(equals + 1).trim();
    if (queue !== undefined && !QUEUE_NAME.test(queue)) {
      return { ok: false, error: `"${queue}" is not a queue name (letters, digits, _ . - { })` };
    }
    const slash = targetText.indexOf("/");
    const provider = (slash < 0 ? targetText : targetText.slice(0, slash)).toLowerCase();
    const model = slash < 0 ? undefined : targetText.slice(slash + 1);
    if (!known.providers.includes(provider)) {
      return {
        ok: false,
        error: `entry "${entry}" names provider "${provider}": it must be one of ${
          known.providers.join(", ")
        }`,
      };
    }
    if (model !== undefined && !/^\S+$/.test(model)) {
      return { ok: false, error: `entry "${entry}" has an empty model after "/"` };
    }
    const target: LlmTarget = model === undefined ? { provider } : { provider, model };
    if (queue === undefined) {
      if (fallbacks.all) return { ok: false, error: "more than one entry without a queue" };
      fallbacks.all = target;
    } else {
      if (fallbacks.byQueue[queue]) return { ok: false, error: `queue "${queue}" is named twice` };
      fallbacks.byQueue[queue] = target;
    }
  }
  return { ok: true, fallbacks };
}

/** `LLM_FALLBACK` as a setting's rule (see {@link parseFallbacks}). */
export function fallbacks() {
  return {
    rule: '";"-separated entries <provider>[/<model>] or <queue>=<provider>[/<model>]',
    parse(raw: string, known: KnownNames): Fallbacks | undefined {
      const parsed = parseFallbacks(raw, known);
      return parsed.ok ? parsed.fallbacks : undefined;
    },
    problem(raw: string, known: KnownNames): string | undefined {
      const parsed = parseFallbacks(raw, known);
      return parsed.ok ? undefined : parsed.error;
    },
  };
}

/**
 * The fallback of a job of `queue`: the job's own, else the queue's, else every queue's.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { fallbackOf } from "./fallback_rule.ts";
 *
 * const configured = { all: { provider: "openai" }, byQueue: { fast: { provider: "echo" } } };
 * assert.deepEqual(fallbackOf(configured, "fast", undefined), { provider: "echo" });
 * assert.deepEqual(fallbackOf(configured, "llm", undefined), { provider: "openai" });
 * assert.deepEqual(fallbackOf(configured, "llm", { provider: "claude" }), { provider: "claude" });
 * ```
 */
export function fallbackOf(
  configured: Fallbacks | undefined,
  queue: string,
  ofJob: LlmTarget | undefined,
): LlmTarget | undefined {
  return ofJob ?? configured?.byQueue[queue] ?? configured?.all;
}
