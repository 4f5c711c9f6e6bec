import { strict as assert } from "node:assert";
import { createSchemaChecker, SchemaCheckTimeout } from "./schema_check.ts";
import { patternsOf } from "./schema.ts";

const POISON = { type: "object", properties: { code: { type: "string", pattern: "^(a+)+$" } } };
const POISON_TEXT = JSON.stringify(POISON);
const RUNAWAY_VALUE = { code: "a".repeat(44) + "b" };

Deno.test("patternsOf lists pattern values and patternProperties keys with where they are, not enum data", () => {
  assert.deepEqual(
    patternsOf({
      properties: { id: { pattern: "^[0-9]+$" }, tag: { enum: [{ pattern: "not a schema" }] } },
      patternProperties: { "^x-": {} },
    }),
    [{ at: "/patternProperties", pattern: "^x-" }, { at: "/properties/id", pattern: "^[0-9]+$" }],
  );
  assert.deepEqual(patternsOf({ type: "string" }), []);
});

Deno.test("a check that overruns the deadline rejects with SchemaCheckTimeout naming each pattern and where it is", async () => {
  const checker = createSchemaChecker({ deadlineMs: 300 });
  try {
    const error = await checker.check(POISON_TEXT, patternsOf(POISON), RUNAWAY_VALUE).then(
      () => undefined,
      (error) => error,
    );
    assert.ok(error instanceof SchemaCheckTimeout, `got ${error}`);
    assert.match(
      error.message,
      /pattern "\^\(a\+\)\+\$" at \/properties\/code did not end within 0.3 s/,
    );
  } finally {
    checker.close();
  }
});

Deno.test("a runaway check stops no other: a check started beside it answers, and the checker works after", async () => {
  const checker = createSchemaChecker({ deadlineMs: 1000 });
  try {
    const runaway = checker.check(POISON_TEXT, patternsOf(POISON), RUNAWAY_VALUE).catch((e) => e);
    assert.deepEqual(await checker.check(POISON_TEXT, patternsOf(POISON), { code: "aaa" }), []);
    assert.ok(await runaway instanceof SchemaCheckTimeout);
    assert.deepEqual(await checker.check(POISON_TEXT, patternsOf(POISON), { code: 7 }), [
      "code: must be a string",
    ]);
  } finally {
    checker.close();
  }
});
