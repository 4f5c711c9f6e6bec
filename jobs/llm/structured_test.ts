import { strict as assert } from "node:assert";
import {
  closeSchemaChecks,
  extractJson,
  outputFormatOf,
  parseStructured,
  schemaProblem,
} from "./structured.ts";
import { LlmError } from "../../providers/errors.ts";

Deno.test("format: the json_schema wrapper and a bare schema", () => {
  assert.deepEqual(
    outputFormatOf({
      type: "json_schema",
      json_schema: { name: "page", schema: { type: "object" }, strict: true },
    }),
    { name: "page", schema: { type: "object" }, strict: true },
  );
  assert.deepEqual(outputFormatOf({ type: "object", required: ["a"] }), {
    schema: { type: "object", required: ["a"] },
  });
  assert.equal(outputFormatOf(undefined), undefined);
});

Deno.test("JSON is found bare, in a fenced block, or inside prose; an answer without any fails without quoting it", () => {
  assert.deepEqual(extractJson('{"a":1}'), { a: 1 });
  assert.deepEqual(extractJson('Here you go:\n```json\n{"a": [1, 2]}\n```\nDone.'), { a: [1, 2] });
  assert.deepEqual(extractJson('The answer is {"a": true}.'), { a: true });
  assert.throws(
    () => extractJson("no json here"),
    (error: LlmError) =>
      error.kind === "transient" &&
      error.message === "the output is not valid JSON (12 characters, none of them quoted here)",
  );
});

Deno.test("output that breaks the schema is transient and names the violations", async () => {
  const format = {
    schema: { type: "object", required: ["name"], properties: { name: { type: "string" } } },
  };
  assert.deepEqual(await parseStructured('{"name":"x"}', undefined, format), { name: "x" });
  await assert.rejects(
    () => parseStructured('{"name": 42}', undefined, format),
    (error: LlmError) => error.kind === "transient" && /name: must be a string/.test(error.message),
  );
});

Deno.test("a schema that cannot be used is reported", () => {
  assert.equal(schemaProblem({ schema: { type: "object" } }), undefined);
  assert.match(schemaProblem({ schema: [] as unknown as Record<string, unknown> }) ?? "", /format/);
});

Deno.test("a schema with patterns is checked (off the event loop) as strictly as one without", async () => {
  const format = {
    schema: { type: "object", properties: { id: { type: "string", pattern: "^[0-9]+$" } } },
  };
  try {
    assert.deepEqual(await parseStructured('{"id":"42"}', undefined, format), { id: "42" });
    await assert.rejects(
      () => parseStructured('{"id": "4x"}', undefined, format),
      (error: LlmError) => error.kind === "transient" && /id: /.test(error.message),
    );
  } finally {
    closeSchemaChecks();
  }
});

Deno.test("an answer whose pattern check overruns the deadline is invalid (no retry), naming the pattern", async () => {
  const format = {
    schema: { type: "object", properties: { code: { type: "string", pattern: "^(a+)+$" } } },
  };
  try {
    await assert.rejects(
      () => parseStructured(JSON.stringify({ code: "a".repeat(44) + "b" }), undefined, format),
      (error: LlmError) =>
        error.kind === "invalid" && error.message.includes('"^(a+)+$" at /properties/code'),
    );
  } finally {
    closeSchemaChecks();
  }
});
