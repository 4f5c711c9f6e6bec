import { strict as assert } from "node:assert";
import { Command } from "commander";
import { integerOption } from "../cli/options.ts";
import {
  commanderOption,
  flag,
  type OptionSpecs,
  type OptionValues,
  parsed,
  readOptions,
  requiredChoice,
  setting,
  strings,
  switchOverride,
  text,
} from "./command.ts";

/** Parses `args` with commander as the program does and reads the options typed. */
function parse<O extends OptionSpecs>(specs: O, args: string[]): OptionValues<O> {
  const command = new Command("test").exitOverride();
  for (const spec of Object.values(specs)) command.addOption(commanderOption(spec));
  command.parse(args, { from: "user" });
  return readOptions(specs, command.opts());
}

const SPECS = {
  json: flag("--json", "print JSON"),
  dashboard: switchOverride("--dashboard", "also serve the dashboard"),
  name: text("--name <name>", "worker name"),
  limit: parsed("--limit <n>", "at most this many", integerOption(1), 20),
  delayMs: parsed("--delay <n>", "wait this long", integerOption(0)),
  metadata: strings("--metadata <key=value>", "repeatable"),
  ids: strings("--id <ids...>", "these jobs"),
};

Deno.test("readOptions: options not given read as false (switch), undefined (text, switch override, list) or their default", () => {
  assert.deepEqual(parse(SPECS, []), {
    json: false,
    dashboard: undefined,
    name: undefined,
    limit: 20,
    delayMs: undefined,
    metadata: undefined,
    ids: undefined,
  });
});

Deno.test("readOptions: given options read as their types, under the spec's names (delayMs for --delay)", () => {
  assert.deepEqual(
    parse(SPECS, [
      "--json",
      "--dashboard",
      "--name",
      "w-1",
      "--limit",
      "5",
      "--delay",
      "0",
      "--metadata",
      "a=1",
      "--metadata",
      "b=2",
      "--id",
      "42",
      "43",
    ]),
    {
      json: true,
      dashboard: true,
      name: "w-1",
      limit: 5,
      delayMs: 0,
      metadata: ["a=1", "b=2"],
      ids: ["42", "43"],
    },
  );
});

Deno.test("a parsed option's invalid value and a missing required choice are commander's usage errors", () => {
  assert.throws(() => parse(SPECS, ["--limit", "0"]), /must be an integer >= 1/);
  const state = { state: requiredChoice("--state <state>", "jobs in this state", ["failed"]) };
  assert.throws(() => parse(state, []), /required option '--state <state>' not specified/);
  assert.throws(() => parse(state, ["--state", "done"]), /Allowed choices are failed/);
  assert.deepEqual(parse(state, ["--state", "failed"]), { state: "failed" });
});

Deno.test("setting() names the setting its option gives, and refuses a flag no setting has", () => {
  assert.equal(setting("--redis-url <url>", "Redis server").setting, "redis-url");
  assert.equal(text("--url <url>", "health URL").setting, undefined);
  assert.throws(
    () => setting("--redis <url>", "Redis server"),
    /Cannot declare '--redis <url>' as a setting's option: no setting has the flag --redis/,
  );
});

Deno.test("flag(..., { hidden: true }) is left out of the help", () => {
  const command = new Command("test")
    .addOption(commanderOption(flag("--supervised", "started by the supervisor", { hidden: true })))
    .addOption(commanderOption(flag("--json", "print JSON")));
  const help = command.helpInformation();
  assert.match(help, /--json/);
  assert.doesNotMatch(help, /--supervised/);
});
