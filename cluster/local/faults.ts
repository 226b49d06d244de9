/**
 * The six faults on real processes, each by the mechanism Chaos Mesh uses (issue 13, part 5):
 * - pod-kill: the pod is deleted with no grace period, every process SIGKILLed (PodChaos
 *   pod-kill); the ReplicaSet replaces it.
 * - pod-failure: the pod's processes are frozen (freezer cgroup, or SIGSTOP without one) for
 *   the duration; its readiness probe times out and it leaves the endpoints (PodChaos
 *   pod-failure makes the container stop serving in the same way).
 * - cpu-stress: a stress-ng CPU worker inside the pod's cgroup, loading `load` of the pod's
 *   CPU limit, so the service competes with it under the same quota (StressChaos cpu).
 * - memory-leak: stress-ng VM workers inside the pod's memory cgroup, one more every
 *   `LEAK_TICK_S` seconds, each holding `ratePerMin × limit × tick / 60` bytes, until the
 *   group hits its limit and the OOM kill takes the container (StressChaos memory).
 *   The leak ends with the container it lived in, as a real one would.
 * - network-delay: the pod's traffic goes through a delaying proxy adding `delayMs` (this
 *   kernel has no netem; NetworkChaos delay and toxiproxy's latency do this in the path).
 * - load-spike: the load generator's rate times `factor` for the duration.
 * Every fault can be cleared; `clearAll` is the cleanup on every exit path.
 */
import type { ChildProcess } from "node:child_process";
import { type FaultInjection, faultTargetRank } from "../../harness/core/contract.ts";
import { killTree } from "./process-tree.ts";
import type { Pod } from "./supervisor.ts";
import type { Testbed } from "./testbed.ts";

export const LEAK_TICK_S = 2;

/** Which pod a pod fault hits, and its rank among the running pods; null when none runs. */
export type FaultTargeting = (pods: readonly Pod[], fault: FaultInjection) => { pod: Pod; rank: number } | null;

/**
 * The contract's rule (`faultTargetRank`): the pod of rank `floor(targetKey × baseReplicas)
 * mod running` among the running pods (container running, not frozen, not terminating),
 * oldest first by creation order, as the simulator picks it.
 */
export function targetByRank(baseReplicas: number): FaultTargeting {
  return (pods, fault) => {
    const running = pods
      .filter((p) => !p.deleting && !p.frozen && p.container === "running")
      .sort((a, b) => a.seq - b.seq);
    const rank = faultTargetRank(fault.targetKey, baseReplicas, running.length);
    return rank < 0 ? null : { pod: running[rank]!, rank };
  };
}

interface LiveFault {
  readonly fault: FaultInjection;
  readonly pod: string | null;
  readonly procs: ChildProcess[];
  timer: NodeJS.Timeout | null;
  factor: number;
}

export interface InjectResult {
  /** The pod hit, or null (load-spike, or no running pod). */
  readonly pod: Pod | null;
  /** Its rank among the running pods, oldest first, or -1. */
  readonly rank: number;
  readonly detail: string;
}

export class FaultInjector {
  private readonly live = new Map<number, LiveFault>();

  constructor(
    private readonly testbed: Testbed,
    /** Multiplies the load generator's rate (load-spike); the backend applies it. */
    private readonly onLoadFactor: (factor: number) => void,
    private readonly targeting: FaultTargeting,
  ) {}

  /** Product of the live load-spike factors. */
  get loadFactor(): number {
    let f = 1;
    for (const l of this.live.values()) f *= l.factor;
    return f;
  }

  /** Starts a fault; resolves once it is in effect (the delaying proxy in the path, say). */
  async inject(fault: FaultInjection): Promise<InjectResult> {
    const s = this.testbed.supervisor;
    const spec = fault.spec;
    if (spec.type === "load-spike") {
      this.live.set(fault.id, { fault, pod: null, procs: [], timer: null, factor: spec.factor });
      this.onLoadFactor(this.loadFactor);
      return { pod: null, rank: -1, detail: `load-spike x${spec.factor}: generator rate multiplied` };
    }
    const target = this.targeting(s.list(), fault);
    if (!target) return { pod: null, rank: -1, detail: `${spec.type}: no running pod to hit` };
    const { pod, rank } = target;
    const entry: LiveFault = { fault, pod: pod.name, procs: [], timer: null, factor: 1 };
    switch (spec.type) {
      case "pod-kill":
        s.kill(pod.name);
        return { pod, rank, detail: `pod-kill ${pod.name}: SIGKILL to every process, pod deleted` };
      case "pod-failure": {
        s.freeze(pod.name);
        this.live.set(fault.id, entry);
        const how = s.cgroups.mode === "none" ? "SIGSTOP" : `freezer (cgroup ${s.cgroups.mode})`;
        return { pod, rank, detail: `pod-failure ${pod.name} for ${spec.durationS} s: frozen by ${how}` };
      }
      case "cpu-stress": {
        const percent = Math.max(1, Math.min(100, Math.round(spec.load * pod.cgroup.limits.cpuCores * 100)));
        entry.procs.push(s.exec(pod.name, ["stress-ng", "--cpu", "1", "--cpu-load", String(percent), "--quiet"]));
        this.live.set(fault.id, entry);
        return { pod, rank, detail: `cpu-stress ${pod.name}: stress-ng --cpu 1 --cpu-load ${percent} in its cgroup` };
      }
      case "memory-leak": {
        const chunk = Math.max(1, Math.round((spec.ratePerMin * pod.cgroup.limits.memoryBytes * LEAK_TICK_S) / 60));
        const pid = pod.pid;
        const grow = () => {
          const now = s.pod(pod.name);
          // The leak lives in its container: a restart, an OOM kill or a deletion ends it.
          if (!now || now.deleting || now.pid !== pid || now.container !== "running") {
            this.stopProcs(entry);
            return;
          }
          try {
            entry.procs.push(
              s.exec(pod.name, [
                "stress-ng",
                "--vm",
                "1",
                "--vm-bytes",
                String(chunk),
                "--vm-keep",
                "--vm-hang",
                "0",
                "--oomable",
                "--quiet",
              ]),
            );
          } catch {
            this.stopProcs(entry);
          }
        };
        grow();
        entry.timer = setInterval(grow, LEAK_TICK_S * 1000);
        this.live.set(fault.id, entry);
        return {
          pod,
          rank,
          detail: `memory-leak ${pod.name}: +${(chunk / 1048576).toFixed(1)} MiB every ${LEAK_TICK_S} s (stress-ng --vm in its memory cgroup) until OOM`,
        };
      }
      case "network-delay": {
        await this.testbed.setDelay(pod.name, spec.delayMs);
        this.live.set(fault.id, entry);
        return { pod, rank, detail: `network-delay ${pod.name}: +${spec.delayMs} ms through a delaying proxy` };
      }
    }
  }

  /** Ends a fault; returns what was done (or that it had already ended with its pod). */
  async clear(fault: FaultInjection): Promise<string> {
    const entry = this.live.get(fault.id);
    if (!entry) return `${fault.spec.type}: nothing live to clear`;
    this.live.delete(fault.id);
    this.stopProcs(entry);
    const s = this.testbed.supervisor;
    switch (fault.spec.type) {
      case "load-spike":
        this.onLoadFactor(this.loadFactor);
        return "load-spike cleared: generator back to the workload's rate";
      case "pod-failure":
        if (entry.pod && s.pod(entry.pod)) s.thaw(entry.pod);
        return `pod-failure cleared: ${entry.pod} thawed`;
      case "network-delay":
        if (entry.pod) await this.testbed.setDelay(entry.pod, 0);
        return `network-delay cleared on ${entry.pod}`;
      default:
        return `${fault.spec.type} cleared on ${entry.pod}`;
    }
  }

  /** Clears every live fault, each in its own guarded call; returns the ones that failed. */
  /** The faults live now, in injection order. */
  liveFaults(): FaultInjection[] {
    return [...this.live.values()].map((l) => l.fault);
  }

  async clearAll(): Promise<string[]> {
    const failed: string[] = [];
    for (const { fault } of [...this.live.values()]) {
      try {
        await this.clear(fault);
      } catch (err) {
        failed.push(`${fault.spec.type} #${fault.id}: ${(err as Error).message}`);
      }
    }
    return failed;
  }

  private stopProcs(entry: LiveFault): void {
    if (entry.timer) clearInterval(entry.timer);
    entry.timer = null;
    // The whole tree: stress-ng's workers would outlive their parent by seconds.
    for (const p of entry.procs)
      if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) killTree(p.pid);
    entry.procs.length = 0;
  }
}
