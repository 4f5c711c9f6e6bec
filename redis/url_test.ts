import { strict as assert } from "node:assert";
import { parseRedisUrl, redactUrl, urlPassword } from "./url.ts";

Deno.test("redactUrl hides the whole password, even one with / @ or #, and keeps the rest", () => {
  assert.equal(redactUrl("redis://:s3cret@cache:6379/0"), "redis://:***@cache:6379/0");
  assert.equal(redactUrl("redis://app:s3cret@cache:6379"), "redis://app:***@cache:6379");
  assert.equal(redactUrl("redis://:pa/ss@redis:6379/0"), "redis://:***@redis:6379/0");
  assert.equal(redactUrl("rediss://:a@b#c@redis:6380"), "rediss://:***@redis:6380");
  assert.equal(redactUrl("redis://token@redis"), "redis://***@redis");
  assert.equal(redactUrl("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
  assert.equal(redactUrl("not a url"), "not a url");
});

Deno.test("redactUrl hides the password of Sentinel and Cluster URLs, even one with , / @ or #", () => {
  assert.equal(
    redactUrl("redis+sentinel://app:s3cret@h1:26379,h2:26379/mymaster/2"),
    "redis+sentinel://app:***@h1:26379,h2:26379/mymaster/2",
  );
  assert.equal(
    redactUrl("rediss+sentinel://:a,b/c@d#e@h1,h2/m"),
    "rediss+sentinel://:***@h1,h2/m",
  );
  assert.equal(
    redactUrl("redis-cluster://ppr:p@ss,w/rd@n1:7000,n2:7001"),
    "redis-cluster://ppr:***@n1:7000,n2:7001",
  );
  assert.equal(redactUrl("rediss-cluster://tok@n1:7000"), "rediss-cluster://***@n1:7000");
  assert.equal(redactUrl("redis-cluster://n1:7000,n2:7001"), "redis-cluster://n1:7000,n2:7001");
});

Deno.test("urlPassword is the text after the credentials' first : up to the last @, in every form", () => {
  assert.equal(urlPassword("redis://:s3cret@cache"), "s3cret");
  assert.equal(urlPassword("redis+sentinel://app:a:b@c@h1/m"), "a:b@c");
  assert.equal(urlPassword("redis-cluster://tok%2Fen@n1:7000"), "tok%2Fen");
  assert.equal(urlPassword("redis-cluster://app:@n1:7000"), undefined);
  assert.equal(urlPassword("redis+sentinel://h1,h2/m"), undefined);
});

Deno.test("a Sentinel URL gives its hosts (26379 by default), its master, its database and its credentials decoded", () => {
  assert.deepEqual(parseRedisUrl("rediss+sentinel://app:p%40ss@[::1]:26380,s2/main.1/3"), {
    ok: true,
    target: {
      kind: "sentinel",
      tls: true,
      sentinels: [{ host: "::1", port: 26380 }, { host: "s2", port: 26379 }],
      masterName: "main.1",
      db: 3,
      username: "app",
      password: "p@ss",
    },
  });
  assert.deepEqual(parseRedisUrl("redis+sentinel://secret@s1:26379/m"), {
    ok: true,
    target: {
      kind: "sentinel",
      tls: false,
      sentinels: [{ host: "s1", port: 26379 }],
      masterName: "m",
      db: 0,
      password: "secret",
    },
  });
});

Deno.test("a Cluster URL gives its nodes (6379 by default) and its credentials", () => {
  assert.deepEqual(parseRedisUrl("redis-cluster://ppr:pw@n1:7000, n2"), {
    ok: true,
    target: {
      kind: "cluster",
      tls: false,
      nodes: [{ host: "n1", port: 7000 }, { host: "n2", port: 6379 }],
      username: "ppr",
      password: "pw",
    },
  });
  assert.deepEqual(parseRedisUrl("rediss-cluster://n1:7000/"), {
    ok: true,
    target: { kind: "cluster", tls: true, nodes: [{ host: "n1", port: 7000 }] },
  });
});

Deno.test("a single server's URL is kept whole, as ioredis reads it", () => {
  assert.deepEqual(parseRedisUrl(" rediss://u:p@cache:6380/2 "), {
    ok: true,
    target: { kind: "server", url: "rediss://u:p@cache:6380/2" },
  });
});

Deno.test("each broken form is refused with what was expected", () => {
  const problemOf = (raw: string) => {
    const parsed = parseRedisUrl(raw);
    assert.equal(parsed.ok, false, raw);
    return parsed.ok ? "" : parsed.problem;
  };
  assert.match(problemOf("redis+sentinel://s1:26379"), /names its master after the hosts/);
  assert.match(problemOf("redis+sentinel://s1:26379/m/x"), /"\/m\/x" is not \/<master>\[\/<db>\]/);
  assert.match(problemOf("redis+sentinel:///m"), /names no host/);
  assert.match(problemOf("redis+sentinel://s1:99999/m"), /port of "s1:99999" must be 1 to 65535/);
  assert.match(problemOf("redis+sentinel://s1:26379,,s2/m"), /"" is not a host: give host:port/);
  assert.match(problemOf("redis-cluster://n1:7000/1"), /only database 0: drop "\/1"/);
  assert.match(problemOf("redis-cluster://n1:7000?tls=1"), /no \?query/);
  assert.match(problemOf("redis-sentinel://s1/m"), /unknown scheme redis-sentinel:\/\//);
  assert.match(problemOf("http://cache:6379"), /unknown scheme http:\/\//);
  assert.match(problemOf("redis://cache:6379/db"), /"\/db" is not a database number/);
  assert.match(problemOf("cache:6379"), /no scheme/);
});
