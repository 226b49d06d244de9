/** Each term of the seed reward, on hand-built transitions. */
import { describe, expect, it } from "vitest";
import { Action, createSnapshot, type Snapshot } from "../harness/contract.ts";
import { REWARD_NAMES, rewards, SEED_REWARD, seedReward } from "./reward.ts";

const limits = { minReplicas: 1, maxReplicas: 10 };

/** 3 desired pods, all healthy, 50% CPU: the baseline where no term applies. */
function snap(over: Partial<Snapshot> = {}): Snapshot {
  return {
    ...createSnapshot(),
    desiredReplicas: 3,
    readyReplicas: 3,
    pods: 3,
    healthy: 3,
    cpu: 0.5,
    memory: 0.35,
    latencyMs: 50,
    errorRate: 0.001,
    requestRate: 150,
    ...over,
  };
}

describe("seed reward", () => {
  it("is 0 for a steady healthy step with noop", () => {
    expect(seedReward(snap(), snap(), Action.Noop, limits)).toBe(0);
  });

  it("+100 on full recovery (not all healthy -> all desired pods healthy and ready)", () => {
    const prev = snap({ healthy: 2, pending: 1, readyReplicas: 2 });
    expect(seedReward(prev, snap(), Action.Noop, limits)).toBe(SEED_REWARD.recovered);
    expect(SEED_REWARD.recovered).toBe(100);
  });

  it("+10 when health improves without full recovery", () => {
    const prev = snap({ healthy: 1, pending: 2, readyReplicas: 1 });
    const cur = snap({ healthy: 2, pending: 1, readyReplicas: 2 });
    expect(seedReward(prev, cur, Action.Noop, limits)).toBe(10);
  });

  it("-10 while any pod is degraded or crashed (not for pending ones)", () => {
    expect(seedReward(snap(), snap({ healthy: 2, degraded: 1 }), Action.Noop, limits)).toBe(-10);
    expect(seedReward(snap(), snap({ healthy: 2, crashed: 1, readyReplicas: 2 }), Action.Noop, limits)).toBe(-10);
    expect(seedReward(snap(), snap({ healthy: 2, pending: 1, readyReplicas: 2 }), Action.Noop, limits)).toBe(0);
  });

  it("-50 when no pod can serve (no ready pod, or every request fails)", () => {
    const down = snap({ healthy: 0, crashed: 3, readyReplicas: 0, errorRate: 1, latencyMs: 10_000, cpu: 0 });
    // -10 for the crashed pods too; no over-scaling term while down.
    expect(seedReward(snap(), down, Action.Noop, limits)).toBe(-50 - 10);
    const drained = snap({ drained: 3, errorRate: 1, cpu: 0 });
    expect(seedReward(snap(), drained, Action.Noop, limits)).toBe(-50);
  });

  it("-1 per non-noop action, applied or not", () => {
    for (const a of [Action.RestartPod, Action.ScaleUp, Action.ScaleDown, Action.DrainPod]) {
      expect(seedReward(snap(), snap(), a, limits)).toBe(-1);
    }
  });

  it("-5 when over-scaled: mean CPU < 0.3 with more replicas than minReplicas", () => {
    expect(seedReward(snap(), snap({ cpu: 0.2 }), Action.Noop, limits)).toBe(-5);
    expect(seedReward(snap(), snap({ cpu: 0.2 }), Action.Noop, { minReplicas: 3, maxReplicas: 10 })).toBe(0);
    expect(seedReward(snap(), snap({ cpu: 0.3 }), Action.Noop, limits)).toBe(0);
  });

  it("adds its terms up", () => {
    const prev = snap({ healthy: 1, degraded: 2 });
    const cur = snap({ healthy: 2, degraded: 1, cpu: 0.1 });
    expect(seedReward(prev, cur, Action.ScaleDown, limits)).toBe(10 - 10 - 1 - 5);
  });

  it("is registered by name", () => {
    expect(REWARD_NAMES).toContain("seed");
    expect(rewards.seed).toBe(seedReward);
  });
});
