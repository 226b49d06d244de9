import { describe, expect, it } from "vitest";
import { Action } from "../harness/core/contract.ts";
import { applyRules, hpa, hpaParamsSchema, recommendReplicas, scaleUpLimit } from "./hpa.ts";
import { steadySnapshot, testContext } from "./test-helpers.ts";

const params = hpaParamsSchema.parse({ targetCpu: 0.5 });
const limits = testContext.limits;

describe("hpa replica math", () => {
  it("keeps the replica count while the usage ratio is within tolerance", () => {
    expect(recommendReplicas(steadySnapshot({ cpu: 0.54 }), params).replicas).toBe(3);
    expect(recommendReplicas(steadySnapshot({ cpu: 0.46 }), params).replicas).toBe(3);
  });

  it("recommends ceil(ready x cpu / target) outside tolerance", () => {
    expect(recommendReplicas(steadySnapshot({ cpu: 0.9 }), params).replicas).toBe(6); // ceil(3 * 1.8) = 6
    expect(recommendReplicas(steadySnapshot({ cpu: 0.2 }), params).replicas).toBe(2); // ceil(3 * 0.4) = 2
  });

  it("counts pods that are not ready yet as idle when scaling up", () => {
    // 3 ready at 60% with 2 pending: (0.6 * 3) / (0.5 * 5) = 0.72 -> no scale-up.
    const s = steadySnapshot({ cpu: 0.6, desiredReplicas: 5, readyReplicas: 3, pending: 2 });
    const rec = recommendReplicas(s, params);
    expect(rec.replicas).toBe(5);
    expect(rec.reason).toMatch(/not ready/);
  });

  it("sizes the serving pods and keeps drained ones on top", () => {
    // 2 serving pods at 90%: ceil(2 * 1.8) = 4 serving, plus the drained one.
    const s = steadySnapshot({ cpu: 0.9, readyReplicas: 3, drained: 1 });
    expect(recommendReplicas(s, params).replicas).toBe(5);
  });

  it("limits a scale-up to max(2x, +4) per period", () => {
    expect(scaleUpLimit(1)).toBe(5);
    expect(scaleUpLimit(6)).toBe(12);
    expect(applyRules(20, 3, 20, 3, { minReplicas: 1, maxReplicas: 64 }).replicas).toBe(7);
  });

  it("holds a scale-down at the highest recommendation of the stabilisation window", () => {
    const rec = applyRules(2, 5, 4, 5, limits);
    expect(rec.replicas).toBe(4);
    expect(rec.reason).toMatch(/stabilisation/);
  });

  it("clamps to maxReplicas and minReplicas", () => {
    expect(applyRules(12, 8, 12, 8, limits)).toEqual({ replicas: 10, reason: "maxReplicas" });
    expect(applyRules(0, 1, 0, 1, limits)).toEqual({ replicas: 1, reason: "minReplicas" });
  });
});

describe("hpa policy", () => {
  it("moves one replica per decision toward its recommendation", () => {
    const policy = hpa.create(params, testContext);
    expect(policy.decide(new Float32Array(9), steadySnapshot({ cpu: 0.95 })).action).toBe(Action.ScaleUp);
    expect(policy.decide(new Float32Array(9), steadySnapshot({ cpu: 0.5, time: 10 })).action).toBe(Action.Noop);
  });

  it("waits out the 300 s stabilisation window before scaling down", () => {
    const policy = hpa.create(params, testContext);
    // A high recommendation (6) at t=0, then low CPU: scale-down only once t=0 leaves the window.
    policy.decide(new Float32Array(9), steadySnapshot({ cpu: 0.9, desiredReplicas: 6, readyReplicas: 6, time: 0 }));
    const low = (time: number) =>
      policy.decide(new Float32Array(9), steadySnapshot({ cpu: 0.1, desiredReplicas: 6, readyReplicas: 6, time }))
        .action;
    expect(low(10)).toBe(Action.Noop);
    expect(low(290)).toBe(Action.Noop);
    expect(low(310)).toBe(Action.ScaleDown);
  });
});
