import { strict as assert } from "node:assert";
import { batchView } from "../jobs/batch/listing.ts";
import type { BatchRecord } from "../jobs/batch/store.ts";
import { batchRecord } from "../testing/batch_records.ts";
import { cancelRefusal, renderBatches } from "./batches.ts";

const NOW = Date.parse("2026-12-07T12:00:00Z");

/** An open batch of 2 jobs of llm, created 90 s before NOW. */
const OPEN = batchRecord({ createdMs: NOW - 90_000 });

/** A batch of 4 jobs that ended an hour ago: 3 answers (1 of them unpriced), 1 failed. */
const DONE: BatchRecord = batchRecord({
  id: "fedcba9876543210",
  model: "mystery-1",
  phase: "done",
  jobs: ["llm:3", "llm:4", "llm:5", "llm:6"],
  createdMs: NOW - 2 * 3_600_000,
  providerId: "msgbatch_02",
  providerStatus: "ended",
  endedMs: NOW - 3_600_000,
  stored: 4,
  costUsd: 0.0021,
  unpriced: 1,
  succeeded: 3,
  failed: 1,
});

Deno.test("renderBatches: one row per batch with its id, provider, provider's id, queue, model, jobs, state, age, cost and outcomes; open ones first", () => {
  const text = renderBatches({
    open: [batchView(OPEN, NOW)],
    recent: [batchView(DONE, NOW)],
  });
  const [openTitle, header, openRow, blank, recentTitle, , doneRow] = text.split("\n");
  assert.equal(openTitle, "1 batch open");
  assert.match(
    header,
    /^id\s+provider\s+provider batch id\s+queue\s+model\s+jobs\s+state\s+age\s+cost\s+succeeded\s+failed$/,
  );
  assert.match(
    openRow,
    /^0123456789abcdef\s+claude\s+msgbatch_01\s+llm\s+claude-haiku-4-5\s+2\s+open \(in_progress\)\s+1m30s\s+-\s+0\s+0$/,
  );
  assert.equal(blank, "");
  assert.equal(recentTitle, "1 batch ended within 7 days, newest first");
  assert.match(
    doneRow,
    /^fedcba9876543210\s+claude\s+msgbatch_02\s+llm\s+mystery-1\s+4\s+done \(ended\)\s+2h\s+\$0\.0021 \+ unknown \(1 unpriced\)\s+3\s+1$/,
  );
});

Deno.test("renderBatches: a batch still submitting shows '-' for the provider's id; a refused one says why below its table", () => {
  const text = renderBatches({
    open: [
      batchView(
        { ...OPEN, phase: "submitting", providerId: undefined, providerStatus: undefined },
        NOW,
      ),
    ],
    recent: [
      batchView({
        ...DONE,
        providerId: undefined,
        providerStatus: undefined,
        stored: 4,
        succeeded: 0,
        failed: 4,
        costUsd: 0,
        unpriced: 0,
        error: "requests.0.custom_id: invalid",
      }, NOW),
    ],
  });
  assert.match(text, /0123456789abcdef\s+claude\s+-\s+llm\s+claude-haiku-4-5\s+2\s+submitting\s/);
  assert.match(text, /fedcba9876543210\s+claude\s+-\s+.*done \(refused\)\s+2h\s+\$0\.0000\s+0\s+4/);
  assert.match(text, /\n {2}fedcba9876543210: claude refused it: requests\.0\.custom_id: invalid$/);
});

Deno.test("renderBatches: with none, says so for both parts", () => {
  assert.equal(
    renderBatches({ open: [], recent: [] }),
    "no open batches\n\nno batches ended within 7 days",
  );
});

Deno.test("cancelRefusal: an open batch with a provider id can be canceled; a done one and a submitting one are refused, saying why and what to do", () => {
  assert.equal(cancelRefusal(OPEN, NOW), undefined);
  assert.equal(
    cancelRefusal(DONE, NOW),
    "batch fedcba9876543210 is done already: it ended 1h ago (claude says ended); there is nothing left to cancel",
  );
  const submitting = cancelRefusal(
    { ...OPEN, phase: "submitting", providerId: undefined, providerStatus: undefined },
    NOW,
  );
  assert.match(
    submitting!,
    /^batch 0123456789abcdef is still being submitted: claude has not given it an id yet/,
  );
  assert.match(submitting!, /try again in a few seconds/);
});
