/**
 * Checks that imports between the program's folders point one way, from Deno's own module
 * graph (`deno info --json`): a folder imports only folders of a lower layer, never a sibling
 * of its own layer, never test helpers. Part of `deno task check`; exits 1 with every violation.
 *
 * Usage: deno run --allow-read --allow-write --allow-run scripts/check_imports.ts
 */

/**
 * The layers, top to bottom; a folder may import the folders of the layers below its own.
 * `.` is the top-level `main.ts`. Test files (`*_test.ts`) are not part of the program.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ["."],
  // Each command's command line (the pool's, the dashboard's, the worker's, the operators'):
  // above dashboard/ and supervisor/, whose commands they start; main.ts composes them.
  ["commands"],
  // The operators' tools: each reads through state/ and prints in its own way.
  ["dashboard", "cli"],
  ["supervisor", "worker"],
  ["health"],
  ["jobs"],
  // The read model: workers, queues with their counts, provider pauses, as data.
  ["state"],
  // What an LLM call costs and may cost: prices, budgets, rate limits, the result cache.
  ["economics"],
  ["providers"],
  ["config"],
  // telemetry/: the tracing switch and span helpers over @opentelemetry/api, at the bottom with
  // log/ so that every layer above may make spans; it imports no folder of the program.
  ["redis", "protocol", "log", "telemetry", "async", "text"],
];

/** Folders that hold tests, their helpers and tools: the program never imports them. */
const NOT_PROGRAM = new Set(["tests", "testing", "scripts", "bench"]);

/** The rank of each program folder: its layer's index. */
function ranks(): Map<string, number> {
  const rank = new Map<string, number>();
  LAYERS.forEach((folders, index) => folders.forEach((folder) => rank.set(folder, index)));
  return rank;
}

/** An import from one folder to another. */
export interface FolderImport {
  from: string;
  to: string;
  /** One module pair that makes this edge, for the message. */
  example: string;
}

/**
 * Every import that breaks the layering, as messages; `[]` when all point down.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { violations } from "./check_imports.ts";
 *
 * assert.deepEqual(
 *   violations([{ from: "providers", to: "jobs", example: "providers/a.ts -> jobs/b.ts" }]),
 *   ["providers -> jobs (providers/a.ts -> jobs/b.ts): a lower layer imports a higher one"],
 * );
 * ```
 */
export function violations(edges: readonly FolderImport[]): string[] {
  const rank = ranks();
  const problems: string[] = [];
  for (const { from, to, example } of edges) {
    if (from === to) continue;
    const where = `${from} -> ${to} (${example})`;
    if (NOT_PROGRAM.has(to)) problems.push(`${where}: the program imports a test or tool folder`);
    else if (!rank.has(from)) problems.push(`${where}: ${from}/ is in no layer of LAYERS`);
    else if (!rank.has(to)) problems.push(`${where}: ${to}/ is in no layer of LAYERS`);
    else if (rank.get(from)! === rank.get(to)!) {
      problems.push(`${where}: folders of the same layer import each other`);
    } else if (rank.get(from)! > rank.get(to)!) {
      problems.push(`${where}: a lower layer imports a higher one`);
    }
  }
  return problems;
}

/** A cycle among the folders of `edges`, as a path that ends where it starts; `undefined` if none. */
export function findCycle(edges: readonly FolderImport[]): string[] | undefined {
  const next = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    if (from !== to) next.set(from, (next.get(from) ?? new Set()).add(to));
  }
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (folder: string): string[] | undefined => {
    if (state.get(folder) === "done") return undefined;
    if (state.get(folder) === "visiting") return [...path.slice(path.indexOf(folder)), folder];
    state.set(folder, "visiting");
    path.push(folder);
    for (const to of next.get(folder) ?? []) {
      const cycle = visit(to);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(folder, "done");
    return undefined;
  };
  for (const folder of next.keys()) {
    const cycle = visit(folder);
    if (cycle) return cycle;
  }
  return undefined;
}

/** The program's modules: every `.ts` file outside the test and tool folders, tests excluded. */
async function programModules(root: URL): Promise<URL[]> {
  const found: URL[] = [];
  const walk = async (dir: URL, top: boolean) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(".") || (top && NOT_PROGRAM.has(entry.name))) continue;
      if (entry.isDirectory) await walk(new URL(`${entry.name}/`, dir), false);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
        found.push(new URL(entry.name, dir));
      }
    }
  };
  await walk(root, true);
  return found;
}

/** The folder of a module, relative to `root`: `.` for top-level files. */
function folderOf(root: URL, specifier: string): string | undefined {
  if (!specifier.startsWith(root.href)) return undefined;
  const relative = specifier.slice(root.href.length);
  return relative.includes("/") ? relative.split("/")[0] : ".";
}

/** The folder-to-folder imports of the program, read from `deno info --json`. */
export async function folderImports(root: URL): Promise<FolderImport[]> {
  const modules = await programModules(root);
  const entry = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(entry, modules.map((url) => `import "${url.href}";\n`).join(""));
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", new URL("deno.json", root).pathname, entry],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(`deno info failed: ${new TextDecoder().decode(output.stderr)}`);
    }
    const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
      modules: {
        specifier: string;
        dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
      }[];
    };
    const edges = new Map<string, FolderImport>();
    for (const module of graph.modules) {
      const from = folderOf(root, module.specifier);
      if (from === undefined) continue;
      for (const dependency of module.dependencies ?? []) {
        for (const target of [dependency.code?.specifier, dependency.type?.specifier]) {
          // Data such as deno.json (the version) is no module of a layer.
          const to = target?.endsWith(".ts") ? folderOf(root, target) : undefined;
          if (to === undefined || to === from || edges.has(`${from}>${to}`)) continue;
          const example = `${module.specifier.slice(root.href.length)} -> ${
            target!.slice(root.href.length)
          }`;
          edges.set(`${from}>${to}`, { from, to, example });
        }
      }
    }
    return [...edges.values()];
  } finally {
    await Deno.remove(entry).catch(() => {});
  }
}

if (import.meta.main) {
  const root = new URL("../", import.meta.url);
  const edges = await folderImports(root);
  const problems = violations(edges);
  const cycle = findCycle(edges);
  if (cycle) problems.unshift(`cycle between folders: ${cycle.join(" -> ")}`);
  if (problems.length > 0) {
    console.error(`check_imports: ${problems.length} problem(s):`);
    for (const problem of problems) console.error(`  - ${problem}`);
    console.error("The layers are listed in scripts/check_imports.ts and the README's map.");
    Deno.exit(1);
  }
  console.error(`check_imports: ${edges.length} folder imports, all pointing down the layers`);
}
