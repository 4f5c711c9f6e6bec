/** The Redis probe marks Redis down on a connection error or close, without waiting for the next ping. */

import { strict as assert } from "node:assert";
import { EventEmitter } from "node:events";
import type { Logger } from "@logtape/logtape";
import type { Redis } from "ioredis";
import { delay } from "../async/mod.ts";
import { waitUntil } from "../testing/wait.ts";
import { startRedisProbe } from "./redis_probe.ts";

for (const event of ["error", "close"]) {
  Deno.test(`a connection ${event} event marks Redis down at once, before the next ping, down since that moment`, async () => {
    let pings = 0;
    const fake = Object.assign(new EventEmitter(), {
      ping: () => {
        pings++;
        return Promise.resolve("PONG");
      },
    });
    let clock = 0;
    const probe = startRedisProbe(fake as unknown as Redis, {
      intervalMs: 60_000,
      now: () => clock,
    });
    try {
      await delay(10);
      assert.equal(probe.state.connected, true);
      assert.equal(probe.state.downSince, undefined);
      assert.notEqual(probe.state.latencyMs, undefined);
      clock = 1000;
      fake.emit(event, ...(event === "error" ? [new Error("ECONNRESET")] : []));
      assert.equal(probe.state.connected, false);
      assert.equal(probe.state.latencyMs, undefined);
      assert.equal(probe.state.downSince, 1000);
      assert.equal(pings, 1, "no second ping was needed");
    } finally {
      probe.stop();
    }
  });
}

Deno.test("a lost Redis is logged when it goes, again every 30 s while it stays away, and when it answers again", async () => {
  let answering = true;
  let pings = 0;
  const fake = Object.assign(new EventEmitter(), {
    ping: () => {
      pings++;
      return answering ? Promise.resolve("PONG") : Promise.reject(new Error("ECONNREFUSED"));
    },
  });
  const logged: string[] = [];
  const logger = {
    warn: (message: string) => logged.push(`warn ${message}`),
    info: (message: string) => logged.push(`info ${message}`),
  };
  let clock = 0;
  const probe = startRedisProbe(fake as unknown as Redis, {
    intervalMs: 5,
    now: () => clock,
    logger: logger as unknown as Logger,
  });
  // Two more probes than now: at least one whole probe ran with the state as set.
  const probed = () => {
    const target = pings + 2;
    return waitUntil(() => pings >= target, { what: "two more probes", intervalMs: 1 });
  };
  try {
    await probed();
    assert.deepEqual(logged, [], "nothing to say while Redis answers");
    answering = false;
    await probed();
    assert.deepEqual(logged, ["warn Redis unreachable for {downS} s: {error}"]);
    clock = 29_000;
    await probed();
    assert.equal(logged.length, 1, "not again within 30 s");
    clock = 31_000;
    await probed();
    assert.equal(logged.length, 2, "again after 30 s");
    answering = true;
    await probed();
    assert.deepEqual(logged.slice(2), ["info Redis answers again"]);
  } finally {
    probe.stop();
  }
});

Deno.test("a Redis that answers PING but refuses the probe's write is writable no more, with Redis's words", async () => {
  const refusal = "OOM command not allowed when used memory > 'maxmemory'.";
  let refusing = true;
  let pings = 0;
  const fake = Object.assign(new EventEmitter(), {
    ping: () => {
      pings++;
      return Promise.resolve("PONG");
    },
    set: () => refusing ? Promise.reject(new Error(refusal)) : Promise.resolve("OK"),
  });
  const probe = startRedisProbe(fake as unknown as Redis, {
    intervalMs: 5,
    writeKey: "ppr:probe:h",
  });
  const probed = () => {
    const target = pings + 2;
    return waitUntil(() => pings >= target, { what: "two more probes", intervalMs: 1 });
  };
  try {
    await probed();
    assert.equal(probe.state.connected, true);
    assert.equal(probe.state.writeRefusal, refusal);
    refusing = false;
    await probed();
    assert.equal(probe.state.writeRefusal, undefined);
  } finally {
    probe.stop();
  }
});
