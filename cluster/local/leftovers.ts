/**
 * What a testbed may leave behind, found by name: processes still alive, its cgroups,
 * listening ports, Prometheus data directories. Tests assert the list is empty after every
 * run; `harness testbed down` uses it to say what it removed or could not.
 */
import { existsSync, readFileSync } from "node:fs";
import { strayCgroups } from "./cgroups.ts";

export interface LeftoverQuery {
  /** The testbed's id: its cgroups are `chaos-rl-<id>`. */
  readonly testbedId?: string;
  /** Processes it started. */
  readonly pids?: readonly number[];
  /** Ports it listened on (loopback). */
  readonly ports?: readonly number[];
  /** Directories it created (Prometheus data, target files). */
  readonly dirs?: readonly string[];
}

/** Whether `pid` runs (a zombie does not: it has exited and holds nothing). */
export function processAlive(pid: number): boolean {
  try {
    // A zombie has exited; it is waiting for its parent to reap it, and holds nothing.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Local ports in LISTEN state, from /proc/net/tcp and tcp6. */
export function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === "0A") ports.add(Number.parseInt(cols[1]!.split(":")[1]!, 16));
    }
  }
  return ports;
}

export function leftovers(q: LeftoverQuery): string[] {
  const found: string[] = [];
  for (const pid of q.pids ?? []) if (processAlive(pid)) found.push(`process ${pid}`);
  if (q.testbedId) for (const g of strayCgroups(`chaos-rl-${q.testbedId}`)) found.push(`cgroup ${g}`);
  if (q.ports?.length) {
    const listening = listeningPorts();
    for (const p of q.ports) if (listening.has(p)) found.push(`port ${p}`);
  }
  for (const d of q.dirs ?? []) if (existsSync(d)) found.push(`directory ${d}`);
  return found;
}
