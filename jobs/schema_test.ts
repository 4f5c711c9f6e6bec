import { strict as assert } from "node:assert";
import { compileSchema, schemaLint } from "./schema.ts";

Deno.test("valid values have no problems", () => {
  const check = compileSchema({
    type: "object",
    required: ["name"],
    properties: { name: { type: "string" } },
  });
  assert.deepEqual(check({ name: "x" }), []);
});

Deno.test("each problem names its field and the rule", () => {
  const check = compileSchema({
    type: "object",
    required: ["name", "age"],
    properties: {
      name: { type: "string" },
      age: { type: "integer", minimum: 0 },
      tags: { type: "array", items: { enum: ["a", "b"] } },
      address: {
        type: "object",
        properties: { zip: { type: "string" } },
        additionalProperties: false,
      },
    },
  });
  assert.deepEqual(check({ name: 5, age: -1, tags: ["c"], address: { zip: 1, street: "x" } }), [
    "name: must be a string",
    "age: must be >= 0",
    "tags.0: must be one of a, b",
    "address.zip: must be a string",
    'address: has no property "street"',
  ]);
  assert.deepEqual(check({}), ["name: is required", "age: is required"]);
  assert.deepEqual(check([]), ["data: must be an object"]);
});

Deno.test("anyOf: the branch whose type fits reports its own problems", () => {
  const check = compileSchema({
    anyOf: [{ type: "string" }, { type: "array", items: { type: "number" } }],
  });
  assert.deepEqual(check(["x"]), ["0: must be a number"]);
  assert.deepEqual(check(5), ["data: does not match any of the allowed forms"]);
});

Deno.test("older drafts are honoured when the schema names one", () => {
  const check = compileSchema({
    $schema: "http://json-schema.org/draft-07/schema#",
    type: "number",
  });
  assert.deepEqual(check("x"), ["data: must be a number"]);
});

Deno.test("schemaLint names an unknown type, a bad pattern and a $ref that does not resolve; a good schema passes", () => {
  assert.equal(
    schemaLint({ properties: { a: { type: "strng" } } }),
    "/properties/a: type strng is not a JSON Schema type",
  );
  assert.match(
    schemaLint({ properties: { a: { type: "string", pattern: "([" } } })!,
    /^\/properties\/a: pattern "\(\[" is not a regular expression/,
  );
  assert.match(schemaLint({ patternProperties: { "[": {} } })!, /is not a regular expression/);
  assert.equal(
    schemaLint({ properties: { a: { $ref: "#/$defs/missing" } } }),
    "/properties/a: $ref #/$defs/missing does not resolve inside the schema",
  );
  assert.match(schemaLint({ $ref: "https://example.com/s.json" })!, /does not resolve/);
  assert.equal(
    schemaLint({
      type: ["object", "null"],
      $defs: { name: { $anchor: "nm", type: "string", pattern: "^[A-Z]" } },
      properties: { a: { $ref: "#/$defs/name" }, b: { $ref: "#nm" }, c: { enum: [{ type: 1 }] } },
    }),
    undefined,
  );
});
