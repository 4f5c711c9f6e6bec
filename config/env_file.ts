/** The env file of `ENV_FILE` / `--env-file`: KEY=VALUE lines, read strictly, overlaid on the environment. */

import { type ConfigSchema, CORE_SETTINGS, type FlagValues, nameOf, rawValues } from "./config.ts";

/** The variables of an env file, and every line that is none, each with its number. */
export interface EnvFileResult {
  /** The variables of the lines that are valid. */
  variables: Record<string, string>;
  /** What is wrong with each other line; empty when the file is valid. */
  errors: string[];
}

const ASSIGNMENT = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/;
/** What may follow a value on its line: spaces, then a comment. */
const REST_OF_LINE = /^\s*(?:#.*)?$/;

/**
 * Parses an env file as `docker run --env-file`, dotenv and Deno's own `--env-file` write them:
 * one `KEY=VALUE` per line (an optional `export ` before it), blank lines and `#` comments. A
 * value is taken as it is (trimmed, up to a `#`), or in single quotes (literally) or double
 * quotes (`\n` is a newline), a comment after the closing quote. Unlike those readers, a line
 * that is none of these is an error, not skipped: a reload must not run with a setting that a
 * typo dropped. Errors name the line and the variable, never the text: a value may be a secret.
 * A variable given twice takes its last value.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseEnvFile } from "./env_file.ts";
 *
 * const file = "# the pool\nWORKER_COUNT=4\nexport LLM_SYSTEM_PROMPT=\"Be brief.\\nJSON only.\"\n";
 * assert.deepEqual(parseEnvFile(file), {
 *   variables: { WORKER_COUNT: "4", LLM_SYSTEM_PROMPT: "Be brief.\nJSON only." },
 *   errors: [],
 * });
 * assert.deepEqual(parseEnvFile("WORKER_COUNT 4\nKEY='open\nLOG_LEVEL=debug"), {
 *   variables: { LOG_LEVEL: "debug" },
 *   errors: [
 *     "line 1: not KEY=VALUE, a comment or a blank line",
 *     "line 2: the value of KEY has no closing ' (a value is one line; write \\n in double quotes for a newline)",
 *   ],
 * });
 * ```
 */
export function parseEnvFile(text: string): EnvFileResult {
  const variables: Record<string, string> = {};
  const errors: string[] = [];
  text.replace(/^\uFEFF/, "").split(/\r?\n/).forEach((line, index) => {
    const number = index + 1;
    if (/^\s*(?:#.*)?$/.test(line)) return;
    const assignment = ASSIGNMENT.exec(line.trim());
    if (!assignment) {
      errors.push(`line ${number}: not KEY=VALUE, a comment or a blank line`);
      return;
    }
    const [, name, raw] = assignment;
    const value = valueOf(raw);
    if (typeof value === "string") variables[name] = value;
    else errors.push(`line ${number}: the value of ${name} ${value.problem}`);
  });
  return { variables, errors };
}

/** The value of one assignment (the text after `=`), or what is wrong with it. */
function valueOf(raw: string): string | { problem: string } {
  const quote = raw[0];
  if (quote !== "'" && quote !== '"') return raw.replace(/#.*$/, "").trim();
  const end = raw.indexOf(quote, 1);
  if (end < 0) {
    return {
      problem:
        `has no closing ${quote} (a value is one line; write \\n in double quotes for a newline)`,
    };
  }
  if (!REST_OF_LINE.test(raw.slice(end + 1))) {
    return { problem: `has text after its closing ${quote} (only a # comment may follow)` };
  }
  const inner = raw.slice(1, end);
  return quote === '"' ? inner.replaceAll("\\n", "\n") : inner;
}

/** The environment with the env file's variables over it, and every problem found reading it. */
export interface EnvOverlayResult {
  /** The environment, with the variables of the file's valid lines over it. */
  env: Record<string, string>;
  /** The env file's path; `undefined` without one. */
  file: string | undefined;
  /** What is wrong with the file; empty when it is valid. */
  errors: string[];
  /** The variables the file set (over the environment's, where both have one). */
  fromFile: string[];
}

/**
 * The environment a configuration is resolved from: with `ENV_FILE` / `--env-file`, `env` with
 * the file's variables over it (flags still win over both: `parseConfig` puts them first);
 * without it, `env` as it is. A file that cannot be read, lines that cannot be parsed and a line
 * that names `ENV_FILE` itself give problems named like a setting's
 * (`ENV_FILE (--env-file) = "path": ...`), to be listed with the configuration's: the valid
 * lines are still overlaid, so that their values are checked too.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { overlayEnvFile } from "./env_file.ts";
 * import { CONFIG_SCHEMA } from "../providers/registry.ts";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "WORKER_COUNT=3\n");
 * const overlay = await overlayEnvFile({ "env-file": path }, { WORKER_COUNT: "2" }, CONFIG_SCHEMA);
 * assert.deepEqual(overlay.errors, []);
 * assert.equal(overlay.env.WORKER_COUNT, "3");
 * await Deno.remove(path);
 * ```
 */
export async function overlayEnvFile(
  flags: FlagValues,
  env: Readonly<Record<string, string | undefined>>,
  schema: ConfigSchema,
): Promise<EnvOverlayResult> {
  const defined = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const { raw, source } = rawValues(flags, env, schema).envFile;
  const path = raw?.trim();
  if (!path) return { env: defined, file: undefined, errors: [], fromFile: [] };
  const name = `${nameOf(CORE_SETTINGS.envFile, source)} = ${JSON.stringify(path)}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      env: defined,
      file: path,
      errors: [`${name}: cannot be read (${reason})`],
      fromFile: [],
    };
  }
  const { variables, errors } = parseEnvFile(text);
  const problems = errors.map((error) => `${name}: ${error}`);
  const envFileVariable = CORE_SETTINGS.envFile.env;
  if (Object.hasOwn(variables, envFileVariable)) {
    problems.push(
      `${name}: sets ${envFileVariable}, which only a flag or the environment may set (an env ` +
        "file does not name another one)",
    );
    delete variables[envFileVariable];
  }
  return {
    env: { ...defined, ...variables },
    file: path,
    errors: problems,
    fromFile: Object.keys(variables),
  };
}
