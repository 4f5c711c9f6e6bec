import { strict as assert } from "node:assert";
import { claudeCliEnv } from "./env.ts";

Deno.test("the CLI sees its login, endpoint and PATH, never ppr-worker's secrets, and always one request per call", () => {
  const env = claudeCliEnv({
    PATH: "/bin",
    HOME: "/home/w",
    CLAUDE_CODE_OAUTH_TOKEN: "token",
    ANTHROPIC_BASE_URL: "http://127.0.0.1:9",
    ANTHROPIC_API_KEY: "sk-secret",
    REDIS_URL: "redis://:pw@redis",
    OPENAI_API_KEY: "sk-other",
  });
  assert.deepEqual(env, {
    PATH: "/bin",
    HOME: "/home/w",
    CLAUDE_CODE_OAUTH_TOKEN: "token",
    ANTHROPIC_BASE_URL: "http://127.0.0.1:9",
    CLAUDE_CODE_MAX_RETRIES: "0",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    TZ: "UTC",
  });
});
