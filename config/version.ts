/** The version of ppr-worker, from deno.json. */

import manifest from "../deno.json" with { type: "json" };

/** ppr-worker's version, from deno.json. */
export const VERSION: string = manifest.version;
