/** The rules a setting's value must follow: each names itself for the error message and parses the raw text. */

import { formatDuration, parseDurationMs } from "./duration.ts";

/** Names only the layers above the configuration know, passed in by the entry point. */
export interface KnownNames {
  /** The providers of this build (`providers/registry.ts`). */
  providers: readonly string[];
}

// The rules are small pure functions rather than a schema library: a worker process parses its
// configuration too, and every megabyte it loads is paid WORKER_COUNT times.

/** An integer within [min, max]. */
export function integer(min: number, max: number) {
  return {
    rule: `an integer from ${min} to ${max}`,
    parse(raw: string): number | undefined {
      const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
      return value >= min && value <= max ? value : undefined;
    },
  };
}

/** A number within [min, max]. */
export function number(min: number, max: number) {
  return {
    rule: `a number from ${min} to ${max}`,
    parse(raw: string): number | undefined {
      const value = raw.trim() === "" ? NaN : Number(raw);
      return value >= min && value <= max ? value : undefined;
    },
  };
}

/** A duration (`500ms`, `10s`, `5m`, bare seconds) within [minMs, maxMs], in ms. */
export function duration(minMs: number, maxMs: number) {
  return {
    rule: `a duration from ${formatDuration(minMs)} to ${
      formatDuration(maxMs)
    } (e.g. 500ms, 10s, 5m, or bare seconds)`,
    parse(raw: string): number | undefined {
      const ms = parseDurationMs(raw);
      return ms !== undefined && ms >= minMs && ms <= maxMs ? ms : undefined;
    },
  };
}

/** One of `values`, case-insensitive. */
export function oneOf<const T extends readonly string[]>(values: T) {
  return {
    rule: `one of ${values.join(", ")}`,
    parse(raw: string): T[number] | undefined {
      const value = raw.trim().toLowerCase();
      return values.includes(value) ? value : undefined;
    },
  };
}

/** The name of a provider of this build (`KnownNames.providers`), case-insensitive. */
export function providerName() {
  return {
    rule: (known: KnownNames) => `one of ${known.providers.join(", ")}`,
    parse(raw: string, known: KnownNames): string | undefined {
      const value = raw.trim().toLowerCase();
      return known.providers.includes(value) ? value : undefined;
    },
  };
}

/** true/false, 1/0, yes/no, on/off. */
export function boolean() {
  return {
    rule: "true or false",
    parse(raw: string): boolean | undefined {
      const value = raw.trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(value)) return true;
      if (["false", "0", "no", "off"].includes(value)) return false;
      return undefined;
    },
  };
}

const NAME_PATTERN = /^[A-Za-z0-9_.\-{}]+$/;

/** A size in bytes: `512MB`, `2GB`, `800KB` (powers of 1024) or bare bytes, within [min, max]. */
export function size(minBytes: number, maxBytes: number) {
  const units: Record<string, number> = { "": 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
  return {
    rule: "a size such as 512MB or 2GB",
    parse(raw: string): number | undefined {
      const match = /^(\d+(?:\.\d+)?)\s*([kmg]?b)?$/i.exec(raw.trim());
      if (!match) return undefined;
      const bytes = Math.round(Number(match[1]) * units[(match[2] ?? "").toLowerCase()]);
      return bytes >= minBytes && bytes <= maxBytes ? bytes : undefined;
    },
  };
}

/** A comma-separated list of distinct names; `required`: at least one. */
export function names(what: string, required = true) {
  return {
    rule: `${
      required ? "one" : "zero"
    } or more ${what} names, comma-separated (letters, digits, _ . - { })`,
    parse(raw: string): string[] | undefined {
      const list = raw.split(",").map((name) => name.trim()).filter((name) => name !== "");
      const ok = (list.length > 0 || !required) && list.every((name) => NAME_PATTERN.test(name)) &&
        new Set(list).size === list.length;
      return ok ? list : undefined;
    },
  };
}

/** A `redis://` or `rediss://` URL with a host and an optional database number. */
export function redisUrl() {
  return {
    rule: "a redis:// or rediss:// URL with a host, e.g. redis://127.0.0.1:6379/0",
    parse(raw: string): string | undefined {
      try {
        const url = new URL(raw.trim());
        const ok = (url.protocol === "redis:" || url.protocol === "rediss:") &&
          url.hostname !== "" && /^(\/\d{0,2})?$/.test(url.pathname);
        return ok ? raw.trim() : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/** An `http://` or `https://` URL. */
export function httpUrl() {
  return {
    rule: "an http:// or https:// URL",
    parse(raw: string): string | undefined {
      try {
        const url = new URL(raw.trim());
        return url.protocol === "http:" || url.protocol === "https:" ? raw.trim() : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/** Any text that matches `test`, trimmed; `rule` says what that means. */
export function pattern(rule: string, test: RegExp) {
  return {
    rule,
    parse(raw: string): string | undefined {
      return test.test(raw.trim()) ? raw.trim() : undefined;
    },
  };
}
