/** Turns flags and environment variables into one validated `Config`, or a list of every problem. */

import { hashTagOf } from "../redis/keys.ts";
import { formatDuration } from "./duration.ts";
import { parseRedisUrl, redactUrl, urlPassword } from "../redis/url.ts";
import { budgetPeriod, budgets, rateLimits } from "./economics_rules.ts";
import { fallbacks } from "./fallback_rule.ts";
import {
  boolean,
  duration,
  httpUrl,
  integer,
  integerRange,
  type KnownNames,
  names,
  number,
  oneOf,
  pattern,
  type PoolSpec,
  processors,
  type ProcessorSpec,
  providerName,
  redisUrl,
  size,
  workerPools,
} from "./rules.ts";

export type { KnownNames, PoolSpec, ProcessorSpec };

/** The values `LOG_FORMAT` takes. */
export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
/** The values `V8_MODE` takes: V8's lite mode (less memory) or its optimising compilers. */
export const V8_MODES = ["lite", "jit"] as const;
/** The values `LOG_LEVEL` takes, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;

/**
 * One setting: its environment variable, its flag, its default and the rule its value must follow.
 * The core settings are in {@link CORE_SETTINGS}; each provider declares its own in its file.
 */
export interface Setting {
  env: string;
  /** Long flag without the leading dashes; `undefined` for environment-only settings. */
  flag?: string;
  short?: string;
  /** Raw default, parsed like any other value; `undefined` means unset. */
  default?: string;
  /** What the value must be, as the error message says it: `must be <rule>`. */
  rule: string | ((known: KnownNames) => string);
  help: string;
  secret?: boolean;
  /**
   * The supervisor shapes the running pool with it (its size, Redis, queues, ports, restart
   * policy, the auth probe's provider): a reload (SIGHUP with `ENV_FILE`) cannot apply it, and
   * the restarted workers keep its running value too, so that they and the supervisor agree. It
   * takes effect at the next start. @default {false}
   */
  fixedAtStart?: boolean;
  /** Worker processes do not get it: it is the supervisor's alone. @default {false} */
  withheldFromWorkers?: boolean;
  /** Shown in `--help` as the flag's value name. */
  valueName?: string;
  /** The value, or `undefined` when the raw text breaks the rule. */
  parse(raw: string, known: KnownNames): unknown;
  /** What exactly is wrong with a value that breaks the rule, when the rule alone does not say. */
  problem?(raw: string, known: KnownNames): string | undefined;
}

/** A table of settings: the keys are the fields of the configuration they make. */
export type SettingsTable = Readonly<Record<string, Setting>>;

/**
 * Every setting ppr-worker reads but the providers' own, which each provider declares and
 * `providers/registry.ts` joins in (see {@link joinSettings}). The keys are the fields of
 * `Config`; the order is the order of `--help` and of error messages.
 */
export const CORE_SETTINGS = {
  workerCount: {
    env: "WORKER_COUNT",
    fixedAtStart: true,
    flag: "count",
    short: "c",
    default: "1",
    valueName: "n",
    help: "worker processes in this container",
    ...integer(1, 20),
  },
  autoscale: {
    env: "WORKER_AUTOSCALE",
    flag: "autoscale",
    fixedAtStart: true,
    valueName: "min,max",
    help: "grow the pool toward MAX worker processes while jobs wait and shrink it toward MIN " +
      "when they sit idle; it starts at WORKER_COUNT, kept within the range [default: a fixed " +
      "WORKER_COUNT]",
    ...integerRange(1, 20),
  },
  autoscaleDownDelayMs: {
    env: "AUTOSCALE_DOWN_DELAY",
    flag: "autoscale-down-delay",
    fixedAtStart: true,
    default: "30s",
    valueName: "duration",
    help: "with WORKER_AUTOSCALE, how long the pool must have had room for one worker fewer " +
      "(nothing waiting) before it drains one; then as long again for each next one",
    ...duration(1000, 3_600_000),
  },
  pools: {
    env: "WORKER_POOLS",
    flag: "pools",
    fixedAtStart: true,
    // A worker serves its own pool's queue: the supervisor hands it QUEUE_NAME and
    // WORKER_CONCURRENCY instead.
    withheldFromWorkers: true,
    valueName: "pools",
    help: "a pool of its own per queue, e.g. llm=2-6:4,recorder=1: queue=COUNT or " +
      "queue=MIN-MAX (autoscaled), :CONCURRENCY per worker [default: WORKER_CONCURRENCY]; " +
      "every queue of QUEUE_NAME in one pool [default: one pool of WORKER_COUNT serving every queue]",
    ...workerPools(20),
  },
  queues: {
    env: "QUEUE_NAME",
    fixedAtStart: true,
    flag: "queue",
    short: "q",
    default: "llm",
    valueName: "names",
    help: "queues to take jobs from, comma-separated",
    ...names("queue"),
  },
  queueProcessors: {
    env: "QUEUE_PROCESSORS",
    fixedAtStart: true,
    flag: "processors",
    default: "llm=llm;recorder=recorder",
    valueName: "mapping",
    help: "what runs each queue's jobs: queue=llm|recorder|<command>|persistent:<command>, " +
      "';'-separated; llm and recorder stay mapped to themselves unless mapped otherwise",
    ...processors(),
  },
  concurrency: {
    env: "WORKER_CONCURRENCY",
    fixedAtStart: true,
    flag: "concurrency",
    default: "1",
    valueName: "n",
    help: "jobs in flight per worker process",
    ...integer(1, 100),
  },
  v8Mode: {
    env: "V8_MODE",
    fixedAtStart: true,
    flag: "v8-mode",
    default: "lite",
    valueName: "mode",
    help: "V8 of the worker processes: lite (V8's lite mode, no optimising compiler: about " +
      "40 MB less per worker after work; for LLM queues) or jit (V8's optimising compilers: " +
      "faster per job, for CPU-bound queues); under deno run only, a compiled binary keeps the " +
      "V8 flags it was compiled with",
    ...oneOf(V8_MODES),
  },
  redisUrl: {
    env: "REDIS_URL",
    fixedAtStart: true,
    flag: "redis-url",
    default: "redis://127.0.0.1:6379",
    valueName: "url",
    help: "Redis server, Sentinel group (redis+sentinel://host:26379,.../<master>[/<db>]) or " +
      "Cluster (redis-cluster://host:7000,...); rediss for TLS; a password in it is never printed",
    secret: true,
    ...redisUrl(),
  },
  prefix: {
    env: "BULL_PREFIX",
    fixedAtStart: true,
    flag: "prefix",
    default: "bull",
    valueName: "prefix",
    help: "BullMQ key prefix ({ppr} for Redis Cluster)",
    ...pattern("a non-empty key prefix without spaces", /^\S+$/),
  },
  redisWaitReplicas: {
    env: "REDIS_WAIT_REPLICAS",
    default: "0",
    help: "replicas that must acknowledge (Redis WAIT) each job completion and each enqueue; " +
      "0 asks none: replication stays asynchronous and a failover can lose acknowledged writes",
    ...integer(0, 16),
  },
  redisWaitTimeoutMs: {
    env: "REDIS_WAIT_TIMEOUT",
    default: "1s",
    help: "longest one WAIT for REDIS_WAIT_REPLICAS waits; a write not acknowledged by then is " +
      "logged (a completion) or fails the command (enqueue)",
    ...duration(10, 60_000),
  },
  healthEnabled: {
    env: "CLAUDE_HEALTH_SERVER",
    fixedAtStart: true,
    flag: "health",
    default: "true",
    help: "serve /health, /ready and /metrics (--no-health turns it off)",
    ...boolean(),
  },
  healthHost: {
    env: "HEALTH_HOST",
    fixedAtStart: true,
    flag: "health-host",
    default: "0.0.0.0",
    valueName: "host",
    help: "address the health server listens on",
    ...pattern("a host name or IP address", /^[A-Za-z0-9.\-:[\]]+$/),
  },
  healthPort: {
    env: "HEALTH_PORT",
    fixedAtStart: true,
    flag: "health-port",
    default: "8080",
    valueName: "port",
    help: "port of the health server",
    ...integer(1, 65535),
  },
  provider: {
    env: "LLM_PROVIDER",
    fixedAtStart: true,
    flag: "provider",
    default: "claude",
    valueName: "name",
    help: "default LLM provider for jobs that name none",
    ...providerName(),
  },
  llmModel: {
    env: "LLM_MODEL_NAME",
    help: "default model (provider's default when unset)",
    ...pattern("a non-empty text", /\S/),
  },
  llmSystemPrompt: {
    env: "LLM_SYSTEM_PROMPT",
    help: "system prompt of jobs that bring none, for every provider",
    ...pattern("a non-empty text", /\S/),
  },
  llmTemperature: {
    env: "LLM_TEMPERATURE",
    help: "default sampling temperature",
    ...number(0, 2),
  },
  llmMaxTokens: {
    env: "LLM_MAX_TOKENS",
    help: "default output token limit",
    ...integer(1, 1_000_000),
  },
  llmTimeoutMs: {
    env: "LLM_TIMEOUT",
    default: "300s",
    help: "deadline of one LLM call",
    ...duration(1000, 3_600_000),
  },
  llmMaxInFlight: {
    env: "LLM_MAX_IN_FLIGHT",
    fixedAtStart: true,
    help:
      "most LLM calls in flight in this container, shared by its workers; jobs past it wait in " +
      "the queue [default: what the container's memory fits, with the Claude CLI; else no bound]",
    ...integer(1, 100_000),
  },
  resultQueues: {
    env: "LLM_RESULT_QUEUES",
    fixedAtStart: true,
    default: "",
    help: "queues that get {job_id, job, result} after each success, comma-separated",
    ...names("queue", false),
  },
  llmPrices: {
    env: "LLM_PRICES",
    fixedAtStart: true,
    help: "a JSON price table whose models replace the shipped table's (docs/llm-economics.md)",
    ...pattern("a file path", /\S/),
  },
  llmPromptCache: {
    env: "LLM_PROMPT_CACHE",
    default: "true",
    help:
      "Claude API: mark the system prompt for the provider's prompt cache (reads cost 0.1x, writes 1.25x)",
    ...boolean(),
  },
  llmResultCache: {
    env: "LLM_RESULT_CACHE",
    default: "",
    help:
      "LLM queues whose jobs an identical earlier answer serves from Redis, comma-separated (a job's cache: true does too)",
    ...names("queue", false),
  },
  llmCacheTtlMs: {
    env: "LLM_CACHE_TTL",
    default: "7d",
    help: "how long a result-cache answer is kept",
    ...duration(1000, 365 * 86_400_000),
  },
  llmBatchQueues: {
    env: "LLM_BATCH_QUEUES",
    fixedAtStart: true,
    default: "",
    help:
      "LLM queues whose jobs all go through the provider's batch API at half the price, comma-separated (a job's lane: \"batch\" does too)",
    ...names("queue", false),
  },
  batchMaxJobs: {
    env: "BATCH_MAX_JOBS",
    fixedAtStart: true,
    default: "1000",
    valueName: "n",
    help: "most jobs in one batch; a batch is submitted when this many are collected",
    ...integer(1, 100_000),
  },
  batchMaxWaitMs: {
    env: "BATCH_MAX_WAIT",
    fixedAtStart: true,
    default: "5m",
    valueName: "duration",
    help: "longest a job is collected before its batch is submitted, however few it holds",
    ...duration(0, 86_400_000),
  },
  batchPollMs: {
    env: "BATCH_POLL_INTERVAL",
    fixedAtStart: true,
    default: "1m",
    valueName: "duration",
    help: "longest wait between two looks at an open batch (the first looks come sooner)",
    ...duration(100, 3_600_000),
  },
  llmFallback: {
    env: "LLM_FALLBACK",
    help:
      "provider[/model] a job goes to while its own provider is paused or overloaded; queue=provider[/model] for one queue",
    ...fallbacks(),
  },
  llmProbeIntervalMs: {
    env: "LLM_PROBE_INTERVAL",
    fixedAtStart: true,
    default: "5m",
    help:
      "how often the supervisor runs the provider's cheap auth probe; auth pauses last this long",
    ...duration(1000, 86_400_000),
  },
  llmBudgets: {
    env: "LLM_BUDGET_USD",
    fixedAtStart: true,
    default: "",
    help: "budgets in dollars per LLM_BUDGET_PERIOD, shared by the fleet, comma-separated: " +
      "<usd> overall, <provider>=<usd>, queue:<name>=<usd> (e.g. 50,claude=30,queue:llm=5); " +
      "a call is admitted only if its worst case fits",
    ...budgets(),
  },
  llmBudgetPeriod: {
    env: "LLM_BUDGET_PERIOD",
    fixedAtStart: true,
    default: "day",
    help: "when the budgets start over, in UTC: hour, day (00:00), day@HH:MM, week (Monday) " +
      "or month (the 1st)",
    ...budgetPeriod(),
  },
  llmRateLimits: {
    env: "LLM_RATE_LIMITS",
    default: "",
    help: "the fleet's rate limits per minute, ';'-separated <scope>=<limit>[,<limit>...]: " +
      "scope <provider> (each model its own bucket), <provider>/<model> or key (each job's " +
      "metadata.rate_key its own bucket); limit rpm:<n>, itpm:<n> (input tokens) or " +
      "otpm:<n> (output tokens), e.g. claude=rpm:50,itpm:30000;key=itpm:5000",
    ...rateLimits(),
  },
  processorEnv: {
    env: "PROCESSOR_ENV",
    default: "",
    help:
      "variables an external processor gets besides PATH, HOME, USER, LANG, LC_*, TZ, TMPDIR and the like, comma-separated; every other one (API keys, REDIS_URL) is withheld",
    ...names("environment variable", false),
  },
  processorTimeoutMs: {
    env: "PROCESSOR_TIMEOUT",
    default: "300s",
    help: "deadline of one job of an external processor; its whole process group is killed then",
    ...duration(100, 86_400_000),
  },
  outputDir: {
    env: "OUTPUT_DIR",
    flag: "output-dir",
    default: "./output",
    valueName: "dir",
    help: "where the recorder writes daily/<date>/scrapers/<scraper>/<job>.json and latest",
    ...pattern("a directory path", /\S/),
  },
  restartDelayMs: {
    env: "RESTART_DELAY",
    fixedAtStart: true,
    flag: "restart-delay",
    default: "10s",
    valueName: "duration",
    help: "first delay before a dead worker is restarted; doubles on each crash in a row",
    ...duration(0, 3_600_000),
  },
  restartMaxDelayMs: {
    env: "RESTART_MAX_DELAY",
    fixedAtStart: true,
    flag: "restart-max-delay",
    default: "5m",
    valueName: "duration",
    help: "cap of the restart delay",
    ...duration(0, 86_400_000),
  },
  restartIntensity: {
    env: "RESTART_INTENSITY",
    fixedAtStart: true,
    flag: "restart-intensity",
    default: "10",
    valueName: "n",
    help: "restarts allowed within RESTART_PERIOD before the pool reports unhealthy",
    ...integer(1, 1000),
  },
  restartPeriodMs: {
    env: "RESTART_PERIOD",
    fixedAtStart: true,
    flag: "restart-period",
    default: "60s",
    valueName: "duration",
    help: "window of RESTART_INTENSITY; a worker up this long starts over at RESTART_DELAY",
    ...duration(1000, 86_400_000),
  },
  drainTimeoutMs: {
    env: "DRAIN_TIMEOUT",
    fixedAtStart: true,
    flag: "drain-timeout",
    default: "30s",
    valueName: "duration",
    help: "deadline for jobs in flight on SIGTERM; later ones go back to the queue",
    ...duration(0, 86_400_000),
  },
  maxJobCrashes: {
    env: "MAX_JOB_CRASHES",
    fixedAtStart: true,
    default: "3",
    help: "a job whose worker died under it this many times fails for good (a poison pill)",
    ...integer(1, 100),
  },
  // BullMQ's job locks: a container that dies whole (no supervisor left to give its jobs back)
  // has its jobs run elsewhere once their locks lapse, at most LOCK_DURATION + STALLED_INTERVAL
  // after its death (docs/reliability.md#a-dead-host).
  lockDurationMs: {
    env: "LOCK_DURATION",
    default: "10s",
    help: "BullMQ's lockDuration: a job's lock, renewed every quarter of it while its worker " +
      "lives; a job whose worker cannot renew it this long may run again elsewhere",
    ...duration(2000, 3_600_000),
  },
  stalledIntervalMs: {
    env: "STALLED_INTERVAL",
    default: "3s",
    help: "BullMQ's stalledInterval: how often the fleet puts jobs whose lock lapsed back in wait",
    ...duration(500, 3_600_000),
  },
  maxWorkerMemoryBytes: {
    env: "MAX_WORKER_MEMORY",
    fixedAtStart: true,
    help: "a worker whose RSS passes this (e.g. 512MB) is replaced, the new one ready first",
    ...size(16 * 1024 ** 2, 1024 ** 4),
  },
  maxJobsPerWorker: {
    env: "MAX_JOBS_PER_WORKER",
    fixedAtStart: true,
    help: "a worker is replaced after this many jobs, the new one ready first",
    ...integer(1, 100_000_000),
  },
  heartbeatTimeoutMs: {
    env: "HEARTBEAT_TIMEOUT",
    fixedAtStart: true,
    flag: "heartbeat-timeout",
    default: "30s",
    valueName: "duration",
    help: "a worker silent this long is hung: it is killed and restarted",
    ...duration(2000, 3_600_000),
  },
  redisGraceMs: {
    env: "REDIS_GRACE",
    fixedAtStart: true,
    flag: "redis-grace",
    default: "15s",
    valueName: "duration",
    help: "how long Redis may be unreachable before /health says unhealthy",
    ...duration(0, 3_600_000),
  },
  hostname: {
    env: "WORKER_HOSTNAME",
    fixedAtStart: true,
    flag: "hostname",
    valueName: "name",
    help: "host part of worker names worker-<hostname>-<n> [default: this machine's hostname]",
    ...pattern("letters, digits, dots and dashes", /^[A-Za-z0-9.\-]+$/),
  },
  logFormat: {
    env: "LOG_FORMAT",
    fixedAtStart: true,
    flag: "log-format",
    default: "auto",
    valueName: "format",
    help: "auto (pretty on a terminal, JSON otherwise), json or pretty",
    ...oneOf(LOG_FORMATS),
  },
  logLevel: {
    env: "LOG_LEVEL",
    fixedAtStart: true,
    flag: "log-level",
    default: "info",
    valueName: "level",
    help: "debug, info, warning or error",
    ...oneOf(LOG_LEVELS),
  },
  // Read before every other setting: its variables are the environment the others come from.
  envFile: {
    env: "ENV_FILE",
    flag: "env-file",
    valueName: "file",
    help: "KEY=VALUE lines (like docker's --env-file) over the environment, flags still first; " +
      "SIGHUP reads it again, and a valid one rolls the workers onto it",
    fixedAtStart: true,
    // The supervisor hands its workers what the file said; a worker reading it again could
    // find a newer, unchecked file.
    withheldFromWorkers: true,
    ...pattern("a file path", /\S/),
  },
  // OpenTelemetry's own variables (docs/tracing.md): Deno exports the spans; ppr-worker reads
  // these to know whether it traces, to turn tracing on in its workers, and to hide the headers.
  otlpEndpoint: {
    env: "OTEL_EXPORTER_OTLP_ENDPOINT",
    valueName: "url",
    help: "OTLP/HTTP collector (e.g. http://collector:4318): turns tracing on in the workers",
    ...httpUrl(),
  },
  otlpHeaders: {
    env: "OTEL_EXPORTER_OTLP_HEADERS",
    help: "headers of each OTLP request, key=value,... (a collector's token: kept secret)",
    secret: true,
    ...pattern("key=value pairs separated by commas", /^[^=,]+=[^,]*(,[^=,]+=[^,]*)*$/),
  },
  otelServiceName: {
    env: "OTEL_SERVICE_NAME",
    valueName: "name",
    help: "the service.name of the spans [default: ppr-worker in the workers]",
    ...pattern("letters, digits, dots, dashes and underscores", /^[A-Za-z0-9_.\-]+$/),
  },
  otelDeno: {
    env: "OTEL_DENO",
    default: "false",
    help:
      "Deno exports OpenTelemetry (read when a process starts): set for the workers when OTEL_EXPORTER_OTLP_ENDPOINT is; set it for ppr-worker enqueue's own spans",
    ...boolean(),
  },
} satisfies Record<string, Setting>;

/** The fields a settings table makes: each setting's parsed value, never `undefined` with a default. */
export type ConfigOf<Table extends SettingsTable> = {
  [K in keyof Table]: Table[K] extends { default: string }
    ? Exclude<ReturnType<Table[K]["parse"]>, undefined>
    : ReturnType<Table[K]["parse"]>;
};

/**
 * The one validated configuration every part of ppr-worker reads: the core settings. It holds
 * the providers' settings too; a provider reads its own through its definition
 * (`providers/provider.ts`), typed by the table it declares.
 */
export type Config = ConfigOf<typeof CORE_SETTINGS>;

/** The setting after which the providers' settings are listed (in `--help`, `config`, errors). */
const PROVIDER_SETTINGS_AFTER: keyof typeof CORE_SETTINGS = "llmTimeoutMs";

/**
 * What the configuration is parsed against: every setting of this build (the core ones and the
 * providers'), and the names the rules check values against. `providers/registry.ts` makes it.
 */
export interface ConfigSchema extends KnownNames {
  settings: SettingsTable;
}

/**
 * The core settings with the providers' tables joined in, after `LLM_TIMEOUT`, in the order
 * given. Throws when two settings share a key or a variable: each would shadow the other.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { CORE_SETTINGS, joinSettings } from "./config.ts";
 * import { duration } from "./rules.ts";
 *
 * const echo = { echoLatencyMs: { env: "ECHO_LATENCY", help: "...", ...duration(0, 60_000) } };
 * const joined = joinSettings(CORE_SETTINGS, [["echo", echo]]);
 * assert.ok(Object.keys(joined).includes("echoLatencyMs"));
 * assert.throws(() => joinSettings(CORE_SETTINGS, [["a", echo], ["b", echo]]));
 * ```
 */
export function joinSettings(
  core: SettingsTable,
  providers: readonly (readonly [name: string, settings: SettingsTable])[],
): SettingsTable {
  const joined: Record<string, Setting> = {};
  const owners = new Map<string, string>();
  const add = (owner: string, table: SettingsTable) => {
    for (const [key, setting] of Object.entries(table)) {
      for (const name of [key, setting.env]) {
        const taken = owners.get(name);
        if (taken !== undefined) {
          throw new Error(
            `Cannot join the settings of ${owner} as '${name}' is already declared by ${taken}`,
          );
        }
        owners.set(name, owner);
      }
      joined[key] = setting;
    }
  };
  for (const [key, setting] of Object.entries(core)) {
    add("the core settings", { [key]: setting });
    if (key === PROVIDER_SETTINGS_AFTER) {
      for (const [name, table] of providers) add(`provider ${name}`, table);
    }
  }
  return joined;
}

/** Flag values as the command-line parser hands them over, keyed by long flag name. */
export type FlagValues = Record<string, string | boolean | undefined>;

/** A valid `Config`, or every problem found, each naming the setting, the value and the rule. */
export type ConfigResult =
  | { ok: true; config: Config }
  | { ok: false; errors: string[] };

/** Where each setting's raw value came from: the flag, the environment or the default. */
export function rawValues(
  flags: FlagValues,
  env: Record<string, string | undefined>,
  schema: ConfigSchema,
): Record<string, { raw: string | undefined; source: string }> {
  const out: Record<string, { raw: string | undefined; source: string }> = {};
  for (const [key, setting] of Object.entries(schema.settings)) {
    const flag = setting.flag === undefined ? undefined : flags[setting.flag];
    if (flag !== undefined) {
      out[key] = { raw: String(flag), source: `--${setting.flag}` };
    } else if (env[setting.env] !== undefined && env[setting.env] !== "") {
      out[key] = { raw: env[setting.env], source: setting.env };
    } else {
      out[key] = { raw: setting.default, source: `default of ${setting.env}` };
    }
  }
  return out;
}

/**
 * A raw value as messages show it: `REDIS_URL` with its password as `***`, another secret as
 * `(hidden)`, anything else quoted.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { CORE_SETTINGS, shownValue } from "./config.ts";
 *
 * assert.equal(shownValue(CORE_SETTINGS.workerCount, "4"), '"4"');
 * assert.equal(shownValue(CORE_SETTINGS.redisUrl, "redis://:pw@cache:6379"), '"redis://:***@cache:6379"');
 * ```
 */
export function shownValue(setting: Setting, raw: string): string {
  if (setting.env === "REDIS_URL") return JSON.stringify(redactUrl(raw));
  if (setting.secret) return "(hidden)";
  return JSON.stringify(raw);
}

/**
 * Validates flags over environment over defaults. Every problem is reported,
 * each naming the variable or flag, the value and the rule.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseConfig } from "./config.ts";
 * import { CONFIG_SCHEMA } from "../providers/registry.ts";
 *
 * const result = parseConfig({ count: "4" }, { LLM_PROVIDER: "echo" }, CONFIG_SCHEMA);
 * assert(result.ok);
 * assert.equal(result.config.workerCount, 4);
 * ```
 */
export function parseConfig(
  flags: FlagValues,
  env: Record<string, string | undefined>,
  schema: ConfigSchema,
): ConfigResult {
  const raws = rawValues(flags, env, schema);
  const config = {} as Record<string, unknown>;
  const errors: string[] = [];
  for (const [key, setting] of Object.entries(schema.settings)) {
    const { raw, source } = raws[key];
    if (raw === undefined) {
      config[key] = undefined;
      continue;
    }
    const value = setting.parse(raw, schema);
    if (value !== undefined) {
      config[key] = value;
    } else {
      const rule = typeof setting.rule === "string" ? setting.rule : setting.rule(schema);
      const problem = setting.problem?.(raw, schema);
      errors.push(
        `${nameOf(setting, source)} = ${shownValue(setting, raw)}: must be ${rule}${
          problem ? ` (${problem})` : ""
        }`,
      );
    }
  }
  errors.push(
    ...unmappedQueues(config, raws),
    ...poolsOutsideQueues(config, raws),
    ...autoscaleBesidePools(config, raws),
    ...untaggedClusterPrefix(config, raws),
    ...waitOutlastingLockRenewals(config, raws),
  );
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config: config as Config };
}

/**
 * A setting as an error message names it: the flag when the value came from it (`source` as
 * {@link rawValues} gives it), else the variable, with its flag when it has one.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { CORE_SETTINGS, nameOf } from "./config.ts";
 *
 * assert.equal(nameOf(CORE_SETTINGS.workerCount, "--count"), "--count");
 * assert.equal(nameOf(CORE_SETTINGS.workerCount, "WORKER_COUNT"), "WORKER_COUNT (--count)");
 * ```
 */
export function nameOf(setting: Setting, source: string): string {
  if (setting.flag === undefined) return setting.env;
  return source.startsWith("--") ? `--${setting.flag}` : `${setting.env} (--${setting.flag})`;
}

/** A problem for each queue of `QUEUE_NAME` that no processor runs (when both settings are valid). */
function unmappedQueues(
  config: Record<string, unknown>,
  raws: ReturnType<typeof rawValues>,
): string[] {
  const queues = config.queues as string[] | undefined;
  const mapping = config.queueProcessors as Record<string, ProcessorSpec> | undefined;
  if (!queues || !mapping) return [];
  const processorsName = nameOf(CORE_SETTINGS.queueProcessors, raws.queueProcessors.source);
  return queues.filter((queue) => !Object.hasOwn(mapping, queue)).map((queue) =>
    `${nameOf(CORE_SETTINGS.queues, raws.queues.source)} = ${
      JSON.stringify(raws.queues.raw)
    }: queue "${queue}" has no processor: map it in ${processorsName}, e.g. ` +
    `"${queue}=python3 -m app.${queue}" (a process per job) or "${queue}=persistent:python3 worker.py"`
  );
}

/**
 * A problem for each pool of `WORKER_POOLS` whose queue `QUEUE_NAME` does not list, and for each
 * queue of `QUEUE_NAME` no pool serves (when both settings are valid).
 */
function poolsOutsideQueues(
  config: Record<string, unknown>,
  raws: ReturnType<typeof rawValues>,
): string[] {
  const queues = config.queues as string[] | undefined;
  const pools = config.pools as PoolSpec[] | undefined;
  if (!queues || !pools) return [];
  const poolsName = `${nameOf(CORE_SETTINGS.pools, raws.pools.source)} = ${
    JSON.stringify(raws.pools.raw)
  }`;
  const queuesName = `${nameOf(CORE_SETTINGS.queues, raws.queues.source)} (${queues.join(",")})`;
  const pooled = new Set(pools.map((pool) => pool.queue));
  const mapping = config.queueProcessors as Record<string, ProcessorSpec> | undefined;
  const llmPools = pools.filter((pool) => mapping?.[pool.queue]?.kind === "llm");
  return [
    ...(llmPools.length > 1
      ? [
        `${poolsName}: pools ${
          llmPools.map((pool) => pool.queue).join(", ")
        } all serve LLM queues; at most one pool may (LLM_MAX_IN_FLIGHT is split over one ` +
        `pool's workers): put them in one pool without WORKER_POOLS, or keep one of them`,
      ]
      : []),
    ...pools.filter((pool) => !queues.includes(pool.queue)).map((pool) =>
      `${poolsName}: queue "${pool.queue}" is not one of ${queuesName}: add it there, or remove its pool`
    ),
    ...queues.filter((queue) => !pooled.has(queue)).map((queue) =>
      `${poolsName}: queue "${queue}" of ${queuesName} is in no pool: give it one, e.g. ${queue}=1`
    ),
  ];
}

/**
 * A problem when `WORKER_AUTOSCALE` is set beside `WORKER_POOLS`, which gives each pool its own
 * range instead: one of the two would be ignored.
 */
function autoscaleBesidePools(
  config: Record<string, unknown>,
  raws: ReturnType<typeof rawValues>,
): string[] {
  const pools = config.pools as PoolSpec[] | undefined;
  if (!pools || config.autoscale === undefined) return [];
  return [
    `${nameOf(CORE_SETTINGS.autoscale, raws.autoscale.source)} = ${
      JSON.stringify(raws.autoscale.raw)
    }: not used with ${nameOf(CORE_SETTINGS.pools, raws.pools.source)}, whose pools have ` +
    `ranges of their own: give the pool its range there (e.g. ${pools[0].queue}=1-4), or unset it`,
  ];
}

/**
 * A problem when `REDIS_URL` is a Cluster and `BULL_PREFIX` has no hash tag (when both are
 * valid): BullMQ's scripts touch several keys of a queue at once, which a Cluster allows only
 * within one slot, so without a tag adding jobs fails with CROSSSLOT.
 */
function untaggedClusterPrefix(
  config: Record<string, unknown>,
  raws: ReturnType<typeof rawValues>,
): string[] {
  const url = config.redisUrl as string | undefined;
  const prefix = config.prefix as string | undefined;
  if (url === undefined || prefix === undefined || hashTagOf(prefix) !== undefined) return [];
  const target = parseRedisUrl(url);
  if (!target.ok || target.target.kind !== "cluster") return [];
  return [
    `${nameOf(CORE_SETTINGS.prefix, raws.prefix.source)} = ${JSON.stringify(prefix)}: must hold ` +
    `a hash tag such as {ppr} when ${
      nameOf(CORE_SETTINGS.redisUrl, raws.redisUrl.source)
    } is a Redis Cluster: BullMQ's scripts touch several keys of a queue at once, and a Cluster ` +
    `runs them only on keys of one slot (without a tag, adding a job fails with CROSSSLOT); ` +
    `e.g. BULL_PREFIX={ppr}`,
  ];
}

/**
 * A problem when a `WAIT` may last longer than a quarter of `LOCK_DURATION` (when both are valid
 * and `REDIS_WAIT_REPLICAS` asks for one): a `WAIT` holds the worker's connection, and BullMQ
 * renews the locks of the jobs in flight on that connection every quarter of `LOCK_DURATION`;
 * renewals held longer let locks lapse, and their jobs run again elsewhere.
 */
function waitOutlastingLockRenewals(
  config: Record<string, unknown>,
  raws: ReturnType<typeof rawValues>,
): string[] {
  const replicas = config.redisWaitReplicas as number | undefined;
  const waitMs = config.redisWaitTimeoutMs as number | undefined;
  const lockMs = config.lockDurationMs as number | undefined;
  if (!replicas || waitMs === undefined || lockMs === undefined || waitMs <= lockMs / 4) return [];
  return [
    `${nameOf(CORE_SETTINGS.redisWaitTimeoutMs, raws.redisWaitTimeoutMs.source)} = ${
      JSON.stringify(raws.redisWaitTimeoutMs.raw)
    }: must be at most a quarter of LOCK_DURATION (${
      formatDuration(lockMs / 4)
    }) while REDIS_WAIT_REPLICAS asks for a WAIT: a WAIT holds the worker's connection, ` +
    `and the renewals of its jobs' locks wait behind it; a lock that lapses lets its job run again`,
  ];
}

/**
 * The secret values of a configuration: every setting marked secret, and the password of
 * `REDIS_URL` in each of its forms (taken, like `redactUrl` does, up to the last `@`).
 */
export function secretsOf(config: Config, schema: ConfigSchema): string[] {
  const values: string[] = [];
  for (const [key, setting] of Object.entries(schema.settings)) {
    const value = (config as Record<string, unknown>)[key];
    if (!setting.secret || typeof value !== "string") continue;
    if (setting.env === "REDIS_URL") {
      const password = urlPassword(value);
      if (password) values.push(password, decodedOrAsIs(password));
    } else values.push(value);
  }
  return values;
}

/** `text` percent-decoded, or as it is when it is no valid percent-encoding (`100%`). */
function decodedOrAsIs(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The environment a worker child gets: the supervisor's own, with every
 * setting that came from a flag written in as its variable, so the child
 * resolves exactly the same `Config` (and secrets never appear in argv).
 */
export function childEnv(
  flags: FlagValues,
  env: Record<string, string | undefined>,
  schema: ConfigSchema,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value;
  const raws = rawValues(flags, env, schema);
  for (const [key, setting] of Object.entries(schema.settings)) {
    const { raw, source } = raws[key];
    if (setting.withheldFromWorkers) delete out[setting.env];
    else if (source.startsWith("--") && raw !== undefined) out[setting.env] = raw;
  }
  return out;
}

/**
 * The message that lists every problem of an invalid configuration, as the pool prints it when
 * it refuses to start and logs it when a reload is refused.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { invalidConfigurationMessage } from "./config.ts";
 *
 * assert.equal(
 *   invalidConfigurationMessage(['WORKER_COUNT (--count) = "0": must be an integer from 1 to 20']),
 *   'ppr-worker: invalid configuration (1 problem):\n  - WORKER_COUNT (--count) = "0": must be an integer from 1 to 20',
 * );
 * ```
 */
export function invalidConfigurationMessage(problems: readonly string[]): string {
  return `ppr-worker: invalid configuration (${problems.length} problem${
    problems.length === 1 ? "" : "s"
  }):\n${problems.map((problem) => `  - ${problem}`).join("\n")}`;
}

/** The queues of `config` whose jobs the LLM processor runs, in their configured order. */
export function llmQueuesOf(config: Config): string[] {
  return config.queues.filter((queue) => config.queueProcessors[queue]?.kind === "llm");
}

/** The settings as help text rows: flag, variable, default and what it does. */
export function settingsHelp(schema: ConfigSchema): string {
  const rows = Object.values(schema.settings).map((setting) => {
    const name = setting.flag === "health" ? "[no-]health" : setting.flag;
    const flag = name === undefined
      ? ""
      : `${setting.short ? `-${setting.short}, ` : "    "}--${name}${
        setting.valueName ? ` <${setting.valueName}>` : ""
      }`;
    const fallback = setting.default === undefined ? "" : ` [default: ${setting.default}]`;
    return [setting.env, flag, `${setting.help}${fallback}`];
  });
  const widths = [0, 1].map((column) => Math.max(...rows.map((row) => row[column].length)) + 2);
  return rows.map((row) => `  ${row[0].padEnd(widths[0])}${row[1].padEnd(widths[1])}${row[2]}`)
    .join("\n");
}
