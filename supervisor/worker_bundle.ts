/**
 * The worker bundle: the whole program as JavaScript files made by `deno bundle`, split so that
 * a worker child loads only what its command needs, which worker children under `deno run` start
 * from instead of main.ts's modules (about a third less CPU per start: Deno's CommonJS loader no
 * longer resolves and reads some 300 npm files one by one). `deno task bundle` builds it into
 * `.bundle/` beside main.ts, and so do the `dev`, `start`, `test`, `bench` and `chaos` tasks; a
 * supervisor uses it only when it matches the sources byte for byte as the supervisor starts, and
 * then for every worker it starts (they run the code it started with). A compiled binary has no
 * use for it: its workers are the binary itself.
 */

/** The folder of the bundles, beside main.ts. */
export const BUNDLE_DIR = ".bundle";
/** The stamp of the newest bundle, in {@link BUNDLE_DIR}. */
export const STAMP_FILE = "current.json";

/** What a bundle was built from, written beside it once it is complete. */
export interface BundleStamp {
  /** The Deno that built it: its bundler's helpers are that Deno's own. */
  deno: string;
  /** The files it was built from, relative to main.ts's folder (deno.json and deno.lock too). */
  sources: string[];
  /** {@link sourcesDigest} of those files when it was built. */
  digest: string;
  /** Its entry module (main.ts bundled), relative to main.ts's folder. */
  entry: string;
}

/**
 * SHA-256, in hex, of `deno` (a Deno version) and of each source's path and bytes, in the order
 * given: it changes when any of them does. `undefined` when a source cannot be read.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { sourcesDigest } from "./worker_bundle.ts";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/a.ts`, "export const a = 1;\n");
 * const first = await sourcesDigest(root, ["a.ts"], "2.9.6");
 * assert.equal(await sourcesDigest(root, ["a.ts"], "2.9.6"), first);
 * assert.notEqual(await sourcesDigest(root, ["a.ts"], "2.9.7"), first);
 * await Deno.writeTextFile(`${root}/a.ts`, "export const a = 2;\n");
 * assert.notEqual(await sourcesDigest(root, ["a.ts"], "2.9.6"), first);
 * assert.equal(await sourcesDigest(root, ["gone.ts"], "2.9.6"), undefined);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function sourcesDigest(
  root: string,
  sources: readonly string[],
  deno: string,
): Promise<string | undefined> {
  const encoder = new TextEncoder();
  const parts: Uint8Array<ArrayBuffer>[] = [encoder.encode(`deno ${deno}\0`)];
  for (const source of sources) {
    try {
      const bytes = await Deno.readFile(`${root}/${source}`);
      parts.push(encoder.encode(`${source}\0${bytes.length}\0`), bytes);
    } catch {
      return undefined;
    }
  }
  const whole = await new Blob(parts).arrayBuffer();
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", whole));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The bundle a worker starts from, or why workers load the modules instead. */
export type BundleCheck = { entry: string } | { unused: string };

/** Reads the stamp of `root`'s newest bundle; `undefined` when there is none or it is unreadable. */
async function readStamp(root: string): Promise<BundleStamp | undefined> {
  try {
    const stamp = JSON.parse(await Deno.readTextFile(`${root}/${BUNDLE_DIR}/${STAMP_FILE}`));
    const valid = typeof stamp?.deno === "string" && typeof stamp.digest === "string" &&
      typeof stamp.entry === "string" && Array.isArray(stamp.sources) &&
      stamp.sources.every((source: unknown) => typeof source === "string");
    return valid ? stamp : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The entry of `root`'s worker bundle (an absolute path) when it was built by this Deno from the
 * sources as they are now, else why not: none built, another Deno, a source changed since.
 */
export async function currentWorkerBundle(
  root: string,
  deno: string = Deno.version.deno,
): Promise<BundleCheck> {
  const stamp = await readStamp(root);
  if (!stamp) return { unused: `no worker bundle in ${root}/${BUNDLE_DIR} (deno task bundle)` };
  if (stamp.deno !== deno) {
    return { unused: `the worker bundle was built by Deno ${stamp.deno}, this is ${deno}` };
  }
  if (await sourcesDigest(root, stamp.sources, deno) !== stamp.digest) {
    return { unused: "a source changed since the worker bundle was built (deno task bundle)" };
  }
  const entry = `${root}/${stamp.entry}`;
  try {
    await Deno.stat(entry);
  } catch {
    return { unused: `the worker bundle's entry ${entry} is missing` };
  }
  return { entry };
}

/**
 * Marks the bundle of `entry` as used now (its folder's modification time): a build removes
 * other bundles only once nothing has used them for days, so a running pool keeps its own.
 * Best effort: a read-only folder is left as it is.
 */
export async function markBundleUsed(entry: string): Promise<void> {
  const now = new Date();
  await Deno.utime(entry.replace(/\/[^/]*$/, ""), now, now).catch(() => {});
}
