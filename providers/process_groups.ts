/** The process groups this worker process has started (LLM CLIs): reported in heartbeats, so none outlives a killed worker. */

const live = new Set<number>();

/** Records a process group started with `detached: true` (its id is the leader's pid). */
export function trackProcessGroup(pgid: number): void {
  live.add(pgid);
}

/** Forgets a process group once it has been killed or has exited. */
export function untrackProcessGroup(pgid: number): void {
  live.delete(pgid);
}

/** The process groups running now. */
export function liveProcessGroups(): number[] {
  return [...live];
}
