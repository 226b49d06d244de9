import { describe, expect, it } from "vitest";
import type { Action } from "../harness/core/contract.ts";
import { checkSim } from "./check.ts";
import { SimEnv, type StepResult } from "./env.ts";

/** Leaks state across instances, as a sloppy env would: a module-level counter. */
let instances = 0;

class RewardLeakEnv extends SimEnv {
  private readonly instance = instances++;
  override step(action: Action): StepResult {
    const r = super.step(action);
    // Perturbs the reward from the 5th step on, differently in each instance.
    if (r.info.step >= 5) (r as { reward: number }).reward += this.instance * 1e-9;
    return r;
  }
}

class ObsLeakEnv extends SimEnv {
  private readonly instance = instances++;
  override step(action: Action): StepResult {
    const r = super.step(action);
    if (r.info.step === 12) r.obs[3] += this.instance;
    return r;
  }
}

describe("checkSim", () => {
  it("passes on SimEnv (default mixed-fault config)", () => {
    expect(() => checkSim({ seed: 3, steps: 300 })).not.toThrow();
  });

  it("throws naming the reward field and the step when rewards differ", () => {
    expect(() => checkSim({ seed: 3, steps: 50, makeEnv: () => new RewardLeakEnv() })).toThrow(
      /checkSim: "reward" differs at step 5 \(episode 0, seed 3\)/,
    );
  });

  it("throws naming the observation element when observations differ", () => {
    expect(() => checkSim({ seed: 3, steps: 50, makeEnv: () => new ObsLeakEnv() })).toThrow(
      /checkSim: "obs\[3\]" differs at step 12/,
    );
  });
});
