import { CONFIG_SCHEMA } from "../providers/registry.ts";
import { strict as assert } from "node:assert";
import { type Config, parseConfig } from "../config/config.ts";
import { openQueueProcessor, type QueueProcessor } from "./queue_processor.ts";

function configOf(env: Record<string, string>): Config {
  const result = parseConfig({}, env, CONFIG_SCHEMA);
  if (!result.ok) throw new Error(result.errors.join("\n"));
  return result.config;
}

Deno.test("openQueueProcessor: an LLM queue is opened by the LLM processors; a recorder or command queue takes WORKER_CONCURRENCY at once through no gate", async () => {
  const config = configOf({
    QUEUE_NAME: "llm,recorder,scrape",
    QUEUE_PROCESSORS: "scrape=./scrape.sh",
    WORKER_CONCURRENCY: "3",
    LLM_PROVIDER: "echo",
  });
  const fromLlm: QueueProcessor = {
    concurrency: 1,
    runTry: () => Promise.resolve("llm"),
    close: () => Promise.resolve(),
  };
  const asked: string[] = [];
  const openLlm = (queue: string) => {
    asked.push(queue);
    return fromLlm;
  };
  const open = (queue: string) =>
    openQueueProcessor(queue, config.queueProcessors[queue], config, openLlm);
  assert.equal(open("llm"), fromLlm);
  for (const queue of ["recorder", "scrape"]) {
    const processor = open(queue);
    assert.equal(processor?.concurrency, 3);
    assert.equal(processor?.intake, undefined);
    await processor?.close();
  }
  assert.deepEqual(asked, ["llm"]);
});
