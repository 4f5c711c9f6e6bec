/** A real Prometheus server (Debian's `prometheus`) for tests: the shipped config, answers through its HTTP API. */

import { commandRuns } from "./command.ts";
import { freePort } from "./redis.ts";
import { waitUntil } from "./wait.ts";
import { deadline, forEachLine } from "../async/mod.ts";

/** The folder of the shipped scrape config and alert rules. */
export const PROMETHEUS_DIR = new URL("../deploy/prometheus/", import.meta.url);

/** Whether Debian's `prometheus` server runs here (`apt-get install prometheus`). */
export function prometheusInstalled(): Promise<boolean> {
  return commandRuns("prometheus", ["--version"]);
}

/** Whether `promtool`, which comes with Debian's `prometheus`, runs here. */
export function promtoolInstalled(): Promise<boolean> {
  return commandRuns("promtool", ["--version"]);
}

/** One series of an instant query's answer: its labels and its value. */
export interface InstantSample {
  metric: Record<string, string>;
  value: number;
}

/** An alert as `/api/v1/alerts` lists it: `pending` until its `for` has passed, then `firing`. */
export interface ActiveAlert {
  labels: Record<string, string>;
  state: "pending" | "firing";
}

/** A Prometheus server started by a test; disposing it stops it and removes its folder. */
export interface PrometheusServer extends AsyncDisposable {
  url: string;
  /** Every line it logged so far (for a failing test's message). */
  logs: string[];
  /** An instant query (`/api/v1/query`), at `timeSeconds` when given, else now. */
  query(expr: string, timeSeconds?: number): Promise<InstantSample[]>;
  /** The alerts pending or firing now (`/api/v1/alerts`). */
  alerts(): Promise<ActiveAlert[]>;
  /** Each loaded rule's name and evaluation health (`ok`, `err`, `unknown`), with its last error. */
  rules(): Promise<{ name: string; health: string; lastError?: string }[]>;
}

/**
 * The shipped `deploy/prometheus/prometheus.yml` with only what a test must change: the target
 * (`localhost:8080` → `target`) and the scrape and evaluation intervals (`15s` →
 * `intervalSeconds`), so that a test waits seconds, not minutes. Throws when the shipped file no
 * longer has exactly one of each, so that the test cannot drift from what users get.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { forTest } from "./prometheus.ts";
 *
 * const shipped = "scrape_interval: 15s\nevaluation_interval: 15s\ntargets:\n  - localhost:8080\n";
 * assert.equal(
 *   forTest(shipped, "127.0.0.1:9999", 1),
 *   "scrape_interval: 1s\nevaluation_interval: 1s\ntargets:\n  - 127.0.0.1:9999\n",
 * );
 * ```
 */
export function forTest(shipped: string, target: string, intervalSeconds: number): string {
  let text = shipped;
  for (
    const [from, to] of [
      ["- localhost:8080\n", `- ${target}\n`],
      ["scrape_interval: 15s\n", `scrape_interval: ${intervalSeconds}s\n`],
      ["evaluation_interval: 15s\n", `evaluation_interval: ${intervalSeconds}s\n`],
    ]
  ) {
    const found = text.split(from).length - 1;
    if (found !== 1) {
      throw new Error(
        `deploy/prometheus/prometheus.yml: expected '${from.trim()}' once, found it ${found} times`,
      );
    }
    text = text.replace(from, to);
  }
  return text;
}

/**
 * Starts `prometheus` on a free loopback port with the shipped config rewritten by
 * {@link forTest} to scrape `target` every `intervalSeconds`, and the shipped alert rules beside
 * it, in a temporary folder (its data too). Resolves once it answers `/-/ready`.
 */
export async function startPrometheus(
  options: { target: string; intervalSeconds?: number },
): Promise<PrometheusServer> {
  const dir = await Deno.makeTempDir({ prefix: "ppr-prometheus-" });
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const logs: string[] = [];
  let child: Deno.ChildProcess | undefined;
  let output: Promise<unknown> = Promise.resolve();
  const stop = async () => {
    if (child) {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      const status = child.status;
      await deadline(status, 10_000).catch(async () => {
        try {
          child!.kill("SIGKILL");
        } catch {
          // gone meanwhile
        }
        await status;
      });
      await output;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const shipped = await Deno.readTextFile(new URL("prometheus.yml", PROMETHEUS_DIR));
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      forTest(shipped, options.target, options.intervalSeconds ?? 1),
    );
    await Deno.copyFile(new URL("alerts.yml", PROMETHEUS_DIR), `${dir}/alerts.yml`);
    child = new Deno.Command("prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    output = Promise.all([
      forEachLine(child.stdout, (line) => logs.push(line)),
      forEachLine(child.stderr, (line) => logs.push(line)),
    ]);
    const exited = child.status.then(() => true);
    await waitUntil(async () => {
      if (await Promise.race([exited, Promise.resolve(false)])) {
        throw new Error(`prometheus exited: ${logs.slice(-5).join("\n")}`);
      }
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      return response.ok;
    }, { what: "prometheus to answer /-/ready", timeoutMs: 30_000, intervalMs: 200 });
  } catch (error) {
    await stop();
    throw error;
  }

  const api = async (path: string) => {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
    const body = await response.json();
    if (body.status !== "success") {
      throw new Error(`prometheus ${path}: ${response.status} ${JSON.stringify(body)}`);
    }
    return body.data;
  };
  return {
    url,
    logs,
    async query(expr, timeSeconds) {
      const time = timeSeconds === undefined ? "" : `&time=${timeSeconds}`;
      const data = await api(`/api/v1/query?query=${encodeURIComponent(expr)}${time}`);
      if (data.resultType !== "vector") {
        throw new Error(`${expr}: expected a vector, got ${data.resultType}`);
      }
      return (data.result as { metric: Record<string, string>; value: [number, string] }[])
        .map(({ metric, value }) => ({ metric, value: Number(value[1]) }));
    },
    async alerts() {
      return (await api("/api/v1/alerts")).alerts as ActiveAlert[];
    },
    async rules() {
      const groups = (await api("/api/v1/rules")).groups as {
        rules: { name: string; health: string; lastError?: string }[];
      }[];
      return groups.flatMap((group) =>
        group.rules.map(({ name, health, lastError }) => ({ name, health, lastError }))
      );
    },
    [Symbol.asyncDispose]: stop,
  };
}
