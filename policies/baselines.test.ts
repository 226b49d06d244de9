import { describe, expect, it } from "vitest";
import { ACTION_COUNT, Action } from "../harness/core/contract.ts";
import { createPolicy, POLICY_NAMES, policies, preparePolicy } from "./index.ts";
import { steadySnapshot, testContext } from "./test-helpers.ts";

const state = new Float32Array(9);

describe("policy registry", () => {
  it("lists every policy by name and builds each with its default parameters", async () => {
    expect(POLICY_NAMES).toEqual(Object.keys(policies));
    for (const name of POLICY_NAMES) {
      // rl's default is the committed model; the registry test serves an SB3 fixture instead.
      const params = name === "rl" ? { model: "policies/fixtures/sb3/sb3_ppo_k8s.onnx" } : undefined;
      await preparePolicy(name, params, { logger: { warn: () => {} } });
      const policy = createPolicy(name, params, testContext);
      expect(policy.name).toBe(name);
      const d = await policy.decide(state, steadySnapshot());
      expect(d).toHaveProperty("action");
    }
  });

  it("refuses unknown parameters", () => {
    expect(() => createPolicy("heuristic", { cpuHihg: 0.9 }, testContext)).toThrow(/cpuHihg/);
  });
});

describe("none policy", () => {
  it("never acts", () => {
    const p = createPolicy("none", {}, testContext);
    expect(p.decide(state, steadySnapshot({ crashed: 3, cpu: 1 }))).toMatchObject({ action: Action.Noop });
  });
});

describe("random policy", () => {
  const draw = (seed: number, n: number, params = {}) => {
    const p = createPolicy("random", params, { ...testContext, seed });
    return Array.from({ length: n }, () => p.decide(state, steadySnapshot()).action);
  };

  it("is reproducible for a seed and differs between seeds", () => {
    expect(draw(7, 50)).toEqual(draw(7, 50));
    expect(draw(7, 50)).not.toEqual(draw(8, 50));
  });

  it("draws every action about equally often", () => {
    const counts = new Array(ACTION_COUNT).fill(0);
    for (const a of draw(3, 10_000)) counts[a]++;
    for (const c of counts) expect(c).toBeGreaterThan(1800);
  });

  it("acts only with probability actProb", () => {
    const acts = draw(3, 10_000, { actProb: 0.1 }).filter((a) => a !== Action.Noop).length;
    expect(acts).toBeGreaterThan(600);
    expect(acts).toBeLessThan(1000);
  });

  it("restarts its stream on reset", () => {
    const p = createPolicy("random", {}, { ...testContext, seed: 5 });
    const first = Array.from({ length: 20 }, () => p.decide(state, steadySnapshot()).action);
    p.reset?.(5);
    expect(Array.from({ length: 20 }, () => p.decide(state, steadySnapshot()).action)).toEqual(first);
  });
});
