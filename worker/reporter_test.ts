import { strict as assert } from "node:assert";
import { openCountsFile, readCountsFile } from "../protocol/counts_file.ts";
import { trackProcessGroup, untrackProcessGroup } from "../providers/process_groups.ts";
import { createInFlight } from "./in_flight.ts";
import { createReporter, type Tally } from "./reporter.ts";

function reporterFor(
  options: { countsFile?: ReturnType<typeof openCountsFile>; recycleAtJobs?: number } = {},
) {
  const lines: string[] = [];
  const tally: Tally = { processed: 0, failed: 0, givenBack: 0 };
  const reporter = createReporter({
    supervised: true,
    inFlight: createInFlight(),
    tally,
    write: (line) => void lines.push(line),
    ...options,
  });
  return { lines, tally, reporter };
}

Deno.test("a finished job's counts go to the counts file at once, and no event is written", async () => {
  const dir = Deno.makeTempDirSync();
  const countsFile = openCountsFile(`${dir}/worker-1.1`);
  const { lines, tally, reporter } = reporterFor({ countsFile });
  try {
    reporter.start();
    const before = lines.length;
    tally.processed += 2;
    reporter.countsChanged();
    tally.failed++;
    reporter.countsChanged();
    await Promise.resolve();
    assert.equal(lines.length, before, "no event for a job");
    assert.deepEqual(readCountsFile(`${dir}/worker-1.1`), { processed: 2, failed: 1 });
  } finally {
    reporter.stop();
    countsFile.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("without a counts file, changed counts are sent as one heartbeat per tick", async () => {
  const { lines, tally, reporter } = reporterFor();
  try {
    reporter.start();
    const before = lines.length;
    tally.processed++;
    reporter.countsChanged();
    reporter.countsChanged();
    await Promise.resolve();
    assert.equal(lines.length, before + 1, "two changes in one tick: one line");
    assert.equal(JSON.parse(lines.at(-1)!).processed, 1);
  } finally {
    reporter.stop();
  }
});

Deno.test("a process group that starts is reported within the same tick", async () => {
  const { lines, reporter } = reporterFor();
  try {
    reporter.start();
    const before = lines.length;
    trackProcessGroup(424242);
    await Promise.resolve();
    assert.equal(lines.length, before + 1);
    assert.deepEqual(JSON.parse(lines.at(-1)!).subprocesses, [424242]);
  } finally {
    untrackProcessGroup(424242);
    reporter.stop();
  }
});

Deno.test("with a counts file, reaching MAX_JOBS_PER_WORKER still sends the counts at once, one event", async () => {
  const dir = Deno.makeTempDirSync();
  const countsFile = openCountsFile(`${dir}/worker-1.1`);
  const { lines, tally, reporter } = reporterFor({ countsFile, recycleAtJobs: 3 });
  try {
    reporter.start();
    const before = lines.length;
    for (let job = 1; job <= 4; job++) {
      tally.processed++;
      reporter.countsChanged();
      await Promise.resolve();
    }
    assert.equal(lines.length, before + 1, "one event, at the third job");
    assert.equal(JSON.parse(lines.at(-1)!).processed, 3);
  } finally {
    reporter.stop();
    countsFile.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
