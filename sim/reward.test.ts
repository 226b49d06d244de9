/** Each term of the seed and aligned rewards, on hand-built transitions; the seed reward's exploits on fixed seeds. */
import { describe, expect, it } from "vitest";
import { Action, createSnapshot, type Snapshot } from "../harness/core/contract.ts";
import { SimEnv, type SimEnvConfig } from "./env.ts";
import {
  ALIGNED_REWARD,
  alignedCostReward,
  alignedReward,
  REWARD_NAMES,
  rewards,
  SEED_REWARD,
  seedReward,
} from "./reward.ts";

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

describe("aligned reward", () => {
  const W = ALIGNED_REWARD;

  it("pays sloHeld minus the replica cost for a step with the SLO held", () => {
    expect(alignedReward(snap(), snap(), Action.Noop, limits)).toBeCloseTo(W.sloHeld - 3 * W.replicaCost, 12);
  });

  it("pays nothing for a breached step, however many replicas (never negative without an action)", () => {
    const slow = snap({ latencyMs: 400, desiredReplicas: 8 });
    expect(alignedReward(snap(), slow, Action.Noop, limits)).toBe(0);
    const down = snap({ healthy: 0, crashed: 3, readyReplicas: 0, errorRate: 1, latencyMs: 10_000 });
    expect(alignedReward(snap(), down, Action.Noop, limits)).toBe(0);
    expect(alignedReward(snap(), snap({ errorRate: 0.02 }), Action.Noop, limits)).toBe(0);
  });

  it("charges every action, and more when the SLO breaks right after it (action harm)", () => {
    const held = W.sloHeld - 3 * W.replicaCost;
    expect(alignedReward(snap(), snap(), Action.RestartPod, limits)).toBeCloseTo(held + W.action, 12);
    const broke = snap({ latencyMs: 500 });
    expect(alignedReward(snap(), broke, Action.ScaleDown, limits)).toBeCloseTo(W.action + W.harm, 12);
    // Already breached before: the action did not break it.
    expect(alignedReward(broke, broke, Action.ScaleUp, limits)).toBeCloseTo(W.action, 12);
  });

  it("has no transition bonus: reaching all-healthy pays only the held step", () => {
    const prev = snap({ healthy: 2, pending: 1, readyReplicas: 2 });
    expect(alignedReward(prev, snap(), Action.Noop, limits)).toBeCloseTo(W.sloHeld - 3 * W.replicaCost, 12);
  });

  it("is registered by name", () => {
    expect(REWARD_NAMES).toContain("aligned");
    expect(rewards.aligned).toBe(alignedReward);
  });
});

describe("aligned-cost reward", () => {
  const W = ALIGNED_REWARD;
  const saving = (desired: number) => W.replicaCost * (limits.maxReplicas - desired);

  it("charges replicas on held and breached steps alike, as savings below the ceiling", () => {
    expect(alignedCostReward(snap(), snap(), Action.Noop, limits)).toBeCloseTo(W.sloHeld + saving(3), 12);
    const slow = snap({ latencyMs: 400, desiredReplicas: 8 });
    expect(alignedCostReward(snap(), slow, Action.Noop, limits)).toBeCloseTo(saving(8), 12);
    // One more replica during a breach costs what it costs while the SLO holds.
    const slower = snap({ latencyMs: 400, desiredReplicas: 9 });
    expect(
      alignedCostReward(snap(), slow, Action.Noop, limits) - alignedCostReward(snap(), slower, Action.Noop, limits),
    ).toBeCloseTo(W.replicaCost, 12);
  });

  it("is never negative without an action, at the ceiling or all down, so ending an episode never pays", () => {
    const full = snap({ latencyMs: 400, desiredReplicas: limits.maxReplicas });
    expect(alignedCostReward(snap(), full, Action.Noop, limits)).toBe(0);
    const down = snap({ healthy: 0, crashed: 3, readyReplicas: 0, errorRate: 1, latencyMs: 10_000 });
    expect(alignedCostReward(snap(), down, Action.Noop, limits)).toBeGreaterThanOrEqual(0);
  });

  it("keeps the aligned reward's action and harm terms", () => {
    const broke = snap({ latencyMs: 500 });
    expect(alignedCostReward(snap(), broke, Action.ScaleDown, limits)).toBeCloseTo(saving(3) + W.action + W.harm, 12);
    expect(alignedCostReward(broke, broke, Action.ScaleUp, limits)).toBeCloseTo(saving(3) + W.action, 12);
  });

  it("is registered by name", () => {
    expect(rewards["aligned-cost"]).toBe(alignedCostReward);
  });
});

/**
 * The two exploits a Stable-Baselines3 PPO found in the seed reward, played on fixed seeds
 * (1..10) against a sensible policy under both rewards. Actions go through a minimal guard
 * (one action per 60 s, replica limits), as in training. Pod failures every 300 s on a
 * constant load: the setting where the exploits' mechanism (transition bonuses) is at work.
 */
describe("the seed reward's exploits do not pay under the aligned reward", () => {
  type Rule = (s: Snapshot) => Action;
  const config = (reward: "seed" | "aligned", pattern: "constant" | "random-walk"): SimEnvConfig => ({
    faults: [{ type: "pod-failure" }],
    frequency: pattern === "constant" ? { kind: "fixed", intervalS: 300 } : { kind: "poisson", meanIntervalS: 250 },
    workload: { pattern },
    reward,
  });

  /** Mean episode return of `rule` over seeds 1..10. */
  function meanReturn(rule: Rule, reward: "seed" | "aligned", pattern: "constant" | "random-walk" = "constant") {
    const env = new SimEnv();
    const cfg = config(reward, pattern);
    let total = 0;
    for (let seed = 1; seed <= 10; seed++) {
      let r = env.reset(seed, cfg);
      let lastAction = Number.NEGATIVE_INFINITY;
      for (;;) {
        const s = r.info.snapshot;
        let a = rule(s);
        if (s.time - lastAction < 60) a = Action.Noop;
        if (a === Action.ScaleDown && s.desiredReplicas <= 1) a = Action.Noop;
        if (a === Action.ScaleUp && s.desiredReplicas >= 10) a = Action.Noop;
        if (a !== Action.Noop) lastAction = s.time;
        const step = env.step(a);
        total += step.reward;
        if (step.terminated || step.truncated) break;
        r = step;
      }
    }
    return total / 10;
  }

  /** Sensible: restart a crashed pod, hold 3 replicas. */
  const restartCrashed: Rule = (s) => (s.crashed > 0 ? Action.RestartPod : Action.Noop);
  /** Exploit 1: scale down when a pod crashes (the crashed pod goes first: "recovered" at once), scale back up when healthy. */
  const scaleDownOnCrash: Rule = (s) =>
    s.crashed > 0 ? Action.ScaleDown : s.desiredReplicas < 3 && s.healthy === s.pods ? Action.ScaleUp : Action.Noop;
  /** Exploit 2: keep 5 replicas (restarting crashed pods like the sensible policy). */
  const holdFive: Rule = (s) =>
    s.crashed > 0 ? Action.RestartPod : s.desiredReplicas < 5 ? Action.ScaleUp : Action.Noop;

  /** 1% of the best possible aligned episode return (200 steps x sloHeld): the noise floor. */
  const tolerance = 0.01 * 200 * ALIGNED_REWARD.sloHeld;

  it("scale-down on crash: pays about double under seed; under aligned, no more than restarting", () => {
    const seedExploit = meanReturn(scaleDownOnCrash, "seed");
    const seedSensible = meanReturn(restartCrashed, "seed");
    expect(seedExploit).toBeGreaterThan(1.5 * seedSensible);
    const exploit = meanReturn(scaleDownOnCrash, "aligned");
    const sensible = meanReturn(restartCrashed, "aligned");
    expect(exploit).toBeLessThanOrEqual(sensible + tolerance);
    // Where the load moves, the capacity it gives away turns into breached steps.
    expect(meanReturn(scaleDownOnCrash, "aligned", "random-walk")).toBeLessThan(
      meanReturn(restartCrashed, "aligned", "random-walk") - 50,
    );
  });

  it("keeping extra replicas: pays under seed, costs under aligned when they buy no uptime", () => {
    expect(meanReturn(holdFive, "seed")).toBeGreaterThan(meanReturn(restartCrashed, "seed") + 100);
    expect(meanReturn(holdFive, "aligned")).toBeLessThan(meanReturn(restartCrashed, "aligned") - 5);
  });
});
