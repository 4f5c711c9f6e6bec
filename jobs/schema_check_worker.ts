/** The Web Worker of `jobs/schema_check.ts`: checks one value against one schema per message. */

import { compileSchema } from "./schema.ts";

/** What the checker sends: the schema as JSON text (its cache key here), and the value. */
export interface CheckRequest {
  schemaText: string;
  value: unknown;
}

/**
 * What comes back: `started` as soon as a request arrives (the checker's deadline runs from
 * then, not from the Web Worker's start-up), then the problems (none: valid), or why the schema
 * could not be compiled.
 */
export type CheckReply = { started: true } | { problems: string[] } | { error: string };

/** Compiled validators by schema text, the 100 most recently used. */
const validators = new Map<string, (value: unknown) => string[]>();

function validatorFor(schemaText: string): (value: unknown) => string[] {
  let validate = validators.get(schemaText);
  if (validate) {
    validators.delete(schemaText);
  } else {
    validate = compileSchema(JSON.parse(schemaText));
    if (validators.size >= 100) validators.delete(validators.keys().next().value!);
  }
  validators.set(schemaText, validate);
  return validate;
}

// A Web Worker's global scope; typed loosely so this file checks with the program's own libs.
const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent<CheckRequest>) => void) | null;
  postMessage(reply: CheckReply): void;
};

scope.onmessage = ({ data }) => {
  scope.postMessage({ started: true });
  let reply: CheckReply;
  try {
    reply = { problems: validatorFor(data.schemaText)(data.value) };
  } catch (error) {
    reply = { error: error instanceof Error ? error.message : String(error) };
  }
  scope.postMessage(reply);
};
