import { strict as assert } from "node:assert";
import { createCommandCounter } from "./redis_traffic.ts";

const resp = (...args: string[]) =>
  `*${args.length}\r\n${args.map((arg) => `$${arg.length}\r\n${arg}\r\n`).join("")}`;

Deno.test("the command counter counts each whole RESP command once, however the bytes are cut", () => {
  const bytes = new TextEncoder().encode(
    resp("MULTI") + resp("evalsha", "abc", "1", "k\r\n*2") + resp("EXEC") + resp("GET", "k"),
  );
  for (let cut = 1; cut < bytes.length; cut++) {
    const names: string[] = [];
    const count = createCommandCounter((name) => names.push(name));
    count(bytes.subarray(0, cut));
    count(bytes.subarray(cut));
    assert.deepEqual(names, ["MULTI", "EVALSHA", "EXEC", "GET"], `cut at ${cut}`);
  }
});

Deno.test("the command counter refuses what is not a RESP array, naming the byte", () => {
  const count = createCommandCounter(() => {});
  assert.throws(() => count(new TextEncoder().encode("PING\r\n")), /RESP arrays only: got byte 80/);
});
