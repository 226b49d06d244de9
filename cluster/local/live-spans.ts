/**
 * When a fault's effect ends on the testbed (contract.ts `FaultEndCause`), from what the
 * supervisor reports: the same rule the simulator applies, read off real pods.
 * - pod-kill: the ReplicaSet's replacement (the next pod created after the kill) is ready;
 *   or that replacement is deleted before it is.
 * - memory-leak: the OOM kill restarts its container in the same pod, and the leak is over
 *   when that pod is ready again; a restart action hands it on to the fresh pod, which ends
 *   it when ready; a scale-down deleting the pod ends it.
 * - pod-failure, cpu-stress, network-delay: cleared, or the pod deleted.
 * - load-spike: cleared.
 * Pure bookkeeping: the backend feeds it events and emits what it returns.
 */
import { type FaultEndCause, type FaultType, faultEndsOn } from "../../harness/core/contract.ts";

interface Span {
  readonly type: FaultType;
  /** The pod carrying the effect, or whose readiness ends it; null while awaiting one. */
  pod: string | null;
  /** Waiting for the next created pod (a pod-kill's replacement, a restart's fresh pod). */
  awaitingPod: boolean;
  /** The span ends when `pod` is ready (a replacement, a container after an OOM kill). */
  endsWhenReady: boolean;
}

export interface Ended {
  readonly faultId: number;
  readonly cause: FaultEndCause;
  readonly pod: string | null;
  readonly type: FaultType;
}

export class LiveSpans {
  private readonly spans = new Map<number, Span>();
  /** Pods a restart action is deleting: their faults that follow a replacement move on. */
  private readonly replacing = new Set<string>();

  /** A fault now in effect on `pod` (null for load-spike). */
  injected(faultId: number, type: FaultType, pod: string | null): void {
    const killed = type === "pod-kill";
    this.spans.set(faultId, { type, pod: killed ? null : pod, awaitingPod: killed, endsWhenReady: killed });
  }

  isLive(faultId: number): boolean {
    return this.spans.has(faultId);
  }

  cleared(faultId: number): Ended[] {
    const s = this.spans.get(faultId);
    return s && faultEndsOn(s.type, "cleared") ? [this.end(faultId, s, "cleared")] : [];
  }

  /** Called before a restart action deletes `pod` (the ReplicaSet then creates a fresh one). */
  restarting(pod: string): void {
    this.replacing.add(pod);
  }

  podCreated(pod: string): void {
    // The oldest waiting fault takes the new pod (the replacement of what it lost).
    for (const s of this.spans.values()) {
      if (s.awaitingPod) {
        s.pod = pod;
        s.awaitingPod = false;
        return;
      }
    }
  }

  podReady(pod: string): Ended[] {
    const out: Ended[] = [];
    for (const [id, s] of this.spans) {
      if (s.pod === pod && s.endsWhenReady) out.push(this.end(id, s, "replacement-ready"));
    }
    return out;
  }

  /** The leak's container was OOM-killed: it is over once that pod is ready again. */
  podOomKilled(pod: string): void {
    for (const s of this.spans.values()) {
      if (s.pod === pod && s.type === "memory-leak") s.endsWhenReady = true;
    }
  }

  podDeleted(pod: string): Ended[] {
    const byRestart = this.replacing.delete(pod);
    const out: Ended[] = [];
    for (const [id, s] of this.spans) {
      if (s.pod !== pod) continue;
      if (byRestart && faultEndsOn(s.type, "replacement-ready")) {
        s.pod = null;
        s.awaitingPod = true;
        s.endsWhenReady = true;
      } else if (faultEndsOn(s.type, "pod-deleted")) {
        out.push(this.end(id, s, "pod-deleted"));
      }
    }
    return out;
  }

  private end(faultId: number, s: Span, cause: FaultEndCause): Ended {
    this.spans.delete(faultId);
    return { faultId, cause, pod: s.pod, type: s.type };
  }
}
