import { strict as assert } from "node:assert";
import { openCountsFile, readCountsFile } from "./counts_file.ts";

Deno.test("the counts file holds the last counts written, overwritten in place", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/worker-1`;
    const file = openCountsFile(path);
    file.write({ processed: 1, failed: 0 });
    file.write({ processed: 1234567, failed: 89 });
    assert.deepEqual(readCountsFile(path), { processed: 1234567, failed: 89 });
    assert.equal(Deno.statSync(path).size, 16);
    file.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a counts file that is missing, empty or of another size reads as undefined", () => {
  const dir = Deno.makeTempDirSync();
  try {
    assert.equal(readCountsFile(`${dir}/missing`), undefined);
    const file = openCountsFile(`${dir}/never-written`);
    assert.equal(readCountsFile(`${dir}/never-written`), undefined);
    file.close();
    Deno.writeTextFileSync(`${dir}/other`, "not counts\n");
    assert.equal(readCountsFile(`${dir}/other`), undefined);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
