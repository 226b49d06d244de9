/** The snapshot's service aggregates: traffic-weighted p95 latency, means, and a down service. */
import { describe, expect, it } from "vitest";
import { Action, createSnapshot, PodPhase } from "../harness/core/contract.ts";
import { applyAction, initial, observe, type SimState, terminal } from "./core.ts";
import { simParamsSchema, workloadSchema } from "./params.ts";

function state(replicas: number): SimState {
  return initial(
    simParamsSchema.parse({ initialReplicas: replicas, maxReplicas: Math.max(replicas, 10) }),
    workloadSchema.parse({ baseRps: 50 * replicas }),
    1,
  );
}

describe("observe", () => {
  it("p95 latency: one slow pod of 3 (33% of the traffic) makes the service slow", () => {
    const s = state(3);
    s.latencyMs[1] = 400;
    expect(observe(s, createSnapshot()).latencyMs).toBe(400);
  });

  it("p95 latency: one slow pod of 20 (5% of the traffic) does not, two do", () => {
    const s = state(20);
    s.latencyMs[7] = 400;
    expect(observe(s, createSnapshot()).latencyMs).toBe(50);
    s.latencyMs[12] = 300;
    expect(observe(s, createSnapshot()).latencyMs).toBe(300);
    s.latencyMs[3] = 900;
    expect(observe(s, createSnapshot()).latencyMs).toBe(400);
  });

  it("p95 latency ignores drained pods (no traffic)", () => {
    const s = state(3);
    s.latencyMs[0] = 400;
    s.errorRate[0] = 0.5;
    s.drained[0] = 1;
    const snap = observe(s, createSnapshot());
    expect(snap.latencyMs).toBe(50);
    expect(snap.drained).toBe(1);
    expect(snap.readyReplicas).toBe(3);
  });

  it("error rate is the traffic-weighted mean; cpu and memory plain means over serving pods", () => {
    const s = state(4);
    s.errorRate[0] = 0.2;
    s.cpu[3] = 0.9;
    const snap = observe(s, createSnapshot());
    expect(snap.errorRate).toBeCloseTo((0.2 + 3 * s.errorRate[1]) / 4, 12);
    expect(snap.cpu).toBeCloseTo((0.9 + 3 * s.cpu[0]) / 4, 12);
  });

  it("with no serving pod: error rate 1, latency at the timeout, cpu and memory 0, terminal", () => {
    const s = state(2);
    applyAction(s, Action.DrainPod);
    applyAction(s, Action.DrainPod);
    const snap = observe(s, createSnapshot());
    expect(snap).toMatchObject({ errorRate: 1, latencyMs: 10_000, cpu: 0, memory: 0, readyReplicas: 2 });
    expect(terminal(s)).toBe(true);
    expect(s.serving).toBe(0);
  });

  it("counts pods by phase: healthy + degraded + crashed + pending (with restarting) === pods; terminating apart", () => {
    const s = state(6);
    s.phase[0] = PodPhase.Degraded;
    s.phase[1] = PodPhase.Crashed;
    s.phase[2] = PodPhase.Restarting;
    s.phase[3] = PodPhase.Pending;
    s.phase[4] = PodPhase.Terminating;
    const snap = observe(s, createSnapshot());
    expect(snap).toMatchObject({ healthy: 1, degraded: 1, crashed: 1, pending: 2, terminating: 1, pods: 5 });
    expect(snap.readyReplicas).toBe(2);
    expect(snap.podTable?.count).toBe(6);
  });
});
