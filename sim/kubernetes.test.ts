/**
 * Kubernetes behaviours the simulator reproduces so that results carry over to a cluster:
 * ReplicaSet replacement, kubelet crash back-off, drained pods, scale-down order, replica
 * limits, restart semantics, cascading overload.
 */
import { describe, expect, it } from "vitest";
import { Action, createSnapshot, type FaultInjection, faultSpecSchema, PodPhase } from "../harness/core/contract.ts";
import { advance, applyAction, clearFault, initial, injectFault, observe, type SimState } from "./core.ts";
import { SimEnv } from "./env.ts";
import { copyEvent, type SimEvent } from "./events.ts";
import { type SimParamsInput, simParamsSchema, workloadSchema } from "./params.ts";
import { eventsOf, noop, runEpisode, type StepRecord } from "./test-helpers.ts";

function state(params: SimParamsInput = {}, seed = 1): SimState {
  return initial(simParamsSchema.parse(params), workloadSchema.parse({}), seed);
}

function fault(id: number, spec: unknown, targetKey = 0): FaultInjection {
  return { id, atS: 0, spec: faultSpecSchema.parse(spec), targetKey };
}

/** Advances `steps` steps, collecting (copies of) the events. */
function run(s: SimState, steps: number, into: SimEvent[] = []): SimEvent[] {
  for (const e of s.events.items) into.push(copyEvent(e));
  s.events.clear();
  for (let k = 0; k < steps; k++) {
    advance(s);
    for (const e of s.events.items) into.push(copyEvent(e));
    s.events.clear();
  }
  return into;
}

function rowOf(s: SimState, id: number): number {
  for (let i = 0; i < s.pods.count; i++) if (s.id[i] === id) return i;
  return -1;
}

describe("ReplicaSet", () => {
  it("replaces killed pods without any action (none policy), back to the desired count", () => {
    const config = {
      params: { episodeSteps: 60 },
      faults: [{ type: "pod-kill" as const }],
      frequency: { kind: "fixed" as const, intervalS: 100 },
    };
    const e = runEpisode(2, config, noop);
    expect(e.steps).toHaveLength(60);
    expect(eventsOf(e, "fault-injected")).toHaveLength(5); // at 100, 200, ..., 500 s
    expect(eventsOf(e, "pod-replaced")).toHaveLength(5);
    expect(e.steps.every((s) => s.snapshot.desiredReplicas === 3 && s.snapshot.pods === 3)).toBe(true);
    expect(e.steps.some((s) => s.snapshot.readyReplicas === 2)).toBe(true);
    const last = e.steps.at(-1) as StepRecord;
    expect(last.snapshot.readyReplicas).toBe(3);
    // Pod ids are a creation counter: the replacements are 3, 4, 5, 6, 7, and rows stay sorted by id.
    expect(eventsOf(e, "pod-replaced").map((ev) => ev.podId)).toEqual([3, 4, 5, 6, 7]);
    const ids = last.pods.map((p) => p.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });
});

describe("kubelet crash back-off", () => {
  it("doubles from 10 s (10, 20, 40, ...) and caps at 300 s", () => {
    const s = state({ restartSteps: [3, 3] });
    injectFault(s, fault(0, { type: "pod-failure", durationS: 100_000 }));
    const events = run(s, 260);
    const crashes = events.filter((e) => e.kind === "pod-crashed" && e.podId === 0).map((e) => e.time);
    const restarts = events.filter((e) => e.kind === "pod-restarted" && e.podId === 0).map((e) => e.time);
    const backoffs = restarts.map((t, i) => t - crashes[i]);
    expect(backoffs.slice(0, 9)).toEqual([10, 20, 40, 80, 160, 300, 300, 300, 300]);
    // The container starts for 3 steps and crashes again: crash i+1 = restart i + 30 s.
    expect(crashes.slice(1, 6)).toEqual(restarts.slice(0, 5).map((t) => t + 30));
    expect(s.restarts[rowOf(s, 0)]).toBe(restarts.length);
  });

  it("starts again from 10 s after the container ran backoffResetS (600 s), not before", () => {
    for (const [runS, expected] of [
      [300, 160],
      [700, 10],
    ] as const) {
      const s = state({ restartSteps: [3, 3] });
      injectFault(s, fault(0, { type: "pod-failure", durationS: 1000 }));
      run(s, 25); // crashes with back-offs 10, 20, 40, 80 (next: 160)
      clearFault(s, 0);
      run(s, 15 + runS / 10); // restarts, then runs ready
      expect(s.phase[rowOf(s, 0)]).toBe(PodPhase.Healthy);
      injectFault(s, fault(1, { type: "pod-failure", durationS: 1000 }));
      const events = run(s, 40);
      const crash = events.find((e) => e.kind === "pod-crashed" && e.podId === 0);
      const restart = events.find((e) => e.kind === "pod-restarted" && e.podId === 0);
      expect((restart?.time ?? 0) - (crash?.time ?? 0)).toBe(expected);
    }
  });
});

describe("drained pods", () => {
  it("get no traffic but still count as desired and ready replicas", () => {
    const env = new SimEnv();
    env.reset(5);
    const r = env.step(Action.DrainPod);
    const target = r.info.outcome.podId;
    env.step(Action.Noop);
    const s = env.state;
    const snap = env.step(Action.Noop).info.snapshot;
    const row = rowOf(s, target);
    expect(s.drained[row]).toBe(1);
    expect(s.rps[row]).toBe(0);
    for (let i = 0; i < s.pods.count; i++) {
      if (i !== row) expect(s.rps[i]).toBeCloseTo(snap.requestRate / 2, 9);
    }
    expect(snap.desiredReplicas).toBe(3);
    expect(snap.readyReplicas).toBe(3);
    expect(snap.pods).toBe(3);
    expect(snap.drained).toBe(1);
    // It still costs: CPU at idle, not 0.
    expect(s.cpu[row]).toBeGreaterThan(0);
  });

  it("stay drained until deleted; the restart action's fresh pod is not drained", () => {
    const s = state({ initialReplicas: 1, restartSteps: [3, 3] });
    applyAction(s, Action.DrainPod);
    expect(s.drained[rowOf(s, 0)]).toBe(1);
    run(s, 10);
    expect(s.drained[rowOf(s, 0)]).toBe(1);
    expect(s.rps[rowOf(s, 0)]).toBe(0);
    expect(applyAction(s, Action.RestartPod).podId).toBe(0);
    expect(s.drained[rowOf(s, 1)]).toBe(0);
    run(s, 3);
    expect(s.phase[rowOf(s, 1)]).toBeLessThanOrEqual(PodPhase.Degraded); // ready (alone with 150 rps: overloaded)
    expect(s.rps[rowOf(s, 1)]).toBe(s.offeredRps);
  });
});

describe("scale-down order", () => {
  it("removes a pending pod first, then a not-ready one, then a drained one, then the newest", () => {
    const s = state({ initialReplicas: 4, minReplicas: 1, maxReplicas: 6, startupSteps: [3, 3] });
    applyAction(s, Action.DrainPod); // pod 0 (all equal: lowest id)
    injectFault(s, fault(0, { type: "pod-failure", durationS: 1000 }, 0.5)); // pod 2 crashes
    applyAction(s, Action.ScaleUp); // pod 4, pending
    const victims: number[] = [];
    for (let k = 0; k < 4; k++) {
      const o = applyAction(s, Action.ScaleDown);
      expect(o.applied).toBe(true);
      victims.push(o.podId);
    }
    expect(victims).toEqual([4, 2, 0, 3]);
    const o = applyAction(s, Action.ScaleDown);
    expect(o.applied).toBe(false); // at minReplicas
    expect(o.message).toBe("at minReplicas");
    expect(s.desired).toBe(1);
  });
});

describe("replica limits", () => {
  it("refuse scale actions beyond min/max (applied=false, nothing changes)", () => {
    const s = state({ initialReplicas: 2, minReplicas: 2, maxReplicas: 3 });
    expect(applyAction(s, Action.ScaleDown).applied).toBe(false);
    expect(applyAction(s, Action.ScaleUp).applied).toBe(true);
    expect(applyAction(s, Action.ScaleUp).applied).toBe(false);
    expect(s.desired).toBe(3);
    const snap = observe(s, createSnapshot());
    expect(snap.pods).toBe(3);
  });
});

describe("restart action", () => {
  it("deletes the pod; the ReplicaSet's fresh pod restarts for restartSteps without the old faults", () => {
    const s = state({ restartSteps: [4, 4] });
    injectFault(s, fault(0, { type: "cpu-stress", durationS: 1000 }, 0.4)); // pod 1
    run(s, 5);
    expect(s.phase[rowOf(s, 1)]).toBe(PodPhase.Degraded);
    const o = applyAction(s, Action.RestartPod);
    expect(o.podId).toBe(1); // pickTargetPod: the degraded one
    expect(s.phase[rowOf(s, 1)]).toBe(PodPhase.Terminating);
    const fresh = rowOf(s, 3);
    expect(s.phase[fresh]).toBe(PodPhase.Restarting);
    expect(s.stress[fresh]).toBe(0);
    expect(s.restarts[fresh]).toBe(1);
    run(s, 1);
    expect(rowOf(s, 1)).toBe(-1); // terminated after one step
    run(s, 2);
    expect(s.phase[rowOf(s, 3)]).toBe(PodPhase.Restarting);
    run(s, 1);
    expect(s.phase[rowOf(s, 3)]).toBe(PodPhase.Healthy);
  });
});

describe("cascading overload", () => {
  it("shifts a lost pod's load onto the survivors", () => {
    const s = state({ restartSteps: [3, 3] });
    run(s, 1);
    expect(s.rps[0]).toBeCloseTo(s.offeredRps / 3, 9);
    injectFault(s, fault(0, { type: "pod-failure", durationS: 1000 }, 0));
    run(s, 1);
    expect(s.rps[1]).toBeCloseTo(s.offeredRps / 2, 9);
    expect(s.rps[2]).toBeCloseTo(s.offeredRps / 2, 9);
  });

  it("overloads the survivors past overloadCrashLoad into crashing (total outage)", () => {
    const config = {
      params: { overloadCrashProb: 1 },
      schedule: [
        // 150 rps x 2.4 = 360 rps: 1.2x capacity on each of 3 pods, survivable...
        { id: 0, atS: 0, spec: faultSpecSchema.parse({ type: "load-spike", factor: 2.4 }), targetKey: 0 },
        // ...until one pod is killed: 1.8x on each of the 2 others.
        { id: 1, atS: 50, spec: faultSpecSchema.parse({ type: "pod-kill" }), targetKey: 0 },
      ],
    };
    const e = runEpisode(3, config, noop, 20);
    expect(e.steps.slice(0, 5).every((s) => s.events.every((ev) => ev.kind !== "pod-crashed"))).toBe(true);
    const crashes = eventsOf(e, "pod-crashed");
    expect(crashes.map((ev) => ev.time)).toEqual([60, 60]);
    const last = e.steps.at(-1) as StepRecord;
    expect(last.terminated).toBe(true);
    expect(last.snapshot.readyReplicas).toBe(0);
  });
});
