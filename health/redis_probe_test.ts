import { strict as assert } from "node:assert";
import { EventEmitter } from "node:events";
import type { Redis } from "ioredis";
import { delay } from "../async/mod.ts";
import { startRedisProbe } from "./redis_probe.ts";

Deno.test("a connection error or close marks Redis down at once, before the next ping", async () => {
  const fake = Object.assign(new EventEmitter(), { ping: () => Promise.resolve("PONG") });
  const probe = startRedisProbe(fake as unknown as Redis, 60_000, () => 1000);
  try {
    await delay(10);
    assert.equal(probe.state.connected, true);
    fake.emit("error", new Error("ECONNRESET"));
    assert.equal(probe.state.connected, false);
    assert.equal(probe.state.downSince, 1000);
  } finally {
    probe.stop();
  }
});
