/** Structured output: find the JSON in a model's answer and check it against the job's schema. */

import { LlmError } from "../../providers/errors.ts";
import type { OutputFormat } from "../../providers/provider.ts";
import { compileSchema, patternsOf, schemaLint, type SchemaPattern } from "../schema.ts";
import { createSchemaChecker, type SchemaChecker, SchemaCheckTimeout } from "../schema_check.ts";

/**
 * The job's `format` as an `OutputFormat`: the `{type: "json_schema", json_schema: {...}}`
 * wrapper or a bare JSON Schema. `undefined` when the job has none.
 */
export function outputFormatOf(
  format: Record<string, unknown> | undefined,
): OutputFormat | undefined {
  if (!format) return undefined;
  if (
    format.type === "json_schema" && typeof format.json_schema === "object" && format.json_schema
  ) {
    const wrapper = format.json_schema as Record<string, unknown>;
    return {
      name: typeof wrapper.name === "string" ? wrapper.name : undefined,
      schema: (wrapper.schema ?? {}) as Record<string, unknown>,
      strict: wrapper.strict === true,
    };
  }
  return { schema: format };
}

/**
 * The JSON value in `text`: the whole text, or the content of a fenced code
 * block (```json ... ```), or the outermost {...} / [...] span.
 */
export function extractJson(text: string): unknown {
  const candidates = [text.trim()];
  const fenced = /```(?:json)?\s*\n?([\s\S]*?)```/i.exec(text);
  if (fenced) candidates.push(fenced[1].trim());
  const start = text.search(/[[{]/);
  const end = Math.max(text.lastIndexOf("}"), text.lastIndexOf("]"));
  if (start >= 0 && end > start) candidates.push(text.slice(start, end + 1));
  for (const candidate of candidates) {
    try {
      return JSON.parse(candidate);
    } catch {
      // next candidate
    }
  }
  // Not a word of the answer: it is the user's data, and this message becomes the job's failure
  // reason, its log line and, with tracing on, span events (docs/tracing.md).
  throw new LlmError(
    "transient",
    `the output is not valid JSON (${text.length} characters, none of them quoted here)`,
  );
}

/**
 * What a schema turned out to be: why it cannot be used, or a compiled validator and its regular
 * expressions (`patterns`: checked off the event loop, see `jobs/schema_check.ts`).
 */
type CheckedSchema =
  | { validate: (value: unknown) => string[]; text: string; patterns: SchemaPattern[] }
  | { problem: string };

const checkedSchemas = new Map<string, CheckedSchema>();
/** By the schema object itself: the job's check and its answer's check share one `JSON.stringify`. */
const checkedByObject = new WeakMap<object, CheckedSchema>();

/**
 * Lints and compiles a schema once per distinct schema (the 100 most recently used are kept):
 * the jobs that reuse it, and the check of each answer, only look it up.
 */
function checked(schema: Record<string, unknown>): CheckedSchema {
  let entry = checkedByObject.get(schema);
  if (!entry) {
    entry = checkedByText(schema);
    checkedByObject.set(schema, entry);
  }
  return entry;
}

function checkedByText(schema: Record<string, unknown>): CheckedSchema {
  const key = JSON.stringify(schema);
  let entry = checkedSchemas.get(key);
  if (entry) {
    checkedSchemas.delete(key);
  } else {
    const lint = schemaLint(schema);
    try {
      entry = lint
        ? { problem: lint }
        : { validate: compileSchema(schema), text: key, patterns: patternsOf(schema) };
    } catch (error) {
      entry = { problem: error instanceof Error ? error.message : String(error) };
    }
    if (checkedSchemas.size >= 100) checkedSchemas.delete(checkedSchemas.keys().next().value!);
  }
  checkedSchemas.set(key, entry);
  return entry;
}

/** Checks that a job's schema is itself usable; the message names what is wrong. */
export function schemaProblem(format: OutputFormat): string | undefined {
  if (typeof format.schema !== "object" || format.schema === null || Array.isArray(format.schema)) {
    return "format: the schema must be a JSON object";
  }
  const entry = checked(format.schema);
  return "problem" in entry ? `format: the schema cannot be used: ${entry.problem}` : undefined;
}

/** Made on the first check of a schema with patterns: most jobs never need it. */
let patternChecker: SchemaChecker | undefined;

/**
 * Parses (unless the provider already did) and validates structured output.
 * Output that is not JSON or breaks the schema is a transient failure: the
 * next try may well fit. A schema with patterns is checked off the event loop; one whose check
 * overruns `SCHEMA_CHECK_DEADLINE_MS` fails the job (`invalid`), naming its patterns.
 */
export async function parseStructured(
  text: string,
  parsed: unknown,
  format: OutputFormat,
): Promise<unknown> {
  const value = parsed !== undefined ? parsed : extractJson(text);
  const entry = checked(format.schema);
  if ("problem" in entry) {
    throw new LlmError("invalid", `the schema cannot be used: ${entry.problem}`);
  }
  let problems: string[];
  if (entry.patterns.length === 0) {
    problems = entry.validate(value);
  } else {
    patternChecker ??= createSchemaChecker();
    try {
      problems = await patternChecker.check(entry.text, entry.patterns, value);
    } catch (error) {
      if (error instanceof SchemaCheckTimeout) throw new LlmError("invalid", error.message);
      throw error;
    }
  }
  if (problems.length > 0) {
    throw new LlmError("transient", `the output does not fit the schema: ${problems.join("; ")}`);
  }
  return value;
}

/** Terminates the Web Workers of pattern checks, if any were made. */
export function closeSchemaChecks(): void {
  patternChecker?.close();
  patternChecker = undefined;
}
