/**
 * What the five actions do to the simulated deployment, as Kubernetes would do it.
 *
 * - noop: nothing (applied).
 * - restart-pod: deletes the pod chosen by the contract's `pickTargetPod`; its ReplicaSet
 *   creates a fresh pod (new id, not drained, no fault, fresh back-off) that is Restarting
 *   for `restartSteps` and inherits the old pod's restart count + 1.
 * - scale-up: desired + 1 and a new Pending pod for `startupSteps`; refused at maxReplicas.
 * - scale-down: desired - 1 and one pod deleted, in the ReplicaSet's order (below);
 *   refused at minReplicas.
 * - drain-pod: the pod chosen by `pickTargetPod` stops receiving traffic for good (until
 *   deleted); it still counts as a replica, is still ready, and still costs.
 *
 * Scale-down victim (a simplification of the ReplicaSet controller's `ActivePods` ranking):
 * a Pending pod first, then a not-ready one (Crashed, Restarting), then a drained ready
 * pod, then any ready pod; ties go to the newest (highest id).
 */
import { Action, type ActionOutcome, PodPhase, pickTargetPod } from "../harness/core/contract.ts";
import { addPod, deletePod, drawSteps, type SimState } from "./state.ts";

/** Rank of a pod as a scale-down victim: lower goes first; -1 for terminating pods. */
function scaleDownRank(s: SimState, row: number): number {
  const ph = s.phase[row];
  if (ph === PodPhase.Terminating) return -1;
  if (ph === PodPhase.Pending) return 0;
  if (ph === PodPhase.Crashed || ph === PodPhase.Restarting) return 1;
  return s.drained[row] === 1 ? 2 : 3;
}

/** Row the ReplicaSet deletes on scale-down, or -1. */
export function scaleDownVictim(s: SimState): number {
  let best = -1;
  let bestRank = 99;
  for (let i = 0; i < s.pods.count; i++) {
    const rank = scaleDownRank(s, i);
    if (rank < 0) continue;
    // Rows are in id order, so a later row with an equal rank is newer.
    if (rank <= bestRank) {
      best = i;
      bestRank = rank;
    }
  }
  return best;
}

function outcome(s: SimState, applied: boolean, podId: number, message: string): ActionOutcome {
  const o = s.outcome;
  o.applied = applied;
  o.podId = podId;
  o.message = message;
  return o;
}

/** Applies `action` now and returns its outcome (a reused object: copy what you keep). */
export function applyAction(s: SimState, action: Action): ActionOutcome {
  switch (action) {
    case Action.Noop:
      return outcome(s, true, -1, "noop");
    case Action.ScaleUp: {
      if (s.desired >= s.params.maxReplicas) return outcome(s, false, -1, "at maxReplicas");
      s.desired++;
      const row = addPod(s, PodPhase.Pending, drawSteps(s, s.params.startupSteps), 0);
      return outcome(s, true, s.id[row], "scaled up: new pod pending");
    }
    case Action.ScaleDown: {
      if (s.desired <= s.params.minReplicas) return outcome(s, false, -1, "at minReplicas");
      const row = scaleDownVictim(s);
      if (row < 0) return outcome(s, false, -1, "no pod to remove");
      s.desired--;
      deletePod(s, row);
      return outcome(s, true, s.id[row], "scaled down: pod terminating");
    }
    case Action.RestartPod: {
      const row = pickTargetPod(s.pods, Action.RestartPod);
      if (row < 0) return outcome(s, false, -1, "no pod eligible for restart");
      const oldId = s.id[row];
      const restarts = s.restarts[row] + 1;
      // A leak (or a recovery already under way) is over only once a fresh container is
      // ready: hand it on to the fresh pod rather than ending it at the deletion.
      const follows = s.leakFault[row] >= 0 ? s.leakFault[row] : s.recoverFault[row];
      s.leakFault[row] = -1;
      s.recoverFault[row] = -1;
      deletePod(s, row);
      const fresh = addPod(s, PodPhase.Restarting, drawSteps(s, s.params.restartSteps), restarts);
      s.recoverFault[fresh] = follows;
      s.events.emit(s.time, "pod-replaced", s.id[fresh], -1, "restart action: ReplicaSet created a fresh pod");
      return outcome(s, true, oldId, "pod deleted and recreated");
    }
    case Action.DrainPod: {
      const row = pickTargetPod(s.pods, Action.DrainPod);
      if (row < 0) return outcome(s, false, -1, "no pod eligible for drain");
      s.drained[row] = 1;
      return outcome(s, true, s.id[row], "pod drained");
    }
    default:
      throw new Error(`Expected \`action\` to be an integer in 0..4, got \`${String(action)}\` (${typeof action})`);
  }
}
