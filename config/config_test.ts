import { strict as assert } from "node:assert";
import { CONFIG_SCHEMA, SETTINGS } from "../providers/registry.ts";
import {
  childEnv,
  CORE_SETTINGS,
  joinSettings,
  parseConfig,
  secretsOf,
  settingsHelp,
} from "./config.ts";
import { duration, parseProcessors, pattern, splitEntries } from "./rules.ts";

const KNOWN = CONFIG_SCHEMA;

function errorsOf(flags: Record<string, string | boolean>, env: Record<string, string>) {
  const result = parseConfig(flags, env, KNOWN);
  assert.equal(result.ok, false, "expected the configuration to be rejected");
  return result.ok ? [] : result.errors;
}

function configOf(flags: Record<string, string | boolean>, env: Record<string, string>) {
  const result = parseConfig(flags, env, KNOWN);
  if (!result.ok) throw new Error(result.errors.join("\n"));
  return result.config;
}

Deno.test("defaults follow the contract", () => {
  const config = configOf({}, {});
  assert.equal(config.workerCount, 1);
  assert.deepEqual(config.queues, ["llm"]);
  assert.equal(config.concurrency, 1);
  assert.equal(config.redisUrl, "redis://127.0.0.1:6379");
  assert.equal(config.healthEnabled, true);
  assert.equal(config.healthHost, "0.0.0.0");
  assert.equal(config.healthPort, 8080);
  assert.equal(config.llmTimeoutMs, 300_000);
  assert.equal(config.restartDelayMs, 10_000);
  assert.equal(config.drainTimeoutMs, 30_000);
  assert.equal(config.logFormat, "auto");
  assert.equal(config.logLevel, "info");
  assert.equal(config.llmModel, undefined);
});

Deno.test("flags win over the environment", () => {
  const config = configOf({ count: "4", queue: "recorder,llm" }, {
    WORKER_COUNT: "2",
    QUEUE_NAME: "llm",
  });
  assert.equal(config.workerCount, 4);
  assert.deepEqual(config.queues, ["recorder", "llm"]);
  assert.equal(configOf({}, { WORKER_COUNT: "2" }).workerCount, 2);
});

Deno.test("WORKER_COUNT must be an integer from 1 to 20", () => {
  for (const bad of ["0", "21", "abc", "1.5", "-1", "4 workers"]) {
    const errors = errorsOf({}, { WORKER_COUNT: bad });
    assert.deepEqual(errors, [
      `WORKER_COUNT (--count) = ${JSON.stringify(bad)}: must be an integer from 1 to 20`,
    ]);
  }
  assert.equal(configOf({}, { WORKER_COUNT: "20" }).workerCount, 20);
  assert.equal(configOf({}, { WORKER_COUNT: "1" }).workerCount, 1);
});

Deno.test("WORKER_AUTOSCALE must be MIN,MAX within 1 to 20 with MIN at most MAX; unset, the pool does not autoscale", () => {
  for (const bad of ["8,1", "0,4", "1,21", "4", "1-8", "a,b", "1,8,9"]) {
    assert.deepEqual(errorsOf({}, { WORKER_AUTOSCALE: bad }), [
      `WORKER_AUTOSCALE (--autoscale) = ${
        JSON.stringify(bad)
      }: must be MIN,MAX: two integers from 1 to 20, MIN at most MAX`,
    ]);
  }
  assert.deepEqual(configOf({ autoscale: " 2, 8" }, {}).autoscale, { min: 2, max: 8 });
  assert.deepEqual(configOf({}, { WORKER_AUTOSCALE: "3,3" }).autoscale, { min: 3, max: 3 });
  assert.equal(configOf({}, {}).autoscale, undefined);
  assert.equal(configOf({}, {}).autoscaleDownDelayMs, 30_000);
  assert.deepEqual(errorsOf({}, { AUTOSCALE_DOWN_DELAY: "500ms" }), [
    'AUTOSCALE_DOWN_DELAY (--autoscale-down-delay) = "500ms": must be a duration from 1s to 1h ' +
    "(e.g. 10s, 5m, or bare seconds)",
  ]);
});

Deno.test("WORKER_POOLS gives each queue of QUEUE_NAME a pool of COUNT or MIN-MAX workers, with an optional :CONCURRENCY; unset, there is one pool", () => {
  assert.deepEqual(
    configOf({ pools: "llm=2-6:4, recorder=1" }, { QUEUE_NAME: "llm,recorder" }).pools,
    [
      { queue: "llm", count: 2, range: { min: 2, max: 6 }, concurrency: 4 },
      { queue: "recorder", count: 1, range: undefined, concurrency: undefined },
    ],
  );
  assert.equal(configOf({}, {}).pools, undefined);
});

Deno.test("WORKER_POOLS's errors name the setting, the value and the part that is wrong", () => {
  const rule = "must be queue=COUNT or queue=MIN-MAX (autoscaled), each with an optional " +
    ":CONCURRENCY, comma-separated, one pool per queue, at most 20 worker processes in all";
  const cases: [string, string][] = [
    ["llm=0", "pool llm: 0 is not a count within 1-20"],
    ["llm=21", "pool llm: 21 is not a count within 1-20"],
    ["llm=6-2", "pool llm: 6-2 is not a range MIN-MAX within 1-20"],
    ["llm=2:0", "pool llm: concurrency 0 is not from 1 to 100"],
    ["llm", '"llm" is not queue=COUNT or queue=MIN-MAX, with an optional :CONCURRENCY'],
    ["llm=1,llm=2", "queue llm is in two pools"],
    ["llm=10,recorder=5-11", "the pools may run 21 worker processes together, more than 20"],
  ];
  for (const [bad, problem] of cases) {
    assert.deepEqual(errorsOf({}, { QUEUE_NAME: "llm,recorder", WORKER_POOLS: bad }), [
      `WORKER_POOLS (--pools) = ${JSON.stringify(bad)}: ${rule} (${problem})`,
    ]);
  }
});

Deno.test("WORKER_POOLS must pool exactly the queues of QUEUE_NAME, and at most one pool may serve LLM queues", () => {
  assert.deepEqual(errorsOf({ pools: "llm=1,other=1" }, { QUEUE_NAME: "llm,recorder" }), [
    '--pools = "llm=1,other=1": queue "other" is not one of QUEUE_NAME (--queue) (llm,recorder): add it there, or remove its pool',
    '--pools = "llm=1,other=1": queue "recorder" of QUEUE_NAME (--queue) (llm,recorder) is in no pool: give it one, e.g. recorder=1',
  ]);
  assert.deepEqual(
    errorsOf({ pools: "llm=1,fast=1" }, {
      QUEUE_NAME: "llm,fast",
      QUEUE_PROCESSORS: "fast=llm",
    }),
    [
      '--pools = "llm=1,fast=1": pools llm, fast all serve LLM queues; at most one pool may ' +
      "(LLM_MAX_IN_FLIGHT is split over one pool's workers): put them in one pool without " +
      "WORKER_POOLS, or keep one of them",
    ],
  );
});

Deno.test("WORKER_AUTOSCALE beside WORKER_POOLS is refused, naming where each pool's range goes", () => {
  assert.deepEqual(
    errorsOf({ pools: "llm=2,recorder=1", autoscale: "1,4" }, { QUEUE_NAME: "llm,recorder" }),
    [
      '--autoscale = "1,4": not used with --pools, whose pools have ranges of their own: give ' +
      "the pool its range there (e.g. llm=1-4), or unset it",
    ],
  );
  assert.deepEqual(
    errorsOf({}, {
      QUEUE_NAME: "llm,recorder",
      WORKER_POOLS: "llm=1-4,recorder=1",
      WORKER_AUTOSCALE: "1,4",
    }).length,
    1,
  );
  assert.equal(
    configOf({ pools: "llm=1-4,recorder=1" }, { QUEUE_NAME: "llm,recorder" }).autoscale,
    undefined,
  );
});

Deno.test("WORKER_POOLS stays with the supervisor: its workers get their pool's queue instead", () => {
  const env = childEnv({ pools: "llm=2" }, { LLM_PROVIDER: "echo" }, KNOWN);
  assert.equal(env.WORKER_POOLS, undefined);
});

Deno.test("a bad flag is named as the flag", () => {
  assert.deepEqual(errorsOf({ count: "21" }, {}), [
    '--count = "21": must be an integer from 1 to 20',
  ]);
});

Deno.test("WORKER_CONCURRENCY must be an integer from 1 to 100", () => {
  assert.match(errorsOf({}, { WORKER_CONCURRENCY: "0" })[0], /WORKER_CONCURRENCY.*1 to 100/);
  assert.match(errorsOf({}, { WORKER_CONCURRENCY: "101" })[0], /1 to 100/);
});

Deno.test("QUEUE_NAME must name at least one queue, without repeats", () => {
  assert.match(errorsOf({}, { QUEUE_NAME: " , " })[0], /QUEUE_NAME .*one or more queue names/);
  assert.match(errorsOf({}, { QUEUE_NAME: "llm,llm" })[0], /QUEUE_NAME/);
  assert.match(errorsOf({}, { QUEUE_NAME: "a b" })[0], /QUEUE_NAME/);
  assert.deepEqual(configOf({}, { QUEUE_NAME: "llm, recorder" }).queues, ["llm", "recorder"]);
});

Deno.test("REDIS_URL must be redis:// or rediss:// with a host, and its password is never shown", () => {
  assert.match(
    errorsOf({}, { REDIS_URL: "http://cache:6379" })[0],
    /REDIS_URL .*redis:\/\/ or rediss:\/\/ URL with a host.*\(unknown scheme http:\/\//,
  );
  assert.match(errorsOf({}, { REDIS_URL: "cache:6379" })[0], /REDIS_URL/);
  assert.match(errorsOf({}, { REDIS_URL: "redis://cache:6379/db" })[0], /REDIS_URL/);
  const [error] = errorsOf({}, { REDIS_URL: "redis://:hunter2@cache:6379/abc" });
  assert.doesNotMatch(error, /hunter2/);
  assert.match(error, /\*\*\*/);
  assert.equal(
    configOf({}, { REDIS_URL: "rediss://user:pw@cache:6380/2" }).redisUrl,
    "rediss://user:pw@cache:6380/2",
  );
});

Deno.test("REDIS_URL takes a Sentinel and a Cluster form; a broken one says what was expected, never the password", () => {
  const sentinel = "rediss+sentinel://app:hunter2@s1:26379,s2:26379/mymaster/1";
  assert.equal(configOf({}, { REDIS_URL: sentinel }).redisUrl, sentinel);
  const cluster = "redis-cluster://app:hunter2@n1:7000,n2:7001";
  assert.equal(configOf({}, { REDIS_URL: cluster, BULL_PREFIX: "{ppr}" }).redisUrl, cluster);
  const [missingMaster] = errorsOf({}, { REDIS_URL: "redis+sentinel://app:hunter2@s1:26379" });
  assert.equal(
    missingMaster,
    'REDIS_URL (--redis-url) = "redis+sentinel://app:***@s1:26379": must be ' +
      "a redis:// or rediss:// URL with a host (e.g. redis://127.0.0.1:6379/0), a Sentinel URL " +
      "redis+sentinel://[user:password@]host:26379[,host:26379...]/<master>[/<db>], or a " +
      "Cluster URL redis-cluster://[user:password@]host:7000[,host:7001...] " +
      "(rediss+sentinel:// and rediss-cluster:// for TLS) " +
      "(a Sentinel URL names its master after the hosts: redis+sentinel://host:26379/<master>)",
  );
  const [badPort] = errorsOf({ "redis-url": "redis-cluster://:hunter2@n1:70000" }, {});
  assert.match(
    badPort,
    /^--redis-url = "redis-cluster:\/\/:\*\*\*@n1:70000": must be .* \(the port of "n1:70000" must be 1 to 65535\)$/,
  );
});

Deno.test("with a Cluster REDIS_URL, a BULL_PREFIX without a hash tag is refused with the reason", () => {
  const cluster = "redis-cluster://n1:7000";
  assert.deepEqual(errorsOf({}, { REDIS_URL: cluster }), [
    'BULL_PREFIX (--prefix) = "bull": must hold a hash tag such as {ppr} when REDIS_URL ' +
    "(--redis-url) is a Redis Cluster: BullMQ's scripts touch several keys of a queue at once, " +
    "and a Cluster runs them only on keys of one slot (without a tag, adding a job fails with " +
    "CROSSSLOT); e.g. BULL_PREFIX={ppr}",
  ]);
  assert.match(errorsOf({ prefix: "{}bull" }, { REDIS_URL: cluster })[0], /^--prefix = "\{\}bull"/);
  assert.equal(configOf({}, { REDIS_URL: cluster, BULL_PREFIX: "app{jobs}" }).prefix, "app{jobs}");
  assert.equal(configOf({}, { REDIS_URL: "redis+sentinel://s1/m" }).prefix, "bull");
});

Deno.test("REDIS_WAIT_REPLICAS is 0 to 16 (0: no WAIT), REDIS_WAIT_TIMEOUT 10ms to 1m (1s)", () => {
  const config = configOf({}, {});
  assert.equal(config.redisWaitReplicas, 0);
  assert.equal(config.redisWaitTimeoutMs, 1000);
  assert.equal(configOf({}, { REDIS_WAIT_REPLICAS: "2" }).redisWaitReplicas, 2);
  assert.equal(configOf({}, { REDIS_WAIT_TIMEOUT: "250ms" }).redisWaitTimeoutMs, 250);
  assert.deepEqual(errorsOf({}, { REDIS_WAIT_REPLICAS: "17", REDIS_WAIT_TIMEOUT: "0" }), [
    'REDIS_WAIT_REPLICAS = "17": must be an integer from 0 to 16',
    'REDIS_WAIT_TIMEOUT = "0": must be a duration from 10ms to 1m (e.g. 500ms, 10s, or bare seconds)',
  ]);
});

Deno.test("REDIS_WAIT_TIMEOUT past a quarter of LOCK_DURATION is refused while REDIS_WAIT_REPLICAS asks for a WAIT", () => {
  assert.deepEqual(
    errorsOf({}, { REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT: "3s", LOCK_DURATION: "10s" }),
    [
      'REDIS_WAIT_TIMEOUT = "3s": must be at most a quarter of LOCK_DURATION (2500ms) while ' +
      "REDIS_WAIT_REPLICAS asks for a WAIT: a WAIT holds the worker's connection, and the " +
      "renewals of its jobs' locks wait behind it; a lock that lapses lets its job run again",
    ],
  );
  const config = configOf({}, { REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT: "2500ms" });
  assert.equal(config.redisWaitTimeoutMs, 2500);
  assert.equal(configOf({}, { REDIS_WAIT_TIMEOUT: "1m" }).redisWaitTimeoutMs, 60_000);
});

Deno.test("secretsOf holds the REDIS_URL password of the Sentinel and Cluster forms, as written and decoded", () => {
  for (
    const url of ["redis+sentinel://app:s3%2Fcret@s1,s2/m", "redis-cluster://:s3%2Fcret@n1:7000"]
  ) {
    const config = configOf({}, { REDIS_URL: url, BULL_PREFIX: "{ppr}" });
    assert.deepEqual(secretsOf(config, KNOWN), ["s3%2Fcret", "s3/cret"]);
  }
  const config = configOf({}, { REDIS_URL: "redis://:100%@cache" });
  assert.deepEqual(secretsOf(config, KNOWN), ["100%", "100%"]);
});

Deno.test("LLM_PROVIDER must be a provider this build has", () => {
  const [error] = errorsOf({}, { LLM_PROVIDER: "gpt" });
  assert.match(error, /^LLM_PROVIDER \(--provider\) = "gpt": must be one of /);
  assert.equal(configOf({}, { LLM_PROVIDER: "ECHO" }).provider, "echo");
});

Deno.test("durations accept ms, s, m and bare seconds; anything else names the rule", () => {
  assert.equal(configOf({}, { DRAIN_TIMEOUT: "500ms" }).drainTimeoutMs, 500);
  assert.equal(configOf({}, { DRAIN_TIMEOUT: "5m" }).drainTimeoutMs, 300_000);
  assert.equal(configOf({}, { RESTART_DELAY: "3" }).restartDelayMs, 3000);
  const [error] = errorsOf({}, { DRAIN_TIMEOUT: "soon" });
  assert.match(error, /^DRAIN_TIMEOUT \(--drain-timeout\) = "soon": must be a duration/);
  assert.match(
    errorsOf({}, { LLM_TIMEOUT: "0" })[0],
    /LLM_TIMEOUT = "0": must be a duration from 1s/,
  );
});

Deno.test("CLAUDE_HEALTH_SERVER is true or false; --no-health turns the server off", () => {
  assert.equal(configOf({}, { CLAUDE_HEALTH_SERVER: "false" }).healthEnabled, false);
  assert.equal(configOf({ health: false }, { CLAUDE_HEALTH_SERVER: "true" }).healthEnabled, false);
  assert.match(
    errorsOf({}, { CLAUDE_HEALTH_SERVER: "maybe" })[0],
    /CLAUDE_HEALTH_SERVER.*true or false/,
  );
});

Deno.test("HEALTH_PORT must be a port from 1 to 65535", () => {
  assert.match(errorsOf({}, { HEALTH_PORT: "0" })[0], /HEALTH_PORT .*1 to 65535/);
  assert.match(errorsOf({}, { HEALTH_PORT: "70000" })[0], /HEALTH_PORT/);
});

Deno.test("LOG_FORMAT and LOG_LEVEL take their listed values", () => {
  assert.match(errorsOf({}, { LOG_FORMAT: "xml" })[0], /LOG_FORMAT .*auto, json, pretty/);
  assert.match(errorsOf({}, { LOG_LEVEL: "loud" })[0], /LOG_LEVEL/);
});

Deno.test("LLM_TEMPERATURE and LLM_MAX_TOKENS are checked", () => {
  assert.match(
    errorsOf({}, { LLM_TEMPERATURE: "3" })[0],
    /LLM_TEMPERATURE = "3": must be a number from 0 to 2/,
  );
  assert.match(errorsOf({}, { LLM_MAX_TOKENS: "0" })[0], /LLM_MAX_TOKENS/);
  assert.equal(configOf({}, { LLM_TEMPERATURE: "0.2" }).llmTemperature, 0.2);
});

Deno.test("every problem is reported at once, in settings order", () => {
  const errors = errorsOf(
    { "drain-timeout": "soon" },
    { WORKER_COUNT: "0", REDIS_URL: "nope", LLM_PROVIDER: "gpt", HEALTH_PORT: "x" },
  );
  assert.equal(errors.length, 5);
  assert.deepEqual(errors.map((error) => error.split(" ")[0]), [
    "WORKER_COUNT",
    "REDIS_URL",
    "HEALTH_PORT",
    "LLM_PROVIDER",
    "--drain-timeout",
  ]);
});

Deno.test("an empty variable counts as unset", () => {
  assert.equal(configOf({}, { WORKER_COUNT: "" }).workerCount, 1);
});

Deno.test("children get flag values as environment variables, so they resolve the same config", () => {
  const env = { WORKER_COUNT: "2", PATH: "/bin" };
  const flags = { count: "4", "drain-timeout": "5s", health: false };
  const forChild = childEnv(flags, env, KNOWN);
  assert.equal(forChild.WORKER_COUNT, "4");
  assert.equal(forChild.DRAIN_TIMEOUT, "5s");
  assert.equal(forChild.CLAUDE_HEALTH_SERVER, "false");
  assert.equal(forChild.PATH, "/bin");
  assert.deepEqual(configOf({}, forChild), configOf(flags, env));
});

Deno.test("help lists every variable and flag", () => {
  const help = settingsHelp(KNOWN);
  for (const setting of Object.values(SETTINGS) as { env: string; flag?: string }[]) {
    assert.ok(help.includes(setting.env), setting.env);
    if (setting.flag && setting.flag !== "health") {
      assert.ok(help.includes(`--${setting.flag}`), setting.flag);
    }
  }
  assert.ok(help.includes("--[no-]health"));
});

Deno.test("MAX_WORKER_MEMORY takes sizes in bytes, KB, MB, GB; MAX_JOB_CRASHES defaults to 3", () => {
  assert.equal(configOf({}, { MAX_WORKER_MEMORY: "512MB" }).maxWorkerMemoryBytes, 512 * 1048576);
  assert.equal(configOf({}, { MAX_WORKER_MEMORY: "1.5GB" }).maxWorkerMemoryBytes, 1610612736);
  assert.equal(configOf({}, {}).maxWorkerMemoryBytes, undefined);
  assert.equal(configOf({}, {}).maxJobCrashes, 3);
  assert.match(errorsOf({}, { MAX_WORKER_MEMORY: "lots" })[0], /must be a size such as 512MB/);
  assert.match(errorsOf({}, { MAX_WORKER_MEMORY: "1MB" })[0], /MAX_WORKER_MEMORY/);
});

Deno.test("LOCK_DURATION and STALLED_INTERVAL default to 10s and 3s; a lock under 2 s or an interval under 500 ms is refused", () => {
  assert.equal(configOf({}, {}).lockDurationMs, 10_000);
  assert.equal(configOf({}, {}).stalledIntervalMs, 3000);
  const config = configOf({}, { LOCK_DURATION: "30s", STALLED_INTERVAL: "30" });
  assert.equal(config.lockDurationMs, 30_000);
  assert.equal(config.stalledIntervalMs, 30_000);
  assert.match(
    errorsOf({}, { LOCK_DURATION: "1999ms" })[0],
    /^LOCK_DURATION = "1999ms": must be a duration from 2s to /,
  );
  assert.match(
    errorsOf({}, { STALLED_INTERVAL: "499ms" })[0],
    /^STALLED_INTERVAL = "499ms": must be a duration from 500ms to /,
  );
});

Deno.test("QUEUE_PROCESSORS by default maps llm to the LLM processor and recorder to the recorder", () => {
  const config = configOf({}, {});
  assert.deepEqual(config.queueProcessors, {
    llm: { kind: "llm" },
    recorder: { kind: "recorder" },
  });
  assert.equal(config.processorTimeoutMs, 300_000);
  assert.equal(config.outputDir, "./output");
});

Deno.test("QUEUE_PROCESSORS: a bare command runs per job, persistent: once per worker, per-job: explicitly", () => {
  const parsed = parseProcessors(
    "reconciler=python3 -m app.reconciler.job;scraper=persistent:python3 worker.py;" +
      "x=per-job: ./llm --fast",
  );
  assert.deepEqual(parsed, {
    ok: true,
    processors: {
      llm: { kind: "llm" },
      recorder: { kind: "recorder" },
      reconciler: {
        kind: "external",
        mode: "per-job",
        command: ["python3", "-m", "app.reconciler.job"],
      },
      scraper: { kind: "external", mode: "persistent", command: ["python3", "worker.py"] },
      x: { kind: "external", mode: "per-job", command: ["./llm", "--fast"] },
    },
  });
});

Deno.test("QUEUE_PROCESSORS maps other queues to the built-ins and may override the defaults", () => {
  const parsed = parseProcessors("results=recorder\nllm=persistent:./my-llm;fast=llm");
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.processors.results, { kind: "recorder" });
  assert.deepEqual(parsed.processors.fast, { kind: "llm" });
  assert.deepEqual(parsed.processors.llm, {
    kind: "external",
    mode: "persistent",
    command: ["./my-llm"],
  });
  assert.deepEqual(parsed.processors.recorder, { kind: "recorder" });
});

Deno.test("command words split without a shell: quotes group, backslash escapes, nothing expands", () => {
  assert.deepEqual(
    splitEntries(`a=python3 -c 'import x; x.run("$HOME")' "two words" say\\ hi\\;x ''`),
    {
      ok: true,
      entries: [["a=python3", "-c", 'import x; x.run("$HOME")', "two words", "say hi;x", ""]],
    },
  );
  assert.deepEqual(splitEntries(`b="a \\"quoted\\" \\\\ word"; ;c=~/run *`), {
    ok: true,
    entries: [['b=a "quoted" \\ word'], ["c=~/run", "*"]],
  });
  assert.deepEqual(splitEntries("a='open"), { ok: false, error: "a ' quote is not closed" });
});

Deno.test("QUEUE_PROCESSORS problems name the entry and the rule", () => {
  const cases: [string, RegExp][] = [
    ["reconciler", /entry "reconciler" does not start with <queue>= \(no spaces\)/],
    ["a = python3 x", /entry "a = python3 x" does not start with <queue>=/],
    ["a=", /queue "a" has no command/],
    ["a=persistent:", /queue "a" has no command/],
    ["a=x;a=y", /queue "a" is mapped twice/],
    ["a/b=x", /"a\/b" is not a queue name/],
    ["a=llm --model x", /llm \(queue "a"\) is built in and takes no arguments; .*per-job:llm/],
    ['a=python3 -c "print(1)', /a " quote is not closed/],
  ];
  for (const [raw, problem] of cases) {
    const [error] = errorsOf({}, { QUEUE_PROCESSORS: raw });
    assert.match(error, /^QUEUE_PROCESSORS \(--processors\) = .*: must be entries queue=processor/);
    assert.match(error, problem, error);
  }
});

Deno.test("a queue of QUEUE_NAME without a processor is a problem naming the queue, listed with the others", () => {
  const errors = errorsOf({}, {
    QUEUE_NAME: "llm,reconciler,scraper",
    QUEUE_PROCESSORS: "scraper=persistent:python3 worker.py",
    WORKER_COUNT: "0",
  });
  assert.equal(errors.length, 2);
  assert.match(errors[0], /^WORKER_COUNT/);
  assert.match(
    errors[1],
    /^QUEUE_NAME \(--queue\) = "llm,reconciler,scraper": queue "reconciler" has no processor: map it in QUEUE_PROCESSORS \(--processors\)/,
  );
  assert.match(errorsOf({ queue: "x" }, {})[0], /^--queue = "x": queue "x" has no processor/);
  assert.deepEqual(
    configOf({ processors: "x=./run" }, { QUEUE_NAME: "x" }).queueProcessors.x,
    { kind: "external", mode: "per-job", command: ["./run"] },
  );
});

Deno.test("PROCESSOR_TIMEOUT and OUTPUT_DIR are checked", () => {
  assert.equal(configOf({}, { PROCESSOR_TIMEOUT: "1500ms" }).processorTimeoutMs, 1500);
  assert.match(errorsOf({}, { PROCESSOR_TIMEOUT: "0" })[0], /^PROCESSOR_TIMEOUT = "0": must be/);
  assert.equal(configOf({ "output-dir": "/data/out" }, {}).outputDir, "/data/out");
  assert.match(errorsOf({}, { OUTPUT_DIR: " " })[0], /^OUTPUT_DIR \(--output-dir\)/);
});

Deno.test("joinSettings lists the providers' settings after LLM_TIMEOUT, each provider's in its order", () => {
  const joined = joinSettings(CORE_SETTINGS, [
    ["a", { aKey: { env: "A_KEY", help: "a", ...pattern("a key", /\S/) } }],
    ["b", { bWait: { env: "B_WAIT", default: "1s", help: "b", ...duration(0, 60_000) } }],
  ]);
  const variables = Object.values(joined).map((setting) => setting.env);
  const timeout = variables.indexOf("LLM_TIMEOUT");
  assert.deepEqual(variables.slice(timeout, timeout + 3), ["LLM_TIMEOUT", "A_KEY", "B_WAIT"]);
  assert.equal(variables.length, Object.keys(CORE_SETTINGS).length + 2);
});

Deno.test("joinSettings refuses a provider setting whose key or variable another setting has", () => {
  const setting = { help: "x", ...pattern("text", /\S/) };
  assert.throws(
    () => joinSettings(CORE_SETTINGS, [["x", { mine: { ...setting, env: "LLM_TIMEOUT" } }]]),
    {
      message:
        "Cannot join the settings of provider x as 'LLM_TIMEOUT' is already declared by the core settings",
    },
  );
  assert.throws(
    () =>
      joinSettings(CORE_SETTINGS, [
        ["x", { shared: { ...setting, env: "X_ONE" } }],
        ["y", { shared: { ...setting, env: "Y_ONE" } }],
      ]),
    /Cannot join the settings of provider y as 'shared' is already declared by provider x/,
  );
});

Deno.test("the providers' settings are parsed, checked and kept secret like the core ones", () => {
  const config = configOf({}, {
    ANTHROPIC_API_KEY: "sk-ant-1",
    OPENAI_API_KEY: "sk-oa-2",
    ECHO_LATENCY: "250ms",
  }) as Record<string, unknown>;
  assert.equal(config.echoLatencyMs, 250);
  assert.equal(config.claudeCliMode, "warm");
  assert.equal(config.claudeCliIdleMs, 60_000);
  assert.deepEqual(errorsOf({}, { CLAUDE_CLI_MODE: "hot", OPENAI_BASE_URL: "ftp://x" }), [
    'CLAUDE_CLI_MODE = "hot": must be one of warm, cold',
    'OPENAI_BASE_URL = "ftp://x": must be an http:// or https:// URL',
  ]);
  assert.deepEqual(
    errorsOf({}, { ANTHROPIC_API_KEY: "sk ant", WORKER_COUNT: "0" }),
    [
      'WORKER_COUNT (--count) = "0": must be an integer from 1 to 20',
      "ANTHROPIC_API_KEY = (hidden): must be a non-empty key",
    ],
  );
  const secrets = secretsOf(
    configOf({}, { ANTHROPIC_API_KEY: "sk-ant-1", OPENAI_API_KEY: "sk-oa-2" }),
    KNOWN,
  );
  assert.deepEqual(secrets.sort(), ["sk-ant-1", "sk-oa-2"]);
  assert.ok(Object.keys(SETTINGS).includes("echoLatencyMs"));
});
