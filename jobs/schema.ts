/** JSON Schema validation with messages that name the field: for job payloads and structured LLM output. */

import { type OutputUnit, type Schema, Validator } from "@cfworker/json-schema";

/** Keywords that only say "something below failed"; the leaf errors say what. */
const CONTAINERS = new Set([
  "properties",
  "items",
  "prefixItems",
  "allOf",
  "$ref",
  "additionalItems",
  "unevaluatedProperties",
  "dependentSchemas",
  "if",
  "then",
  "else",
]);

/** `#/provider/name` → `provider.name`; the root is `data`. */
function fieldOf(instanceLocation: string): string {
  const path = instanceLocation.replace(/^#\/?/, "").split("/").filter((part) => part !== "")
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"));
  return path.length > 0 ? path.join(".") : "data";
}

function schemaAt(schema: unknown, pointer: string): Record<string, unknown> | undefined {
  let node: unknown = schema;
  for (const part of pointer.replace(/^#\/?/, "").split("/").filter((each) => each !== "")) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[part.replaceAll("~1", "/").replaceAll("~0", "~")];
  }
  return typeof node === "object" && node !== null ? node as Record<string, unknown> : undefined;
}

function describe(schema: unknown, error: OutputUnit): string | undefined {
  const field = fieldOf(error.instanceLocation);
  const rule = schemaAt(schema, error.keywordLocation.replace(/\/[^/]*$/, "")) ?? {};
  switch (error.keyword) {
    case "required": {
      const property = /property "([^"]+)"/.exec(error.error)?.[1] ?? "?";
      return `${field === "data" ? "" : `${field}.`}${property}: is required`;
    }
    case "type": {
      const expected = [rule.type].flat().join(" or ");
      return `${field}: must be ${/^[aeiou]/.test(expected) ? "an" : "a"} ${expected}`;
    }
    case "enum":
      return `${field}: must be one of ${(rule.enum as unknown[]).map(String).join(", ")}`;
    case "const":
      return `${field}: must be ${JSON.stringify(rule.const)}`;
    case "minimum":
      return `${field}: must be >= ${rule.minimum}`;
    case "maximum":
      return `${field}: must be <= ${rule.maximum}`;
    case "minLength":
      return `${field}: must not be shorter than ${rule.minLength} character(s)`;
    case "minItems":
      return `${field}: must have at least ${rule.minItems} item(s)`;
    case "additionalProperties": {
      const property = /Property "([^"]+)"/.exec(error.error)?.[1] ?? "?";
      const declared = (rule.properties ?? {}) as Record<string, unknown>;
      // The validator also names declared properties that failed their own schema; those are reported there.
      return property in declared ? undefined : `${field}: has no property "${property}"`;
    }
    case "false":
      return undefined;
    default:
      return `${field}: ${error.error} (${error.keyword})`;
  }
}

/**
 * Turns the validator's output into one message per problem. An `anyOf`
 * whose instance matched one branch's type reports that branch's problems;
 * otherwise its `errorMessage` (an annotation of ours) or a generic message.
 */
function problemsOf(schema: unknown, errors: OutputUnit[]): string[] {
  const problems: string[] = [];
  const skipped: string[] = [];
  for (const error of errors) {
    if (skipped.some((prefix) => error.keywordLocation.startsWith(prefix))) continue;
    if (CONTAINERS.has(error.keyword)) continue;
    if (error.keyword === "anyOf" || error.keyword === "oneOf") {
      const prefix = `${error.keywordLocation}/`;
      const branches = new Map<string, OutputUnit[]>();
      for (const each of errors) {
        if (!each.keywordLocation.startsWith(prefix)) continue;
        const branch = each.keywordLocation.slice(prefix.length).split("/")[0];
        branches.set(branch, [...(branches.get(branch) ?? []), each]);
      }
      const typeMatched = [...branches.values()].filter((branchErrors) =>
        !branchErrors.some((each) =>
          each.keyword === "type" && each.instanceLocation === error.instanceLocation
        )
      );
      skipped.push(prefix);
      if (typeMatched.length === 1) {
        problems.push(...problemsOf(schema, typeMatched[0]));
      } else {
        const owner = schemaAt(schema, error.keywordLocation.replace(/\/[^/]*$/, ""));
        const message = typeof owner?.errorMessage === "string"
          ? owner.errorMessage
          : "does not match any of the allowed forms";
        problems.push(`${fieldOf(error.instanceLocation)}: ${message}`);
      }
      continue;
    }
    const problem = describe(schema, error);
    if (problem !== undefined) problems.push(problem);
  }
  return [...new Set(problems)];
}

/**
 * A validator for `schema` (draft 2020-12 unless the schema says otherwise).
 * Returns the problems with a value, each naming the field; none means valid.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { compileSchema } from "./schema.ts";
 *
 * const check = compileSchema({ type: "object", required: ["name"] });
 * assert.deepEqual(check({}), ["name: is required"]);
 * assert.deepEqual(check({ name: "Food Bank X" }), []);
 * ```
 */
export function compileSchema(schema: object): (value: unknown) => string[] {
  const draft = String((schema as Record<string, unknown>).$schema ?? "");
  const validator = new Validator(
    schema as Schema,
    draft.includes("draft-04")
      ? "4"
      : draft.includes("draft-07")
      ? "7"
      : draft.includes("2019-09")
      ? "2019-09"
      : "2020-12",
    false,
  );
  return (value) => {
    const result = validator.validate(value);
    return result.valid ? [] : problemsOf(schema, result.errors);
  };
}

/** A regular expression in a schema, and where it is (a JSON pointer into the schema). */
export interface SchemaPattern {
  at: string;
  pattern: string;
}

/**
 * Every regular expression of `schema`: `pattern` values and `patternProperties` keys. Checking a
 * value against these may backtrack without bound (see `jobs/schema_check.ts`); a schema without
 * any cannot.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { patternsOf } from "./schema.ts";
 *
 * assert.deepEqual(patternsOf({ properties: { id: { type: "string", pattern: "^[0-9]+$" } } }), [
 *   { at: "/properties/id", pattern: "^[0-9]+$" },
 * ]);
 * ```
 */
export function patternsOf(schema: unknown): SchemaPattern[] {
  const found: SchemaPattern[] = [];
  const walk = (node: unknown, at: string): void => {
    if (Array.isArray(node)) {
      node.forEach((each, index) => walk(each, `${at}/${index}`));
      return;
    }
    if (typeof node !== "object" || node === null) return;
    const object = node as Record<string, unknown>;
    if (typeof object.pattern === "string") found.push({ at: at || "/", pattern: object.pattern });
    if (typeof object.patternProperties === "object" && object.patternProperties !== null) {
      for (const pattern of Object.keys(object.patternProperties)) {
        found.push({ at: `${at}/patternProperties`, pattern });
      }
    }
    for (const [key, value] of Object.entries(object)) {
      if (!DATA_KEYWORDS.has(key)) walk(value, `${at}/${key}`);
    }
  };
  walk(schema, "");
  return found;
}

const JSON_TYPES = new Set(["null", "boolean", "object", "array", "number", "integer", "string"]);
/** Keywords whose values are data, not schemas: never walked. */
const DATA_KEYWORDS = new Set(["enum", "const", "default", "examples", "errorMessage"]);

/**
 * What makes a schema unusable, found before any value is checked: an unknown `type`, a
 * `pattern` (or `patternProperties` key) that is no regular expression, a `$ref` that does not
 * resolve inside the schema. The validator would only fail on these while checking a value.
 * Returns the first problem, naming where it is, or `undefined`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { schemaLint } from "./schema.ts";
 *
 * assert.equal(
 *   schemaLint({ properties: { a: { type: "strng" } } }),
 *   "/properties/a: type strng is not a JSON Schema type",
 * );
 * ```
 */
export function schemaLint(schema: unknown): string | undefined {
  const anchors = new Set<string>();
  const refs: { at: string; ref: string }[] = [];
  const walk = (node: unknown, at: string): string | undefined => {
    if (Array.isArray(node)) {
      for (const [index, each] of node.entries()) {
        const problem = walk(each, `${at}/${index}`);
        if (problem) return problem;
      }
      return undefined;
    }
    if (typeof node !== "object" || node === null) return undefined;
    const object = node as Record<string, unknown>;
    if ("type" in object) {
      const types = [object.type].flat();
      const unknown = types.find((type) => typeof type !== "string" || !JSON_TYPES.has(type));
      if (unknown !== undefined) return `${at || "/"}: type ${unknown} is not a JSON Schema type`;
    }
    const patterns = [
      ...(typeof object.pattern === "string" ? [object.pattern] : []),
      ...(typeof object.patternProperties === "object" && object.patternProperties !== null
        ? Object.keys(object.patternProperties)
        : []),
    ];
    for (const pattern of patterns) {
      try {
        new RegExp(pattern, "u");
      } catch (error) {
        return `${at || "/"}: pattern ${JSON.stringify(pattern)} is not a regular expression (${
          (error as Error).message
        })`;
      }
    }
    if (typeof object.$anchor === "string") anchors.add(object.$anchor);
    if (typeof object.$ref === "string") refs.push({ at: at || "/", ref: object.$ref });
    for (const [key, value] of Object.entries(object)) {
      if (DATA_KEYWORDS.has(key)) continue;
      const problem = walk(value, `${at}/${key}`);
      if (problem) return problem;
    }
    return undefined;
  };
  const problem = walk(schema, "");
  if (problem) return problem;
  for (const { at, ref } of refs) {
    const resolves = ref === "#" ||
      (ref.startsWith("#/") && schemaAt(schema, ref) !== undefined) ||
      (ref.startsWith("#") && anchors.has(ref.slice(1)));
    if (!resolves) return `${at}: $ref ${ref} does not resolve inside the schema`;
  }
  return undefined;
}
