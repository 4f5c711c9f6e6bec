import { strict as assert } from "node:assert";
import { addSecrets, redact } from "./redact.ts";

Deno.test("redact hides a registered secret, its first and last 12 characters, and leaves short values alone", () => {
  addSecrets(["sk-test-secret-key-0123456789", "abc", undefined]);
  assert.equal(redact("key sk-test-secret-key-0123456789 refused"), "key *** refused");
  assert.equal(redact("provided: ****key-0123456789"), "provided: ****ke***");
  assert.equal(redact("starts sk-test-secr..."), "starts ***...");
  assert.equal(redact("abc is not hidden"), "abc is not hidden");
});
