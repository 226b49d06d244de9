import { describe, expect, it } from "vitest";
import { Action, PodPhase, type Snapshot } from "../harness/core/contract.ts";
import { heuristic, heuristicParamsSchema } from "./heuristic.ts";
import { setPod, steadySnapshot, testContext } from "./test-helpers.ts";

const params = heuristicParamsSchema.parse({});
const state = new Float32Array(9);

function decideOnce(s: Snapshot, over = {}) {
  return heuristic.create(heuristicParamsSchema.parse(over), testContext).decide(state, s);
}

/** A steady service whose CPU sits between the default cpuLow and cpuHigh, whatever they are tuned to. */
function steady(over: Partial<Snapshot> = {}): Snapshot {
  return steadySnapshot({ cpu: (params.cpuLow + params.cpuHigh) / 2, ...over });
}

describe("heuristic policy", () => {
  it("does nothing on a steady service", () => {
    expect(decideOnce(steady()).action).toBe(Action.Noop);
  });

  it("restarts a crashed pod at once", () => {
    const s = steady({ healthy: 2, crashed: 1, readyReplicas: 2 });
    setPod(s.podTable!, 0, { phase: PodPhase.Crashed });
    expect(decideOnce(s).action).toBe(Action.RestartPod);
    expect(decideOnce(s, { restartCrashed: false }).action).toBe(Action.Noop);
  });

  it("scales up on high CPU", () => {
    expect(decideOnce(steadySnapshot({ cpu: params.cpuHigh + 0.05 })).action).toBe(Action.ScaleUp);
  });

  it("scales up on high latency only while the load explains it", () => {
    // cpuLoaded below cpuHigh, so that CPU alone does not trigger the scale-up.
    const over = { cpuHigh: 0.9, cpuLoaded: 0.6 };
    const slowLoaded = steadySnapshot({ cpu: 0.7, latencyMs: params.latencyHighMs + 50 });
    expect(decideOnce(slowLoaded, over).action).toBe(Action.ScaleUp);
    const slowIdle = steadySnapshot({ cpu: 0.4, latencyMs: params.latencyHighMs + 50 });
    expect(decideOnce(slowIdle, over).action).toBe(Action.Noop);
  });

  it("does not scale up at maxReplicas", () => {
    const s = steadySnapshot({ cpu: 0.95, desiredReplicas: testContext.limits.maxReplicas });
    expect(decideOnce(s).action).not.toBe(Action.ScaleUp);
  });

  it("restarts a pod whose memory nears its limit", () => {
    const s = steady();
    setPod(s.podTable!, 1, { memory: params.memoryHigh + 0.05 });
    expect(decideOnce(s).action).toBe(Action.RestartPod);
  });

  it("drains a pod that stays slow but not failing, after degradedSteps decisions, when drainSlowPods", () => {
    const p = heuristicParamsSchema.parse({ drainSlowPods: true, degradedSteps: 3 });
    const policy = heuristic.create(p, testContext);
    const s = steady({ healthy: 2, degraded: 1, latencyMs: 400 });
    setPod(s.podTable!, 2, { phase: PodPhase.Degraded, latencyMs: 400 });
    const actions = Array.from({ length: p.degradedSteps }, () => policy.decide(state, s).action);
    expect(actions.slice(0, -1).every((a) => a === Action.Noop)).toBe(true);
    expect(actions.at(-1)).toBe(Action.DrainPod);
  });

  it("restarts a slow pod instead of draining it when drainSlowPods is off", () => {
    const p = heuristicParamsSchema.parse({ drainSlowPods: false, degradedSteps: 1 });
    const s = steady({ healthy: 2, degraded: 1, latencyMs: 400 });
    setPod(s.podTable!, 2, { phase: PodPhase.Degraded, latencyMs: 400 });
    expect(heuristic.create(p, testContext).decide(state, s).action).toBe(Action.RestartPod);
  });

  it("restarts a degraded pod that fails requests rather than draining it", () => {
    const p = heuristicParamsSchema.parse({ drainSlowPods: true, degradedSteps: 3 });
    const policy = heuristic.create(p, testContext);
    const s = steady({ healthy: 2, degraded: 1, errorRate: 0.1 });
    setPod(s.podTable!, 2, { phase: PodPhase.Degraded, errorRate: 0.3 });
    const actions = Array.from({ length: p.degradedSteps }, () => policy.decide(state, s).action);
    expect(actions.slice(0, -1).every((a) => a === Action.Noop)).toBe(true);
    expect(actions.at(-1)).toBe(Action.RestartPod);
  });

  it("scales down only after lowCpuSteps decisions of low CPU, never below minReplicas", () => {
    const policy = heuristic.create(params, testContext);
    const low = steadySnapshot({ cpu: params.cpuLow - 0.1 });
    const actions = Array.from({ length: params.lowCpuSteps }, () => policy.decide(state, low).action);
    expect(actions.slice(0, -1).every((a) => a === Action.Noop)).toBe(true);
    expect(actions.at(-1)).toBe(Action.ScaleDown);
    const atMin = steadySnapshot({ cpu: 0.05, desiredReplicas: 1 });
    const p2 = heuristic.create(params, testContext);
    for (let i = 0; i < params.lowCpuSteps + 2; i++) expect(p2.decide(state, atMin).action).toBe(Action.Noop);
  });

  it("forgets its counters on reset", () => {
    const policy = heuristic.create(params, testContext);
    const low = steadySnapshot({ cpu: 0.1 });
    for (let i = 0; i < params.lowCpuSteps - 1; i++) policy.decide(state, low);
    policy.reset?.(2);
    expect(policy.decide(state, low).action).toBe(Action.Noop);
  });
});
