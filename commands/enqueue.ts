/** `ppr-worker enqueue`: adds LLM jobs to a queue, as any BullMQ producer would. */

import { durationOption, integerOption } from "../cli/options.ts";
import { defineCommand, flag, parsed, setting, strings, text } from "./command.ts";

/** `enqueue`: adds jobs and, with `--wait`, prints each result. */
export const enqueue = defineCommand({
  name: "enqueue",
  description: "Add LLM jobs to a queue, as any BullMQ producer would.",
  options: {
    queue: text("-q, --queue <name>", "queue [default: first of QUEUE_NAME]"),
    prompt: text("-p, --prompt <text>", "the prompt"),
    data: text(
      "--data <json>",
      "the whole job data (instead of --prompt): JSON, @file.json, or - for stdin",
    ),
    format: text(
      "--format <schema>",
      "the job's format: a JSON Schema file (or @file), inline JSON, or - for stdin",
    ),
    metadata: strings("--metadata <key=value>", "adds metadata.key = value (a string); repeatable"),
    provider: text("--provider <name>", "provider.name of the job"),
    latencyMs: parsed("--latency-ms <ms>", "provider.latency_ms (echo provider)", integerOption(0)),
    count: parsed("-n, --count <n>", "how many copies of the job", integerOption(1), 1),
    attempts: parsed("--attempts <n>", "attempts before a job fails", integerOption(1), 3),
    priority: parsed(
      "--priority <n>",
      "BullMQ priority, 1 (highest) to 2097152",
      integerOption(1, 2_097_152),
    ),
    delayMs: parsed(
      "--delay <duration>",
      "run no sooner than this from now (e.g. 30s, 5m)",
      durationOption,
    ),
    wait: flag(
      "-w, --wait",
      "wait and print each result as a JSON line (progress on a terminal's stderr); exit 1 if any failed",
    ),
    timeoutMs: parsed(
      "--timeout <duration>",
      "how long --wait waits for each job",
      durationOption,
      600_000,
      "10m",
    ),
    redisUrl: setting("--redis-url <url>", "Redis server [default: REDIS_URL]"),
    prefix: setting("--prefix <prefix>", "BullMQ key prefix [default: BULL_PREFIX]"),
  },
  help:
    "\nExit status: 0 added (with --wait: all completed); 1 a job failed, Redis unreachable, or " +
    "(without --wait) the jobs not acknowledged by REDIS_WAIT_REPLICAS replicas; " +
    "2 invalid job data or flags.\n\nExamples:\n" +
    "  ppr-worker enqueue --prompt 'hello' --count 10 --wait\n" +
    "  ppr-worker enqueue --data @page.json --format org.schema.json --metadata scraper_id=x\n" +
    "  cat page.json | ppr-worker enqueue --data - --priority 1 --delay 5m\n",
  async action({ options, config }) {
    const { runEnqueue } = await import("../cli/enqueue.ts");
    return await runEnqueue({
      redisUrl: config.redisUrl,
      prefix: config.prefix,
      queue: options.queue ?? config.queues[0],
      data: options.data,
      format: options.format,
      metadata: options.metadata,
      prompt: options.prompt,
      provider: options.provider,
      latencyMs: options.latencyMs,
      count: options.count,
      attempts: options.attempts,
      priority: options.priority,
      delayMs: options.delayMs,
      wait: options.wait,
      timeoutMs: options.timeoutMs,
      waitReplicas: config.redisWaitReplicas,
      waitTimeoutMs: config.redisWaitTimeoutMs,
    });
  },
});
