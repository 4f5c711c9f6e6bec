import { strict as assert } from "node:assert";

const ROOT = new URL("../", import.meta.url);

/**
 * The modules `entries` import statically, as `deno info --json` resolves them (dynamic imports
 * left out), each with the module that first imports it (`undefined` for an entry).
 */
async function staticModules(entries: string[]): Promise<Map<string, string | undefined>> {
  const loaded = new Map<string, string | undefined>();
  for (const entry of entries) {
    const { stdout, success } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT.pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    assert.ok(success, `deno info ${entry} failed`);
    const graph = JSON.parse(new TextDecoder().decode(stdout)) as {
      roots: string[];
      redirects: Record<string, string>;
      modules: {
        specifier: string;
        dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
      }[];
    };
    const bySpecifier = new Map(graph.modules.map((module) => [module.specifier, module]));
    const pending: [string, string | undefined][] = graph.roots.map((root) => [root, undefined]);
    while (pending.length > 0) {
      const [specifier, importer] = pending.pop()!;
      if (loaded.has(specifier)) continue;
      loaded.set(specifier, importer);
      for (const dependency of bySpecifier.get(specifier)?.dependencies ?? []) {
        const target = dependency.code?.specifier;
        if (dependency.isDynamic || target === undefined) continue;
        pending.push([graph.redirects[target] ?? target, specifier]);
      }
    }
  }
  return loaded;
}

Deno.test(
  "`ppr-worker worker` loads BullMQ's Worker by path, never BullMQ's index (72 more CommonJS files, its Postgres backend among them)",
  async () => {
    // What a worker child evaluates before it is ready: main.ts's static graph (every command's
    // command line), then worker/run.ts's. The index cost each start about 60 ms of CPU.
    const loaded = await staticModules(["main.ts", "worker/run.ts"]);
    assert.ok([...loaded.keys()].some((specifier) => specifier.startsWith("npm:/bullmq@")));
    const importers = [...loaded]
      .filter(([specifier]) => /^npm:\/bullmq@[^/]+$/.test(specifier))
      .map(([, importer]) => importer?.slice(ROOT.href.length));
    assert.deepEqual(
      importers,
      [],
      `${
        importers.join(", ")
      } imports "bullmq" on the worker's path: import it by path ("bullmq/queue", "bullmq/worker") or lazily`,
    );
  },
);
