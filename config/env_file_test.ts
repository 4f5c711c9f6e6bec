import { strict as assert } from "node:assert";
import { parseEnv } from "node:util";
import { childEnv, parseConfig } from "./config.ts";
import { overlayEnvFile, parseEnvFile } from "./env_file.ts";
import { CONFIG_SCHEMA } from "../providers/registry.ts";

Deno.test("parseEnvFile: comments, blank lines, export, quotes and trailing comments", () => {
  const file = [
    "# a comment",
    "",
    "   ",
    "PLAIN=value",
    "SPACED = two words  ",
    "export EXPORTED=1",
    "SINGLE='kept $AS \\n is'",
    'DOUBLE="line one\\nline two"',
    "COMMENTED=value # why",
    "QUOTED_COMMENTED='a # b' # why",
    "EMPTY=",
    "EMPTY_QUOTES=''",
    "PLAIN=again",
  ].join("\r\n");
  assert.deepEqual(parseEnvFile(file), {
    variables: {
      PLAIN: "again",
      SPACED: "two words",
      EXPORTED: "1",
      SINGLE: "kept $AS \\n is",
      DOUBLE: "line one\nline two",
      COMMENTED: "value",
      QUOTED_COMMENTED: "a # b",
      EMPTY: "",
      EMPTY_QUOTES: "",
    },
    errors: [],
  });
});

Deno.test("parseEnvFile gives the values node:util's parseEnv (Deno's dotenv reader) gives for a valid file", () => {
  const file = [
    "# pool",
    "A=1",
    "B = spaced value ",
    "export C=exported",
    "D='single # quoted'",
    'E="double\\nquoted"',
    "F=trailing # comment",
    "G=",
    "H=redis://:p%40ss@cache:6379/0",
  ].join("\n");
  assert.deepEqual(parseEnvFile(file).variables, { ...parseEnv(file) });
});

Deno.test("parseEnvFile names each bad line and its variable, never its text", () => {
  const secret = "sk-ant-secret-never-shown";
  const { variables, errors } = parseEnvFile(
    [
      `${secret}`,
      `ANTHROPIC_API_KEY="${secret}`,
      `OPENAI_API_KEY='${secret}' trailing`,
      "1BAD=x",
      "GOOD=yes",
    ].join("\n"),
  );
  assert.deepEqual(variables, { GOOD: "yes" });
  assert.deepEqual(errors, [
    "line 1: not KEY=VALUE, a comment or a blank line",
    'line 2: the value of ANTHROPIC_API_KEY has no closing " (a value is one line; write \\n in double quotes for a newline)',
    "line 3: the value of OPENAI_API_KEY has text after its closing ' (only a # comment may follow)",
    "line 4: not KEY=VALUE, a comment or a blank line",
  ]);
  assert.ok(!errors.join("\n").includes(secret.slice(0, 10)));
});

Deno.test("the configuration takes flags over the env file over the environment", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, "WORKER_COUNT=3\nWORKER_CONCURRENCY=4\n");
    const env = { WORKER_COUNT: "2", WORKER_CONCURRENCY: "2", LLM_TIMEOUT: "20s", ENV_FILE: path };
    const overlay = await overlayEnvFile({ count: "5" }, env, CONFIG_SCHEMA);
    assert.deepEqual(overlay.errors, []);
    assert.equal(overlay.file, path);
    const result = parseConfig({ count: "5" }, overlay.env, CONFIG_SCHEMA);
    assert(result.ok, JSON.stringify(result));
    assert.equal(result.config.workerCount, 5, "the flag");
    assert.equal(result.config.concurrency, 4, "the file");
    assert.equal(result.config.llmTimeoutMs, 20_000, "the environment");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("overlayEnvFile: a missing file is a problem named like a setting's", async () => {
  const overlay = await overlayEnvFile(
    { "env-file": "/nonexistent/pool.env" },
    { WORKER_COUNT: "2" },
    CONFIG_SCHEMA,
  );
  assert.equal(overlay.errors.length, 1);
  assert.match(
    overlay.errors[0],
    /^--env-file = "\/nonexistent\/pool.env": cannot be read \(No such file or directory/,
  );
  assert.equal(overlay.env.WORKER_COUNT, "2");
});

Deno.test("overlayEnvFile: an env file that sets ENV_FILE is refused, its other lines kept", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, "ENV_FILE=/other.env\nWORKER_COUNT=3\n");
    const overlay = await overlayEnvFile({}, { ENV_FILE: path }, CONFIG_SCHEMA);
    assert.deepEqual(overlay.errors, [
      `ENV_FILE (--env-file) = ${
        JSON.stringify(path)
      }: sets ENV_FILE, which only a flag or the environment may set (an env file does not name another one)`,
    ]);
    assert.equal(overlay.env.ENV_FILE, path);
    assert.equal(overlay.env.WORKER_COUNT, "3");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("without ENV_FILE the environment is taken as it is", async () => {
  const overlay = await overlayEnvFile({}, { WORKER_COUNT: "2", UNSET: undefined }, CONFIG_SCHEMA);
  assert.deepEqual(overlay, {
    env: { WORKER_COUNT: "2" },
    file: undefined,
    errors: [],
    fromFile: [],
  });
});

Deno.test("workers never get ENV_FILE, from the environment or from --env-file", () => {
  assert.equal(childEnv({}, { ENV_FILE: "/pool.env", A: "1" }, CONFIG_SCHEMA).ENV_FILE, undefined);
  assert.equal(childEnv({ "env-file": "/pool.env" }, {}, CONFIG_SCHEMA).ENV_FILE, undefined);
});
