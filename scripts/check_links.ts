/**
 * Checks the links of README.md and docs/*.md: every relative link names a file that exists and,
 * with `#anchor`, a heading of that file (anchors as GitHub makes them). Web links are not
 * fetched. Exits 1 listing every broken link.
 *
 *     deno run --allow-read scripts/check_links.ts
 */

const root = new URL("../", import.meta.url);

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces become hyphens. */
export function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

/** The anchors of a markdown text's headings (outside code fences), duplicates numbered. */
export function anchors(text: string): Set<string> {
  const counts = new Map<string, number>();
  const result = new Set<string>();
  let fence = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("```")) fence = !fence;
    const heading = !fence && /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const base = anchor(heading[1]);
    const count = counts.get(base) ?? 0;
    result.add(count === 0 ? base : `${base}-${count}`);
    counts.set(base, count + 1);
  }
  return result;
}

/** The targets of a markdown text's inline links and images (outside code fences and spans). */
export function links(text: string): string[] {
  const prose = text.replace(/^```[^]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
  return [...prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map((match) => match[1]);
}

async function readOrUndefined(url: URL): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(url);
  } catch {
    return undefined;
  }
}

if (import.meta.main) {
  const files = ["README.md"];
  for await (const entry of Deno.readDir(new URL("docs/", root))) {
    if (entry.isFile && entry.name.endsWith(".md")) files.push(`docs/${entry.name}`);
  }
  const problems: string[] = [];
  let checked = 0;
  for (const file of files.sort()) {
    const source = new URL(file, root);
    const text = await Deno.readTextFile(source);
    for (const target of links(text)) {
      if (/^[a-z]+:/i.test(target)) continue;
      checked++;
      const [path, hash] = target.split("#");
      const url = path ? new URL(path, source) : source;
      const exists = await Deno.stat(url).then(() => true, () => false);
      if (!exists) {
        problems.push(`${file}: ${target}: no such file`);
        continue;
      }
      if (hash === undefined) continue;
      const content = await readOrUndefined(url);
      if (content === undefined || !anchors(content).has(hash)) {
        problems.push(`${file}: ${target}: no heading with that anchor`);
      }
    }
  }
  for (const problem of problems) console.error(problem);
  console.log(`${checked} links checked in ${files.length} files, ${problems.length} broken`);
  if (problems.length > 0) Deno.exit(1);
}
