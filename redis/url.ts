/** Redis URLs: what `REDIS_URL` points at (one server, a Sentinel group or a Cluster), and forms safe to print. */

/** A host and its port, as a URL's host list gives them. */
export interface HostPort {
  host: string;
  port: number;
}

/** Credentials of a URL: an ACL user (or none: the `default` user) and its password. */
export interface RedisCredentials {
  username?: string;
  password?: string;
}

/**
 * What `REDIS_URL` points at:
 * - `server`: one Redis server (`redis://`, `rediss://`), the URL as ioredis reads it;
 * - `sentinel`: the master that Sentinels watch under `masterName` (`redis+sentinel://`,
 *   `rediss+sentinel://`), found through `sentinels`;
 * - `cluster`: a Redis Cluster (`redis-cluster://`, `rediss-cluster://`), discovered from `nodes`.
 *
 * For `sentinel` and `cluster`, `tls` says the `rediss` form was used, and the credentials
 * authenticate to every server of the setup (the Sentinels too, for `sentinel`).
 */
export type RedisTarget =
  | { kind: "server"; url: string }
  | ({
    kind: "sentinel";
    tls: boolean;
    sentinels: HostPort[];
    masterName: string;
    db: number;
  } & RedisCredentials)
  | ({ kind: "cluster"; tls: boolean; nodes: HostPort[] } & RedisCredentials);

/** The forms `REDIS_URL` takes, as the configuration's error message says them. */
export const REDIS_URL_FORMS =
  "a redis:// or rediss:// URL with a host (e.g. redis://127.0.0.1:6379/0), a Sentinel URL " +
  "redis+sentinel://[user:password@]host:26379[,host:26379...]/<master>[/<db>], or a Cluster " +
  "URL redis-cluster://[user:password@]host:7000[,host:7001...] (rediss+sentinel:// and " +
  "rediss-cluster:// for TLS)";

/** The port a Sentinel host without one listens on. */
export const DEFAULT_SENTINEL_PORT = 26379;
/** The port a Redis server or Cluster node without one listens on. */
export const DEFAULT_REDIS_PORT = 6379;

/** The scheme, the credentials (text before the URL's last `@`) and the rest of a URL. */
function splitCredentials(
  raw: string,
): { scheme: string; credentials: string | undefined; rest: string } | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//is.exec(raw);
  if (!scheme) return undefined;
  const afterScheme = raw.slice(scheme[0].length);
  const at = afterScheme.lastIndexOf("@");
  return {
    scheme: scheme[1].toLowerCase(),
    credentials: at < 0 ? undefined : afterScheme.slice(0, at),
    rest: at < 0 ? afterScheme : afterScheme.slice(at + 1),
  };
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The password of a URL as written (still percent-encoded), or `undefined`: the credentials are
 * read up to the last `@`, the password is what follows their first `:` (credentials without a
 * `:` are all password). Every form of `REDIS_URL` keeps it there.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { urlPassword } from "./url.ts";
 *
 * assert.equal(urlPassword("redis+sentinel://app:s3%40cret@h1:26379,h2:26379/m"), "s3%40cret");
 * assert.equal(urlPassword("redis://cache:6379"), undefined);
 * ```
 */
export function urlPassword(raw: string): string | undefined {
  const credentials = splitCredentials(raw)?.credentials;
  if (credentials === undefined) return undefined;
  const password = credentials.slice(credentials.indexOf(":") + 1);
  return password === "" ? undefined : password;
}

/**
 * Replaces the password of a URL with `***` so the URL can be logged; the user name stays.
 * It reads the credentials up to the last `@`, so a password holding `/`, `@`, `#` or `,`
 * (which a URL parser would split elsewhere) is hidden whole. Credentials without a `:` are
 * hidden too. Every form of `REDIS_URL` (Sentinel and Cluster included) is covered.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { redactUrl } from "./url.ts";
 *
 * assert.equal(redactUrl("redis://:s3cret@cache:6379/0"), "redis://:***@cache:6379/0");
 * assert.equal(redactUrl("redis://:pa/ss@cache:6379/0"), "redis://:***@cache:6379/0");
 * assert.equal(
 *   redactUrl("redis+sentinel://app:s3cret@h1:26379,h2:26379/mymaster"),
 *   "redis+sentinel://app:***@h1:26379,h2:26379/mymaster",
 * );
 * ```
 */
export function redactUrl(raw: string): string {
  const parts = splitCredentials(raw);
  if (!parts || parts.credentials === undefined) return raw;
  const colon = parts.credentials.indexOf(":");
  const shown = colon < 0 ? "***" : `${parts.credentials.slice(0, colon)}:***`;
  return `${raw.slice(0, raw.indexOf("://") + 3)}${shown}@${parts.rest}`;
}

/** A host list's entry: `host`, `host:port` or `[ipv6]:port`. */
function parseHostPort(text: string, defaultPort: number): HostPort | string {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.\-_]+))(?::(\d{1,5}))?$/.exec(text);
  if (!match) {
    return `${
      JSON.stringify(text)
    } is not a host: give host:port, e.g. 10.0.0.5:${defaultPort} or [::1]:${defaultPort}`;
  }
  const port = match[3] === undefined ? defaultPort : Number(match[3]);
  if (port < 1 || port > 65535) return `the port of ${JSON.stringify(text)} must be 1 to 65535`;
  return { host: match[1] ?? match[2], port };
}

/** The credentials as a client sends them: decoded, the user only when given. */
function credentialsOf(text: string | undefined): RedisCredentials {
  if (text === undefined) return {};
  const colon = text.indexOf(":");
  if (colon < 0) return text === "" ? {} : { password: decode(text) };
  const username = decode(text.slice(0, colon));
  const password = decode(text.slice(colon + 1));
  return {
    ...(username === "" ? {} : { username }),
    ...(password === "" ? {} : { password }),
  };
}

/**
 * Reads `REDIS_URL`: one server, a Sentinel group or a Cluster (see {@link RedisTarget}), or
 * what is wrong with it (the expected form, with the part that breaks it). A Sentinel host
 * without a port is on 26379, a Cluster node without one on 6379.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseRedisUrl } from "./url.ts";
 *
 * assert.deepEqual(parseRedisUrl("redis+sentinel://app:pw@10.0.0.1,10.0.0.2:26380/main/2"), {
 *   ok: true,
 *   target: {
 *     kind: "sentinel",
 *     tls: false,
 *     sentinels: [{ host: "10.0.0.1", port: 26379 }, { host: "10.0.0.2", port: 26380 }],
 *     masterName: "main",
 *     db: 2,
 *     username: "app",
 *     password: "pw",
 *   },
 * });
 * assert.equal(parseRedisUrl("redis-cluster://h:7000/3").ok, false);
 * ```
 */
export function parseRedisUrl(
  raw: string,
): { ok: true; target: RedisTarget } | { ok: false; problem: string } {
  const text = raw.trim();
  const parts = splitCredentials(text);
  if (!parts) return { ok: false, problem: "it has no scheme such as redis://" };
  const { scheme, credentials, rest } = parts;
  if (scheme === "redis" || scheme === "rediss") return parseServerUrl(text);
  const kind = /^rediss?\+sentinel$/.test(scheme)
    ? "sentinel"
    : /^rediss?-cluster$/.test(scheme)
    ? "cluster"
    : undefined;
  if (kind === undefined) {
    return {
      ok: false,
      problem: `unknown scheme ${scheme}://: use redis://, rediss://, redis+sentinel://, ` +
        "rediss+sentinel://, redis-cluster:// or rediss-cluster://",
    };
  }
  if (/[?#]/.test(rest)) {
    return { ok: false, problem: "a Sentinel or Cluster URL takes no ?query or #fragment" };
  }
  const slash = rest.indexOf("/");
  const hostList = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "" : rest.slice(slash + 1);
  if (hostList === "") return { ok: false, problem: "it names no host" };
  const defaultPort = kind === "sentinel" ? DEFAULT_SENTINEL_PORT : DEFAULT_REDIS_PORT;
  const hosts: HostPort[] = [];
  for (const entry of hostList.split(",")) {
    const host = parseHostPort(entry.trim(), defaultPort);
    if (typeof host === "string") return { ok: false, problem: host };
    hosts.push(host);
  }
  const tls = scheme.startsWith("rediss");
  const auth = credentialsOf(credentials);
  if (kind === "cluster") {
    if (path !== "") {
      return {
        ok: false,
        problem: `a Cluster has only database 0: drop ${JSON.stringify(`/${path}`)}`,
      };
    }
    return { ok: true, target: { kind, tls, nodes: hosts, ...auth } };
  }
  const sentinelPath = /^([A-Za-z0-9._\-]+)(?:\/(\d{1,2}))?\/?$/.exec(path);
  if (!sentinelPath) {
    return {
      ok: false,
      problem: path === ""
        ? "a Sentinel URL names its master after the hosts: redis+sentinel://host:26379/<master>"
        : `${JSON.stringify(`/${path}`)} is not /<master>[/<db>] ` +
          "(a master name of letters, digits, . _ -, and a database number)",
    };
  }
  return {
    ok: true,
    target: {
      kind,
      tls,
      sentinels: hosts,
      masterName: sentinelPath[1],
      db: sentinelPath[2] === undefined ? 0 : Number(sentinelPath[2]),
      ...auth,
    },
  };
}

/** One server's `redis://` or `rediss://` URL, with a host and an optional database number. */
function parseServerUrl(
  text: string,
): { ok: true; target: RedisTarget } | { ok: false; problem: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, problem: "it is not a URL" };
  }
  if (url.hostname === "") return { ok: false, problem: "it names no host" };
  if (!/^(\/\d{0,2})?$/.test(url.pathname)) {
    return { ok: false, problem: `${JSON.stringify(url.pathname)} is not a database number` };
  }
  return { ok: true, target: { kind: "server", url: text } };
}
