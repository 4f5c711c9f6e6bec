/** What a command prints on the console passes the same redaction as the logs. */

import { format } from "node:util";
import { redact } from "./redact.ts";

const METHODS = ["log", "info", "warn", "error", "debug"] as const;
/** Marks a console already redacted: a second call changes nothing. */
const REDACTED = Symbol("redacted console");

/**
 * Makes every `console` line of this process pass `redact`: a command's output (a provider's
 * error text in `auth status`, a job's failed reason in `jobs show`, a value in `config`) can
 * carry a key the provider repeated, and no output path may print one. Arguments are formatted
 * as `console` formats them (`%s`, objects), then redacted. A second call changes nothing;
 * secrets registered later are hidden too.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { redactConsole } from "./console.ts";
 * import { addSecrets } from "./redact.ts";
 *
 * const printed: string[] = [];
 * const sink = { log: (line: string) => void printed.push(line) } as unknown as Console;
 * redactConsole(sink);
 * addSecrets(["sk-console-secret-0123456789"]);
 * sink.log("key %s refused", "sk-console-secret-0123456789");
 * assert.deepEqual(printed, ["key *** refused"]);
 * ```
 */
export function redactConsole(target: Console = console): void {
  const marked = target as unknown as Record<symbol, boolean>;
  if (marked[REDACTED]) return;
  marked[REDACTED] = true;
  for (const method of METHODS) {
    const original = target[method];
    if (typeof original !== "function") continue;
    target[method] = (...args: unknown[]) => original.call(target, redact(format(...args)));
  }
}
