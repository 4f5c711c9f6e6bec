import { strict as assert } from "node:assert";
import { deferDynamicImports } from "./bundle.ts";

Deno.test("deferDynamicImports names the bundle's own chunks through an expression and leaves every other import as it was", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ppr-bundle-out-" });
  try {
    await Deno.writeTextFile(`${dir}/run-AB12.js`, "export const run = 1;\n");
    await Deno.writeTextFile(
      `${dir}/main.js`,
      [
        'import { x } from "./run-AB12.js";',
        'const { run } = await import("./run-AB12.js");',
        'const gone = () => import("./gone-CD34.js");',
        'const fs = await import("node:fs");',
        'const text = "reimport(\\"./run-AB12.js\\")";',
      ].join("\n"),
    );
    assert.equal(await deferDynamicImports(dir), 1);
    assert.equal(
      await Deno.readTextFile(`${dir}/main.js`),
      [
        'import { x } from "./run-AB12.js";',
        'const { run } = await import(["./run-AB12.js"][0]);',
        'const gone = () => import("./gone-CD34.js");',
        'const fs = await import("node:fs");',
        'const text = "reimport(\\"./run-AB12.js\\")";',
      ].join("\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
