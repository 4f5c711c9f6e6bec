/** The Claude CLI's cheap auth probe: `claude auth status`, no tokens spent. */

import type { CliSetup } from "./cold.ts";
import { runInGroup } from "./process_group.ts";

/**
 * Whether a login is present: `claude auth status` prints JSON and exits 1 when logged out.
 * It makes no request, so it cannot tell an expired or revoked login from a good one: those
 * show only in real calls (a 401), which pause the provider.
 */
export async function claudeAuthStatus(
  setup: CliSetup,
  timeoutMs = 15_000,
): Promise<{ loggedIn: boolean; detail: string }> {
  try {
    const output = await runInGroup(
      { ...setup, args: ["auth", "status"] },
      "",
      AbortSignal.timeout(timeoutMs),
    );
    try {
      const status = JSON.parse(output.stdout);
      return {
        loggedIn: status.loggedIn === true,
        detail: status.loggedIn ? `logged in (${status.authMethod})` : "not logged in",
      };
    } catch {
      return { loggedIn: false, detail: (output.stderr || output.stdout).trim().slice(0, 200) };
    }
  } catch (error) {
    return { loggedIn: false, detail: error instanceof Error ? error.message : String(error) };
  }
}
