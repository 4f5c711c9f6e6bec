/** The dashboard's settings (port, host, basic-auth credentials, read-only), from its flags and the environment. */

import { table } from "../text/format.ts";
import { boolean, integer, pattern } from "../config/rules.ts";

/** Where the dashboard listens unless DASHBOARD_PORT or --port says otherwise (RQ Dashboard's port). */
export const DEFAULT_DASHBOARD_PORT = 9181;

/** Environment variables that hold the dashboard's credentials: nothing but the dashboard needs them. */
export const DASHBOARD_CREDENTIAL_VARIABLES = ["DASHBOARD_USER", "DASHBOARD_PASSWORD"] as const;

/** HTTP basic-auth credentials of the dashboard. */
export interface DashboardCredentials {
  user: string;
  password: string;
}

/** How the dashboard serves. */
export interface DashboardSettings {
  /** Started beside the pool (`--dashboard`, `DASHBOARD_ENABLED`); the `dashboard` command ignores it. */
  enabled: boolean;
  port: number;
  /** The listen address: loopback whenever there are no credentials. */
  host: string;
  /** `undefined`: no basic auth, and the dashboard listens on a loopback address only. */
  credentials?: DashboardCredentials;
  /** bull-board's read-only mode on every queue: no retry, promote, clean, pause, add or remove. */
  readOnly: boolean;
}

/** The dashboard's flags as commander hands them over; each wins over its variable. */
export interface DashboardFlags {
  /** `--dashboard` of the pool. */
  dashboard?: boolean;
  /** `--port` of the `dashboard` command. */
  port?: string;
  /** `--host` of the `dashboard` command. */
  host?: string;
  /** `--read-only` of the `dashboard` command. */
  readOnly?: boolean;
}

const HOST_RULE = pattern("a host name or IP address", /^[A-Za-z0-9.\-:[\]]+$/);
const PORT_RULE = integer(1, 65535);
const BOOLEAN_RULE = boolean();

/**
 * Whether `host` is a loopback address (`127.0.0.0/8`, `::1`, `localhost`): reachable from this
 * machine only.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { isLoopback } from "./settings.ts";
 *
 * assert.equal(isLoopback("127.0.0.1"), true);
 * assert.equal(isLoopback("[::1]"), true);
 * assert.equal(isLoopback("0.0.0.0"), false);
 * ```
 */
export function isLoopback(host: string): boolean {
  const bare = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return bare === "localhost" || bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** One raw value and the name an error message gives it: the flag when it came from there. */
function raw(
  flag: string | boolean | undefined,
  flagName: string | undefined,
  env: Record<string, string | undefined>,
  variable: string,
): { value: string | undefined; name: string } {
  if (flag !== undefined) return { value: String(flag), name: `--${flagName}` };
  const value = env[variable] === "" ? undefined : env[variable];
  return { value, name: flagName === undefined ? variable : `${variable} (--${flagName})` };
}

/**
 * Validates the dashboard's settings: flags over `DASHBOARD_*` variables over defaults. Every
 * problem is reported, in the form of the pool's configuration errors; the password is never
 * shown. Without both `DASHBOARD_USER` and `DASHBOARD_PASSWORD` the host defaults to
 * `127.0.0.1` and a non-loopback host is refused; with them it defaults to `0.0.0.0`. With
 * `besidePool` (the pool's own command line), nothing but `enabled` is read while it is false.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseDashboardSettings } from "./settings.ts";
 *
 * assert.deepEqual(parseDashboardSettings({}, {}), {
 *   ok: true,
 *   settings: {
 *     enabled: false,
 *     port: 9181,
 *     host: "127.0.0.1",
 *     credentials: undefined,
 *     readOnly: false,
 *   },
 * });
 * assert.equal(parseDashboardSettings({ host: "0.0.0.0" }, {}).ok, false); // no credentials
 * ```
 */
export function parseDashboardSettings(
  flags: DashboardFlags,
  env: Record<string, string | undefined>,
  options: { besidePool?: boolean } = {},
): { ok: true; settings: DashboardSettings } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  const parsed = <T>(
    value: { value: string | undefined; name: string },
    rule: { rule: string; parse(raw: string): T | undefined },
    fallback: T,
  ): T => {
    if (value.value === undefined) return fallback;
    const result = rule.parse(value.value);
    if (result === undefined) {
      errors.push(`${value.name} = ${JSON.stringify(value.value)}: must be ${rule.rule}`);
      return fallback;
    }
    return result;
  };

  const enabled = parsed(
    raw(flags.dashboard, "dashboard", env, "DASHBOARD_ENABLED"),
    BOOLEAN_RULE,
    false,
  );
  if (options.besidePool && !enabled) {
    // A pool without its dashboard reads nothing else of it.
    return errors.length > 0 ? { ok: false, errors } : {
      ok: true,
      settings: { enabled, port: DEFAULT_DASHBOARD_PORT, host: "127.0.0.1", readOnly: false },
    };
  }
  const port = parsed(
    raw(flags.port, "port", env, "DASHBOARD_PORT"),
    PORT_RULE,
    DEFAULT_DASHBOARD_PORT,
  );
  const readOnly = parsed(
    raw(flags.readOnly, "read-only", env, "DASHBOARD_READ_ONLY"),
    BOOLEAN_RULE,
    false,
  );

  const user = env.DASHBOARD_USER || undefined;
  const password = env.DASHBOARD_PASSWORD || undefined;
  if ((user === undefined) !== (password === undefined)) {
    errors.push(
      `${user === undefined ? "DASHBOARD_USER" : "DASHBOARD_PASSWORD"} is not set: ` +
        "set both DASHBOARD_USER and DASHBOARD_PASSWORD (basic auth), or neither (the dashboard " +
        "then listens on 127.0.0.1 only)",
    );
  }
  const credentials = user !== undefined && password !== undefined ? { user, password } : undefined;

  const hostValue = raw(flags.host, "host", env, "DASHBOARD_HOST");
  const host = parsed(hostValue, HOST_RULE, credentials ? "0.0.0.0" : "127.0.0.1");
  if (hostValue.value !== undefined && !credentials && !isLoopback(host)) {
    errors.push(
      `${hostValue.name} = ${JSON.stringify(hostValue.value)}: without DASHBOARD_USER and ` +
        "DASHBOARD_PASSWORD the dashboard listens on a loopback address only (127.0.0.1, ::1, " +
        "localhost); set both to serve other hosts",
    );
  }

  return errors.length > 0
    ? { ok: false, errors }
    : { ok: true, settings: { enabled, port, host, credentials, readOnly } };
}

/**
 * `env` without the dashboard's credentials: what a worker process gets, which never serves
 * the dashboard.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { withoutDashboardCredentials } from "./settings.ts";
 *
 * assert.deepEqual(withoutDashboardCredentials({ PATH: "/bin", DASHBOARD_PASSWORD: "s3cret" }), {
 *   PATH: "/bin",
 * });
 * ```
 */
export function withoutDashboardCredentials(
  env: Record<string, string>,
): Record<string, string> {
  const out = { ...env };
  for (const variable of DASHBOARD_CREDENTIAL_VARIABLES) delete out[variable];
  return out;
}

/** The dashboard's settings as help text rows: variable, flag, what it does. */
export function dashboardSettingsHelp(): string {
  const rows = [
    ["DASHBOARD_PORT", "--port <port>", `port [default: ${DEFAULT_DASHBOARD_PORT}]`],
    [
      "DASHBOARD_HOST",
      "--host <host>",
      "listen address [default: 0.0.0.0 with DASHBOARD_USER and DASHBOARD_PASSWORD, else " +
      "127.0.0.1]; without them only a loopback address is allowed",
    ],
    ["DASHBOARD_USER", "", "HTTP basic auth: the user name (set both or neither)"],
    [
      "DASHBOARD_PASSWORD",
      "",
      "HTTP basic auth: the password, compared in constant time, never printed",
    ],
    ["DASHBOARD_READ_ONLY", "--read-only", "true: every action off (bull-board's read-only mode)"],
    [
      "DASHBOARD_ENABLED",
      "--dashboard",
      "true: the pool serves the dashboard beside it (a flag of the pool)",
    ],
  ];
  return table(rows).replace(/^/gm, "  ");
}
