/** The SDK client of an API provider: made on first use (the SDK module loads only then), one per key, base URL and timeout. */

/** What identifies an SDK client: requests with the same key, URL and timeout share one. */
export interface SdkClientOptions {
  apiKey: string;
  baseUrl?: string;
  timeoutMs: number;
}

/**
 * Returns a getter that makes the client with `make` on first use of each key, base URL and
 * timeout, and returns that one from then on. A process holds one per timeout it uses (a
 * supervisor's auth probe its 15 s, its batch desk `LLM_TIMEOUT`): a client made for one never
 * serves the other with its timeout.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { sdkClientCache, type SdkClientOptions } from "./sdk_client.ts";
 *
 * let made = 0;
 * const clientFor = sdkClientCache((options: SdkClientOptions) => {
 *   made++;
 *   return Promise.resolve({ apiKey: options.apiKey }); // e.g. new OpenAI({ apiKey, ... })
 * });
 * const first = await clientFor({ apiKey: "sk-a", timeoutMs: 60_000 });
 * assert.equal(await clientFor({ apiKey: "sk-a", timeoutMs: 60_000 }), first);
 * await clientFor({ apiKey: "sk-b", timeoutMs: 60_000 });
 * await clientFor({ apiKey: "sk-a", timeoutMs: 15_000 });
 * assert.equal(made, 3);
 * ```
 */
export function sdkClientCache<Options extends SdkClientOptions, Client>(
  make: (options: Options) => Promise<Client>,
): (options: Options) => Promise<Client> {
  const cached = new Map<string, Promise<Client>>();
  return (options) => {
    const key = `${options.apiKey}\u0000${options.baseUrl}\u0000${options.timeoutMs}`;
    let client = cached.get(key);
    if (!client) {
      const made = make(options);
      // A client that could not be made (the SDK failed to load) is tried again next time.
      made.catch(() => cached.get(key) === made && cached.delete(key));
      cached.set(key, made);
      client = made;
    }
    return client;
  };
}
