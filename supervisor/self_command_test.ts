import { strict as assert } from "node:assert";
import manifest from "../deno.json" with { type: "json" };
import {
  PERMISSION_SET,
  selfCommand,
  V8_FLAGS,
  v8ModeProblem,
  workerCommand,
} from "./self_command.ts";

Deno.test("compiled: a worker is the binary itself with the worker subcommand", () => {
  const self = {
    standalone: true,
    execPath: "/app/ppr-worker",
    mainModule: "file:///tmp/deno-compile-ppr-worker/main.ts",
  };
  assert.deepEqual(workerCommand(self, "worker-web1-2"), {
    command: "/app/ppr-worker",
    args: ["worker", "--name", "worker-web1-2", "--supervised"],
  });
});

Deno.test("deno run: a worker is deno run with the start task's permission set and V8 flags", () => {
  const self = {
    standalone: false,
    execPath: "/usr/bin/deno",
    mainModule: "file:///srv/ppr%20worker/main.ts",
  };
  assert.deepEqual(workerCommand(self, "worker-web1-1"), {
    command: "/usr/bin/deno",
    args: [
      "run",
      "-q",
      "--no-prompt",
      "--config",
      "/srv/ppr worker/deno.json",
      "-P=ppr",
      "--v8-flags=--lite-mode",
      "/srv/ppr worker/main.ts",
      "worker",
      "--name",
      "worker-web1-1",
      "--supervised",
    ],
  });
});

Deno.test("deno run: a heap limit joins the V8 flags; a compiled binary keeps its own", () => {
  const run = workerCommand(
    { standalone: false, execPath: "deno", mainModule: "file:///x/main.ts" },
    "worker-a-1",
    { heapLimitMb: 300 },
  );
  assert.ok(
    run.args.includes("--v8-flags=--lite-mode,--max-old-space-size=300"),
    run.args.join(" "),
  );
  const compiled = workerCommand(
    { standalone: true, execPath: "/app/ppr-worker", mainModule: "file:///x/main.ts" },
    "worker-a-1",
    { heapLimitMb: 300 },
  );
  assert.deepEqual(compiled.args, ["worker", "--name", "worker-a-1", "--supervised"]);
});

Deno.test("deno run: V8_MODE=jit drops --lite-mode and nothing else, with or without a heap limit", () => {
  const self = { standalone: false, execPath: "/usr/bin/deno", mainModule: "file:///srv/main.ts" };
  assert.deepEqual(workerCommand(self, "worker-web1-1", { v8Mode: "jit" }).args, [
    "run",
    "-q",
    "--no-prompt",
    "--config",
    "/srv/deno.json",
    "-P=ppr",
    "/srv/main.ts",
    "worker",
    "--name",
    "worker-web1-1",
    "--supervised",
  ]);
  const capped = workerCommand(self, "worker-web1-1", { v8Mode: "jit", heapLimitMb: 300 });
  assert.deepEqual(capped.args.filter((arg) => arg.startsWith("--v8-flags")), [
    "--v8-flags=--max-old-space-size=300",
  ]);
  assert.deepEqual(
    workerCommand(self, "worker-web1-1", { v8Mode: "lite" }),
    workerCommand(self, "worker-web1-1"),
  );
});

Deno.test("compiled: V8_MODE=jit is refused, its V8 flags being fixed at compile time; lite is not", () => {
  const compiled = { standalone: true, execPath: "/app/ppr-worker", mainModule: "file:///main.ts" };
  assert.match(
    v8ModeProblem(compiled, "jit") ?? "",
    /^V8_MODE=jit cannot apply to a compiled binary: .*deno task start/,
  );
  assert.equal(v8ModeProblem(compiled, "lite"), undefined);
  assert.equal(v8ModeProblem({ ...compiled, standalone: false }, "jit"), undefined);
});

Deno.test("the start and compile tasks use the same permission set and V8 flags as the children; start, test, bench and chaos build the worker bundle first", () => {
  for (const task of ["start", "test", "bench", "chaos"] as const) {
    assert.ok(manifest.tasks[task].startsWith(`${manifest.tasks.bundle} && `), task);
  }
  for (const task of ["start", "compile"] as const) {
    const line = manifest.tasks[task];
    assert.ok(line.includes(`-P=${PERMISSION_SET}`), `${task}: ${line}`);
    assert.ok(line.includes(`--v8-flags=${V8_FLAGS}`), `${task}: ${line}`);
    assert.ok(line.includes("--no-prompt"), `${task}: ${line}`);
  }
  assert.ok(PERMISSION_SET in manifest.permissions);
  const self = selfCommand({
    standalone: false,
    execPath: "deno",
    mainModule: "file:///x/main.ts",
  });
  assert.ok(
    manifest.tasks.start.split(" && ").at(-1)!.startsWith(
      `deno ${
        self.args.filter((arg) =>
          arg !== "--config" && arg !== "/x/deno.json" && arg !== "/x/main.ts"
        ).join(" ")
      }`,
    ),
  );
});
