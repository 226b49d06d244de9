/**
 * Every fault shows its effect in the observation, and its remedy works.
 * Episodes start with the default deployment (3 replicas at ~51% CPU, 50 ms) and one
 * scheduled fault; the remedy is applied by a tiny policy on what it observes.
 */
import { describe, expect, it } from "vitest";
import { Action, type FaultSpecInput, faultSpecSchema, PodPhase, type Snapshot } from "../harness/core/contract.ts";
import type { SimEnvConfig } from "./env.ts";
import { eventsOf, mean, noop, runEpisode, type StepRecord, type TestPolicy } from "./test-helpers.ts";

const SLO_LATENCY_MS = 300;
const SLO_ERROR_RATE = 0.01;

function oneFault(spec: FaultSpecInput, atS = 50, targetKey = 0.5): SimEnvConfig {
  return {
    params: { episodeSteps: 120 },
    schedule: [{ id: 0, atS, spec: faultSpecSchema.parse(spec), targetKey }],
  };
}

/** The pod a fault was injected into (from its event). */
function targetOf(steps: StepRecord[]): number {
  const e = steps.flatMap((s) => s.events).find((ev) => ev.kind === "fault-injected");
  if (e === undefined) throw new Error("no fault-injected event");
  return e.podId;
}

function podAt(s: StepRecord, id: number) {
  return s.pods.find((p) => p.id === id);
}

/** Acts once, the first time `when` holds, then noops. */
function once(action: Action, when: (s: Snapshot) => boolean): TestPolicy {
  let done = false;
  return (s) => {
    if (!done && when(s)) {
      done = true;
      return action;
    }
    return Action.Noop;
  };
}

describe("pod-kill", () => {
  it("deletes a pod, which its ReplicaSet replaces with no action, back to full ready count", () => {
    const e = runEpisode(1, oneFault({ type: "pod-kill" }), noop, 15);
    const killed = targetOf(e.steps);
    const atKill = e.steps[5]; // the step from t=50 to t=60
    expect(atKill.snapshot.readyReplicas).toBe(2);
    expect(atKill.snapshot.sinceFailureS).toBe(10);
    expect(atKill.obs[0]).toBeCloseTo(2 / 10); // healthy / maxReplicas
    expect(eventsOf(e, "pod-replaced")).toHaveLength(1);
    const last = e.steps.at(-1) as StepRecord;
    expect(last.snapshot.readyReplicas).toBe(3);
    expect(last.snapshot.healthy).toBe(3);
    expect(last.pods.map((p) => p.id)).not.toContain(killed);
    expect(last.pods.map((p) => p.id)).toContain(3);
  });
});

describe("pod-failure", () => {
  const config = oneFault({ type: "pod-failure", durationS: 600 });

  it("crash-loops the pod while active (crashed shows, restarts climb, never ready)", () => {
    const e = runEpisode(1, config, noop, 60);
    const target = targetOf(e.steps);
    expect(e.steps.some((s) => s.snapshot.crashed === 1)).toBe(true);
    expect(e.steps.slice(5).every((s) => s.snapshot.readyReplicas === 2)).toBe(true);
    expect(podAt(e.steps.at(-1) as StepRecord, target)?.restarts).toBeGreaterThanOrEqual(4);
    expect(eventsOf(e, "pod-crashed").length).toBeGreaterThanOrEqual(4);
  });

  it("is cleared by a restart action: the fresh pod does not carry the fault", () => {
    const policy: TestPolicy = (s) => (s.crashed > 0 ? Action.RestartPod : Action.Noop);
    const e = runEpisode(1, config, policy, 40);
    const last = e.steps.at(-1) as StepRecord;
    expect(last.snapshot.time).toBeLessThan(50 + 600); // the fault is still active
    expect(last.snapshot.readyReplicas).toBe(3);
    expect(last.snapshot.healthy).toBe(3);
    expect(e.steps.filter((s) => s.action === Action.RestartPod && s.applied)).toHaveLength(1);
  });
});

describe("cpu-stress", () => {
  const config = oneFault({ type: "cpu-stress", durationS: 1000, load: 0.6 });

  it("raises the target's CPU and the service p95 latency", () => {
    const e = runEpisode(1, config, noop, 15);
    const target = targetOf(e.steps);
    const last = e.steps.at(-1) as StepRecord;
    expect(podAt(last, target)?.cpu).toBeGreaterThan(0.99);
    expect(podAt(last, target)?.phase).toBe(PodPhase.Degraded);
    for (const p of last.pods.filter((p) => p.id !== target)) expect(p.cpu).toBeLessThan(0.6);
    expect(last.snapshot.latencyMs).toBeGreaterThan(SLO_LATENCY_MS);
    expect(last.snapshot.cpu).toBeGreaterThan(0.6);
  });

  it("is cleared by restarting that pod", () => {
    const e = runEpisode(
      1,
      config,
      once(Action.RestartPod, (s) => s.degraded > 0),
      30,
    );
    const target = targetOf(e.steps);
    const restart = e.steps.find((s) => s.action === Action.RestartPod);
    expect(restart?.applied).toBe(true);
    const last = e.steps.at(-1) as StepRecord;
    expect(last.pods.map((p) => p.id)).not.toContain(target);
    expect(last.snapshot.healthy).toBe(3);
    expect(last.snapshot.latencyMs).toBeLessThan(60);
    expect(last.snapshot.cpu).toBeLessThan(0.6);
  });
});

describe("memory-leak", () => {
  const config = oneFault({ type: "memory-leak", ratePerMin: 0.3 }, 50, 0);

  it("climbs the target's memory and ends in an OOM kill, after which memory is fresh", () => {
    const e = runEpisode(1, config, noop, 40);
    const target = targetOf(e.steps);
    const mem = e.steps.map((s) => podAt(s, target)?.memory ?? 0);
    const oom = eventsOf(e, "pod-oom-killed");
    expect(oom).toHaveLength(1);
    expect(oom[0].podId).toBe(target);
    const oomStep = e.steps.findIndex((s) => s.events.some((ev) => ev.kind === "pod-oom-killed"));
    // Memory rose step after step up to the kill, and was past 0.9 (degraded) just before it.
    for (let k = 6; k < oomStep; k++) expect(mem[k]).toBeGreaterThan(mem[k - 1]);
    expect(mem[oomStep - 1]).toBeGreaterThan(0.9);
    expect(e.steps.some((s) => s.snapshot.memory > 0.45)).toBe(true); // visible in the mean too
    const last = e.steps.at(-1) as StepRecord;
    expect(podAt(last, target)?.phase).toBe(PodPhase.Healthy);
    expect(podAt(last, target)?.memory).toBeLessThan(0.4);
    expect(podAt(last, target)?.restarts).toBe(1);
  });

  it("is cleared by a restart before the OOM kill", () => {
    const e = runEpisode(
      1,
      config,
      once(Action.RestartPod, (s) => s.degraded > 0),
      40,
    );
    expect(eventsOf(e, "pod-oom-killed")).toHaveLength(0);
    const last = e.steps.at(-1) as StepRecord;
    expect(last.pods.map((p) => p.id)).not.toContain(targetOf(e.steps));
    expect(Math.max(...last.pods.map((p) => p.memory))).toBeLessThan(0.4);
    expect(last.snapshot.healthy).toBe(3);
  });
});

describe("network-delay", () => {
  const config = oneFault({ type: "network-delay", durationS: 600, delayMs: 300 });

  it("raises the service p95 latency past the SLO (one slow pod of three)", () => {
    const e = runEpisode(1, config, noop, 15);
    const last = e.steps.at(-1) as StepRecord;
    expect(last.snapshot.latencyMs).toBeGreaterThan(SLO_LATENCY_MS);
    expect(last.snapshot.degraded).toBe(1);
    expect(last.obs[5]).toBeGreaterThan(0.3); // latency / 1000
  });

  it("draining that pod brings the service latency back", () => {
    const e = runEpisode(
      1,
      config,
      once(Action.DrainPod, (s) => s.degraded > 0),
      20,
    );
    const drain = e.steps.find((s) => s.action === Action.DrainPod);
    expect(drain?.applied).toBe(true);
    const last = e.steps.at(-1) as StepRecord;
    expect(last.snapshot.time).toBeLessThan(50 + 600);
    expect(last.snapshot.latencyMs).toBeLessThan(60);
    const slow = podAt(last, targetOf(e.steps));
    expect(slow?.drained).toBe(1);
    expect(last.snapshot.readyReplicas).toBe(3);
  });
});

describe("load-spike", () => {
  const config = oneFault({ type: "load-spike", durationS: 1000, factor: 2 });

  it("raises CPU, latency and errors past the SLO", () => {
    const e = runEpisode(1, config, noop, 20);
    const late = e.steps.slice(10);
    expect(mean(late.map((s) => s.snapshot.cpu))).toBeGreaterThan(0.95);
    expect(mean(late.map((s) => s.snapshot.latencyMs))).toBeGreaterThan(SLO_LATENCY_MS);
    expect(mean(late.map((s) => s.snapshot.errorRate))).toBeGreaterThan(SLO_ERROR_RATE);
  });

  it("scaling up brings them back while the spike lasts", () => {
    const policy: TestPolicy = (s) => (s.desiredReplicas < 5 && s.cpu > 0.8 ? Action.ScaleUp : Action.Noop);
    const e = runEpisode(1, config, policy, 40);
    const late = e.steps.slice(30);
    expect(late.every((s) => s.snapshot.desiredReplicas === 5)).toBe(true);
    expect(late.every((s) => s.snapshot.requestRate > 250)).toBe(true); // still spiking
    expect(mean(late.map((s) => s.snapshot.cpu))).toBeLessThan(0.7);
    expect(Math.max(...late.map((s) => s.snapshot.latencyMs))).toBeLessThan(60);
    expect(Math.max(...late.map((s) => s.snapshot.errorRate))).toBeLessThan(SLO_ERROR_RATE);
  });
});
