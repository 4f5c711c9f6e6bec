/** The rules a setting's value must follow: each names itself for the error message and parses the raw text. */

import { formatDuration, parseDurationMs } from "./duration.ts";
import { parseRedisUrl, REDIS_URL_FORMS } from "../redis/url.ts";

/** Names only the layers above the configuration know: part of `providers/registry.ts`'s `CONFIG_SCHEMA`. */
export interface KnownNames {
  /** The providers of this build (`providers/registry.ts`). */
  providers: readonly string[];
}

// The rules are small pure functions rather than a schema library: a worker process parses its
// configuration too, and every megabyte it loads is paid WORKER_COUNT times.

/** An integer within [min, max]. */
export function integer(min: number, max: number) {
  return {
    rule: `an integer from ${min} to ${max}`,
    parse(raw: string): number | undefined {
      const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
      return value >= min && value <= max ? value : undefined;
    },
  };
}

/** Two integers `MIN,MAX` with `min <= MIN <= MAX <= max`, as `{ min, max }`. */
export function integerRange(min: number, max: number) {
  return {
    rule: `MIN,MAX: two integers from ${min} to ${max}, MIN at most MAX`,
    parse(raw: string): { min: number; max: number } | undefined {
      const match = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(raw);
      if (!match) return undefined;
      const [low, high] = [Number(match[1]), Number(match[2])];
      return low >= min && low <= high && high <= max ? { min: low, max: high } : undefined;
    },
  };
}

/** A number within [min, max]. */
export function number(min: number, max: number) {
  return {
    rule: `a number from ${min} to ${max}`,
    parse(raw: string): number | undefined {
      const value = raw.trim() === "" ? NaN : Number(raw);
      return value >= min && value <= max ? value : undefined;
    },
  };
}

/** Durations the rule of {@link duration} shows as examples, those within its range. */
const DURATION_EXAMPLES: [string, number][] = [["500ms", 500], ["10s", 10_000], ["5m", 300_000]];

/** A duration (`500ms`, `10s`, `5m`, bare seconds) within [minMs, maxMs], in ms. */
export function duration(minMs: number, maxMs: number) {
  const examples = DURATION_EXAMPLES.filter(([, ms]) => ms >= minMs && ms <= maxMs)
    .map(([example]) => `${example}, `).join("");
  return {
    rule: `a duration from ${formatDuration(minMs)} to ${
      formatDuration(maxMs)
    } (e.g. ${examples}or bare seconds)`,
    parse(raw: string): number | undefined {
      const ms = parseDurationMs(raw);
      return ms !== undefined && ms >= minMs && ms <= maxMs ? ms : undefined;
    },
  };
}

/** One of `values`, case-insensitive. */
export function oneOf<const T extends readonly string[]>(values: T) {
  return {
    rule: `one of ${values.join(", ")}`,
    parse(raw: string): T[number] | undefined {
      const value = raw.trim().toLowerCase();
      return values.includes(value) ? value : undefined;
    },
  };
}

/** The name of a provider of this build (`KnownNames.providers`), case-insensitive. */
export function providerName() {
  return {
    rule: (known: KnownNames) => `one of ${known.providers.join(", ")}`,
    parse(raw: string, known: KnownNames): string | undefined {
      const value = raw.trim().toLowerCase();
      return known.providers.includes(value) ? value : undefined;
    },
  };
}

/** true/false, 1/0, yes/no, on/off. */
export function boolean() {
  return {
    rule: "true or false",
    parse(raw: string): boolean | undefined {
      const value = raw.trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(value)) return true;
      if (["false", "0", "no", "off"].includes(value)) return false;
      return undefined;
    },
  };
}

const NAME_PATTERN = /^[A-Za-z0-9_.\-{}]+$/;

/** A size in bytes: `512MB`, `2GB`, `800KB` (powers of 1024) or bare bytes, within [min, max]. */
export function size(minBytes: number, maxBytes: number) {
  const units: Record<string, number> = { "": 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
  return {
    rule: "a size such as 512MB or 2GB",
    parse(raw: string): number | undefined {
      const match = /^(\d+(?:\.\d+)?)\s*([kmg]?b)?$/i.exec(raw.trim());
      if (!match) return undefined;
      const bytes = Math.round(Number(match[1]) * units[(match[2] ?? "").toLowerCase()]);
      return bytes >= minBytes && bytes <= maxBytes ? bytes : undefined;
    },
  };
}

/** A comma-separated list of distinct names; `required`: at least one. */
export function names(what: string, required = true) {
  return {
    rule: `${
      required ? "one" : "zero"
    } or more ${what} names, comma-separated (letters, digits, _ . - { })`,
    parse(raw: string): string[] | undefined {
      const list = raw.split(",").map((name) => name.trim()).filter((name) => name !== "");
      const ok = (list.length > 0 || !required) && list.every((name) => NAME_PATTERN.test(name)) &&
        new Set(list).size === list.length;
      return ok ? list : undefined;
    },
  };
}

/**
 * A Redis URL: one server (`redis://`, `rediss://`), a Sentinel group (`redis+sentinel://`,
 * `rediss+sentinel://`) or a Cluster (`redis-cluster://`, `rediss-cluster://`); see
 * `redis/url.ts`. The problem names the part that breaks the form.
 */
export function redisUrl() {
  return {
    rule: REDIS_URL_FORMS,
    parse(raw: string): string | undefined {
      return parseRedisUrl(raw).ok ? raw.trim() : undefined;
    },
    problem(raw: string): string | undefined {
      const parsed = parseRedisUrl(raw);
      return parsed.ok ? undefined : parsed.problem;
    },
  };
}

/** An `http://` or `https://` URL. */
export function httpUrl() {
  return {
    rule: "an http:// or https:// URL",
    parse(raw: string): string | undefined {
      try {
        const url = new URL(raw.trim());
        return url.protocol === "http:" || url.protocol === "https:" ? raw.trim() : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/** Any text that matches `test`, trimmed; `rule` says what that means. */
export function pattern(rule: string, test: RegExp) {
  return {
    rule,
    parse(raw: string): string | undefined {
      return test.test(raw.trim()) ? raw.trim() : undefined;
    },
  };
}

/** What runs the jobs of one queue: a built-in kind, or an external command. */
export type ProcessorSpec =
  | { kind: "llm" }
  | { kind: "recorder" }
  | {
    kind: "external";
    /** `per-job`: a process per job; `persistent`: one long-lived process per worker process. */
    mode: "per-job" | "persistent";
    /** The program and its arguments, split without a shell. */
    command: string[];
  };

/** The processors every configuration has unless `QUEUE_PROCESSORS` maps the queue otherwise. */
export const DEFAULT_PROCESSORS: Readonly<Record<string, ProcessorSpec>> = {
  llm: { kind: "llm" },
  recorder: { kind: "recorder" },
};

const BUILT_IN_PROCESSORS = ["llm", "recorder"] as const;
const MODE_PREFIXES = { "per-job:": "per-job", "persistent:": "persistent" } as const;

/**
 * Splits text into entries (at `;` or a newline) of words (at whitespace), the way a shell
 * would split words but without running one: `'...'` keeps everything literally, `"..."` keeps
 * everything but `\"` and `\\`, and a backslash outside quotes keeps the next character.
 * Nothing is expanded (`$HOME`, `~` and `*` stay as written).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { splitEntries } from "./rules.ts";
 *
 * assert.deepEqual(splitEntries(`a=python3 -c 'print(1); print(2)';b=./run "x y"`), {
 *   ok: true,
 *   entries: [["a=python3", "-c", "print(1); print(2)"], ["b=./run", "x y"]],
 * });
 * ```
 */
export function splitEntries(
  text: string,
): { ok: true; entries: string[][] } | { ok: false; error: string } {
  const entries: string[][] = [];
  let words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  const endWord = () => {
    if (word !== undefined) words.push(word);
    word = undefined;
  };
  const endEntry = () => {
    endWord();
    if (words.length > 0) entries.push(words);
    words = [];
  };
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else word += char;
    } else if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === "\\" && (text[index + 1] === '"' || text[index + 1] === "\\")) {
        word += text[++index];
      } else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      word ??= "";
    } else if (char === "\\") {
      if (index + 1 === text.length) return { ok: false, error: "a backslash ends the text" };
      word = (word ?? "") + text[++index];
    } else if (char === ";" || char === "\n") endEntry();
    else if (/\s/.test(char)) endWord();
    else word = (word ?? "") + char;
  }
  if (quote) return { ok: false, error: `a ${quote} quote is not closed` };
  endEntry();
  return { ok: true, entries };
}

/**
 * Parses `QUEUE_PROCESSORS`: entries `queue=processor` separated by `;` (or newlines), where
 * the processor is `llm`, `recorder`, a command run once per job (`per-job:` may be written
 * before it), or `persistent:` and a command run once per worker process. The result holds
 * `DEFAULT_PROCESSORS` too, unless an entry maps their queues otherwise.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseProcessors } from "./rules.ts";
 *
 * const text = "reconciler=python3 -m app.reconciler.job;scraper=persistent:python3 worker.py";
 * assert.deepEqual(parseProcessors(text), {
 *   ok: true,
 *   processors: {
 *     llm: { kind: "llm" },
 *     recorder: { kind: "recorder" },
 *     reconciler: {
 *       kind: "external",
 *       mode: "per-job",
 *       command: ["python3", "-m", "app.reconciler.job"],
 *     },
 *     scraper: { kind: "external", mode: "persistent", command: ["python3", "worker.py"] },
 *   },
 * });
 * ```
 */
export function parseProcessors(
  text: string,
): { ok: true; processors: Record<string, ProcessorSpec> } | { ok: false; error: string } {
  const split = splitEntries(text);
  if (!split.ok) return split;
  const processors: Record<string, ProcessorSpec> = { ...DEFAULT_PROCESSORS };
  const mapped = new Set<string>();
  for (const [first, ...rest] of split.entries) {
    const equals = first.indexOf("=");
    if (equals < 0) {
      const entry = [first, ...rest].join(" ");
      return { ok: false, error: `entry "${entry}" does not start with <queue>= (no spaces)` };
    }
    const queue = first.slice(0, equals);
    if (!NAME_PATTERN.test(queue)) {
      return { ok: false, error: `"${queue}" is not a queue name (letters, digits, _ . - { })` };
    }
    if (mapped.has(queue)) return { ok: false, error: `queue "${queue}" is mapped twice` };
    mapped.add(queue);
    let program = first.slice(equals + 1);
    const builtIn = BUILT_IN_PROCESSORS.find((name) => name === program);
    if (builtIn) {
      if (rest.length > 0) {
        return {
          ok: false,
          error: `${builtIn} (queue "${queue}") is built in and takes no arguments; ` +
            `a command of that name is written per-job:${builtIn}`,
        };
      }
      processors[queue] = { kind: builtIn };
      continue;
    }
    const prefix = (Object.keys(MODE_PREFIXES) as (keyof typeof MODE_PREFIXES)[])
      .find((candidate) => program.startsWith(candidate));
    const mode = prefix ? MODE_PREFIXES[prefix] : "per-job";
    if (prefix) program = program.slice(prefix.length);
    const command = program === "" ? rest : [program, ...rest];
    if (command.length === 0 || command[0] === "") {
      return { ok: false, error: `queue "${queue}" has no command` };
    }
    processors[queue] = { kind: "external", mode, command };
  }
  return { ok: true, processors };
}

/** `QUEUE_PROCESSORS`: which processor runs the jobs of each queue (see `parseProcessors`). */
export function processors() {
  return {
    rule: 'entries queue=processor separated by ";", the processor being llm, recorder, ' +
      "a command (run per job) or persistent:<command>",
    parse(raw: string): Record<string, ProcessorSpec> | undefined {
      const parsed = parseProcessors(raw);
      return parsed.ok ? parsed.processors : undefined;
    },
    problem(raw: string): string | undefined {
      const parsed = parseProcessors(raw);
      return parsed.ok ? undefined : parsed.error;
    },
  };
}

/** One pool of `WORKER_POOLS`: the queue it serves, its size or autoscale range, its concurrency. */
export interface PoolSpec {
  /** The queue the pool serves, which names the pool too. */
  queue: string;
  /** Worker processes it starts with (MIN of a range). */
  count: number;
  /** `MIN-MAX`: it autoscales within this range. */
  range?: { min: number; max: number };
  /** Jobs in flight per worker; `undefined`: WORKER_CONCURRENCY. */
  concurrency?: number;
}

/**
 * Pools per queue: `queue=SPEC,...`, SPEC being `COUNT` or `MIN-MAX` (autoscaled) with an
 * optional `:CONCURRENCY`, each count from 1 to `maxWorkers` and each queue in one pool only.
 * The problem names the part that breaks the form.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { workerPools } from "./rules.ts";
 *
 * assert.deepEqual(workerPools(20).parse("llm=2-6:4,recorder=1"), [
 *   { queue: "llm", count: 2, range: { min: 2, max: 6 }, concurrency: 4 },
 *   { queue: "recorder", count: 1, range: undefined, concurrency: undefined },
 * ]);
 * assert.equal(workerPools(20).parse("llm=0"), undefined);
 * ```
 */
export function workerPools(maxWorkers: number) {
  const POOL = /^([A-Za-z0-9_.\-{}]+)=(\d+)(?:-(\d+))?(?::(\d+))?$/;
  const problemOf = (raw: string): string | undefined => {
    const seen = new Set<string>();
    let total = 0;
    for (const part of raw.split(",").map((text) => text.trim())) {
      const match = POOL.exec(part);
      if (!match) {
        return `"${part}" is not queue=COUNT or queue=MIN-MAX, with an optional :CONCURRENCY`;
      }
      const [, queue, low, high, concurrency] = match;
      const [min, max] = [Number(low), Number(high ?? low)];
      if (!(min >= 1 && min <= max && max <= maxWorkers)) {
        return `pool ${queue}: ${high ? `${min}-${max}` : min} is not ${
          high ? "a range MIN-MAX" : "a count"
        } within 1-${maxWorkers}`;
      }
      if (concurrency !== undefined && !(Number(concurrency) >= 1 && Number(concurrency) <= 100)) {
        return `pool ${queue}: concurrency ${concurrency} is not from 1 to 100`;
      }
      if (seen.has(queue)) return `queue ${queue} is in two pools`;
      seen.add(queue);
      total += max;
    }
    if (total > maxWorkers) {
      return `the pools may run ${total} worker processes together, more than ${maxWorkers}`;
    }
    return undefined;
  };
  return {
    rule: `queue=COUNT or queue=MIN-MAX (autoscaled), each with an optional :CONCURRENCY, ` +
      `comma-separated, one pool per queue, at most ${maxWorkers} worker processes in all`,
    parse(raw: string): PoolSpec[] | undefined {
      if (problemOf(raw) !== undefined) return undefined;
      return raw.split(",").map((text) => {
        const [, queue, low, high, concurrency] = POOL.exec(text.trim())!;
        return {
          queue,
          count: Number(low),
          range: high === undefined ? undefined : { min: Number(low), max: Number(high) },
          concurrency: concurrency === undefined ? undefined : Number(concurrency),
        };
      });
    },
    problem: problemOf,
  };
}
