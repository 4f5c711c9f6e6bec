import { strict as assert } from "node:assert";
import { inputSource, jobData, parseMetadata } from "./enqueue.ts";

Deno.test("jobData: --data wins over --prompt; --format becomes format; --metadata merges over the data's own", () => {
  const built = jobData({
    dataText: '{"prompt":"page","metadata":{"a":"1","b":"2"}}',
    formatText: '{"type":"object","properties":{"name":{"type":"string"}}}',
    metadata: ["b=3", "c=x=y"],
    prompt: "ignored",
  });
  assert.deepEqual(built, {
    ok: true,
    data: {
      prompt: "page",
      metadata: { a: "1", b: "3", c: "x=y" },
      format: { type: "object", properties: { name: { type: "string" } } },
    },
  });
});

Deno.test("jobData: --prompt with --provider and --latency-ms builds the provider block", () => {
  assert.deepEqual(jobData({ prompt: "hi", provider: "echo", latencyMs: 5 }), {
    ok: true,
    data: { prompt: "hi", provider: { name: "echo", latency_ms: 5 } },
  });
});

Deno.test("jobData: errors name the flag or the field: not JSON, not an object, bad metadata, invalid payload, unusable schema", () => {
  const error = (input: Parameters<typeof jobData>[0]) =>
    (jobData(input) as { error: string }).error;
  assert.equal(error({}), "give --prompt or --data");
  assert.match(error({ dataText: "{" }), /^--data is not JSON/);
  assert.equal(error({ dataText: "[1]" }), "--data must be a JSON object");
  assert.match(error({ prompt: "x", formatText: "nope" }), /^--format is not JSON/);
  assert.equal(
    error({ prompt: "x", metadata: ["novalue"] }),
    '--metadata "novalue": must be key=value',
  );
  assert.match(error({ dataText: '{"prompt":5}' }), /prompt: must be a string or a list/);
  assert.match(
    error({ prompt: "x", formatText: '{"type":"nonsense"}' }),
    /format: the schema cannot be used/,
  );
});

Deno.test("parseMetadata: the first = splits; an empty key is refused", () => {
  assert.deepEqual(parseMetadata(["k=v=w"]), { ok: true, metadata: { k: "v=w" } });
  assert.equal(parseMetadata(["=v"]).ok, false);
});

Deno.test("inputSource: - is stdin, @path a file; --format takes a bare path or inline JSON, --data inline JSON", () => {
  assert.deepEqual(inputSource("-", "--data"), { from: "stdin" });
  assert.deepEqual(inputSource("@job.json", "--data"), { from: "file", path: "job.json" });
  assert.deepEqual(inputSource('{"prompt":"x"}', "--data"), {
    from: "inline",
    text: '{"prompt":"x"}',
  });
  assert.deepEqual(inputSource("schema.json", "--format"), { from: "file", path: "schema.json" });
  assert.deepEqual(inputSource(' {"type":"object"}', "--format"), {
    from: "inline",
    text: ' {"type":"object"}',
  });
});
