import { strict as assert } from "node:assert";
import { SETTINGS } from "../providers/registry.ts";
import { configReport, renderConfigReport } from "./show_config.ts";

Deno.test("configReport: every setting, its source (flag, environment, default), secrets hidden", () => {
  const rows = configReport({ count: "4" }, {
    REDIS_URL: "redis://:topsecret@cache:6379/0",
    ANTHROPIC_API_KEY: "sk-ant-secret",
    QUEUE_NAME: "llm,other",
    WORKER_COUNT: "2",
  });
  assert.equal(rows.length, Object.keys(SETTINGS).length);
  const row = (env: string) => rows.find((candidate) => candidate.env === env)!;
  assert.deepEqual(row("WORKER_COUNT"), {
    env: "WORKER_COUNT",
    flag: "count",
    value: "4",
    source: "flag",
    secret: false,
  });
  assert.equal(row("QUEUE_NAME").source, "environment");
  assert.equal(row("REDIS_URL").value, "redis://:***@cache:6379/0");
  assert.equal(row("ANTHROPIC_API_KEY").value, "(hidden)");
  assert.equal(row("OPENAI_API_KEY").value, null);
  assert.equal(row("DRAIN_TIMEOUT").source, "default");
  assert.doesNotMatch(JSON.stringify(rows), /topsecret|sk-ant-secret/);
});

Deno.test("renderConfigReport: variable, value (quoted unless hidden or unset) and source per line", () => {
  const text = renderConfigReport(
    configReport({ count: "4" }, { ANTHROPIC_API_KEY: "sk-ant-secret" }),
  );
  assert.match(text, /^variable\s+value\s+from/);
  assert.match(text, /WORKER_COUNT\s+"4"\s+flag --count/);
  assert.match(text, /ANTHROPIC_API_KEY\s+\(hidden\)\s+environment/);
  assert.match(text, /LLM_MODEL_NAME\s+\(unset\)\s+default/);
});
