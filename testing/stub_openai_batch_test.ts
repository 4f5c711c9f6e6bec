/** The OpenAI Batch API stub through the official OpenAI SDK: proves its shapes fit what the SDK reads. */

import { strict as assert } from "node:assert";
import OpenAI from "openai";
import { createFakeClock } from "./fake_clock.ts";
import {
  type BatchInputLine,
  type BatchOutputLine,
  startStubOpenAiBatch,
  type StubOpenAiBatch,
} from "./stub_openai_batch.ts";
import { TextLineStream } from "../async/mod.ts";
import { waitUntil } from "./wait.ts";

const client = (stub: StubOpenAiBatch) =>
  new OpenAI({ apiKey: "x", baseURL: stub.url + "/v1", maxRetries: 0 });

/** An input file line whose user text is `text`. */
const line = (custom_id: string, text: string): BatchInputLine => ({
  custom_id,
  method: "POST",
  url: "/v1/chat/completions",
  body: { model: "gpt-stub", messages: [{ role: "user", content: text }] },
});

/** Uploads `lines` as a batch input file (JSONL); returns its File object. */
const upload = (openai: OpenAI, lines: unknown[], filename = "input.jsonl") =>
  openai.files.create({
    file: new File([lines.map((entry) => JSON.stringify(entry) + "\n").join("")], filename),
    purpose: "batch",
  });

/** Uploads `lines` and creates a batch of them. */
async function createBatch(openai: OpenAI, lines: unknown[]) {
  const file = await upload(openai, lines);
  return await openai.batches.create({
    input_file_id: file.id,
    endpoint: "/v1/chat/completions",
    completion_window: "24h",
  });
}

/** The lines of an output or error file, read through the SDK; `[]` for a null id. */
async function fileLines(openai: OpenAI, fileId: string | null | undefined) {
  if (!fileId) return [];
  const text = await (await openai.files.content(fileId)).text();
  return text.split("\n").filter((raw) => raw !== "").map((raw) =>
    JSON.parse(raw) as BatchOutputLine
  );
}

/** What each request came to, by custom_id: its status code, or its error's code. */
const outcomes = (lines: BatchOutputLine[]) =>
  Object.fromEntries(
    lines.map((entry) => [entry.custom_id, entry.response?.status_code ?? entry.error!.code]),
  );

/** The SDK's error of a call that must fail. */
async function apiError(
  call: () => Promise<unknown>,
): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await call();
  } catch (error) {
    if (error instanceof OpenAI.APIError) return error;
    throw error;
  }
  throw new Error("the call succeeded");
}

Deno.test("happy path: upload, create, poll until completed, every custom_id answered once in the output file", async () => {
  await using stub = startStubOpenAiBatch();
  const openai = client(stub);
  const json = line("json", '{"title":"T"}');
  json.body.response_format = { type: "json_schema" };
  const file = await upload(openai, [line("first", "Hello"), line("second", "Hi again"), json]);
  assert.equal(file.object, "file");
  assert.equal(file.purpose, "batch");
  assert.equal(file.filename, "input.jsonl");
  assert.ok(file.bytes > 0);
  assert.deepEqual(await openai.files.retrieve(file.id), file);

  const created = await openai.batches.create({
    input_file_id: file.id,
    endpoint: "/v1/chat/completions",
    completion_window: "24h",
    metadata: { job: "nightly" },
  });
  assert.equal(created.object, "batch");
  assert.match(created.id, /^batch_/);
  assert.equal(created.status, "validating");
  assert.deepEqual(created.request_counts, { total: 0, completed: 0, failed: 0 });
  assert.equal(created.output_file_id, null);
  assert.equal(created.in_progress_at, null);
  assert.equal(created.expires_at! - created.created_at, 24 * 3600);
  assert.deepEqual(created.metadata, { job: "nightly" });

  const batch = await waitUntil(async () => {
    const current = await openai.batches.retrieve(created.id);
    return current.status === "completed" && current;
  }, { what: "the batch to complete" });
  assert.deepEqual(batch.request_counts, { total: 3, completed: 3, failed: 0 });
  assert.equal(batch.error_file_id, null);
  assert.equal(batch.errors, null);
  assert.equal(batch.model, "gpt-stub");
  assert.ok(batch.in_progress_at && batch.finalizing_at && batch.completed_at);
  assert.ok(batch.usage && batch.usage.total_tokens > 0);

  const output = await fileLines(openai, batch.output_file_id);
  assert.deepEqual(output.map((entry) => entry.custom_id).toSorted(), ["first", "json", "second"]);
  const first = output.find((entry) => entry.custom_id === "first")!;
  assert.match(first.id, /^batch_req_/);
  assert.equal(first.error, null);
  assert.equal(first.response!.status_code, 200);
  assert.match(first.response!.request_id, /^req_/);
  const completion = first.response!.body as OpenAI.Chat.ChatCompletion;
  assert.equal(completion.object, "chat.completion");
  assert.equal(completion.model, "gpt-stub");
  assert.equal(completion.choices[0].message.content, "stub: Hello");
  assert.equal(completion.choices[0].finish_reason, "stop");
  assert.equal(
    completion.usage!.total_tokens,
    completion.usage!.prompt_tokens + completion.usage!.completion_tokens,
  );
  const answer = output.find((entry) => entry.custom_id === "json")!.response!.body;
  assert.deepEqual(
    JSON.parse((answer as OpenAI.Chat.ChatCompletion).choices[0].message.content!),
    { title: "T" },
  );
  const outputFile = await openai.files.retrieve(batch.output_file_id!);
  assert.equal(outputFile.purpose, "batch_output");
});

Deno.test("a batch is validating, in_progress, finalizing, then completed, each for its time and not 1 ms less", async () => {
  const clock = createFakeClock();
  await using stub = startStubOpenAiBatch({
    validatingMs: 100,
    processingMs: 1000,
    finalizingMs: 100,
    clock,
  });
  const openai = client(stub);
  const { id } = await createBatch(
    openai,
    ["a", "b", "c", "d"].map((customId) => line(customId, customId)),
  );
  const at = async (ms: number) => {
    clock.tick(ms);
    return await openai.batches.retrieve(id);
  };
  assert.equal((await at(99)).status, "validating");
  const started = await at(1);
  assert.equal(started.status, "in_progress");
  assert.deepEqual(started.request_counts, { total: 4, completed: 0, failed: 0 });
  // As the API does, completed counts grow while the batch runs: a quarter each 250 ms.
  assert.deepEqual((await at(500)).request_counts, { total: 4, completed: 2, failed: 0 });
  assert.equal((await at(499)).status, "in_progress");
  const finalizing = await at(1);
  assert.equal(finalizing.status, "finalizing");
  assert.equal(finalizing.output_file_id, null);
  assert.equal((await at(99)).status, "finalizing");
  const completed = await at(1);
  assert.equal(completed.status, "completed");
  assert.ok(completed.created_at <= completed.in_progress_at!);
  assert.ok(completed.in_progress_at! <= completed.finalizing_at!);
  assert.ok(completed.finalizing_at! <= completed.completed_at!);
  assert.ok(completed.output_file_id);
});

Deno.test("per-request markers and bad bodies go to the error file: 500, 400, batch_expired", async () => {
  await using stub = startStubOpenAiBatch();
  const openai = client(stub);
  const noModel = line("no-model", "fine text");
  delete noModel.body.model;
  const { id } = await createBatch(openai, [
    line("ok", "fine"),
    line("server", "BATCH_ERRORED please"),
    line("invalid", "BATCH_ERRORED=400 please"),
    line("late", "BATCH_EXPIRED please"),
    noModel,
  ]);
  const batch = await openai.batches.retrieve(id);
  assert.equal(batch.status, "completed");
  assert.deepEqual(batch.request_counts, { total: 5, completed: 1, failed: 4 });
  assert.deepEqual(outcomes(await fileLines(openai, batch.output_file_id)), { ok: 200 });
  const errors = await fileLines(openai, batch.error_file_id);
  assert.deepEqual(outcomes(errors), {
    server: 500,
    invalid: 400,
    late: "batch_expired",
    "no-model": 400,
  });
  const server = errors.find((entry) => entry.custom_id === "server")!;
  assert.equal(server.error, null);
  const body = server.response!.body as { error: Record<string, unknown> };
  assert.deepEqual(Object.keys(body.error).toSorted(), ["code", "message", "param", "type"]);
  assert.equal(body.error.type, "server_error");
  const late = errors.find((entry) => entry.custom_id === "late")!;
  assert.deepEqual(late.error, {
    code: "batch_expired",
    message: "This request could not be executed before the completion window expired.",
  });
  assert.equal(late.response, null);
});

Deno.test("expireBatches: a whole batch is expired after its processing time, every request batch_expired", async () => {
  const clock = createFakeClock();
  await using stub = startStubOpenAiBatch({ processingMs: 1000, expireBatches: true, clock });
  const openai = client(stub);
  const { id } = await createBatch(openai, [line("a", "one"), line("b", "two")]);
  clock.tick(999);
  assert.equal((await openai.batches.retrieve(id)).status, "in_progress");
  clock.tick(1);
  const batch = await openai.batches.retrieve(id);
  assert.equal(batch.status, "expired");
  assert.ok(batch.expired_at !== null);
  assert.equal(batch.output_file_id, null);
  assert.deepEqual(batch.request_counts, { total: 2, completed: 0, failed: 2 });
  assert.deepEqual(outcomes(await fileLines(openai, batch.error_file_id)), {
    a: "batch_expired",
    b: "batch_expired",
  });
});

Deno.test("expire(): the requests done so far are in the output file, the rest batch_expired in the error file", async () => {
  const clock = createFakeClock();
  await using stub = startStubOpenAiBatch({ processingMs: 4000, clock });
  const openai = client(stub);
  const { id } = await createBatch(
    openai,
    ["a", "b", "c", "d"].map((customId) => line(customId, customId)),
  );
  clock.tick(2000);
  stub.expire(id);
  const batch = await openai.batches.retrieve(id);
  assert.equal(batch.status, "expired");
  assert.deepEqual(outcomes(await fileLines(openai, batch.output_file_id)), { a: 200, b: 200 });
  assert.deepEqual(outcomes(await fileLines(openai, batch.error_file_id)), {
    c: "batch_expired",
    d: "batch_expired",
  });
  assert.throws(() => stub.expire(id), /can no longer expire/);
});

Deno.test("cancel: cancelling for cancellingMs, then cancelled with the requests done before it in the output file", async () => {
  const clock = createFakeClock();
  await using stub = startStubOpenAiBatch({ processingMs: 4000, cancellingMs: 100, clock });
  const openai = client(stub);
  const { id } = await createBatch(
    openai,
    ["a", "b", "c", "d"].map((customId) => line(customId, customId)),
  );
  clock.tick(1000);
  const cancelling = await openai.batches.cancel(id);
  assert.equal(cancelling.status, "cancelling");
  assert.ok(cancelling.cancelling_at !== null);
  assert.equal(cancelling.cancelled_at, null);
  clock.tick(99);
  assert.equal((await openai.batches.retrieve(id)).status, "cancelling");
  clock.tick(1);
  const cancelled = await openai.batches.retrieve(id);
  assert.equal(cancelled.status, "cancelled");
  assert.ok(cancelled.cancelled_at !== null);
  assert.deepEqual(outcomes(await fileLines(openai, cancelled.output_file_id)), { a: 200 });
  assert.equal(cancelled.error_file_id, null);
  const refused = await apiError(() => openai.batches.cancel(id));
  assert.equal(refused.status, 400);
  assert.equal(refused.type, "invalid_request_error");
});

Deno.test("list: newest first, paged by after and limit with has_more", async () => {
  await using stub = startStubOpenAiBatch();
  const openai = client(stub);
  const file = await upload(openai, [line("a", "x")]);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const batch = await openai.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    ids.push(batch.id);
  }
  const newestFirst = ids.toReversed();
  const first = await openai.batches.list({ limit: 2 });
  assert.deepEqual(first.data.map((batch) => batch.id), newestFirst.slice(0, 2));
  assert.equal(first.has_more, true);
  const all: string[] = [];
  for await (const batch of openai.batches.list({ limit: 2 })) all.push(batch.id);
  assert.deepEqual(all, newestFirst);
  const last = await openai.batches.list({ limit: 2, after: newestFirst[2] });
  assert.deepEqual(last.data.map((batch) => batch.id), newestFirst.slice(3));
  assert.equal(last.has_more, false);
  assert.equal((await apiError(() => openai.batches.list({ limit: 101 }))).status, 400);
});

Deno.test("an input file with a duplicate custom_id (or any bad line) fails the batch in validating, with the line in errors", async () => {
  await using stub = startStubOpenAiBatch();
  const openai = client(stub);
  const { id } = await createBatch(openai, [
    line("same", "a"),
    line("same", "b"),
    { ...line("get", "c"), method: "GET" },
    { ...line("url", "d"), url: "/v1/embeddings" },
    "not an object",
  ]);
  const batch = await openai.batches.retrieve(id);
  assert.equal(batch.status, "failed");
  assert.ok(batch.failed_at !== null);
  assert.equal(batch.output_file_id, null);
  assert.equal(batch.errors!.object, "list");
  assert.deepEqual(
    batch.errors!.data!.map(({ code, line, param }) => ({ code, line, param })),
    [
      { code: "duplicate_custom_id", line: 2, param: "custom_id" },
      { code: "invalid_method", line: 3, param: "method" },
      { code: "invalid_url", line: 4, param: "url" },
      { code: "invalid_json_line", line: 5, param: null },
    ],
  );
  const twoModels = line("other", "e");
  twoModels.body.model = "gpt-other";
  const mixed = await createBatch(openai, [line("one", "x"), twoModels]);
  const mixedBatch = await openai.batches.retrieve(mixed.id);
  assert.equal(mixedBatch.status, "failed");
  assert.deepEqual(mixedBatch.errors!.data!.map((error) => error.code), ["mismatched_model"]);
});

Deno.test("the API's request limit: an input file of 50,001 requests fails the batch", async () => {
  await using stub = startStubOpenAiBatch();
  const openai = client(stub);
  const lines = Array.from({ length: 50_001 }, (_, i) => line(`r${i}`, "x"));
  const { id } = await createBatch(openai, lines);
  const batch = await openai.batches.retrieve(id);
  assert.equal(batch.status, "failed");
  assert.match(batch.errors!.data![0].message!, /at most 50000 requests: this file has 50001/);
});

Deno.test("uploads and creates refused 400 (or 404) in the API's error shape", async () => {
  await using stub = startStubOpenAiBatch({ maxFileBytes: 1000 });
  const openai = client(stub);
  const notJsonl = await apiError(() => upload(openai, [line("a", "x")], "input.txt"));
  assert.equal(notJsonl.status, 400);
  assert.equal(notJsonl.param, "file");
  assert.deepEqual(Object.keys(notJsonl.error as object).toSorted(), [
    "code",
    "message",
    "param",
    "type",
  ]);
  const tooLarge = await apiError(() => upload(openai, [line("a", "x".repeat(1000))]));
  assert.equal(tooLarge.status, 400);
  assert.match(tooLarge.message, /at most 1000 bytes/);
  const badPurpose = await apiError(() =>
    openai.files.create({
      file: new File(["{}"], "a.jsonl"),
      purpose: "nonsense" as OpenAI.FilePurpose,
    })
  );
  assert.equal(badPurpose.param, "purpose");

  const file = await upload(openai, [line("a", "x")]);
  const other = await openai.files.create({
    file: new File(["x"], "a.jsonl"),
    purpose: "user_data",
  });
  const create = (body: Record<string, unknown>) =>
    apiError(() =>
      openai.batches.create({
        input_file_id: file.id,
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
        ...body,
      } as OpenAI.BatchCreateParams)
    );
  assert.equal((await create({ completion_window: "48h" })).param, "completion_window");
  assert.equal((await create({ endpoint: "/v1/embeddings" })).param, "endpoint");
  assert.equal((await create({ input_file_id: other.id })).param, "input_file_id");
  const metadata = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]));
  assert.equal((await create({ metadata })).param, "metadata");
  const unknown = await create({ input_file_id: "file-nope" });
  assert.equal(unknown.status, 404);
  assert.equal((await apiError(() => openai.batches.retrieve("batch_nope"))).status, 404);
  assert.equal(stub.batches().length, 0);
});

Deno.test("requests records each call's method, path, body and status; batches() shows the state", async () => {
  await using stub = startStubOpenAiBatch();
  const openai = client(stub);
  const { id } = await createBatch(openai, [line("a", "hello")]);
  const batch = await openai.batches.retrieve(id);
  await fileLines(openai, batch.output_file_id);
  assert.deepEqual(
    stub.requests.map(({ method, path, status }) => ({ method, path, status })),
    [
      { method: "POST", path: "/v1/files", status: 200 },
      { method: "POST", path: "/v1/batches", status: 200 },
      { method: "GET", path: `/v1/batches/${id}`, status: 200 },
      { method: "GET", path: `/v1/files/${batch.output_file_id}/content`, status: 200 },
    ],
  );
  const [upload, create] = stub.requests;
  assert.deepEqual(upload.body, {
    purpose: "batch",
    file: { filename: "input.jsonl", bytes: JSON.stringify(line("a", "hello")).length + 1 },
  });
  assert.equal((create.body as { input_file_id: string }).input_file_id, batch.input_file_id);
  const [inspected] = stub.batches();
  assert.equal(inspected.batch.status, "completed");
  assert.deepEqual(inspected.requests, [line("a", "hello")]);
  assert.deepEqual(outcomes(inspected.output), { a: 200 });
  assert.deepEqual(inspected.errors, []);
});

/** Disposes `stub`; a disposal that does not finish fails the test instead of hanging it. */
async function disposeWithin(stub: StubOpenAiBatch): Promise<void> {
  let disposed = false;
  const disposing = stub[Symbol.asyncDispose]().then(() => disposed = true);
  await waitUntil(() => disposed, { what: "the stub to dispose" });
  await disposing;
}

Deno.test("holdCreated: the batch exists (listed, retrievable) while the create's response waits for the release", async () => {
  const release = Promise.withResolvers<void>();
  let holds = 0;
  await using stub = startStubOpenAiBatch({
    validatingMs: 60_000,
    holdCreated: () => {
      holds++;
      return release.promise;
    },
  });
  const openai = client(stub);
  const file = await upload(openai, [line("a", "hi")]);
  let answered = false;
  const creating = openai.batches.create({
    input_file_id: file.id,
    endpoint: "/v1/chat/completions",
    completion_window: "24h",
  }).finally(() => answered = true);
  const [accepted] = await waitUntil(() => stub.batches().length === 1 && stub.batches(), {
    what: "the batch to exist",
  });
  const listed = await openai.batches.list();
  assert.deepEqual(listed.data.map((batch) => batch.id), [accepted.batch.id]);
  assert.equal((await openai.batches.retrieve(accepted.batch.id)).status, "validating");
  assert.equal(holds, 1);
  assert.equal(answered, false);
  assert.equal(stub.requests[1].status, 0);
  release.resolve();
  const created = await creating;
  assert.equal(created.id, accepted.batch.id);
  assert.equal(created.status, "validating");
  assert.equal(stub.requests[1].status, 200);
  // A refused create makes no batch: it is answered at once, without a hold.
  const refused = await apiError(() =>
    openai.batches.create({
      input_file_id: "file-nope",
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    })
  );
  assert.equal(refused.status, 404);
  assert.equal(holds, 1);
});

Deno.test("holdCreated: a client gone while held leaves the stub serving, and disposing stops a hold never released", async () => {
  const stub = startStubOpenAiBatch({ holdCreated: () => new Promise(() => {}) });
  const openai = client(stub);
  const file = await upload(openai, [line("a", "hi")]);
  const body = {
    input_file_id: file.id,
    endpoint: "/v1/chat/completions",
    completion_window: "24h",
  } as const;
  const giveUp = new AbortController();
  const abandoned = openai.batches.create(body, { signal: giveUp.signal });
  await waitUntil(() => stub.batches().length === 1, { what: "the first batch to exist" });
  giveUp.abort();
  await assert.rejects(abandoned, OpenAI.APIUserAbortError);
  assert.equal((await openai.batches.list()).data.length, 1);
  const held = assert.rejects(openai.batches.create(body), OpenAI.APIConnectionError);
  await waitUntil(() => stub.batches().length === 2, { what: "the second batch to exist" });
  // Disposing stops the waiting: the stub closes, the held create unanswered.
  await disposeWithin(stub);
  await held;
});

/** The output file of a completed batch of `lines`, downloading through the SDK, line by line. */
async function outputDownload(openai: OpenAI, lines: unknown[], signal?: AbortSignal) {
  const { id } = await createBatch(openai, lines);
  const batch = await openai.batches.retrieve(id);
  const response = await openai.files.content(batch.output_file_id!, { signal });
  return response.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream())
    .getReader();
}

/** The next line of a download being read: `came` once it has. */
function nextLine(lines: ReadableStreamDefaultReader<string>) {
  const read = { came: false, line: lines.read() };
  read.line.then(() => read.came = true, () => {});
  return read;
}

/** The custom_id of a line of an output file. */
const customIdOf = (raw: string | undefined) => (JSON.parse(raw!) as BatchOutputLine).custom_id;

Deno.test("holdResults: an output file's download sends afterLines lines at once, the rest only after until() resolves", async () => {
  const release = Promise.withResolvers<void>();
  let holds = 0;
  await using stub = startStubOpenAiBatch({
    holdResults: {
      afterLines: 2,
      until: () => {
        holds++;
        return release.promise;
      },
    },
  });
  const openai = client(stub);
  const customIds = ["a", "b", "c", "d", "e"];
  const lines = await outputDownload(
    openai,
    customIds.map((customId) => line(customId, customId)),
  );
  const received: string[] = [];
  for (let i = 0; i < 2; i++) received.push(customIdOf((await lines.read()).value));
  await waitUntil(() => holds === 1, { what: "the download to be held" });
  const third = nextLine(lines);
  // A whole round trip to the stub meanwhile: the held lines have still not come.
  await openai.batches.list();
  assert.equal(third.came, false);
  release.resolve();
  received.push(customIdOf((await third.line).value));
  for (let next = await lines.read(); !next.done; next = await lines.read()) {
    received.push(customIdOf(next.value));
  }
  assert.deepEqual(received.toSorted(), customIds);
  assert.equal(holds, 1);
  // Only the output file is held: the input file comes whole, without a hold.
  const [{ batch }] = stub.batches();
  assert.equal((await fileLines(openai, batch.input_file_id)).length, customIds.length);
  assert.equal(holds, 1);
});

Deno.test("holdResults: a client gone while held leaves the stub serving, and disposing breaks off a hold never released", async () => {
  const stub = startStubOpenAiBatch({
    holdResults: { afterLines: 1, until: () => new Promise(() => {}) },
  });
  const openai = client(stub);
  const input = [line("a", "one"), line("b", "two")];
  const giveUp = new AbortController();
  const abandoned = await outputDownload(openai, input, giveUp.signal);
  assert.equal((await abandoned.read()).done, false);
  const abandonedRest = nextLine(abandoned);
  giveUp.abort();
  await assert.rejects(abandonedRest.line);
  const lines = await outputDownload(openai, input);
  assert.equal((await lines.read()).done, false);
  const rest = nextLine(lines);
  await disposeWithin(stub);
  await assert.rejects(rest.line);
});
