import { strict as assert } from "node:assert";
import { InvalidArgumentError } from "commander";
import { durationAtLeast, durationOption, flagValues, integerOption } from "./options.ts";

Deno.test("integerOption accepts whole numbers from its minimum (to its maximum) and refuses the rest with the rule", () => {
  assert.equal(integerOption(1)("20"), 20);
  assert.equal(integerOption(1, 20)("20"), 20);
  assert.throws(() => integerOption(1, 20)("21"), /must be an integer from 1 to 20/);
  for (const raw of ["0", "-1", "1.5", "x"]) {
    assert.throws(() => integerOption(1)(raw), InvalidArgumentError, raw);
  }
});

Deno.test("durationOption and durationAtLeast: durations in ms; below the minimum is refused", () => {
  assert.equal(durationOption("2"), 2000);
  assert.equal(durationOption("0"), 0);
  assert.equal(durationAtLeast(100)("500ms"), 500);
  assert.throws(() => durationAtLeast(100)("0"), /at least 100ms/);
  assert.throws(() => durationOption("soon"), /must be a duration/);
});

Deno.test("flagValues: camelCase keys become flag names; only strings and booleans are flags", () => {
  assert.deepEqual(flagValues({ redisUrl: "redis://cache", json: true, limit: 5, ids: ["1"] }), {
    "redis-url": "redis://cache",
    json: true,
  });
});
