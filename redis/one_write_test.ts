import { strict as assert } from "node:assert";
import { startRedis } from "../testing/redis.ts";
import { inOneWrite } from "./one_write.ts";

Deno.test("inOneWrite: commands issued without waiting for an answer, some after settled awaits, reach Redis in one read", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  const readsSoFar = async () =>
    Number(/total_reads_processed:(\d+)/.exec(await client.info("stats"))![1]);
  const before = await readsSoFar();
  const replies = await inOneWrite(client, () =>
    Promise.all([
      client.incr("a"),
      (async () => {
        await Promise.resolve();
        await null;
        return await client.incr("b");
      })(),
      client.set("c", "x".repeat(10_000)),
    ]));
  assert.deepEqual(replies, [1, 1, "OK"]);
  // One read for the three commands, and one for the INFO that counts it.
  assert.equal(await readsSoFar() - before, 2);
});

Deno.test("inOneWrite: a connection that is not ready runs the work as it is", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  client.disconnect();
  assert.equal(await inOneWrite(client, () => Promise.resolve("done")), "done");
});
