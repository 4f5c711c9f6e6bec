/** Turns flags and environment variables into one validated `Config`, or a list of every problem. */

import { z } from "zod";
import { formatDuration, parseDurationMs } from "./duration.ts";
import { redactUrl } from "../redis/url.ts";

/** The LLM providers this build implements. */
export const PROVIDERS = ["echo"] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;

/** One setting: its environment variable, its flag, its default and the rule its value must follow. */
interface Setting {
  env: string;
  /** Long flag without the leading dashes; `undefined` for environment-only settings. */
  flag?: string;
  short?: string;
  /** Raw default, parsed like any other value; `undefined` means unset. */
  default?: string;
  /** What the value must be, as the error message says it. */
  rule: string;
  help: string;
  secret?: boolean;
  /** Shown in `--help` as the flag's value name. */
  valueName?: string;
  schema: z.ZodType;
}

function fail(rule: string) {
  return (_raw: string, ctx: z.RefinementCtx) => {
    ctx.addIssue({ code: "custom", message: `must be ${rule}` });
    return z.NEVER;
  };
}

function integer(min: number, max: number) {
  const rule = `an integer from ${min} to ${max}`;
  return {
    rule,
    schema: z.string().trim().transform((raw, ctx) => {
      const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
      return value >= min && value <= max ? value : fail(rule)(raw, ctx);
    }),
  };
}

function number(min: number, max: number) {
  const rule = `a number from ${min} to ${max}`;
  return {
    rule,
    schema: z.string().trim().transform((raw, ctx) => {
      const value = raw === "" ? NaN : Number(raw);
      return value >= min && value <= max ? value : fail(rule)(raw, ctx);
    }),
  };
}

function duration(minMs: number, maxMs: number) {
  const rule = `a duration from ${formatDuration(minMs)} to ${
    formatDuration(maxMs)
  } (e.g. 500ms, 10s, 5m, or bare seconds)`;
  return {
    rule,
    schema: z.string().transform((raw, ctx) => {
      const ms = parseDurationMs(raw);
      return ms !== undefined && ms >= minMs && ms <= maxMs ? ms : fail(rule)(raw, ctx);
    }),
  };
}

function oneOf<const T extends readonly string[]>(values: T) {
  const rule = `one of ${values.join(", ")}`;
  return {
    rule,
    schema: z.string().trim().toLowerCase().pipe(z.enum(values, { error: `must be ${rule}` })),
  };
}

function boolean() {
  const rule = "true or false";
  const truthy = ["true", "1", "yes", "on"];
  const falsy = ["false", "0", "no", "off"];
  return {
    rule,
    schema: z.string().trim().toLowerCase().transform((raw, ctx) =>
      truthy.includes(raw) ? true : falsy.includes(raw) ? false : fail(rule)(raw, ctx)
    ),
  };
}

const NAME_PATTERN = /^[A-Za-z0-9_.\-{}]+$/;

function names(what: string, required: boolean) {
  const rule = `${
    required ? "one or more" : "zero or more"
  } ${what} names, comma-separated (letters, digits, _ . - { })`;
  return {
    rule,
    schema: z.string().transform((raw, ctx) => {
      const list = raw.split(",").map((name) => name.trim()).filter((name) => name !== "");
      const ok = list.every((name) => NAME_PATTERN.test(name)) &&
        new Set(list).size === list.length && (!required || list.length > 0);
      return ok ? list : fail(rule)(raw, ctx);
    }),
  };
}

function redisUrl() {
  const rule = "a redis:// or rediss:// URL with a host, e.g. redis://127.0.0.1:6379/0";
  return {
    rule,
    schema: z.string().trim().transform((raw, ctx) => {
      let url: URL | undefined;
      try {
        url = new URL(raw);
      } catch {
        url = undefined;
      }
      const ok = url !== undefined && (url.protocol === "redis:" || url.protocol === "rediss:") &&
        url.hostname !== "" && /^(\/\d{0,2})?$/.test(url.pathname);
      return ok ? raw : fail(rule)(raw, ctx);
    }),
  };
}

function text(rule = "a non-empty text") {
  return {
    rule,
    schema: z.string().trim().transform((raw, ctx) => raw !== "" ? raw : fail(rule)(raw, ctx)),
  };
}

function hostnamePart() {
  const rule = "letters, digits, dots and dashes";
  return {
    rule,
    schema: z.string().trim().transform((raw, ctx) =>
      /^[A-Za-z0-9.\-]+$/.test(raw) ? raw : fail(rule)(raw, ctx)
    ),
  };
}

function host() {
  const rule = "a host name or IP address";
  return {
    rule,
    schema: z.string().trim().transform((raw, ctx) =>
      /^[A-Za-z0-9.\-:[\]]+$/.test(raw) ? raw : fail(rule)(raw, ctx)
    ),
  };
}

/**
 * Every setting ppr-worker reads. The keys are the fields of `Config`; the
 * order is the order of `--help` and of error messages.
 */
export const SETTINGS = {
  workerCount: {
    env: "WORKER_COUNT",
    flag: "count",
    short: "c",
    default: "1",
    valueName: "n",
    help: "worker processes in this container",
    ...integer(1, 20),
  },
  queues: {
    env: "QUEUE_NAME",
    flag: "queue",
    short: "q",
    default: "llm",
    valueName: "names",
    help: "queues to take jobs from, comma-separated",
    ...names("queue", true),
  },
  concurrency: {
    env: "WORKER_CONCURRENCY",
    flag: "concurrency",
    default: "1",
    valueName: "n",
    help: "jobs in flight per worker process",
    ...integer(1, 100),
  },
  redisUrl: {
    env: "REDIS_URL",
    flag: "redis-url",
    default: "redis://127.0.0.1:6379",
    valueName: "url",
    help: "Redis server (a password in the URL is never printed)",
    secret: true,
    ...redisUrl(),
  },
  prefix: {
    env: "BULL_PREFIX",
    flag: "prefix",
    default: "bull",
    valueName: "prefix",
    help: "BullMQ key prefix ({ppr} for Redis Cluster)",
    ...text("a non-empty key prefix"),
  },
  healthEnabled: {
    env: "CLAUDE_HEALTH_SERVER",
    flag: "health",
    default: "true",
    help: "serve /health, /ready and /metrics (--no-health turns it off)",
    ...boolean(),
  },
  healthHost: {
    env: "HEALTH_HOST",
    flag: "health-host",
    default: "0.0.0.0",
    valueName: "host",
    help: "address the health server listens on",
    ...host(),
  },
  healthPort: {
    env: "HEALTH_PORT",
    flag: "health-port",
    default: "8080",
    valueName: "port",
    help: "port of the health server",
    ...integer(1, 65535),
  },
  provider: {
    env: "LLM_PROVIDER",
    flag: "provider",
    default: "echo",
    valueName: "name",
    help: "default LLM provider for jobs that name none",
    ...oneOf(PROVIDERS),
  },
  llmModel: {
    env: "LLM_MODEL_NAME",
    help: "default model (provider's default when unset)",
    ...text(),
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
  echoLatencyMs: {
    env: "ECHO_LATENCY",
    default: "0ms",
    help: "how long the echo provider waits before answering",
    ...duration(0, 3_600_000),
  },
  restartDelayMs: {
    env: "RESTART_DELAY",
    flag: "restart-delay",
    default: "10s",
    valueName: "duration",
    help: "first delay before a dead worker is restarted; doubles on each crash in a row",
    ...duration(0, 3_600_000),
  },
  restartMaxDelayMs: {
    env: "RESTART_MAX_DELAY",
    flag: "restart-max-delay",
    default: "5m",
    valueName: "duration",
    help: "cap of the restart delay",
    ...duration(0, 86_400_000),
  },
  restartIntensity: {
    env: "RESTART_INTENSITY",
    flag: "restart-intensity",
    default: "10",
    valueName: "n",
    help: "restarts allowed within RESTART_PERIOD before the pool reports unhealthy",
    ...integer(1, 1000),
  },
  restartPeriodMs: {
    env: "RESTART_PERIOD",
    flag: "restart-period",
    default: "60s",
    valueName: "duration",
    help: "window of RESTART_INTENSITY; a worker up this long starts over at RESTART_DELAY",
    ...duration(1000, 86_400_000),
  },
  drainTimeoutMs: {
    env: "DRAIN_TIMEOUT",
    flag: "drain-timeout",
    default: "30s",
    valueName: "duration",
    help: "deadline for jobs in flight on SIGTERM; later ones go back to the queue",
    ...duration(0, 86_400_000),
  },
  heartbeatTimeoutMs: {
    env: "HEARTBEAT_TIMEOUT",
    flag: "heartbeat-timeout",
    default: "30s",
    valueName: "duration",
    help: "a worker silent this long is hung: it is killed and restarted",
    ...duration(2000, 3_600_000),
  },
  redisGraceMs: {
    env: "REDIS_GRACE",
    flag: "redis-grace",
    default: "15s",
    valueName: "duration",
    help: "how long Redis may be unreachable before /health says unhealthy",
    ...duration(0, 3_600_000),
  },
  hostname: {
    env: "WORKER_HOSTNAME",
    flag: "hostname",
    valueName: "name",
    help: "host part of worker names worker-<hostname>-<n> [default: this machine's hostname]",
    ...hostnamePart(),
  },
  logFormat: {
    env: "LOG_FORMAT",
    flag: "log-format",
    default: "auto",
    valueName: "format",
    help: "auto (pretty on a terminal, JSON otherwise), json or pretty",
    ...oneOf(LOG_FORMATS),
  },
  logLevel: {
    env: "LOG_LEVEL",
    flag: "log-level",
    default: "info",
    valueName: "level",
    help: "debug, info, warning or error",
    ...oneOf(LOG_LEVELS),
  },
} satisfies Record<string, Setting>;

type Settings = typeof SETTINGS;
export type SettingKey = keyof Settings;

/** The one validated configuration every part of ppr-worker reads. */
export type Config = {
  [K in SettingKey]: Settings[K] extends { default: string } ? z.output<Settings[K]["schema"]>
    : z.output<Settings[K]["schema"]> | undefined;
};

/** Flag values as the command-line parser hands them over, keyed by long flag name. */
export type FlagValues = Record<string, string | boolean | undefined>;

export type ConfigResult =
  | { ok: true; config: Config }
  | { ok: false; errors: string[] };

/** Where each setting's raw value came from: the flag, the environment or the default. */
export function rawValues(
  flags: FlagValues,
  env: Record<string, string | undefined>,
): Record<SettingKey, { raw: string | undefined; source: string }> {
  const out = {} as Record<SettingKey, { raw: string | undefined; source: string }>;
  for (const [key, setting] of Object.entries(SETTINGS) as [SettingKey, Setting][]) {
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

function shown(setting: Setting, raw: string): string {
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
 * const result = parseConfig({ count: "4" }, { QUEUE_NAME: "llm" });
 * if (result.ok) console.log(result.config.workerCount); // 4
 * ```
 */
export function parseConfig(
  flags: FlagValues,
  env: Record<string, string | undefined>,
): ConfigResult {
  const raws = rawValues(flags, env);
  const config = {} as Record<string, unknown>;
  const errors: string[] = [];
  for (const [key, setting] of Object.entries(SETTINGS) as [SettingKey, Setting][]) {
    const { raw, source } = raws[key];
    if (raw === undefined) {
      config[key] = undefined;
      continue;
    }
    const result = setting.schema.safeParse(raw);
    if (result.success) {
      config[key] = result.data;
    } else {
      const name = setting.flag === undefined
        ? setting.env
        : source.startsWith("--")
        ? `--${setting.flag}`
        : `${setting.env} (--${setting.flag})`;
      errors.push(`${name} = ${shown(setting, raw)}: ${result.error.issues[0].message}`);
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config: config as Config };
}

/**
 * The environment a worker child gets: the supervisor's own, with every
 * setting that came from a flag written in as its variable, so the child
 * resolves exactly the same `Config` (and secrets never appear in argv).
 */
export function childEnv(
  flags: FlagValues,
  env: Record<string, string | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value;
  const raws = rawValues(flags, env);
  for (const [key, setting] of Object.entries(SETTINGS) as [SettingKey, Setting][]) {
    const { raw, source } = raws[key];
    if (source.startsWith("--") && raw !== undefined) out[setting.env] = raw;
  }
  return out;
}

/** The settings as help text rows: flag, variable, default and what it does. */
export function settingsHelp(): string {
  const rows = (Object.values(SETTINGS) as Setting[]).map((setting) => {
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
