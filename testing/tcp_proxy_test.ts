/** The TCP proxy of the partition scenarios: it forwards, cuts (refusing or blackholing), and heals. */

import { strict as assert } from "node:assert";
import { answersPing, startRedis } from "./redis.ts";
import { startTcpProxy } from "./tcp_proxy.ts";
import { waitUntil } from "./wait.ts";

const encoder = new TextEncoder();

/** Reads once from `conn`: the text, or `null` when the other side closed it. */
async function readOnce(conn: Deno.Conn): Promise<string | null> {
  const buffer = new Uint8Array(256);
  const read = await conn.read(buffer).catch(() => null);
  return read === null ? null : new TextDecoder().decode(buffer.subarray(0, read));
}

Deno.test("the proxy forwards to its target, both ways", async () => {
  await using redis = await startRedis();
  await using proxy = startTcpProxy(redis.port);
  assert.equal(await answersPing("127.0.0.1", proxy.port), true);
});

Deno.test("a cut closes every forwarded connection, and new ones are refused until healed", async () => {
  await using redis = await startRedis();
  await using proxy = startTcpProxy(redis.port);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  await conn.write(encoder.encode("PING\r\n"));
  assert.equal(await readOnce(conn), "+PONG\r\n");
  assert.equal(proxy.open, 1);

  proxy.cut("refuse");
  assert.equal(await readOnce(conn), null);
  conn.close();
  assert.equal(proxy.open, 0);
  const refused = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  assert.equal(await readOnce(refused), null);
  refused.close();

  proxy.heal();
  assert.equal(await answersPing("127.0.0.1", proxy.port), true);
});

Deno.test("a blackhole cut holds new connections unanswered; healing closes them", async () => {
  await using redis = await startRedis();
  await using proxy = startTcpProxy(redis.port);
  proxy.cut("blackhole");
  assert.equal(proxy.isCut, true);
  // answersPing gives up after a second without an answer.
  assert.equal(await answersPing("127.0.0.1", proxy.port), false);
  const held = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  await held.write(encoder.encode("PING\r\n"));
  const reading = readOnce(held);
  proxy.heal();
  assert.equal(await reading, null);
  held.close();
  await waitUntil(() => answersPing("127.0.0.1", proxy.port), { what: "the healed proxy" });
});
