/**
 * `ppr-worker batches` and `batches cancel` as a user runs them: real processes, a real Redis with
 * batch records written by the lane's own store functions, and the Message Batches stub (through
 * the official SDK) as the provider whose batches are canceled.
 */

import { strict as assert } from "node:assert";
import Anthropic from "@anthropic-ai/sdk";
import type { BatchView } from "../jobs/batch/listing.ts";
import { markDone, markPolled, OPEN_KEY, readBatch, storeOutcome } from "../jobs/batch/store.ts";
import { recordBatch } from "../testing/batch_records.ts";
import { baseEnv, runPpr } from "../testing/ppr.ts";
import { startRedis } from "../testing/redis.ts";
import { claudeApiEnv, startStubMessageBatches } from "../testing/stub_message_batches.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

/** Far enough ahead that the (absent) desk would not look at a batch during the test. */
const LATER_MS = Date.now() + 3_600_000;

/** A succeeded outcome of `model` costing `costUsd` (`null`: the model has no price). */
function answered(batchId: string, model: string, costUsd: number | null) {
  return {
    outcome: "succeeded" as const,
    batchId,
    result: {
      text: "ok",
      model,
      provider: "claude",
      usage: {
        input_tokens: 10,
        output_tokens: 2,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    },
    costUsd,
  };
}

/** Creates a batch of one request at the stub, as another submitter would; returns its id. */
async function stubBatch(url: string): Promise<string> {
  const anthropic = new Anthropic({ apiKey: "sk-ant-test", baseURL: url, maxRetries: 0 });
  const created = await anthropic.messages.batches.create({
    requests: [{
      custom_id: "ppr-x-0",
      params: {
        model: "claude-haiku-4-5",
        max_tokens: 16,
        messages: [{ role: "user", content: "hi" }],
      },
    }],
  });
  return created.id;
}

Deno.test(
  "batches lists the open batches, then those ended within 7 days, with jobs, state, age, cost at the batch price (unpriced answers as unknown) and outcomes; --json prints one line per batch",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    const now = Date.now();
    await recordBatch(redis, "aaaaaaaaaaaaaaaa", ["llm:1", "llm:2"], {
      createdMs: now - 90_000,
      providerId: "msgbatch_open",
    });
    await markPolled(redis, "aaaaaaaaaaaaaaaa", "in_progress", LATER_MS);
    await recordBatch(redis, "bbbbbbbbbbbbbbbb", ["llm:3"], { createdMs: now - 1000 });
    await recordBatch(redis, "cccccccccccccccc", ["llm:4", "llm:5", "llm:6"], {
      createdMs: now - 2 * 3_600_000,
      model: "mystery-1",
      providerId: "msgbatch_done",
    });
    await storeOutcome(
      redis,
      "cccccccccccccccc",
      "llm:4",
      answered("cccccccccccccccc", "mystery-1", 0.0015),
    );
    await storeOutcome(
      redis,
      "cccccccccccccccc",
      "llm:5",
      answered("cccccccccccccccc", "mystery-2", null),
    );
    await storeOutcome(redis, "cccccccccccccccc", "llm:6", {
      outcome: "errored",
      batchId: "cccccccccccccccc",
      kind: "invalid",
      message: "bad request",
    });
    await markDone(redis, "cccccccccccccccc", { providerStatus: "ended" });

    const env = baseEnv({ REDIS_URL: server.url });
    const text = await runPpr(["batches"], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^2 batches open\n/);
    assert.match(
      text.stdout,
      /\nbbbbbbbbbbbbbbbb\s+claude\s+-\s+llm\s+claude-haiku-4-5\s+1\s+submitting\s+\d+s\s+-\s+0\s+0\n/,
    );
    assert.match(
      text.stdout,
      /\naaaaaaaaaaaaaaaa\s+claude\s+msgbatch_open\s+llm\s+claude-haiku-4-5\s+2\s+open \(in_progress\)\s+1m\d+s\s+-\s+0\s+0\n/,
    );
    assert.ok(
      text.stdout.indexOf("bbbbbbbbbbbbbbbb") < text.stdout.indexOf("aaaaaaaaaaaaaaaa"),
      "open batches newest first",
    );
    assert.match(text.stdout, /\n\n1 batch ended within 7 days, newest first\n/);
    assert.match(
      text.stdout,
      /\ncccccccccccccccc\s+claude\s+msgbatch_done\s+llm\s+mystery-1\s+3\s+done \(ended\)\s+2h\s+\$0\.0015 \+ unknown \(1 unpriced\)\s+2\s+1$/m,
    );

    const json = await runPpr(["batches", "--json"], env);
    assert.equal(json.code, 0, json.stderr);
    const views = json.stdout.trim().split("\n").map((line) => JSON.parse(line) as BatchView);
    assert.deepEqual(views.map((view) => [view.id, view.phase]), [
      ["bbbbbbbbbbbbbbbb", "submitting"],
      ["aaaaaaaaaaaaaaaa", "open"],
      ["cccccccccccccccc", "done"],
    ]);
    const done = views[2];
    assert.equal(done.provider_batch_id, "msgbatch_done");
    assert.equal(done.jobs, 3);
    assert.equal(done.cost_usd, 0.0015);
    assert.equal(done.unpriced, 1);
    assert.equal(done.succeeded, 2);
    assert.equal(done.failed, 1);
    assert.equal(typeof done.ended_at, "string");
    assert.equal(views[0].provider_batch_id, null);
  },
);

Deno.test(
  "batches with no batch lane in use says there are none, exit 0",
  integration,
  async () => {
    await using server = await startRedis();
    const result = await runPpr(["batches"], baseEnv({ REDIS_URL: server.url }));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "no open batches\n\nno batches ended within 7 days\n");
  },
);

Deno.test(
  "batches cancel asks the Message Batches API to cancel an open batch, by ppr-worker's id or by the provider's, and brings the desk's next look at it forward",
  integration,
  async () => {
    await using server = await startRedis();
    await using stub = startStubMessageBatches({ processingMs: 600_000, cancelingMs: 600_000 });
    const redis = server.client();
    const [first, second] = [await stubBatch(stub.url), await stubBatch(stub.url)];
    await recordBatch(redis, "aaaaaaaaaaaaaaaa", ["llm:1", "llm:2"], {
      createdMs: Date.now(),
      providerId: first,
    });
    await recordBatch(redis, "bbbbbbbbbbbbbbbb", ["llm:3"], {
      createdMs: Date.now(),
      providerId: second,
    });
    const env = baseEnv({ REDIS_URL: server.url, ...claudeApiEnv(stub.url) });

    const byOurId = await runPpr(["batches", "cancel", "aaaaaaaaaaaaaaaa"], env);
    assert.equal(byOurId.code, 0, byOurId.stderr);
    assert.match(
      byOurId.stdout,
      new RegExp(
        `^batch aaaaaaaaaaaaaaaa \\(claude ${first}, 2 jobs\\): cancel asked; claude says canceling\\.`,
      ),
    );
    assert.match(byOurId.stdout, /its job is retried by its retry policy/);
    const canceled = stub.batches().find((batch) => batch.batch.id === first)!;
    assert.equal(canceled.batch.processing_status, "canceling");
    assert.equal(typeof canceled.batch.cancel_initiated_at, "string");
    assert.ok(
      Number(await redis.zscore(OPEN_KEY, "aaaaaaaaaaaaaaaa")) <= Date.now(),
      "the desk looks at it at its next tick",
    );
    assert.equal(
      (await readBatch(redis, "aaaaaaaaaaaaaaaa"))?.phase,
      "open",
      "the command leaves the record to the desk",
    );

    const byProviderId = await runPpr(["batches", "cancel", second, "--json"], env);
    assert.equal(byProviderId.code, 0, byProviderId.stderr);
    assert.deepEqual(JSON.parse(byProviderId.stdout), {
      id: "bbbbbbbbbbbbbbbb",
      provider: "claude",
      provider_batch_id: second,
      provider_status: "canceling",
      jobs: 1,
    });
    assert.equal(
      stub.batches().find((batch) => batch.batch.id === second)!.batch.processing_status,
      "canceling",
    );
  },
);

Deno.test(
  "batches cancel refuses with exit 1 an id no record has, a batch that is done and one still submitting, saying why; --unrecorded cancels a provider batch no record knows",
  integration,
  async () => {
    await using server = await startRedis();
    await using stub = startStubMessageBatches({ processingMs: 600_000 });
    const redis = server.client();
    await recordBatch(redis, "dddddddddddddddd", ["llm:1"], {
      createdMs: Date.now() - 60_000,
      providerId: "msgbatch_done",
    });
    await markDone(redis, "dddddddddddddddd", {
      providerStatus: "ended",
      nowMs: Date.now() - 3_600_000,
    });
    await recordBatch(redis, "ssssssssssssssss", ["llm:2"], { createdMs: Date.now() });
    const orphan = await stubBatch(stub.url);
    const env = baseEnv({ REDIS_URL: server.url, ...claudeApiEnv(stub.url) });

    const unknown = await runPpr(["batches", "cancel", orphan], env);
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      new RegExp(`^ppr-worker batches cancel: no batch ${orphan}: it is neither ppr-worker's id`),
    );
    assert.match(unknown.stderr, /is canceled with --unrecorded/);

    const done = await runPpr(["batches", "cancel", "dddddddddddddddd"], env);
    assert.equal(done.code, 1);
    assert.match(
      done.stderr,
      /batch dddddddddddddddd is done already: it ended 1h ago \(claude says ended\); there is nothing left to cancel/,
    );
    const byItsProviderId = await runPpr(["batches", "cancel", "msgbatch_done"], env);
    assert.equal(byItsProviderId.code, 1);
    assert.match(byItsProviderId.stderr, /batch dddddddddddddddd is done already/);

    const submitting = await runPpr(["batches", "cancel", "ssssssssssssssss"], env);
    assert.equal(submitting.code, 1);
    assert.match(
      submitting.stderr,
      /batch ssssssssssssssss is still being submitted: claude has not given it an id yet/,
    );
    assert.equal(
      stub.requests.filter((request) => request.path.endsWith("/cancel")).length,
      0,
      "nothing was sent to the provider for a refused cancel",
    );

    const unrecorded = await runPpr(["batches", "cancel", "--unrecorded", orphan], env);
    assert.equal(unrecorded.code, 0, unrecorded.stderr);
    assert.match(
      unrecorded.stdout,
      new RegExp(`^claude batch ${orphan} \\(no record of the fleet's\\): cancel asked`),
    );
    assert.equal(stub.batches()[0].batch.processing_status, "ended", "canceled at once");

    const noKey = await runPpr(
      ["batches", "cancel", "--unrecorded", orphan],
      baseEnv({ REDIS_URL: server.url, LLM_PROVIDER: "claude" }),
    );
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /claude has no batch API in this configuration/);
  },
);
