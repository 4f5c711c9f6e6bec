/** The SDK client of an API provider: made on first use (the SDK module loads only then), one per key and base URL. */

/** What identifies an SDK client: requests with the same key and URL share one. */
export interface SdkClientOptions {
  apiKey: string;
  baseUrl?: string;
  timeoutMs: number;
}

/**
 * Returns a getter that makes the client with `make` on first use and again
 * only when the key or the base URL changes.
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
 * assert.equal(made, 2);
 * ```
 */
export function sdkClientCache<Options extends SdkClientOptions, Client>(
  make: (options: Options) => Promise<Client>,
): (options: Options) => Promise<Client> {
  let cached: { key: string; client: Promise<Client> } | undefined;
  return (options) => {
    const key = `${options.apiKey}\u0000${options.baseUrl}`;
    if (cached?.key !== key) {
      const client = make(options);
      // A client that could not be made (the SDK failed to load) is tried again next time.
      client.catch(() => cached?.client === client && (cached = undefined));
      cached = { key, client };
    }
    return cached.client;
  };
}
