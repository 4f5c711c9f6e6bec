/** A stub of OpenAI's Batch API (and the Files API it reads and writes) on 127.0.0.1, in the documented shapes, for the official SDK. */

import type OpenAI from "openai";
import {
  answerText,
  cutAt,
  type Cutoff,
  entryDoneAt,
  type EntryOutcome,
  entryOutcome,
  entryResult,
  stubId,
  tokensOf,
  userTextOf,
  wallTimeOf,
  WINDOW_MS,
} from "./stub_batch_entry.ts";
import {
  heldJsonLines,
  holdUntil,
  listLimit,
  listPage,
  serveStub,
  StubApiError,
  type StubHttpRequest,
  type StubResultsHold,
} from "./stub_batch_server.ts";
import { type ContentBlock, contentText } from "./stub_anthropic.ts";

/** The statuses of a batch, as the API documents them (the SDK's own type). */
export type BatchStatus = OpenAI.Batches.Batch["status"];

/** An input file's problem that fails a batch in `validating`: the Batch object's `errors.data[]`. */
export interface BatchError {
  code: string;
  line: number | null;
  message: string;
  param: string | null;
}

/** The Batch object, as the API reference and the guide's examples show it (unset times `null`). */
export interface Batch {
  id: string;
  object: "batch";
  endpoint: string;
  model: string | null;
  errors: { object: "list"; data: BatchError[] } | null;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  usage: BatchUsage | null;
  metadata: Record<string, string> | null;
}

/** A finished batch's token usage (the Batch object's `usage`). */
export interface BatchUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** The File object. */
export interface FileObject {
  id: string;
  object: "file";
  bytes: number;
  created_at: number;
  expires_at: number | null;
  filename: string;
  purpose: string;
  /** Deprecated by the API, still sent: the stub's files are always `processed`. */
  status: "processed";
}

/** One line of a batch's input file, as the guide documents it. */
export interface BatchInputLine {
  custom_id: string;
  method: "POST";
  url: string;
  body: ChatBody;
}

/** The parts of a Chat Completions request body the stub reads. */
export interface ChatBody {
  model?: string;
  messages?: { role: string; content: string | ContentBlock[] }[];
  response_format?: { type?: string };
  stream?: boolean;
  [key: string]: unknown;
}

/**
 * One line of a batch's output file (`response.status_code` 200) or error file (another status,
 * or `response: null` with an `error`, as for a request the window closed on).
 */
export interface BatchOutputLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: unknown } | null;
  error: { code: string; message: string } | null;
}

/** A batch as the stub holds it, for a test to inspect. */
export interface StubOpenAiBatchState {
  /** The batch as `GET /v1/batches/{id}` would report it now. */
  batch: Batch;
  /** The input file's requests (those that parsed). */
  requests: BatchInputLine[];
  /** Its output file's lines, once it has one; else `[]`. */
  output: BatchOutputLine[];
  /** Its error file's lines, once it has one; else `[]`. */
  errors: BatchOutputLine[];
}

/** Options of {@link startStubOpenAiBatch}. */
export interface StubOpenAiBatchOptions {
  /** How long a batch is `validating` (its input file checked) before it runs or fails. @default {0} */
  validatingMs?: number;
  /**
   * How long a batch is `in_progress`: its requests are done one after another over this time
   * (see {@link entryDoneAt}): a batch that takes hours, compressed.
   * @default {0}
   */
  processingMs?: number;
  /** How long a batch is `finalizing` (its files written) before it is `completed`. @default {0} */
  finalizingMs?: number;
  /** How long a canceled batch is `cancelling` before it is `cancelled`. @default {0} */
  cancellingMs?: number;
  /**
   * Every batch expires: none of its requests is run, and when its processing time is over it is
   * `expired` with every request in its error file as `batch_expired`.
   * @default {false}
   */
  expireBatches?: boolean;
  /** The clock batches progress by (a test's fake clock). @default {performance} */
  clock?: { now(): number };
  /** The most requests an input file may hold (the API's limit; a test may lower it). @default {50000} */
  maxRequests?: number;
  /** The largest batch input file in bytes (the API's 200 MB; a test may lower it). @default {209715200} */
  maxFileBytes?: number;
  /**
   * Holds the answer to each create that makes a batch (`POST /v1/batches`): the batch exists at
   * once (listed, retrievable, in {@link StubOpenAiBatch.batches}), but the response is sent only
   * when the promise this returns (called once the batch exists) settles, so that a test can kill
   * a submitter after the API accepted its batch but before it heard so. A refused create is
   * answered at once. Disposing the stub stops the waiting (and closes the connection
   * unanswered).
   */
  holdCreated?: () => Promise<void>;
  /**
   * Holds each download of a batch's output file (`GET /v1/files/{output_file_id}/content`; not
   * its error file, nor an uploaded file) part-way: its first `afterLines` lines are sent at once,
   * the rest and the body's end when `until()` settles (see {@link StubResultsHold}). Disposing
   * the stub breaks a held download off.
   */
  holdResults?: StubResultsHold;
}

/** The stub server. Dispose it (`await using`) to stop it. */
export interface StubOpenAiBatch extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`: the SDK's `baseURL` is this with `/v1`. */
  url: string;
  /** Every HTTP request received, in order of arrival. */
  requests: StubHttpRequest[];
  /** Every batch created, oldest first, as it stands now. */
  batches(): StubOpenAiBatchState[];
  /**
   * Makes a batch expire now, as one does whose 24-hour window closes: it is `expired`, the
   * requests done so far are in its output (or error) file, the others in its error file as
   * `batch_expired`. Throws once it has finished.
   */
  expire(batchId: string): void;
}

/** The Files API's purposes. */
const PURPOSES = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"];

/** The only endpoint whose requests the stub runs. */
const CHAT_COMPLETIONS = "/v1/chat/completions";

/** The guide's message for a request its batch's window closed on. */
const EXPIRED_MESSAGE = "This request could not be executed before the completion window expired.";

/** A batch as the stub keeps it; what it reports is derived from this and the clock. */
interface BatchRecord {
  id: string;
  createdMs: number;
  inputFileId: string;
  metadata: Record<string, string> | null;
  requests: BatchInputLine[];
  outcomes: EntryOutcome[];
  /** The input file's problems: the batch fails once validated when there are any. */
  problems: BatchError[];
  model: string | null;
  cutoff: Cutoff | undefined;
  cancellingAtMs: number | undefined;
  expiredAtMs: number | undefined;
  /** Its output and error files, written once it has finished. */
  files: { output: string | null; error: string | null; lines: BatchOutputLine[] } | undefined;
}

/** An error of the API: its status, its message, and the parameter at fault. */
const apiError = (
  status: number,
  message: string,
  param: string | null = null,
  type = "invalid_request_error",
) => new StubApiError(status, errorBody(message, type, param));

/** The API's error body. */
const errorBody = (message: string, type: string, param: string | null) => ({
  error: { message, type, param, code: null },
});

/** What the stub keeps of a file: the File object and its text. */
interface StoredFile {
  object: FileObject;
  text: string;
}

/** Why a request's body would be refused when it runs (a 400 in the error file), if it would. */
function bodyProblem(body: ChatBody): string | undefined {
  if (typeof body.model !== "string" || body.model === "") {
    return "you must provide a model parameter";
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return "'messages' is a required property";
  }
  if (body.stream === true) return "stream is not supported in a batch";
  return undefined;
}

/**
 * The requests of a batch input file, and its problems as a batch in `validating` finds them:
 * a line that is not JSON, without a `custom_id` or `body`, a `custom_id` used twice, a `method`
 * not `POST`, a `url` not the batch's endpoint, requests to more than one model, more requests
 * than the limit, or none. The `code`s are the stub's own (the API documents none).
 */
function parseInputFile(text: string, endpoint: string, maxRequests: number) {
  const requests: BatchInputLine[] = [];
  const problems: BatchError[] = [];
  const problem = (code: string, line: number | null, message: string, param: string | null) =>
    problems.push({ code, line, message, param });
  const seen = new Set<string>();
  const models = new Set<string>();
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(raw);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error();
    } catch {
      return problem("invalid_json_line", line, "This line is not a JSON object.", null);
    }
    const { custom_id, method, url, body } = parsed;
    if (typeof custom_id !== "string" || custom_id === "") {
      return problem("missing_required_parameter", line, "custom_id is required.", "custom_id");
    }
    if (seen.has(custom_id)) {
      return problem(
        "duplicate_custom_id",
        line,
        `The custom_id "${custom_id}" is used by another request: each must be unique.`,
        "custom_id",
      );
    }
    seen.add(custom_id);
    if (method !== "POST") {
      return problem("invalid_method", line, "The method must be POST.", "method");
    }
    if (url !== endpoint) {
      return problem(
        "invalid_url",
        line,
        `The url must be the batch's endpoint ${endpoint}.`,
        "url",
      );
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return problem("missing_required_parameter", line, "body is required.", "body");
    }
    const model = (body as ChatBody).model;
    if (typeof model === "string") models.add(model);
    requests.push(parsed as unknown as BatchInputLine);
  });
  if (models.size > 1) {
    problem(
      "mismatched_model",
      null,
      `A batch's requests must all use one model: this file names ${[...models].join(", ")}.`,
      "body.model",
    );
  }
  if (requests.length > maxRequests) {
    problem(
      "too_many_requests",
      null,
      `A batch holds at most ${maxRequests} requests: this file has ${requests.length}.`,
      null,
    );
  }
  if (requests.length === 0 && problems.length === 0) {
    problem("empty_file", null, "The input file has no requests.", null);
  }
  return { requests, problems, model: models.size === 1 ? [...models][0] : null };
}

/** A batch's `metadata`, checked against the API's limits: 16 keys of 64, values of 512 characters. */
function parseMetadata(metadata: unknown): Record<string, string> | null {
  if (metadata === undefined || metadata === null) return null;
  const entries = typeof metadata === "object" && !Array.isArray(metadata)
    ? Object.entries(metadata)
    : undefined;
  const fits = entries !== undefined && entries.length <= 16 &&
    entries.every(([key, value]) =>
      key.length <= 64 && typeof value === "string" && value.length <= 512
    );
  if (!fits) {
    throw apiError(
      400,
      "metadata: at most 16 pairs, keys of at most 64 characters, string values of at most 512.",
      "metadata",
    );
  }
  return metadata as Record<string, string>;
}

/**
 * Starts the stub on 127.0.0.1, on a free port. Point the SDK at `<url>/v1`.
 *
 * Files: `POST /v1/files` (multipart `file` and `purpose`; a `batch` file must be `.jsonl` of at
 * most 200 MB), `GET /v1/files/{id}`, `GET /v1/files/{id}/content`. Batches: `POST /v1/batches`
 * (`input_file_id` of a `batch` file, `endpoint: "/v1/chat/completions"`, `completion_window:
 * "24h"`, optional `metadata`), `GET /v1/batches/{id}`, `GET /v1/batches` (newest first, paged by
 * `after` and `limit`), `POST /v1/batches/{id}/cancel`. Errors have the API's body
 * (`{error: {message, type, param, code}}`).
 *
 * A batch whose input file has problems goes from `validating` to `failed` with them in `errors`
 * (`{code, line, message, param}`): a line that is not a JSON object, without a `custom_id` or
 * `body`, a `custom_id` used twice, a `method` not `POST`, a `url` not the batch's endpoint,
 * requests to more than one model, more than 50,000 requests, or none. Otherwise each request runs: one whose body lacks `model` or
 * `messages` (or streams) gets a 400 in the error file; markers in a request's user text choose
 * its end ({@link entryOutcome}: a 500 or 400 in the error file, or `batch_expired`); the others
 * get a `chat.completion` in the output file (`stub: <user text>`, or JSON text when
 * `response_format` asks for a `json_schema`: see {@link answerText}). A file that would be empty
 * is not written (its id stays `null`). A canceled batch's output holds the requests done before
 * the cancel; the others are in neither file.
 *
 * The response to a create shows the batch `validating` (with counts 0), to a cancel
 * `cancelling`, as the API's do; from then on what the stub reports follows the clock: see
 * {@link StubOpenAiBatchOptions}. A crash test can hold the response to a create, or an output
 * file's download part-way, until it lets them go: see
 * {@link StubOpenAiBatchOptions.holdCreated} and `holdResults`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import OpenAI from "openai";
 * import { startStubOpenAiBatch } from "./stub_openai_batch.ts";
 *
 * await using stub = startStubOpenAiBatch();
 * const openai = new OpenAI({ apiKey: "x", baseURL: stub.url + "/v1", maxRetries: 0 });
 * const line = {
 *   custom_id: "a",
 *   method: "POST",
 *   url: "/v1/chat/completions",
 *   body: { model: "gpt-stub", messages: [{ role: "user", content: "hi" }] },
 * };
 * const file = await openai.files.create({
 *   file: new File([JSON.stringify(line) + "\n"], "input.jsonl"),
 *   purpose: "batch",
 * });
 * const created = await openai.batches.create({
 *   input_file_id: file.id,
 *   endpoint: "/v1/chat/completions",
 *   completion_window: "24h",
 * });
 * const batch = await openai.batches.retrieve(created.id);
 * assert.equal(batch.status, "completed");
 * const output = await (await openai.files.content(batch.output_file_id!)).text();
 * assert.equal(JSON.parse(output).response.body.choices[0].message.content, "stub: hi");
 * ```
 */
export function startStubOpenAiBatch(options: StubOpenAiBatchOptions = {}): StubOpenAiBatch {
  const {
    validatingMs = 0,
    processingMs = 0,
    finalizingMs = 0,
    cancellingMs = 0,
    expireBatches = false,
    clock = performance,
    maxRequests = 50_000,
    maxFileBytes = 200 * 1024 * 1024,
    holdCreated,
    holdResults,
  } = options;
  const wallTime = wallTimeOf(clock);
  const unix = (clockMs: number) => Math.floor(wallTime(clockMs) / 1000);
  const records: BatchRecord[] = [];
  const files = new Map<string, StoredFile>();

  const storeFile = (text: string, filename: string, purpose: string, atMs: number) => {
    const createdAt = unix(atMs);
    const object: FileObject = {
      id: stubId("file-"),
      object: "file",
      bytes: new TextEncoder().encode(text).length,
      created_at: createdAt,
      // Batch input and output files are kept 30 days, as the API documents.
      expires_at: purpose.startsWith("batch") ? createdAt + 30 * 24 * 3600 : null,
      filename,
      purpose,
      status: "processed",
    };
    files.set(object.id, { object, text });
    return object;
  };

  const findFile = (id: string): StoredFile => {
    const file = files.get(id);
    if (!file) throw apiError(404, `No such File object: ${id}`, "id");
    return file;
  };

  const findRecord = (id: string): BatchRecord => {
    const record = records.find((candidate) => candidate.id === id);
    if (!record) throw apiError(404, `No batch found with id '${id}'.`, "batch_id");
    return record;
  };

  /** The times a batch's phases end, as they would without a cancel or an expiry. */
  const phases = (record: BatchRecord) => {
    const validated = record.createdMs + validatingMs;
    const processed = validated + processingMs;
    return { validated, processed, finalized: processed + finalizingMs };
  };

  const doneAt = (record: BatchRecord, index: number) =>
    entryDoneAt(phases(record).validated, processingMs, index, record.requests.length);

  const statusAt = (record: BatchRecord, atMs: number): BatchStatus => {
    const { validated, processed, finalized } = phases(record);
    if (record.expiredAtMs !== undefined && atMs >= record.expiredAtMs) return "expired";
    if (record.cancellingAtMs !== undefined) {
      return atMs >= record.cancellingAtMs + cancellingMs ? "cancelled" : "cancelling";
    }
    if (atMs < validated) return "validating";
    if (record.problems.length > 0) return "failed";
    if (atMs < processed) return "in_progress";
    return atMs < finalized ? "finalizing" : "completed";
  };

  /** When a finished batch finished: the time its files are written. */
  const finishedAt = (record: BatchRecord, status: BatchStatus): number =>
    status === "expired"
      ? record.expiredAtMs!
      : status === "cancelled"
      ? record.cancellingAtMs! + cancellingMs
      : phases(record).finalized;

  const chatCompletion = (record: BatchRecord, index: number) => {
    const body = record.requests[index].body;
    const text = answerText(userTextOf(body), body.response_format?.type === "json_schema");
    const prompt = tokensOf(
      body.messages!.map((message) => contentText(message.content)).join("\n"),
    );
    const completion = tokensOf(text);
    return {
      id: `chatcmpl-${record.id.slice("batch_".length)}${index}`,
      object: "chat.completion",
      created: unix(doneAt(record, index)),
      model: body.model,
      choices: [{
        index: 0,
        message: { role: "assistant", content: text, refusal: null },
        logprobs: null,
        finish_reason: "stop",
      }],
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: { cached_tokens: 0 },
      },
      system_fingerprint: "fp_stub",
    };
  };

  /** The output or error file line of request `index`, or undefined if it is in neither. */
  const outputLine = (record: BatchRecord, index: number): BatchOutputLine | undefined => {
    const result = entryResult(record.outcomes[index], doneAt(record, index), record.cutoff);
    const line = { id: stubId("batch_req_"), custom_id: record.requests[index].custom_id };
    const response = (status_code: number, body: unknown) => ({
      ...line,
      response: { status_code, request_id: stubId("req_"), body },
      error: null,
    });
    if (result.type === "canceled") return undefined;
    if (result.type === "expired") {
      return {
        ...line,
        response: null,
        error: { code: "batch_expired", message: EXPIRED_MESSAGE },
      };
    }
    if (result.type === "errored") {
      const type = result.status === 400 ? "invalid_request_error" : "server_error";
      return response(result.status, errorBody(result.message, type, null));
    }
    return response(200, chatCompletion(record, index));
  };

  /** A finished batch's files, written the first time it is seen finished. */
  const filesOf = (record: BatchRecord, status: BatchStatus) => {
    if (record.files) return record.files;
    const lines = record.requests.flatMap((_, index) => outputLine(record, index) ?? []);
    const write = (kept: BatchOutputLine[], kind: string) =>
      kept.length === 0 ? null : storeFile(
        kept.map((line) => JSON.stringify(line) + "\n").join(""),
        `${record.id}_${kind}.jsonl`,
        "batch_output",
        finishedAt(record, status),
      ).id;
    const isOutput = (line: BatchOutputLine) => line.response?.status_code === 200;
    record.files = {
      output: write(lines.filter(isOutput), "output"),
      error: write(lines.filter((line) => !isOutput(line)), "error"),
      lines,
    };
    return record.files;
  };

  /** Requests done by `atMs` (and before any cutoff), by how they went. */
  const countsAt = (record: BatchRecord, atMs: number) => {
    let completed = 0;
    let failed = 0;
    record.outcomes.forEach((outcome, index) => {
      const done = doneAt(record, index);
      if (done > atMs || (record.cutoff && done > record.cutoff.atMs)) return;
      if (outcome.type === "succeeded") completed++;
      else if (outcome.type === "errored") failed++;
    });
    return { total: record.requests.length, completed, failed };
  };

  const usageOf = (lines: BatchOutputLine[]): BatchUsage => {
    let input = 0;
    let output = 0;
    for (const line of lines) {
      const usage = (line.response?.body as { usage?: Record<string, number> } | undefined)?.usage;
      input += usage?.prompt_tokens ?? 0;
      output += usage?.completion_tokens ?? 0;
    }
    return {
      input_tokens: input,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: output,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: input + output,
    };
  };

  /**
   * The batch as the API reports it at `atMs`. `entered`: the response to the create or cancel
   * that just put it in its state, which no time has passed since.
   */
  const view = (record: BatchRecord, atMs: number, entered?: BatchStatus): Batch => {
    const status = entered ?? statusAt(record, atMs);
    const { validated, processed } = phases(record);
    const finished = status === "completed" || status === "expired" || status === "cancelled";
    const files = finished ? filesOf(record, status) : undefined;
    // A batch canceled or expired while it was validating never ran.
    const stoppedMs = Math.min(record.cancellingAtMs ?? Infinity, record.expiredAtMs ?? Infinity);
    const ran = status !== "validating" && status !== "failed" && stoppedMs >= validated;
    const counts = status === "validating" || status === "failed"
      ? { total: 0, completed: 0, failed: 0 }
      : files
      ? {
        total: record.requests.length,
        completed: files.lines.filter((line) => line.response?.status_code === 200).length,
        failed: files.lines.filter((line) => line.response?.status_code !== 200).length,
      }
      : countsAt(record, atMs);
    const at = (shown: boolean, clockMs: number | undefined) =>
      shown && clockMs !== undefined ? unix(clockMs) : null;
    return {
      id: record.id,
      object: "batch",
      endpoint: CHAT_COMPLETIONS,
      model: ran ? record.model : null,
      errors: status === "failed" ? { object: "list", data: record.problems } : null,
      input_file_id: record.inputFileId,
      completion_window: "24h",
      status,
      output_file_id: files?.output ?? null,
      error_file_id: files?.error ?? null,
      created_at: unix(record.createdMs),
      in_progress_at: at(ran, validated),
      expires_at: unix(record.createdMs + WINDOW_MS),
      finalizing_at: at(status === "finalizing" || status === "completed", processed),
      completed_at: at(status === "completed", phases(record).finalized),
      failed_at: at(status === "failed", validated),
      expired_at: at(status === "expired", record.expiredAtMs),
      cancelling_at: at(status === "cancelling" || status === "cancelled", record.cancellingAtMs),
      cancelled_at: at(status === "cancelled", record.cancellingAtMs! + cancellingMs),
      request_counts: counts,
      usage: files ? usageOf(files.lines) : null,
      metadata: record.metadata,
    };
  };

  const upload = async (form: FormData, entry: StubHttpRequest) => {
    const purpose = form.get("purpose");
    const file = form.get("file");
    entry.body = {
      purpose,
      file: file instanceof File ? { filename: file.name, bytes: file.size } : file,
    };
    if (!(file instanceof File)) throw apiError(400, "file is required.", "file");
    if (typeof purpose !== "string" || !PURPOSES.includes(purpose)) {
      throw apiError(
        400,
        `purpose must be one of ${PURPOSES.join(", ")}: current value is ${purpose}`,
        "purpose",
      );
    }
    if (purpose === "batch" && !file.name.endsWith(".jsonl")) {
      throw apiError(400, `A batch file must be .jsonl: this one is ${file.name}.`, "file");
    }
    if (purpose === "batch" && file.size > maxFileBytes) {
      throw apiError(
        400,
        `A batch file may be at most ${maxFileBytes} bytes: this one is ${file.size}.`,
        "file",
      );
    }
    return storeFile(await file.text(), file.name, purpose, clock.now());
  };

  const create = (body: Record<string, unknown> | undefined): Batch => {
    const { input_file_id, endpoint, completion_window, metadata } = body ?? {};
    if (typeof input_file_id !== "string") {
      throw apiError(400, "input_file_id is required.", "input_file_id");
    }
    if (endpoint !== CHAT_COMPLETIONS) {
      throw apiError(
        400,
        `The stub runs only ${CHAT_COMPLETIONS} batches: endpoint is ${endpoint}.`,
        "endpoint",
      );
    }
    if (completion_window !== "24h") {
      throw apiError(
        400,
        `completion_window must be 24h: current value is ${completion_window}`,
        "completion_window",
      );
    }
    const parsedMetadata = parseMetadata(metadata);
    const file = findFile(input_file_id);
    if (file.object.purpose !== "batch") {
      throw apiError(
        400,
        `File ${input_file_id} has purpose ${file.object.purpose}: a batch needs purpose batch.`,
        "input_file_id",
      );
    }
    const parsed = parseInputFile(file.text, endpoint, maxRequests);
    const createdMs = clock.now();
    const record: BatchRecord = {
      id: stubId("batch_"),
      createdMs,
      inputFileId: input_file_id,
      metadata: parsedMetadata,
      requests: parsed.requests,
      outcomes: parsed.requests.map((request) =>
        entryOutcome(userTextOf(request.body), bodyProblem(request.body))
      ),
      problems: parsed.problems,
      model: parsed.model,
      cutoff: expireBatches ? { atMs: -Infinity, as: "expired" } : undefined,
      cancellingAtMs: undefined,
      expiredAtMs: undefined,
      files: undefined,
    };
    if (expireBatches && record.problems.length === 0) {
      record.expiredAtMs = phases(record).processed;
    }
    records.push(record);
    return view(record, createdMs, "validating");
  };

  const cancel = (record: BatchRecord): Batch => {
    const now = clock.now();
    const status = statusAt(record, now);
    if (status === "cancelling") return view(record, now);
    if (status !== "validating" && status !== "in_progress" && status !== "finalizing") {
      throw apiError(400, `Cannot cancel a batch with status '${status}'.`, "batch_id");
    }
    record.cancellingAtMs = now;
    record.expiredAtMs = undefined;
    record.cutoff = cutAt(record.cutoff, now, "canceled");
    return view(record, now, "cancelling");
  };

  const list = (query: URLSearchParams) => {
    const limit = listLimit(query, 100);
    if (limit === undefined) {
      throw apiError(
        400,
        `limit must be an integer from 1 to 100: current value is ${query.get("limit")}`,
        "limit",
      );
    }
    const after = query.get("after");
    const found = listPage(records.toReversed(), { afterId: after }, limit);
    if (!found) throw apiError(400, `No batch ${after} to page from.`, "after");
    const now = clock.now();
    return {
      object: "list",
      data: found.page.map((record) => view(record, now)),
      first_id: found.page[0]?.id ?? null,
      last_id: found.page.at(-1)?.id ?? null,
      has_more: found.hasMore,
    };
  };

  const route = async (request: Request, entry: StubHttpRequest, disposing: AbortSignal) => {
    const { method } = request;
    const { pathname: path, searchParams: query } = new URL(request.url);
    if (method === "POST" && path === "/v1/files") {
      const form = await request.formData().catch(() => {
        throw apiError(400, "The request must be multipart/form-data.");
      });
      return Response.json(await upload(form, entry));
    }
    const fileRoute = /^\/v1\/files\/([^/]+)(\/content)?$/.exec(path);
    if (method === "GET" && fileRoute) {
      const file = findFile(fileRoute[1]);
      if (!fileRoute[2]) return Response.json(file.object);
      const isOutputFile = records.some((record) => record.files?.output === file.object.id);
      const body = holdResults && isOutputFile
        ? heldJsonLines(file.text.split("\n").filter((line) => line !== ""), holdResults, disposing)
        : file.text;
      return new Response(body, { headers: { "content-type": "application/octet-stream" } });
    }
    if (method === "POST") {
      const text = await request.text();
      if (text !== "") {
        try {
          entry.body = JSON.parse(text);
        } catch {
          throw apiError(400, "The request body is not valid JSON.");
        }
      }
    }
    const batchRoute = /^\/v1\/batches\/([^/]+)(\/cancel)?$/.exec(path);
    if (method === "POST" && path === "/v1/batches") {
      const created = create(entry.body as Record<string, unknown> | undefined);
      if (holdCreated) await holdUntil(holdCreated, disposing);
      return Response.json(created);
    }
    if (method === "GET" && path === "/v1/batches") return Response.json(list(query));
    if (method === "GET" && batchRoute && !batchRoute[2]) {
      return Response.json(view(findRecord(batchRoute[1]), clock.now()));
    }
    if (method === "POST" && batchRoute?.[2]) {
      return Response.json(cancel(findRecord(batchRoute[1])));
    }
    throw apiError(404, `Invalid URL (${method} ${path})`);
  };

  const server = serveStub(route, "x-request-id");

  return {
    url: server.url,
    requests: server.requests,
    batches: () => {
      const now = clock.now();
      return records.map((record) => {
        const batch = view(record, now);
        const lines = record.files?.lines ?? [];
        return {
          batch,
          requests: record.requests,
          output: lines.filter((line) => line.response?.status_code === 200),
          errors: lines.filter((line) => line.response?.status_code !== 200),
        };
      });
    },
    expire(batchId) {
      const record = records.find((candidate) => candidate.id === batchId);
      if (!record) throw new Error(`stub: no batch ${batchId} to expire`);
      const now = clock.now();
      const status = statusAt(record, now);
      if (status !== "validating" && status !== "in_progress" && status !== "finalizing") {
        throw new Error(`stub: batch ${batchId} is ${status}: it can no longer expire`);
      }
      record.expiredAtMs = now;
      record.cutoff = cutAt(record.cutoff, now, "expired");
    },
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}
