/**
 * compose.yaml read as data, without an engine: what `deno task test:containers`
 * (tests/containers/) cannot show by running it — the syntax both `docker compose` v2 and
 * docker-compose 1.29 accept, and settings that must agree with ppr-worker's own.
 */

import { commandRuns, reportSkipped } from "../testing/command.ts";
import { strict as assert } from "node:assert";
import { parse } from "yaml";
import { SETTINGS } from "../providers/registry.ts";
import { parseDurationMs } from "../config/duration.ts";

const root = new URL("../", import.meta.url);
const composeText = await Deno.readTextFile(new URL("compose.yaml", root));
const compose = parse(composeText);

Deno.test("compose.yaml: the worker's stop_grace_period is longer than its DRAIN_TIMEOUT", () => {
  const worker = compose.services.worker;
  const drainMs = parseDurationMs(worker.environment.DRAIN_TIMEOUT)!;
  const graceMs = parseDurationMs(worker.stop_grace_period)!;
  assert.ok(
    graceMs > drainMs,
    `stop_grace_period ${graceMs} ms must exceed DRAIN_TIMEOUT ${drainMs} ms`,
  );
});

Deno.test("compose.yaml sets only variables ppr-worker reads", () => {
  const known = new Set<string>([
    ...Object.values(SETTINGS).map((setting) => setting.env),
    "ANTHROPIC_API_KEY",
  ]);
  for (const name of Object.keys(compose.services.worker.environment)) {
    assert.ok(known.has(name), `${name} is not a ppr-worker setting`);
  }
});

Deno.test(
  "compose.yaml uses no syntax docker-compose 1.29 rejects: top-level name, depends_on.*.required, healthcheck.start_interval",
  () => {
    assert.equal(compose.name, undefined, "top-level name:");
    assert.equal(compose.version, undefined, "version: is obsolete in v2 and not needed by 1.29");
    type Service = {
      depends_on?: Record<string, { required?: boolean }>;
      healthcheck?: { start_interval?: string };
    };
    for (const [name, service] of Object.entries(compose.services) as [string, Service][]) {
      for (const [dependency, condition] of Object.entries(service.depends_on ?? {})) {
        assert.equal(
          condition.required,
          undefined,
          `${name}.depends_on.${dependency}.required`,
        );
      }
      assert.equal(
        service.healthcheck?.start_interval,
        undefined,
        `${name}.healthcheck.start_interval`,
      );
    }
  },
);

const dockerCompose = await commandRuns("docker-compose", ["version", "--short"]);
if (!dockerCompose) {
  reportSkipped(
    "docker-compose is not installed (apt-get install docker-compose): its syntax test",
  );
}

Deno.test({
  name:
    "docker-compose 1.29 reads compose.yaml and the container tests' overrides (config -q, offline)",
  ignore: !dockerCompose,
  async fn() {
    const here = new URL("containers/", import.meta.url).pathname;
    for (const overrides of [[], ["compose.test.yaml"], ["compose.test.yaml", "read_only.yaml"]]) {
      const { success, stderr } = await new Deno.Command("docker-compose", {
        args: [
          "-f",
          "compose.yaml",
          ...overrides.flatMap((file) => ["-f", `${here}${file}`]),
          "config",
          "-q",
        ],
        cwd: root,
        env: { PPR_TEST_REDIS_PORT: "6379" },
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(success, `${overrides.join(", ")}: ${new TextDecoder().decode(stderr)}`);
    }
  },
});
