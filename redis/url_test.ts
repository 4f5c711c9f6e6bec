import { strict as assert } from "node:assert";
import { redactUrl } from "./url.ts";

Deno.test("redactUrl hides the whole password, even one with / @ or #, and keeps the rest", () => {
  assert.equal(redactUrl("redis://:s3cret@cache:6379/0"), "redis://:***@cache:6379/0");
  assert.equal(redactUrl("redis://app:s3cret@cache:6379"), "redis://app:***@cache:6379");
  assert.equal(redactUrl("redis://:pa/ss@redis:6379/0"), "redis://:***@redis:6379/0");
  assert.equal(redactUrl("rediss://:a@b#c@redis:6380"), "rediss://:***@redis:6380");
  assert.equal(redactUrl("redis://token@redis"), "redis://***@redis");
  assert.equal(redactUrl("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
  assert.equal(redactUrl("not a url"), "not a url");
});
