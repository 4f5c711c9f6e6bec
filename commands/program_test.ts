import { strict as assert } from "node:assert";
import { type Config, type FlagValues } from "../config/config.ts";
import { defineCommand, flag, type Run, setting, text } from "./command.ts";
import { runProgram } from "./program.ts";

/** What an action saw. */
interface Seen {
  options?: Record<string, unknown>;
  args?: readonly string[];
  config?: Config;
  flags?: FlagValues;
  beforeConfig?: boolean;
}

/** A program of a root and one command `look`, recording what their actions see. */
function program(seen: Seen, env: Record<string, string> = {}) {
  const record = (run: Run) => {
    seen.options = run.options;
    seen.args = run.args;
    seen.config = run.config;
    seen.flags = run.flags;
  };
  const root = defineCommand({
    name: "ppr-worker",
    description: "the pool",
    everySetting: true,
    options: {},
    beforeConfig() {
      seen.beforeConfig = true;
      return Promise.resolve();
    },
    action(run) {
      record(run);
      return Promise.resolve(0);
    },
  });
  const look = defineCommand({
    name: "look",
    description: "looks at a queue",
    arguments: [{ name: "<id>", description: "job id" }],
    options: {
      queue: text("-q, --queue <names>", "queues to look at"),
      redisUrl: setting("--redis-url <url>", "Redis server"),
      json: flag("--json", "print JSON"),
    },
    action(run) {
      record(run);
      return Promise.resolve(run.options.json ? 7 : 0);
    },
  });
  return { root, commands: [look], env };
}

/** Runs `body` with console.error captured; returns what it printed. */
async function errorsOf(body: () => Promise<unknown>): Promise<string> {
  const original = console.error;
  const lines: string[] = [];
  console.error = (...parts: unknown[]) => lines.push(parts.join(" "));
  try {
    await body();
  } finally {
    console.error = original;
  }
  return lines.join("\n");
}

Deno.test("runProgram: the action's return value is the exit status", async () => {
  const seen: Seen = {};
  assert.equal(await runProgram(["look", "42", "--json"], program(seen)), 7);
  assert.equal(await runProgram(["look", "42"], program(seen)), 0);
});

Deno.test("runProgram: the action gets its typed options, its arguments and a Config of its setting options over the environment", async () => {
  const seen: Seen = {};
  await runProgram(
    ["look", "42", "--redis-url", "redis://cache:6380", "--json"],
    program(seen, { BULL_PREFIX: "pfx", REDIS_URL: "redis://other" }),
  );
  assert.deepEqual(seen.options, { queue: undefined, redisUrl: "redis://cache:6380", json: true });
  assert.deepEqual(seen.args, ["42"]);
  assert.equal(seen.config?.redisUrl, "redis://cache:6380");
  assert.equal(seen.config?.prefix, "pfx");
  assert.deepEqual(seen.flags, { "redis-url": "redis://cache:6380" });
});

Deno.test("runProgram: an option that gives no setting never feeds the Config, even with a setting's flag name (--queue)", async () => {
  const seen: Seen = {};
  const status = await runProgram(["look", "42", "--queue", "results"], program(seen));
  assert.equal(status, 0);
  assert.equal(seen.options?.queue, "results");
  // As a setting, "results" would be refused: no processor serves it.
  assert.deepEqual(seen.config?.queues, ["llm"]);
  assert.deepEqual(seen.flags, {});
});

Deno.test("runProgram: everySetting takes every setting's flag into the Config", async () => {
  const seen: Seen = {};
  await runProgram(["--count", "3", "--no-health", "--prefix", "p"], program(seen));
  assert.equal(seen.config?.workerCount, 3);
  assert.equal(seen.config?.healthEnabled, false);
  assert.deepEqual(seen.flags, { count: "3", health: false, prefix: "p" });
});

Deno.test("runProgram: an invalid configuration is exit 2 with every problem listed; the action never runs, beforeConfig does", async () => {
  const seen: Seen = {};
  let status = 0;
  const printed = await errorsOf(async () => {
    status = await runProgram(
      ["--count", "0"],
      program(seen, { WORKER_CONCURRENCY: "x" }),
    );
  });
  assert.equal(status, 2);
  assert.match(printed, /^ppr-worker: invalid configuration \(2 problems\):/);
  assert.match(printed, /--count = "0"/);
  assert.match(printed, /WORKER_CONCURRENCY \(--concurrency\) = "x"/);
  assert.equal(seen.config, undefined);
  assert.equal(seen.beforeConfig, true);
});

Deno.test("runProgram: an unknown option is a usage error, exit 2, and no action runs", async () => {
  const seen: Seen = {};
  assert.equal(await runProgram(["look", "42", "--bogus"], program(seen)), 2);
  assert.equal(seen.options, undefined);
});

Deno.test("runProgram: a command with subcommands runs its own action by itself, the subcommand's when named, and refuses an unknown name with exit 2", async () => {
  const ran: string[] = [];
  const cancel = defineCommand({
    name: "cancel",
    description: "cancels one",
    arguments: [{ name: "<id>", description: "its id" }],
    options: {},
    action({ args }) {
      ran.push(`cancel ${args[0]}`);
      return Promise.resolve(3);
    },
  });
  const list = defineCommand({
    name: "things",
    description: "lists them",
    options: { json: flag("--json", "print JSON") },
    subcommands: [cancel],
    action({ options }) {
      ran.push(`things json=${options.json}`);
      return Promise.resolve(0);
    },
  });
  const withThings = { ...program({}), commands: [list] };
  assert.equal(await runProgram(["things", "--json"], withThings), 0);
  assert.equal(await runProgram(["things", "cancel", "b1"], withThings), 3);
  // commander writes the usage error itself ("too many arguments for 'things'").
  assert.equal(await runProgram(["things", "cancle", "b1"], withThings), 2);
  assert.deepEqual(ran, ["things json=true", "cancel b1"]);
});
