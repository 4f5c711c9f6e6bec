import { strict as assert } from "node:assert";
import { replaceLink, withFileLock, writeFileAtomic } from "./files.ts";

async function inTempDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ppr-files-" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function namesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("writeFileAtomic writes and overwrites a file and leaves no temporary file", async () => {
  await inTempDir(async (dir) => {
    await writeFileAtomic(`${dir}/a.json`, '{"v":1}');
    await writeFileAtomic(`${dir}/a.json`, '{"v":2}');
    assert.equal(await Deno.readTextFile(`${dir}/a.json`), '{"v":2}');
    assert.deepEqual(await namesIn(dir), ["a.json"]);
  });
});

Deno.test("writeFileAtomic into a missing directory fails and leaves nothing", async () => {
  await inTempDir(async (dir) => {
    await assert.rejects(writeFileAtomic(`${dir}/missing/a.json`, "{}"), Deno.errors.NotFound);
    assert.deepEqual(await namesIn(dir), []);
  });
});

Deno.test("replaceLink creates the link, then replaces it in place", async () => {
  await inTempDir(async (dir) => {
    await replaceLink(`${dir}/latest`, "daily/2026-01-30");
    await replaceLink(`${dir}/latest`, "daily/2026-01-31");
    assert.equal(await Deno.readLink(`${dir}/latest`), "daily/2026-01-31");
    assert.deepEqual(await namesIn(dir), ["latest"]);
  });
});

Deno.test("withFileLock runs one holder at a time", async () => {
  await inTempDir(async (dir) => {
    let holders = 0;
    let most = 0;
    await Promise.all(Array.from({ length: 5 }, () =>
      withFileLock(`${dir}/.lock`, async () => {
        most = Math.max(most, ++holders);
        await new Promise((resolve) => setTimeout(resolve, 5));
        holders--;
      })));
    assert.equal(most, 1);
  });
});
