import { strict as assert } from "node:assert";
import { withSystemPrompt } from "./runner.ts";

Deno.test("LLM_SYSTEM_PROMPT goes first when the job has no system message, and never replaces the job's own", () => {
  const user = { role: "user" as const, content: "hi" };
  assert.deepEqual(withSystemPrompt([user], "Be brief."), [
    { role: "system", content: "Be brief." },
    user,
  ]);
  const own = [{ role: "system" as const, content: "Answer in French." }, user];
  assert.deepEqual(withSystemPrompt(own, "Be brief."), own);
  assert.deepEqual(withSystemPrompt([user], undefined), [user]);
});
