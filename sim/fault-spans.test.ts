/**
 * A fault's live span on the simulator, per type (contract.ts `FaultEndCause`): the one
 * `fault-ended` event each fault gets, at the moment its effect is gone, and the
 * policy-independent choice of its target (a rank among running pods).
 */
import { describe, expect, it } from "vitest";
import {
  Action,
  type BackendEvent,
  type FaultInjection,
  type FaultSpecInput,
  faultSpecSchema,
  faultTargetRank,
  PodPhase,
} from "../harness/core/contract.ts";
import { SimBackend } from "./backend.ts";

function fault(id: number, spec: FaultSpecInput, targetKey = 0): FaultInjection {
  return { id, atS: 0, spec: faultSpecSchema.parse(spec), targetKey };
}

/** Runs the backend `seconds` further in 10 s steps, collecting its events. */
function run(b: SimBackend, seconds: number, into: BackendEvent[]): void {
  for (let t = 0; t < seconds; t += 10) {
    b.clock.sleep(10);
    into.push(...b.drainEvents());
  }
}

const ended = (events: readonly BackendEvent[], id: number) =>
  events.filter((e) => e.kind === "fault-ended" && e.faultId === id);

describe("fault live spans on the simulator", () => {
  it("pod-kill: ends when the replacement pod is ready, not at the kill", () => {
    const b = new SimBackend({ seed: 1 });
    const events: BackendEvent[] = [];
    b.inject(fault(1, { type: "pod-kill" }));
    events.push(...b.drainEvents());
    expect(ended(events, 1)).toHaveLength(0);
    const replacement = events.find((e) => e.kind === "pod-replaced")!.podId;
    run(b, 120, events);
    const ready = events.find((e) => e.kind === "pod-ready" && e.podId === replacement)!;
    expect(ended(events, 1)).toEqual([expect.objectContaining({ time: ready.time, podId: replacement })]);
    expect(ready.time).toBeGreaterThan(0);
  });

  it("memory-leak: lives through the OOM kill and ends when the restarted container is ready", () => {
    const b = new SimBackend({ seed: 2 });
    const events: BackendEvent[] = [];
    b.inject(fault(2, { type: "memory-leak", ratePerMin: 0.5 }));
    run(b, 600, events);
    const oom = events.find((e) => e.kind === "pod-oom-killed")!;
    expect(oom).toBeDefined();
    const end = ended(events, 2);
    expect(end).toHaveLength(1);
    const readyAgain = events.find((e) => e.kind === "pod-ready" && e.podId === oom.podId && e.time > oom.time)!;
    expect(end[0]).toMatchObject({ time: readyAgain.time, podId: oom.podId });
    // Clearing it afterwards (the episode's end) does not end it twice.
    b.clear(fault(2, { type: "memory-leak" }));
    expect(ended(b.drainEvents(), 2)).toHaveLength(0);
  });

  it("memory-leak: a restart action hands the span on to the fresh pod, which ends it when ready", () => {
    const b = new SimBackend({ seed: 3, params: { initialReplicas: 1, minReplicas: 1 } });
    const events: BackendEvent[] = [];
    b.inject(fault(3, { type: "memory-leak", ratePerMin: 0.05 }));
    run(b, 30, events);
    const out = b.execute(Action.RestartPod);
    expect(out.applied).toBe(true);
    events.push(...b.drainEvents());
    expect(ended(events, 3)).toHaveLength(0);
    const fresh = events.find((e) => e.kind === "pod-replaced")!.podId;
    run(b, 120, events);
    expect(ended(events, 3)).toEqual([expect.objectContaining({ podId: fresh })]);
  });

  it("cpu-stress: ends when cleared, or at once when its pod is deleted by a restart", () => {
    const cleared = new SimBackend({ seed: 4 });
    const a: BackendEvent[] = [];
    cleared.inject(fault(4, { type: "cpu-stress", durationS: 60 }));
    run(cleared, 60, a);
    expect(ended(a, 4)).toHaveLength(0);
    cleared.clear(fault(4, { type: "cpu-stress" }));
    a.push(...cleared.drainEvents());
    expect(ended(a, 4)).toEqual([expect.objectContaining({ time: 60 })]);

    // One replica: the restart hits the stressed pod.
    const restarted = new SimBackend({ seed: 4, params: { initialReplicas: 1, minReplicas: 1 } });
    const b: BackendEvent[] = [];
    restarted.inject(fault(5, { type: "cpu-stress", durationS: 600 }));
    run(restarted, 20, b);
    restarted.execute(Action.RestartPod);
    b.push(...restarted.drainEvents());
    expect(ended(b, 5)).toEqual([expect.objectContaining({ time: 20, podId: 0 })]);
  });

  it("pod-failure: ends at its clear although the pod is still in back-off", () => {
    const b = new SimBackend({ seed: 5 });
    const events: BackendEvent[] = [];
    b.inject(fault(6, { type: "pod-failure", durationS: 40 }));
    run(b, 40, events);
    b.clear(fault(6, { type: "pod-failure" }));
    events.push(...b.drainEvents());
    expect(ended(events, 6)).toEqual([expect.objectContaining({ time: 40 })]);
  });

  it("load-spike: ends when cleared", () => {
    const b = new SimBackend({ seed: 6 });
    const events: BackendEvent[] = [];
    b.inject(fault(7, { type: "load-spike", durationS: 30 }));
    run(b, 30, events);
    b.clear(fault(7, { type: "load-spike" }));
    events.push(...b.drainEvents());
    expect(ended(events, 7)).toEqual([expect.objectContaining({ time: 30, podId: -1 })]);
  });

  it("hits only running pods, by rank oldest first, and skips a pod fault when none runs", () => {
    const b = new SimBackend({ seed: 7, params: { initialReplicas: 3 } });
    // targetKey 0.7 of 3 replicas: rank 2, the youngest of pods 0, 1, 2.
    b.inject(fault(8, { type: "cpu-stress" }, 0.7));
    expect(b.drainEvents()[0]).toMatchObject({ kind: "fault-injected", podId: 2, targetRank: 2 });
    // Kill pod 0 (rank 0): its replacement is pending, so rank 2 now wraps to rank 0 of the
    // two running pods (1 and 2): pod 1.
    b.inject(fault(9, { type: "pod-kill" }, 0));
    b.drainEvents();
    b.inject(fault(10, { type: "network-delay" }, 0.7));
    expect(b.drainEvents()[0]).toMatchObject({ kind: "fault-injected", podId: 1, targetRank: 0 });
    expect(faultTargetRank(0.7, 3, 2)).toBe(0);

    const none = new SimBackend({ seed: 8, params: { initialReplicas: 1, minReplicas: 1 } });
    none.inject(fault(11, { type: "pod-failure", durationS: 600 }));
    none.drainEvents();
    expect(none.state.phase[0]).toBe(PodPhase.Crashed);
    none.inject(fault(12, { type: "cpu-stress" }));
    expect(none.drainEvents()).toEqual([expect.objectContaining({ kind: "fault-skipped", faultId: 12, podId: -1 })]);
  });
});
