/**
 * `deno task bundle`: builds the worker bundle (see supervisor/worker_bundle.ts) into `.bundle/`
 * unless the newest one still matches the sources, which costs a few milliseconds. The `dev`,
 * `start`, `test`, `bench` and `chaos` tasks run it first. It never stops the task it precedes:
 * when the build fails, it says why, and the workers load the modules as they did before.
 */

import {
  BUNDLE_DIR,
  type BundleCheck,
  type BundleStamp,
  currentWorkerBundle,
  markBundleUsed,
  sourcesDigest,
  STAMP_FILE,
} from "../supervisor/worker_bundle.ts";

/** The entry modules: the program, and the schema checker's Web Worker (its own module). */
const ENTRIES = ["main.ts", "jobs/schema_check_worker.ts"];
/**
 * Besides the modules: the import map and the npm versions the bundle inlines, and this script,
 * which says how it is built (a new way of building makes every bundle stale).
 */
const BUILD_SOURCES = ["deno.json", "deno.lock", "scripts/bundle.ts"];
/** The Web Worker's module in the bundle, where jobs/schema_check.ts looks for it. */
const CHECK_WORKER_OUTPUT = "jobs/schema_check_worker.js";
/**
 * A bundle other than the newest is removed once nothing has touched it for this long: a
 * supervisor touches the bundle its workers start from when it starts, and its running workers
 * import some chunks only when first needed (an SDK, the schema checker), so a bundle a pool may
 * still use is kept.
 */
const UNUSED_BUNDLE_KEEP_MS = 7 * 86_400_000;
/** How long `deno info` or `deno bundle` may take before the build gives up. */
const STEP_TIMEOUT_MS = 120_000;

async function run(args: string[], cwd: string): Promise<{ ok: boolean; out: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  }).output().catch((error) => {
    throw new Error(`deno ${args[0]} did not finish (${error.message})`);
  });
  const decoder = new TextDecoder();
  return {
    ok: output.success,
    out: output.success ? decoder.decode(output.stdout) : decoder.decode(output.stderr).trim(),
  };
}

/**
 * The program's local files (relative to `root`), as `deno info` lists the entries' graphs. A
 * local module outside `root`, or an entry missing from its own graph, stops the build: the stamp
 * would not cover what the bundle is made of.
 */
async function sourcesOf(root: string): Promise<string[]> {
  // `deno info` names files by their real path, whatever link `root` was reached through.
  const real = await Deno.realPath(root);
  const sources = new Set(BUILD_SOURCES);
  for (const entry of ENTRIES) {
    const info = await run(["info", "--json", entry], root);
    if (!info.ok) throw new Error(`deno info ${entry}: ${info.out}`);
    for (const module of JSON.parse(info.out).modules ?? []) {
      const specifier: string = module.specifier ?? "";
      if (!specifier.startsWith("file://")) continue;
      const path = decodeURIComponent(new URL(specifier).pathname);
      if (!path.startsWith(`${real}/`)) {
        throw new Error(`${path} is imported from outside ${real}: the stamp cannot cover it`);
      }
      sources.add(path.slice(real.length + 1));
    }
    if (!sources.has(entry)) throw new Error(`deno info listed no ${entry} in its own graph`);
  }
  return [...sources].sort();
}

/**
 * Rewrites the bundle's dynamic imports of its own files (`import("./run-X.js")`) so that they
 * name their target through an expression (`import(["./run-X.js"][0])`), and returns how many.
 * Deno reads and parses the target of every dynamic import named by a plain string when it loads
 * a module graph, whether it is ever imported or not: from the bundle's main.js that is the whole
 * program, some 8 MB of commands and SDKs a worker never runs. Named through an expression, a
 * chunk is read when it is imported. Imports of anything but a file of the bundle are left alone.
 */
export async function deferDynamicImports(dir: string): Promise<number> {
  let rewritten = 0;
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) if (entry.isFile) files.push(entry.name);
  const own = new Set(files);
  for (const name of files.filter((file) => file.endsWith(".js"))) {
    const text = await Deno.readTextFile(`${dir}/${name}`);
    const deferred = text.replace(/\bimport\("\.\/([^"/]+\.js)"\)/g, (whole, target: string) => {
      if (!own.has(target)) return whole;
      rewritten++;
      return `import(["./${target}"][0])`;
    });
    if (deferred !== text) await Deno.writeTextFile(`${dir}/${name}`, deferred);
  }
  return rewritten;
}

/**
 * Removes the bundles nothing has touched for `UNUSED_BUNDLE_KEEP_MS` but the newest (`keep`),
 * and the leftovers of builds that died.
 */
async function prune(bundles: string, keep: string): Promise<void> {
  for await (const entry of Deno.readDir(bundles)) {
    if (!entry.isDirectory || entry.name === keep) continue;
    const path = `${bundles}/${entry.name}`;
    const untouchedMs = Date.now() - ((await Deno.stat(path)).mtime?.getTime() ?? 0);
    const building = entry.name.includes(".tmp-");
    if (untouchedMs > (building ? 600_000 : UNUSED_BUNDLE_KEEP_MS)) {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    }
  }
}

/**
 * Builds `root`'s worker bundle unless the newest one is current, and returns what a supervisor
 * started now would find. `say` hears what it does, for a person waiting on it.
 */
export async function ensureWorkerBundle(
  root: string,
  say: (line: string) => void = () => {},
): Promise<BundleCheck> {
  const before = await currentWorkerBundle(root);
  if ("entry" in before) return before;
  const sources = await sourcesOf(root);
  const deno = Deno.version.deno;
  const digest = await sourcesDigest(root, sources, deno);
  if (!digest) throw new Error("a source could not be read");
  const bundles = `${root}/${BUNDLE_DIR}`;
  const name = digest.slice(0, 16);
  const dir = `${bundles}/${name}`;
  await Deno.mkdir(bundles, { recursive: true });
  const built = await Deno.stat(`${dir}/main.js`).then(() => true, () => false);
  if (!built) {
    say(`building the worker bundle (${sources.length} sources) into ${BUNDLE_DIR}/${name}`);
    const building = `${dir}.tmp-${Deno.pid}`;
    const bundle = await run(
      ["bundle", "-q", "--platform", "deno", "--code-splitting", "--outdir", building, ...ENTRIES],
      root,
    );
    if (!bundle.ok) {
      await Deno.remove(building, { recursive: true }).catch(() => {});
      throw new Error(`deno bundle failed: ${bundle.out}`);
    }
    const checkWorker = await Deno.stat(`${building}/${CHECK_WORKER_OUTPUT}`).catch(() =>
      undefined
    );
    if (!checkWorker?.isFile) {
      await Deno.remove(building, { recursive: true });
      throw new Error(
        `deno bundle wrote no ${CHECK_WORKER_OUTPUT}, where jobs/schema_check.ts looks`,
      );
    }
    if (await deferDynamicImports(building) === 0) {
      await Deno.remove(building, { recursive: true });
      throw new Error("deno bundle wrote no dynamic import of its own files: its output changed");
    }
    // A source edited during the build: what was bundled is not what the stamp would say.
    if (await sourcesDigest(root, sources, deno) !== digest) {
      await Deno.remove(building, { recursive: true });
      throw new Error("a source changed during the build; run it again");
    }
    // Another build of the same sources may have finished first: either is the same bundle.
    await Deno.rename(building, dir).catch(() => Deno.remove(building, { recursive: true }));
  }
  const stamp: BundleStamp = { deno, sources, digest, entry: `${BUNDLE_DIR}/${name}/main.js` };
  const stampTemp = `${bundles}/${STAMP_FILE}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(stampTemp, JSON.stringify(stamp, null, 2) + "\n");
  await Deno.rename(stampTemp, `${bundles}/${STAMP_FILE}`);
  // The newest bundle is the last one touched, though its folder was built earlier and reused.
  await markBundleUsed(`${dir}/main.js`);
  await prune(bundles, name);
  return await currentWorkerBundle(root);
}

/** The program's folder: main.ts's, this script's parent. */
export const PROGRAM_ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname)
  .replace(/\/$/, "");

if (import.meta.main) {
  try {
    const check = await ensureWorkerBundle(
      PROGRAM_ROOT,
      (line) => console.error(`bundle: ${line}`),
    );
    if ("unused" in check) console.error(`bundle: ${check.unused}`);
  } catch (error) {
    console.error(
      `bundle: the worker bundle was not built (${
        (error as Error).message
      }); workers load the modules`,
    );
  }
}
