import { reportSkipped } from "../../testing/command.ts";
import { strict as assert } from "node:assert";
import { createRecorder } from "./recorder.ts";

/** What the recorder's `run` takes. */
type RecorderJob = Parameters<ReturnType<typeof createRecorder>["run"]>[0];

/** A job as the recorder reads it: its data and when it was added. */
function resultJob(jobId: string, text: string): RecorderJob {
  return {
    data: {
      job_id: jobId,
      job: { prompt: "page", metadata: { scraper_id: "s1" } },
      result: {
        text,
        model: "echo",
        provider: "echo",
        usage: { input_tokens: 1, output_tokens: 1 },
      },
    },
    timestamp: Date.parse("2026-12-06T12:00:00Z"),
    id: jobId,
  } as unknown as RecorderJob;
}

/** A 256 KiB tmpfs at a new folder (root only), unmounted and removed by the returned dispose. */
async function smallDisk(): Promise<(AsyncDisposable & { dir: string }) | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "ppr-small-disk-" });
  const mounted = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir],
    stdout: "null",
    stderr: "null",
  }).output().then((output) => output.success, () => false);
  if (!mounted) {
    await Deno.remove(dir);
    return undefined;
  }
  return {
    dir,
    async [Symbol.asyncDispose]() {
      await new Deno.Command("umount", { args: [dir] }).output().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Fills `dir`'s file system until it is full, in `filler` files of one page each. */
async function fill(dir: string): Promise<string[]> {
  const page = new Uint8Array(4096);
  const fillers: string[] = [];
  for (let index = 0;; index++) {
    const path = `${dir}/filler-${index}`;
    try {
      await Deno.writeFile(path, page);
      fillers.push(path);
    } catch {
      await Deno.remove(path).catch(() => {});
      return fillers;
    }
  }
}

const disk = await smallDisk();
if (!disk) {
  reportSkipped("cannot mount a tmpfs (needs root): the recorder's full-disk test");
}

Deno.test({
  name:
    "a full disk while the summary is rewritten: the job fails naming summary.json's path, its result file is removed so summary.json and the files agree, and it records once space is back",
  ignore: disk === undefined,
  async fn() {
    await using mounted = disk!;
    const outputDir = `${mounted.dir}/out`;
    const recorder = createRecorder({ outputDir });
    const signal = new AbortController().signal;
    await recorder.run(resultJob("1", "first"), signal);
    const fillers = await fill(mounted.dir);
    // Room for the second result's file (two pages), none for the summary's rewrite after it.
    for (const filler of fillers.slice(-2)) await Deno.remove(filler);
    const error = await recorder.run(resultJob("2", "x".repeat(6000)), signal).then(
      () => undefined,
      (error) => error as Error,
    );
    const dayDir = `${outputDir}/daily/2026-12-06`;
    assert.ok(error, "the job failed");
    assert.match(error.message, new RegExp(`cannot write ${dayDir}/summary\\.json: No space left`));
    const files = [...Deno.readDirSync(`${dayDir}/scrapers/s1`)].map((entry) => entry.name).sort();
    const summary = JSON.parse(await Deno.readTextFile(`${dayDir}/summary.json`));
    assert.deepEqual(files, ["1.json"], "the failed job's file is gone");
    assert.equal(summary.total, files.length, "summary.json counts the files there are");

    for (const filler of fillers.slice(0, -2)) await Deno.remove(filler);
    await recorder.run(resultJob("2", "x".repeat(6000)), signal);
    const after = JSON.parse(await Deno.readTextFile(`${dayDir}/summary.json`));
    assert.deepEqual(after.scrapers, { s1: 2 });
  },
});
