/** What the bench reads of a process from `/proc`: CPU time, memory, TCP connections. Linux only. */

/** Clock ticks per second of `/proc/<pid>/stat` (`CLK_TCK`, 100 on Linux). */
const TICKS_PER_S = 100;

/**
 * CPU time (user + system) of process `pid` so far, in seconds, and of its reaped children
 * (`cutime` + `cstime`: a child's CPU counts once its parent has waited for it). 10 ms resolution.
 */
export function cpuOf(pid: number | "self"): { own: number; children: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the command: state is field 3; utime 14, stime 15, cutime 16, cstime 17 (1-based).
  const at = (field: number) => Number(fields[field - 3]);
  return { own: (at(14) + at(15)) / TICKS_PER_S, children: (at(16) + at(17)) / TICKS_PER_S };
}

/** A memory figure of `/proc/<pid>/status` (`VmRSS`, `VmHWM` for the peak) in MB; 0 once gone. */
export function statusMbOf(pid: number, field: "VmRSS" | "VmHWM" = "VmRSS"): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** RSS, PSS (shared pages split between their users) and USS (its own pages) of `pid`, in MB. */
export function memoryOf(pid: number): { rssMb: number; pssMb: number; ussMb: number } {
  const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(rollup)?.[1] ?? 0);
  return {
    rssMb: statusMbOf(pid),
    pssMb: field("Pss") / 1024,
    ussMb: (field("Private_Clean") + field("Private_Dirty")) / 1024,
  };
}

/**
 * The local ports of `pid`'s IPv4 TCP connections to `remotePort` (its connections to a Redis
 * server on this host, say): the socket inodes of its file descriptors, looked up in its
 * `/proc/<pid>/net/tcp`.
 */
export function tcpPortsOf(pid: number, remotePort: number): Set<number> {
  const inodes = new Set<string>();
  for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      const socket = /^socket:\[(\d+)\]$/.exec(Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`));
      if (socket) inodes.add(socket[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
  for (const line of Deno.readTextFileSync(`/proc/${pid}/net/tcp`).split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || !inodes.has(fields[9])) continue;
    const portOf = (address: string) => parseInt(address.split(":")[1], 16);
    if (portOf(fields[2]) === remotePort) ports.add(portOf(fields[1]));
  }
  return ports;
}
