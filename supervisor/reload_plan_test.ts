import { strict as assert } from "node:assert";
import { planReload } from "./reload_plan.ts";
import { CONFIG_SCHEMA } from "../providers/registry.ts";

const plan = (
  running: Record<string, string>,
  next: Record<string, string>,
  flags: Record<string, string> = {},
) => planReload({ running, next, flags, schema: CONFIG_SCHEMA });

Deno.test("a reload applies the settings only workers read and shows their values", () => {
  const planned = plan(
    { LLM_MODEL_NAME: "m1", ECHO_LATENCY: "1s" },
    { LLM_MODEL_NAME: "m2", LLM_TEMPERATURE: "0.2" },
  );
  assert.deepEqual(planned.applied, [
    { variable: "LLM_MODEL_NAME", from: '"m1"', to: '"m2"' },
    { variable: "LLM_TEMPERATURE", from: "(unset)", to: '"0.2"' },
    { variable: "ECHO_LATENCY", from: '"1s"', to: '"0ms" (default)' },
  ]);
  assert.deepEqual(planned.atNextStart, []);
  assert.deepEqual(planned.env, { LLM_MODEL_NAME: "m2", LLM_TEMPERATURE: "0.2" });
});

Deno.test("a setting the supervisor shaped the pool with keeps its running value for the workers", () => {
  const planned = plan(
    { WORKER_COUNT: "2", REDIS_URL: "redis://:old-pass@a:6379" },
    { WORKER_COUNT: "4", REDIS_URL: "redis://:new-pass@b:6379", LOG_LEVEL: "debug" },
  );
  assert.deepEqual(planned.atNextStart.map((change) => change.variable), [
    "WORKER_COUNT",
    "REDIS_URL",
    "LOG_LEVEL",
  ]);
  assert.deepEqual(planned.env, { WORKER_COUNT: "2", REDIS_URL: "redis://:old-pass@a:6379" });
  assert.equal(planned.atNextStart[1].to, '"redis://:***@b:6379"');
  assert.deepEqual(planned.applied, []);
});

Deno.test("a secret's change is named, its values never shown; other variables by name only", () => {
  const planned = plan(
    { OPENAI_API_KEY: "sk-old-1234567890", CLAUDE_CODE_OAUTH_TOKEN: "tok-old" },
    { OPENAI_API_KEY: "sk-new-1234567890", CLAUDE_CODE_OAUTH_TOKEN: "tok-new" },
  );
  assert.deepEqual(planned.atNextStart, [
    { variable: "OPENAI_API_KEY", from: "(hidden)", to: "(hidden)" },
  ]);
  assert.deepEqual(planned.otherVariables, ["CLAUDE_CODE_OAUTH_TOKEN"]);
  assert.ok(!JSON.stringify({ ...planned, env: {} }).includes("old"));
  assert.equal(planned.env.CLAUDE_CODE_OAUTH_TOKEN, "tok-new");
});

Deno.test("a setting given by a flag never changes on reload", () => {
  const flagged = planReload({
    running: { WORKER_COUNT: "2" },
    next: { WORKER_COUNT: "3" },
    flags: { count: "5" },
    schema: CONFIG_SCHEMA,
  });
  assert.deepEqual(flagged.atNextStart, []);
  assert.equal(flagged.env.WORKER_COUNT, "3", "the flag, written in by childEnv, wins over it");
});
