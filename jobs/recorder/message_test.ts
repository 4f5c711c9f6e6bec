import { strict as assert } from "node:assert";
import { parseResultMessage } from "./message.ts";

const RESULT = { text: "{}", model: "m", provider: "echo", usage: {} };

function errorOf(data: unknown): string {
  const parsed = parseResultMessage(data);
  assert.equal(parsed.ok, false);
  return parsed.ok ? "" : parsed.error;
}

Deno.test("a result message gives its job id and the job's metadata.scraper_id", () => {
  const data = {
    job_id: "42",
    job: { prompt: "p", metadata: { scraper_id: "food_bank_x" } },
    result: RESULT,
  };
  assert.deepEqual(parseResultMessage(data), {
    ok: true,
    result: { message: data, jobId: "42", scraperId: "food_bank_x" },
  });
});

Deno.test("a result without metadata.scraper_id is the unknown scraper's; numbers are taken as text", () => {
  for (
    const job of [{}, { metadata: {} }, { metadata: { scraper_id: null } }, {
      metadata: { scraper_id: "" },
    }]
  ) {
    const parsed = parseResultMessage({ job_id: "1", job, result: RESULT });
    assert.ok(parsed.ok);
    assert.equal(parsed.result.scraperId, "unknown");
  }
  const parsed = parseResultMessage({
    job_id: 7,
    job: { metadata: { scraper_id: 12 } },
    result: RESULT,
  });
  assert.ok(parsed.ok);
  assert.equal(parsed.result.jobId, "7");
  assert.equal(parsed.result.scraperId, "12");
});

Deno.test("a message that is not {job_id, job, result} is refused, naming the field", () => {
  assert.match(errorOf("text"), /^invalid result message: data: must be an object$/);
  assert.match(errorOf({ job: {}, result: RESULT }), /job_id: is required/);
  assert.match(errorOf({ job_id: "", job: {}, result: RESULT }), /job_id: must not be shorter/);
  assert.match(errorOf({ job_id: "1", result: RESULT }), /job: is required/);
  assert.match(errorOf({ job_id: "1", job: {} }), /result: is required/);
  assert.match(errorOf({ job_id: "1", job: "x", result: RESULT }), /job: must be an object/);
  assert.match(errorOf({ job_id: "1", job: {}, result: "x" }), /result: must be an object/);
  assert.match(
    errorOf({ job_id: "1", job: { metadata: { scraper_id: ["a"] } }, result: RESULT }),
    /job\.metadata\.scraper_id: must be a string or integer or null/,
  );
});
