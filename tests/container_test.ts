/** The Dockerfile and compose file, checked as text: these tests build no image and run no container. */

import { strict as assert } from "node:assert";
import { parse } from "yaml";
import { SETTINGS } from "../config/config.ts";
import { parseDurationMs } from "../config/duration.ts";

const root = new URL("../", import.meta.url);
const dockerfile = await Deno.readTextFile(new URL("Dockerfile", root));
const compose = parse(await Deno.readTextFile(new URL("compose.yaml", root)));

/** The top-level folders of the local modules main.ts loads, from Deno's own module graph. */
async function sourceFolders(): Promise<string[]> {
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: root,
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.ok(success, "deno info failed");
  const graph = JSON.parse(new TextDecoder().decode(stdout));
  const folders = new Set<string>();
  for (const module of graph.modules as { specifier: string }[]) {
    if (!module.specifier.startsWith(root.href)) continue;
    const relative = module.specifier.slice(root.href.length);
    if (relative.includes("/")) folders.add(relative.split("/")[0]);
  }
  return [...folders].sort();
}

Deno.test("the image copies every source folder the binary is built from", async () => {
  const folders = await sourceFolders();
  assert.ok(folders.includes("supervisor") && folders.includes("jobs"), folders.join(","));
  for (const folder of folders) {
    assert.match(dockerfile, new RegExp(`^COPY ${folder}/ ${folder}/$`, "m"), `COPY ${folder}/`);
  }
  assert.match(dockerfile, /^COPY deno\.json deno\.lock \.\/$/m);
});

Deno.test("the Dockerfile's text: compiled with deno task compile, run under tini on distroless, healthcheck by the binary", () => {
  assert.match(dockerfile, /deno install --frozen/);
  assert.match(dockerfile, /deno task compile/);
  const stages = dockerfile.match(/^FROM .*$/gm) ?? [];
  assert.match(stages[stages.length - 1], /^FROM gcr\.io\/distroless\//);
  assert.match(dockerfile, /^ENTRYPOINT \["\/usr\/bin\/tini", "--", "\/app\/ppr-worker"\]$/m);
  assert.match(dockerfile, /CMD \["\/app\/ppr-worker", "healthcheck"\]/);
  assert.match(dockerfile, /^EXPOSE 8080$/m);
});

Deno.test("compose: init, the binary's own healthcheck, a grace period longer than the drain", () => {
  const worker = compose.services.worker;
  assert.equal(worker.init, true);
  assert.deepEqual(worker.healthcheck.test, ["CMD", "/app/ppr-worker", "healthcheck"]);
  assert.deepEqual(worker.ports, ["8080-8089:8080"]);
  const drainMs = parseDurationMs(worker.environment.DRAIN_TIMEOUT)!;
  const graceMs = parseDurationMs(worker.stop_grace_period)!;
  assert.ok(
    graceMs > drainMs,
    `stop_grace_period ${graceMs} ms must exceed DRAIN_TIMEOUT ${drainMs} ms`,
  );
});

Deno.test("compose sets only variables ppr-worker reads", () => {
  const known = new Set<string>([
    ...Object.values(SETTINGS).map((setting) => setting.env),
    "ANTHROPIC_API_KEY",
  ]);
  for (const name of Object.keys(compose.services.worker.environment)) {
    assert.ok(known.has(name), `${name} is not a ppr-worker setting`);
  }
});
