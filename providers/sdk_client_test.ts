import { strict as assert } from "node:assert";
import { sdkClientCache, type SdkClientOptions } from "./sdk_client.ts";

Deno.test("a client is made per timeout too: the supervisor's auth probe (15 s) and its batch desk (LLM_TIMEOUT) each get their own, made once", async () => {
  const made: number[] = [];
  const clientFor = sdkClientCache((options: SdkClientOptions) => {
    made.push(options.timeoutMs);
    return Promise.resolve({ timeoutMs: options.timeoutMs });
  });
  const probe = await clientFor({ apiKey: "sk-a", timeoutMs: 15_000 });
  const desk = await clientFor({ apiKey: "sk-a", timeoutMs: 300_000 });
  assert.equal(probe.timeoutMs, 15_000);
  assert.equal(desk.timeoutMs, 300_000);
  assert.equal(await clientFor({ apiKey: "sk-a", timeoutMs: 15_000 }), probe);
  assert.equal(await clientFor({ apiKey: "sk-a", timeoutMs: 300_000 }), desk);
  assert.deepEqual(made, [15_000, 300_000]);
});
