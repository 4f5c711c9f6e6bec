/** The Redis probe marks Redis down on a connection error or close, without waiting for the next ping. */

import { strict as assert } from "node:assert";
import { EventEmitter } from "node:events";
import type { Redis } from "ioredis";
import { delay } from "../async/mod.ts";
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
    const probe = startRedisProbe(fake as unknown as Redis, 60_000, () => clock);
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
