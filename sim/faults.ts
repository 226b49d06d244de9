/**
 * Injecting and clearing the six faults of the contract's `faultSpecSchema`. Pod faults
 * pick their target when injected, by the contract's `pickFaultTarget` (a rank among the
 * running pods, oldest first, drawn from the schedule, never from what the policy did);
 * with no running pod the fault is skipped (`fault-skipped`). A fault stays with its pod:
 * a pod created afterwards (scale-up) carries none.
 *
 * | fault | effect | live until (contract.ts `FaultEndCause`) |
 * |---|---|---|
 * | pod-kill | the pod is deleted (Terminating); its ReplicaSet creates a Pending replacement | the replacement is ready |
 * | pod-failure | the container crashes now and on every start (CrashLoopBackOff) | clear / pod deleted |
 * | cpu-stress | `load` (x `stressEffect`) added to the pod's CPU demand | clear / pod deleted |
 * | memory-leak | `ratePerMin` (x `leakEffect`) of the limit leaked per minute; OOM kill at the limit | the container after the OOM kill (or a restart action's fresh pod) is ready / clear / scale-down |
 * | network-delay | `delayMs` (x `delayEffect`) added to the pod's latency | clear / pod deleted |
 * | load-spike | offered rate multiplied by `factor` (spikes multiply) | clear |
 *
 * A second fault of the same kind on the same pod replaces the first, whose effect ends
 * there (the first's clear then does nothing).
 */
import { type FaultInjection, pickFaultTarget } from "../harness/core/contract.ts";
import { crashPod } from "./dynamics.ts";
import { deletePod, endFault, MAX_SPIKES, replacePod, type SimState } from "./state.ts";

/** Row of the pod a `targetKey` designates now, or -1 when no pod is running; sets `out.rank`. */
export function targetRow(s: SimState, targetKey: number, out: { row: number; rank: number }): number {
  return pickFaultTarget(s.pods, targetKey, s.params.initialReplicas, out).row;
}

/**
 * Injects `f` now. Emits `fault-injected` (with the target's rank) and any consequences, or
 * `fault-skipped` when a pod fault finds no running pod.
 */
export function injectFault(s: SimState, f: FaultInjection): void {
  const spec = f.spec;
  if (spec.type === "load-spike") {
    const room = s.spikeCount < MAX_SPIKES;
    if (room) {
      s.spikeIds[s.spikeCount] = f.id;
      s.spikeFactors[s.spikeCount] = spec.factor;
      s.spikeCount++;
      s.spikeFactor *= spec.factor;
    }
    const detail = room ? `load-spike x${spec.factor}` : `load-spike ignored: ${MAX_SPIKES} spikes already active`;
    s.events.emit(s.time, "fault-injected", -1, f.id, detail);
    if (room) s.liveFaults.set(f.id, spec.type);
    return;
  }
  const target = s.target;
  const row = targetRow(s, f.targetKey, target);
  if (row < 0) {
    s.events.emit(s.time, "fault-skipped", -1, f.id, `${spec.type}: no running pod to hit`);
    return;
  }
  const podId = s.id[row];
  s.events.emit(s.time, "fault-injected", podId, f.id, spec.type).targetRank = target.rank;
  s.liveFaults.set(f.id, spec.type);
  switch (spec.type) {
    case "pod-kill": {
      deletePod(s, row);
      s.lastFailureS = s.time;
      const fresh = replacePod(s);
      s.recoverFault[fresh] = f.id;
      s.events.emit(s.time, "pod-replaced", s.id[fresh], f.id, "ReplicaSet created a replacement for a killed pod");
      return;
    }
    case "pod-failure":
      endFault(s, s.failFault[row], "pod-deleted", podId);
      s.failFault[row] = f.id;
      // The target is running (pickFaultTarget), so its container fails now.
      crashPod(s, row, false);
      return;
    case "cpu-stress":
      endFault(s, s.stressFault[row], "pod-deleted", podId);
      s.stress[row] = spec.load * s.params.stressEffect;
      s.stressFault[row] = f.id;
      return;
    case "memory-leak":
      endFault(s, s.leakFault[row], "pod-deleted", podId);
      s.leakPerStep[row] = (spec.ratePerMin * s.params.leakEffect * s.stepSeconds) / 60;
      s.leakFault[row] = f.id;
      return;
    case "network-delay":
      endFault(s, s.delayFault[row], "pod-deleted", podId);
      s.delayMs[row] = spec.delayMs * s.params.delayEffect;
      s.delayFault[row] = f.id;
      return;
  }
}

/**
 * Ends fault `faultId` wherever it still acts: the failing container is left to start
 * normally, stress and delay stop, a leak stops and its memory is freed, a spike ends.
 * Emits `fault-cleared` (podId -1 when its pod no longer exists).
 */
export function clearFault(s: SimState, faultId: number): void {
  let podId = -1;
  const n = s.pods.count;
  for (let i = 0; i < n; i++) {
    if (s.failFault[i] === faultId) {
      s.failFault[i] = -1;
      podId = s.id[i];
    }
    if (s.stressFault[i] === faultId) {
      s.stressFault[i] = -1;
      s.stress[i] = 0;
      podId = s.id[i];
    }
    if (s.leakFault[i] === faultId) {
      s.leakFault[i] = -1;
      s.leakPerStep[i] = 0;
      s.leaked[i] = 0;
      podId = s.id[i];
    }
    if (s.delayFault[i] === faultId) {
      s.delayFault[i] = -1;
      s.delayMs[i] = 0;
      podId = s.id[i];
    }
  }
  for (let k = 0; k < s.spikeCount; k++) {
    if (s.spikeIds[k] !== faultId) continue;
    for (let j = k + 1; j < s.spikeCount; j++) {
      s.spikeIds[j - 1] = s.spikeIds[j];
      s.spikeFactors[j - 1] = s.spikeFactors[j];
    }
    s.spikeCount--;
    let product = 1;
    for (let j = 0; j < s.spikeCount; j++) product *= s.spikeFactors[j];
    s.spikeFactor = product;
    break;
  }
  s.events.emit(s.time, "fault-cleared", podId, faultId, podId >= 0 ? "fault ended" : "fault ended (no pod affected)");
  endFault(s, faultId, "cleared", podId);
}
