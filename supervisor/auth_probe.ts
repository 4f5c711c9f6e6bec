/** The supervisor's view of its LLM provider: a cheap auth probe every few minutes, and the shared pause for /health. */

import type { RedisClient } from "../redis/connection.ts";
import type { LlmState } from "../health/status.ts";
import { log } from "../log/log.ts";
import { clearPause, pauseProvider } from "../providers/pause.ts";
import type { ProviderContext } from "../providers/provider.ts";
import { readProviderPauses } from "../state/pauses.ts";
import { defaultProviderOf } from "../providers/registry.ts";

const logger = log("llm");

/** The longest a provider's probe takes (each gives up after 15 s). */
const PROBE_TIMEOUT_MS = 15_000;

/**
 * Probes at start and `probeIntervalMs` after each probe ends (once per supervisor, never per
 * worker): a failed probe pauses the
 * provider for every worker (auth_failed), a passing one lifts an auth pause.
 * Reads the shared pause every `pollMs` for /health.
 */
export function startAuthProbe(
  context: ProviderContext,
  redis: RedisClient,
  { pollMs = 2000 } = {},
) {
  const { config } = context;
  const probeIntervalMs = config.llmProbeIntervalMs;
  const state: LlmState = { state: "ok", retryInSeconds: 0, claudeAuthenticated: null };
  let lastProbeOk: boolean | undefined;
  const provider = config.provider;
  const definition = defaultProviderOf(config);

  const poll = async () => {
    try {
      const [pause] = await readProviderPauses(redis, [provider]);
      state.state = pause.state;
      state.retryInSeconds = pause.retry_in_s;
      state.reason = pause.reason;
      state.resumesAt = pause.resumes_at;
      state.claudeAuthenticated = definition.reportsLoginAs !== "claude_authenticated"
        ? null
        : pause.state === "auth_failed"
        ? false
        : lastProbeOk ?? null;
    } catch {
      // Redis down: /health says so through its own probe.
    }
  };
  const runProbe = async () => {
    const result = await definition.probe?.(context);
    if (!result) return;
    lastProbeOk = result.ok;
    try {
      if (result.ok) {
        await clearPause(redis, provider, "auth_failed");
        logger.info("{provider} auth probe passed: {detail}", { provider, detail: result.detail });
      } else {
        // Until the next probe has had time to end: no gap in which workers call a bad login.
        await pauseProvider(redis, provider, "auth_failed", result.detail, {
          authRetryMs: probeIntervalMs + PROBE_TIMEOUT_MS,
        });
        logger.warn("{provider} auth probe failed: {detail}; workers pause until a probe passes", {
          provider,
          detail: result.detail,
        });
      }
    } catch (error) {
      logger.warn("could not record the auth probe in Redis: {error}", { error: String(error) });
    }
    await poll();
  };
  // One probe at a time, the next `probeIntervalMs` after the last one ended: a probe slower
  // than the interval (a CLI that hangs until its timeout) never piles up processes.
  let stopped = false;
  let probeTimer: ReturnType<typeof setTimeout> | undefined;
  const probeLoop = async () => {
    try {
      await runProbe();
    } catch (error) {
      logger.warn("the auth probe failed to run: {error}", { error: String(error) });
    } finally {
      if (!stopped) probeTimer = setTimeout(probeLoop, probeIntervalMs);
    }
  };
  void probeLoop();
  const pollTimer = setInterval(poll, pollMs);
  return {
    state,
    stop() {
      stopped = true;
      clearTimeout(probeTimer);
      clearInterval(pollTimer);
    },
  };
}
