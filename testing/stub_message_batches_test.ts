/** The Message Batches stub through the official Anthropic SDK: proves its shapes fit what the SDK reads. */

import { strict as assert } from "node:assert";
import Anthropic from "@anthropic-ai/sdk";
import { createFakeClock } from "./fake_clock.ts";
import { startStubAnthropic } from "./stub_anthropic.ts";
import {
  type BatchResultLine,
  startStubMessageBatches,
  type StubMessageBatches,
} from "./stub_message_batches.ts";
import { waitUntil } from "./wait.ts";

type BatchRequest = Anthropic.Messages.BatchCreateParams.Request;

const client = (stub: StubMessageBatches) =>
  new Anthropic({ apiKey: "x", baseURL: stub.url, maxRetries: 0 });

/** A request whose user text is `text`. */
const request = (custom_id: string, text: string): BatchRequest => ({
  custom_id,
  params: { model: "claude-stub", max_tokens: 64, messages: [{ role: "user", content: text }] },
});

/** Every line of a batch's results, read through the SDK (which follows `results_url`). */
async function results(anthropic: Anthropic, id: string): Promise<BatchResultLine[]> {
  const lines: BatchResultLine[] = [];
  for await (const line of await anthropic.messages.batches.results(id)) {
    lines.push(line as BatchResultLine);
  }
  return lines;
}

/** Each line's result type, by custom_id. */
const typesById = (lines: BatchResultLine[]) =>
  Object.fromEntries(lines.map((line) => [line.custom_id, line.result.type]));

/** The SDK's error of a call that must fail. */
async function apiError(
  call: () => Promise<unknown>,
): Promise<InstanceType<typeof Anthropic.APIError>> {
  try {
    await call();
  } catch (error) {
    if (error instanceof Anthropic.APIError) return error;
    throw error;
  }
  throw new Error("the call succeeded");
}

Deno.test("happy path: create, poll until ended, every custom_id answered once in the Messages API's shape", async () => {
  await using stub = startStubMessageBatches();
  const anthropic = client(stub);
  const json = request("json", '{"title":"T"}');
  json.params.output_config = {
    format: {
      type: "json_schema",
      schema: { type: "object", properties: { title: { type: "string" } } },
    },
  };
  const created = await anthropic.messages.batches.create({
    requests: [request("first", "Hello"), request("second", "Hi again"), json],
  });
  assert.equal(created.type, "message_batch");
  assert.match(created.id, /^msgbatch_/);
  assert.equal(created.processing_status, "in_progress");
  assert.deepEqual(created.request_counts, {
    processing: 3,
    succeeded: 0,
    errored: 0,
    canceled: 0,
    expired: 0,
  });
  assert.equal(created.results_url, null);
  assert.equal(created.ended_at, null);
  assert.equal(created.cancel_initiated_at, null);
  assert.equal(created.archived_at, null);
  assert.equal(Date.parse(created.expires_at) - Date.parse(created.created_at), 24 * 3600_000);

  const ended = await waitUntil(async () => {
    const batch = await anthropic.messages.batches.retrieve(created.id);
    return batch.processing_status === "ended" && batch;
  }, { what: "the batch to end" });
  assert.deepEqual(ended.request_counts, {
    processing: 0,
    succeeded: 3,
    errored: 0,
    canceled: 0,
    expired: 0,
  });
  assert.equal(ended.results_url, `${stub.url}/v1/messages/batches/${created.id}/results`);
  assert.ok(ended.ended_at !== null);

  const lines = await results(anthropic, created.id);
  assert.deepEqual(lines.map((line) => line.custom_id).toSorted(), ["first", "json", "second"]);
  const byId = new Map(lines.map((line) => [line.custom_id, line.result]));
  const first = byId.get("first")!;
  assert.equal(first.type, "succeeded");
  if (first.type !== "succeeded") return;
  assert.equal(first.message.type, "message");
  assert.equal(first.message.role, "assistant");
  assert.equal(first.message.model, "claude-stub");
  assert.deepEqual(first.message.content, [{ type: "text", text: "stub: Hello" }]);
  assert.equal(first.message.stop_reason, "end_turn");
  assert.deepEqual(Object.keys(first.message.usage).toSorted(), [
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "input_tokens",
    "output_tokens",
    "service_tier",
  ]);
  assert.equal(first.message.usage.service_tier, "batch");
  const answer = byId.get("json")!;
  assert.ok(answer.type === "succeeded");
  assert.deepEqual(JSON.parse(answer.message.content[0].text), { title: "T" });
});

Deno.test("a request's usage in a batch is the Messages stub's for the same request, with and without a system prompt", async () => {
  await using stub = startStubMessageBatches();
  await using messages = startStubAnthropic();
  const anthropic = client(stub);
  const direct = new Anthropic({ apiKey: "x", baseURL: messages.url, maxRetries: 0 });
  // 8 characters: 2 tokens; with a separator before it for an absent system prompt, 3.
  const plain = request("plain", "page 123");
  const withSystem = request("system", "page 123");
  withSystem.params.system = "Be brief.";
  const created = await anthropic.messages.batches.create({ requests: [plain, withSystem] });
  const lines = await results(anthropic, created.id);
  for (const { custom_id, params } of [plain, withSystem]) {
    const line = lines.find((each) => each.custom_id === custom_id)!;
    assert.ok(line.result.type === "succeeded");
    const answered = await direct.messages.create({ ...params, stream: false });
    assert.equal(line.result.message.usage.input_tokens, answered.usage.input_tokens, custom_id);
    assert.equal(line.result.message.usage.output_tokens, answered.usage.output_tokens, custom_id);
  }
});

Deno.test("a batch is in_progress for processingMs, not 1 ms less, and every request is processing until it ends", async () => {
  const clock = createFakeClock();
  await using stub = startStubMessageBatches({ processingMs: 60_000, clock });
  const anthropic = client(stub);
  const { id } = await anthropic.messages.batches.create({
    requests: [request("a", "one"), request("b", "two")],
  });
  clock.tick(59_999);
  const before = await anthropic.messages.batches.retrieve(id);
  assert.equal(before.processing_status, "in_progress");
  assert.equal(before.request_counts.processing, 2);
  assert.equal(before.results_url, null);
  await assert.rejects(results(anthropic, id), /No batch `results_url`/);
  clock.tick(1);
  const after = await anthropic.messages.batches.retrieve(id);
  assert.equal(after.processing_status, "ended");
  assert.equal(after.request_counts.succeeded, 2);
  assert.equal(Date.parse(after.ended_at!) - Date.parse(after.created_at), 60_000);
});

Deno.test("per-request markers: BATCH_ERRORED is an api_error, BATCH_ERRORED=400 and bad params an invalid_request_error, BATCH_EXPIRED expired", async () => {
  await using stub = startStubMessageBatches();
  const anthropic = client(stub);
  const noMaxTokens = request("no-max-tokens", "fine text");
  delete (noMaxTokens.params as { max_tokens?: number }).max_tokens;
  const { id } = await anthropic.messages.batches.create({
    requests: [
      request("ok", "fine"),
      request("server", "BATCH_ERRORED please"),
      request("invalid", "BATCH_ERRORED=400 please"),
      request("late", "BATCH_EXPIRED please"),
      noMaxTokens,
    ],
  });
  const batch = await anthropic.messages.batches.retrieve(id);
  assert.deepEqual(batch.request_counts, {
    processing: 0,
    succeeded: 1,
    errored: 3,
    canceled: 0,
    expired: 1,
  });
  const lines = await results(anthropic, id);
  assert.deepEqual(typesById(lines), {
    ok: "succeeded",
    server: "errored",
    invalid: "errored",
    late: "expired",
    "no-max-tokens": "errored",
  });
  const errorOf = (customId: string) => {
    const result = lines.find((line) => line.custom_id === customId)!.result;
    assert.ok(result.type === "errored");
    assert.equal(result.error.type, "error");
    assert.match(result.error.request_id, /^req_/);
    return result.error.error;
  };
  assert.equal(errorOf("server").type, "api_error");
  assert.equal(errorOf("invalid").type, "invalid_request_error");
  assert.equal(errorOf("no-max-tokens").type, "invalid_request_error");
  assert.match(errorOf("no-max-tokens").message, /max_tokens/);
  assert.deepEqual(lines.find((line) => line.custom_id === "late")!.result, { type: "expired" });
});

Deno.test("expireBatches: a whole batch ends after processingMs with every request expired", async () => {
  const clock = createFakeClock();
  await using stub = startStubMessageBatches({ processingMs: 1000, expireBatches: true, clock });
  const anthropic = client(stub);
  const { id } = await anthropic.messages.batches.create({
    requests: [request("a", "one"), request("b", "two"), request("c", "three")],
  });
  clock.tick(999);
  assert.equal((await anthropic.messages.batches.retrieve(id)).processing_status, "in_progress");
  clock.tick(1);
  const batch = await anthropic.messages.batches.retrieve(id);
  assert.equal(batch.processing_status, "ended");
  assert.deepEqual(batch.request_counts, {
    processing: 0,
    succeeded: 0,
    errored: 0,
    canceled: 0,
    expired: 3,
  });
  assert.deepEqual(typesById(await results(anthropic, id)), {
    a: "expired",
    b: "expired",
    c: "expired",
  });
});

Deno.test("expire(): the batch ends at once, the requests done so far keep their results, the rest expire", async () => {
  const clock = createFakeClock();
  await using stub = startStubMessageBatches({ processingMs: 4000, clock });
  const anthropic = client(stub);
  const { id } = await anthropic.messages.batches.create({
    requests: ["a", "b", "c", "d"].map((customId) => request(customId, customId)),
  });
  clock.tick(2000);
  stub.expire(id);
  const batch = await anthropic.messages.batches.retrieve(id);
  assert.equal(batch.processing_status, "ended");
  assert.equal(batch.request_counts.succeeded, 2);
  assert.equal(batch.request_counts.expired, 2);
  assert.deepEqual(typesById(await results(anthropic, id)), {
    a: "succeeded",
    b: "succeeded",
    c: "expired",
    d: "expired",
  });
  assert.throws(() => stub.expire(id), /has already ended/);
});

Deno.test("cancel: in_progress → canceling for cancelingMs → ended, the unfinished requests canceled", async () => {
  const clock = createFakeClock();
  await using stub = startStubMessageBatches({ processingMs: 4000, cancelingMs: 100, clock });
  const anthropic = client(stub);
  const { id } = await anthropic.messages.batches.create({
    requests: ["a", "b", "c", "d"].map((customId) => request(customId, customId)),
  });
  clock.tick(1000);
  const canceling = await anthropic.messages.batches.cancel(id);
  assert.equal(canceling.processing_status, "canceling");
  assert.ok(canceling.cancel_initiated_at !== null);
  assert.equal(canceling.request_counts.processing, 4);
  clock.tick(99);
  assert.equal((await anthropic.messages.batches.retrieve(id)).processing_status, "canceling");
  clock.tick(1);
  const ended = await anthropic.messages.batches.retrieve(id);
  assert.equal(ended.processing_status, "ended");
  assert.equal(ended.cancel_initiated_at, canceling.cancel_initiated_at);
  assert.deepEqual(ended.request_counts, {
    processing: 0,
    succeeded: 1,
    errored: 0,
    canceled: 3,
    expired: 0,
  });
  assert.deepEqual(typesById(await results(anthropic, id)), {
    a: "succeeded",
    b: "canceled",
    c: "canceled",
    d: "canceled",
  });
  const refused = await apiError(() => anthropic.messages.batches.cancel(id));
  assert.equal(refused.status, 400);
  assert.equal(refused.type, "invalid_request_error");
});

Deno.test("list: newest first, paged by limit, after_id and before_id with has_more, first_id and last_id", async () => {
  await using stub = startStubMessageBatches();
  const anthropic = client(stub);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    ids.push((await anthropic.messages.batches.create({ requests: [request("a", `${i}`)] })).id);
  }
  const newestFirst = ids.toReversed();
  const first = await anthropic.messages.batches.list({ limit: 2 });
  assert.deepEqual(first.data.map((batch) => batch.id), newestFirst.slice(0, 2));
  assert.equal(first.has_more, true);
  assert.equal(first.first_id, newestFirst[0]);
  assert.equal(first.last_id, newestFirst[1]);
  const all: string[] = [];
  for await (const batch of anthropic.messages.batches.list({ limit: 2 })) all.push(batch.id);
  assert.deepEqual(all, newestFirst);
  const last = await anthropic.messages.batches.list({ limit: 2, after_id: newestFirst[3] });
  assert.deepEqual(last.data.map((batch) => batch.id), [newestFirst[4]]);
  assert.equal(last.has_more, false);
  const before = await anthropic.messages.batches.list({ limit: 2, before_id: newestFirst[3] });
  assert.deepEqual(before.data.map((batch) => batch.id), newestFirst.slice(1, 3));
  assert.equal(before.has_more, true);
  const refused = await apiError(() => anthropic.messages.batches.list({ limit: 1001 }));
  assert.equal(refused.status, 400);
});

Deno.test("create is refused 400 invalid_request_error for a duplicate or malformed custom_id, no requests, or too many", async () => {
  await using stub = startStubMessageBatches();
  const anthropic = client(stub);
  const duplicate = await apiError(() =>
    anthropic.messages.batches.create({ requests: [request("same", "a"), request("same", "b")] })
  );
  assert.equal(duplicate.status, 400);
  assert.deepEqual(Object.keys(duplicate.error as object).toSorted(), [
    "error",
    "request_id",
    "type",
  ]);
  const body = duplicate.error as { type: string; error: { type: string; message: string } };
  assert.equal(body.type, "error");
  assert.equal(body.error.type, "invalid_request_error");
  assert.match(body.error.message, /"same" is used by more than one request/);
  for (const customId of ["", "has space", "x".repeat(65), "dot.ted"]) {
    const malformed = await apiError(() =>
      anthropic.messages.batches.create({ requests: [request(customId, "a")] })
    );
    assert.equal(malformed.status, 400, customId);
    assert.match(malformed.message, /custom_id: must match/);
  }
  assert.equal(
    (await apiError(() => anthropic.messages.batches.create({ requests: [] }))).status,
    400,
  );
  // The API's own limit, 100,000 requests: one more is refused.
  const tooMany = Array.from({ length: 100_001 }, (_, i) => request(`r${i}`, "x"));
  const refused = await apiError(() => anthropic.messages.batches.create({ requests: tooMany }));
  assert.equal(refused.status, 400);
  assert.match(refused.message, /at most 100000 requests: this one has 100001/);
  assert.equal(stub.batches().length, 0);
});

Deno.test("a create over maxBytes is refused 413 request_too_large; an unknown batch is 404 not_found_error", async () => {
  await using stub = startStubMessageBatches({ maxBytes: 1000 });
  const anthropic = client(stub);
  const tooLarge = await apiError(() =>
    anthropic.messages.batches.create({ requests: [request("big", "x".repeat(1000))] })
  );
  assert.equal(tooLarge.status, 413);
  assert.equal(tooLarge.type, "request_too_large");
  const unknown = await apiError(() => anthropic.messages.batches.retrieve("msgbatch_nope"));
  assert.equal(unknown.status, 404);
  assert.equal(unknown.type, "not_found_error");
});

Deno.test("requests records each call's method, path, query, body and status; batches() shows the state", async () => {
  await using stub = startStubMessageBatches();
  const anthropic = client(stub);
  const { id } = await anthropic.messages.batches.create({ requests: [request("a", "hello")] });
  await anthropic.messages.batches.list({ limit: 5 });
  await results(anthropic, id);
  assert.deepEqual(
    stub.requests.map(({ method, path, query, status }) => ({ method, path, query, status })),
    [
      { method: "POST", path: "/v1/messages/batches", query: "", status: 200 },
      { method: "GET", path: "/v1/messages/batches", query: "?limit=5", status: 200 },
      { method: "GET", path: `/v1/messages/batches/${id}`, query: "", status: 200 },
      { method: "GET", path: `/v1/messages/batches/${id}/results`, query: "", status: 200 },
    ],
  );
  assert.deepEqual(stub.requests[0].body, { requests: [request("a", "hello")] });
  const [inspected] = stub.batches();
  assert.equal(inspected.batch.id, id);
  assert.equal(inspected.batch.processing_status, "ended");
  assert.deepEqual(inspected.requests, [request("a", "hello")]);
  assert.deepEqual(typesById(inspected.results), { a: "succeeded" });
});

/** Disposes `stub`; a disposal that does not finish fails the test instead of hanging it. */
async function disposeWithin(stub: StubMessageBatches): Promise<void> {
  let disposed = false;
  const disposing = stub[Symbol.asyncDispose]().then(() => disposed = true);
  await waitUntil(() => disposed, { what: "the stub to dispose" });
  await disposing;
}

Deno.test("holdCreated: the batch exists (listed, retrievable) while the create's response waits for the release", async () => {
  const release = Promise.withResolvers<void>();
  let holds = 0;
  await using stub = startStubMessageBatches({
    processingMs: 60_000,
    holdCreated: () => {
      holds++;
      return release.promise;
    },
  });
  const anthropic = client(stub);
  let answered = false;
  const creating = anthropic.messages.batches.create({ requests: [request("a", "hi")] })
    .finally(() => answered = true);
  const [accepted] = await waitUntil(() => stub.batches().length === 1 && stub.batches(), {
    what: "the batch to exist",
  });
  const listed = await anthropic.messages.batches.list();
  assert.deepEqual(listed.data.map((batch) => batch.id), [accepted.batch.id]);
  const retrieved = await anthropic.messages.batches.retrieve(accepted.batch.id);
  assert.equal(retrieved.processing_status, "in_progress");
  assert.equal(holds, 1);
  assert.equal(answered, false);
  assert.equal(stub.requests[0].status, 0);
  release.resolve();
  const created = await creating;
  assert.equal(created.id, accepted.batch.id);
  assert.equal(created.processing_status, "in_progress");
  assert.equal(stub.requests[0].status, 200);
  // A refused create makes no batch: it is answered at once, without a hold.
  assert.equal(
    (await apiError(() => anthropic.messages.batches.create({ requests: [] }))).status,
    400,
  );
  assert.equal(holds, 1);
});

Deno.test("holdCreated: a client gone while held leaves the stub serving, and disposing stops a hold never released", async () => {
  const stub = startStubMessageBatches({ holdCreated: () => new Promise(() => {}) });
  const anthropic = client(stub);
  const giveUp = new AbortController();
  const abandoned = anthropic.messages.batches.create({ requests: [request("a", "hi")] }, {
    signal: giveUp.signal,
  });
  await waitUntil(() => stub.batches().length === 1, { what: "the first batch to exist" });
  giveUp.abort();
  await assert.rejects(abandoned, Anthropic.APIUserAbortError);
  assert.equal((await anthropic.messages.batches.list()).data.length, 1);
  const held = assert.rejects(
    anthropic.messages.batches.create({ requests: [request("b", "hi")] }),
    Anthropic.APIConnectionError,
  );
  await waitUntil(() => stub.batches().length === 2, { what: "the second batch to exist" });
  // Disposing stops the waiting: the stub closes, the held create unanswered.
  await disposeWithin(stub);
  await held;
});

type ResultsIterator = AsyncIterator<Anthropic.Messages.MessageBatchIndividualResponse>;

/** The next line of a results download being read: `came` once it has. */
function nextLine(lines: ResultsIterator) {
  const read = { came: false, line: lines.next() };
  read.line.then(() => read.came = true, () => {});
  return read;
}

Deno.test("holdResults: a download sends afterLines lines at once, the rest only after until() resolves", async () => {
  const release = Promise.withResolvers<void>();
  let holds = 0;
  await using stub = startStubMessageBatches({
    holdResults: {
      afterLines: 2,
      until: () => {
        holds++;
        return release.promise;
      },
    },
  });
  const anthropic = client(stub);
  const customIds = ["a", "b", "c", "d", "e"];
  const { id } = await anthropic.messages.batches.create({
    requests: customIds.map((customId) => request(customId, customId)),
  });
  const lines = (await anthropic.messages.batches.results(id))[Symbol.asyncIterator]();
  const received: string[] = [];
  for (let i = 0; i < 2; i++) received.push((await lines.next()).value.custom_id);
  await waitUntil(() => holds === 1, { what: "the download to be held" });
  const third = nextLine(lines);
  // A whole round trip to the stub meanwhile: the held lines have still not come.
  await anthropic.messages.batches.retrieve(id);
  assert.equal(third.came, false);
  release.resolve();
  received.push((await third.line).value.custom_id);
  for (let next = await lines.next(); !next.done; next = await lines.next()) {
    received.push(next.value.custom_id);
  }
  assert.equal(received.length, customIds.length);
  assert.deepEqual(received.toSorted(), customIds);
  assert.equal(holds, 1);
});

Deno.test("holdResults: a client gone while held leaves the stub serving, and disposing breaks off a hold never released", async () => {
  const stub = startStubMessageBatches({
    holdResults: { afterLines: 1, until: () => new Promise(() => {}) },
  });
  const anthropic = client(stub);
  const { id } = await anthropic.messages.batches.create({
    requests: [request("a", "one"), request("b", "two")],
  });
  const giveUp = new AbortController();
  const abandoned = (await anthropic.messages.batches.results(id, {}, { signal: giveUp.signal }))[
    Symbol.asyncIterator
  ]();
  assert.equal((await abandoned.next()).done, false);
  const abandonedRest = nextLine(abandoned);
  giveUp.abort();
  await assert.rejects(abandonedRest.line);
  const lines = (await anthropic.messages.batches.results(id))[Symbol.asyncIterator]();
  assert.equal((await lines.next()).done, false);
  const rest = nextLine(lines);
  await disposeWithin(stub);
  await assert.rejects(rest.line);
});
