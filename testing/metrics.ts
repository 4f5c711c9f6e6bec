/** Reading /metrics in tests: the Prometheus text format parsed and checked line by line, and the value of a series. */

import { strict as assert } from "node:assert";
import type { Supervisor } from "./ppr.ts";

/** One sample of the exposition: name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE = new RegExp(
  `^(${NAME})(?:\\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\.)*",?)*)\\})? (-?[0-9.e+-]+|NaN|\\+Inf|-Inf)$`,
);

/**
 * Parses the Prometheus text format (0.0.4) and checks its rules on every line: `# HELP` and
 * `# TYPE` once per metric family, before its samples; each sample line well formed; histogram
 * buckets cumulative, ending with `+Inf`, equal to `_count`.
 */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  const typed = new Map<string, string>();
  const helped = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      const [, kind, family, rest] = comment;
      if (kind === "TYPE") {
        assert.ok(!typed.has(family), `TYPE twice for ${family}`);
        assert.match(rest, /^(counter|gauge|histogram|summary|untyped)$/);
        typed.set(family, rest);
      } else {
        assert.ok(!helped.has(family), `HELP twice for ${family}`);
        helped.add(family);
      }
      continue;
    }
    assert.ok(!line.startsWith("#"), `a comment that is neither HELP nor TYPE: ${line}`);
    const match = SAMPLE.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const [, name, rawLabels, value] = match;
    const family = name.replace(/_(bucket|sum|count)$/, "");
    assert.ok(typed.has(name) || typed.has(family), `sample before its TYPE: ${line}`);
    const labels: Record<string, string> = {};
    for (
      const pair of (rawLabels ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)
    ) {
      labels[pair[1]] = pair[2];
    }
    samples.push({ name, labels, value: Number(value) });
  }
  for (const [family, type] of typed) {
    assert.ok(helped.has(family), `no HELP for ${family}`);
    if (type !== "histogram") continue;
    const series = new Map<string, Sample[]>();
    for (const sample of samples.filter((each) => each.name === `${family}_bucket`)) {
      const { le: _le, ...rest } = sample.labels;
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), sample]);
    }
    for (const [key, buckets] of series) {
      assert.equal(buckets.at(-1)!.labels.le, "+Inf", `${family} ${key}: last bucket is +Inf`);
      for (let index = 1; index < buckets.length; index++) {
        assert.ok(buckets[index].value >= buckets[index - 1].value, `${family} buckets cumulative`);
      }
      const count = samples.find((each) =>
        each.name === `${family}_count` && JSON.stringify(each.labels) === key
      );
      assert.equal(count?.value, buckets.at(-1)!.value, `${family} ${key}: _count = +Inf bucket`);
    }
  }
  return samples;
}

/** Scrapes a supervisor's /metrics and parses it (checking the format). */
export async function scrape(supervisor: Supervisor): Promise<Sample[]> {
  const response = await fetch(`http://127.0.0.1:${supervisor.healthPort}/metrics`, {
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

/** The sum of the samples of `name` whose labels include `labels`. */
export function value(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  const found = samples.filter((sample) =>
    sample.name === name &&
    Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted)
  );
  return found.reduce((sum, sample) => sum + sample.value, 0);
}
