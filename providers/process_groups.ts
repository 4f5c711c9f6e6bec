/** The process groups this worker process has started (LLM CLIs, external job processors): reported in heartbeats, so none outlives a killed worker. */

const live = new Set<number>();
const listeners = new Set<() => void>();

/**
 * Calls `listener` each time a process group is tracked: the worker tells its supervisor at
 * once, so that a group started a moment before the worker is killed is killed too.
 * Returns the function that removes the listener.
 */
export function onProcessGroupStarted(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Records a process group started with `detached: true` (its id is the leader's pid). */
export function trackProcessGroup(pgid: number): void {
  live.add(pgid);
  for (const listener of listeners) listener();
}

/** Forgets a process group once it has been killed or has exited. */
export function untrackProcessGroup(pgid: number): void {
  live.delete(pgid);
}

/** The process groups running now. */
export function liveProcessGroups(): number[] {
  return [...live];
}

/** Kills process group `pgid` with SIGKILL; a group already gone is fine. */
export function killProcessGroup(pgid: number): void {
  try {
    Deno.kill(-pgid, "SIGKILL");
  } catch {
    // The group is gone already.
  }
}

/**
 * Spawns `program` as the leader of a process group of its own, tracked from now until its
 * leader has exited and whatever it left in the group has been killed. Throws what
 * `Deno.Command.spawn` throws (`Deno.errors.NotFound` for a missing program).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { killProcessGroup, liveProcessGroups, spawnProcessGroup } from "./process_groups.ts";
 *
 * const child = spawnProcessGroup("sleep", { args: ["60"] });
 * assert.deepEqual(liveProcessGroups(), [child.pid]);
 * killProcessGroup(child.pid); // the process and everything it started
 * assert.equal((await child.status).signal, "SIGKILL");
 * assert.deepEqual(liveProcessGroups(), []);
 * ```
 */
export function spawnProcessGroup(
  program: string,
  options: Omit<Deno.CommandOptions, "detached">,
): Deno.ChildProcess {
  const child = new Deno.Command(program, { ...options, detached: true }).spawn();
  const pgid = child.pid;
  trackProcessGroup(pgid);
  void child.status.then(() => {
    killProcessGroup(pgid);
    untrackProcessGroup(pgid);
  });
  return child;
}

const encoder = new TextEncoder();

/**
 * Runs a process started by {@link spawnProcessGroup} to its end: `input` on its stdin (closed
 * after it; a process that does not read is fine), its stdout collected, its exit status. Its
 * whole group is killed when `signal` aborts, and in any case once this returns or throws (what
 * it left running goes with it). Its stderr is the caller's to read.
 */
export async function runGroupToEnd(
  child: Deno.ChildProcess,
  input: string,
  signal: AbortSignal,
): Promise<{ status: Deno.CommandStatus; stdout: string }> {
  const kill = () => killProcessGroup(child.pid);
  signal.addEventListener("abort", kill, { once: true });
  try {
    const [stdout, status] = await Promise.all([
      new Response(child.stdout).text(),
      child.status,
      writeAndClose(child.stdin, input),
    ]);
    return { status, stdout };
  } finally {
    signal.removeEventListener("abort", kill);
    kill();
  }
}

async function writeAndClose(stdin: WritableStream<Uint8Array>, text: string): Promise<void> {
  const writer = stdin.getWriter();
  try {
    await writer.write(encoder.encode(text));
    await writer.close();
  } catch {
    // It exited (or was killed) without reading it all: its exit status tells why.
  }
}
