import { strict as assert } from "node:assert";
import {
  BUNDLE_DIR,
  type BundleStamp,
  currentWorkerBundle,
  sourcesDigest,
  STAMP_FILE,
} from "./worker_bundle.ts";

/** A program folder with one source and a stamped bundle built from it by Deno `deno`. */
async function stampedRoot(deno = "2.9.6"): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "ppr-bundle-" });
  await Deno.writeTextFile(`${root}/main.ts`, "console.log(1);\n");
  await Deno.mkdir(`${root}/${BUNDLE_DIR}/abc`, { recursive: true });
  await Deno.writeTextFile(`${root}/${BUNDLE_DIR}/abc/main.js`, "console.log(1);\n");
  const stamp: BundleStamp = {
    deno,
    sources: ["main.ts"],
    digest: (await sourcesDigest(root, ["main.ts"], deno))!,
    entry: `${BUNDLE_DIR}/abc/main.js`,
  };
  await Deno.writeTextFile(`${root}/${BUNDLE_DIR}/${STAMP_FILE}`, JSON.stringify(stamp));
  return root;
}

Deno.test("a bundle built by this Deno from the sources as they are is used", async () => {
  const root = await stampedRoot();
  try {
    assert.deepEqual(await currentWorkerBundle(root, "2.9.6"), {
      entry: `${root}/${BUNDLE_DIR}/abc/main.js`,
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("no bundle, another Deno's, a changed or deleted source, a missing entry: the modules, saying why", async () => {
  const root = await stampedRoot();
  try {
    const reason = async () => {
      const check = await currentWorkerBundle(root, "2.9.6");
      assert.ok("unused" in check, JSON.stringify(check));
      return check.unused;
    };
    assert.match(
      (await currentWorkerBundle(root, "2.10.0") as { unused: string }).unused,
      /built by Deno 2\.9\.6, this is 2\.10\.0/,
    );
    await Deno.writeTextFile(`${root}/main.ts`, "console.log(2);\n");
    assert.match(await reason(), /a source changed/);
    await Deno.writeTextFile(`${root}/main.ts`, "console.log(1);\n");
    assert.ok("entry" in await currentWorkerBundle(root, "2.9.6"), "same bytes again: used");
    await Deno.remove(`${root}/${BUNDLE_DIR}/abc/main.js`);
    assert.match(await reason(), /entry .* is missing/);
    await Deno.remove(`${root}/main.ts`);
    assert.match(await reason(), /a source changed/);
    await Deno.writeTextFile(`${root}/${BUNDLE_DIR}/${STAMP_FILE}`, "{not json");
    assert.match(await reason(), /no worker bundle/);
    await Deno.remove(`${root}/${BUNDLE_DIR}`, { recursive: true });
    assert.match(await reason(), /no worker bundle/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
