/** The supervisor's commands on stdin (drain, stop, take LLM jobs, a new share of them; EOF: it is gone), or signals when run alone. */

import { forEachLine } from "../async/mod.ts";
import { parseCommand } from "../protocol/messages.ts";
import type { Drain } from "./drain.ts";

/**
 * Supervised, the supervisor speaks on stdin. Signals sent to the whole process
 * group (Ctrl-C, `timeout`, `kill -- -pgid`) are the supervisor's to act on, so
 * SIGINT is ignored and SIGTERM (someone stopping this one worker) drains
 * without ever escalating. Run alone, SIGTERM and SIGINT drain, and a second
 * one gives the jobs in flight back.
 */
export function listenForCommands(
  supervised: boolean,
  drain: Drain,
  handlers: { takeLlmJobs(): void; setLlmSlots(slots: number[], seq: number): void },
): void {
  if (!supervised) {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      Deno.addSignalListener(signal, () => drain.request(signal));
    }
    return;
  }
  Deno.addSignalListener("SIGINT", () => {});
  Deno.addSignalListener("SIGTERM", () => {
    if (!drain.started) drain.request("SIGTERM");
  });
  (async () => {
    try {
      await forEachLine(Deno.stdin.readable, (line) => {
        const command = parseCommand(line);
        if (command === "drain" && !drain.started) drain.request("asked by the supervisor");
        if (command === "stop") drain.stopNow("asked by the supervisor to stop now");
        if (command === "take-llm-jobs") handlers.takeLlmJobs();
        if (typeof command === "object") handlers.setLlmSlots(command.slots, command.seq);
      });
    } catch {
      // A broken pipe is EOF too.
    }
    if (!drain.started) drain.request("supervisor gone (stdin closed)");
  })();
}
