import { describe, expect, it } from "vitest";
import { createSnapshot, type Snapshot } from "../harness/core/contract.ts";
import { StopConditions } from "./stop-conditions.ts";

const slo = { latencyMs: 300, errorRate: 0.01 };
const snap = (time: number, errorRate: number, readyReplicas = 3): Snapshot =>
  Object.assign(createSnapshot(), { time, errorRate, readyReplicas, latencyMs: 50 });

describe("stop conditions", () => {
  it("trip once the SLO has been broken for longer than the limit, not at the limit", () => {
    const s = new StopConditions({ sloBrokenForS: 10 }, slo);
    expect(s.check(snap(0, 0.05))).toBeNull();
    expect(s.check(snap(10, 0.05))).toBeNull();
    expect(s.check(snap(11, 0.05))).toBe("SLO broken for 11.0 s, longer than the stop limit 10 s");
    // Once tripped, they stay tripped and say it once.
    expect(s.check(snap(12, 0.05))).toBeNull();
    expect(s.reason).toMatch(/^SLO broken/);
  });

  it("a held SLO restarts the count", () => {
    const s = new StopConditions({ sloBrokenForS: 10 }, slo);
    s.check(snap(0, 0.05));
    s.check(snap(8, 0));
    expect(s.check(snap(9, 0.05))).toBeNull();
    expect(s.check(snap(19, 0.05))).toBeNull();
    expect(s.check(snap(20, 0.05))).not.toBeNull();
  });

  it("trip at once on an error rate above the ceiling", () => {
    const s = new StopConditions({ errorRateAbove: 0.5 }, slo);
    expect(s.check(snap(0, 0.5))).toBeNull();
    expect(s.check(snap(1, 0.51))).toBe("error rate 0.5100 above the stop ceiling 0.5");
  });

  it("no limits: never trip", () => {
    const s = new StopConditions({}, slo);
    expect(s.enabled).toBe(false);
    expect(s.check(snap(1000, 1, 0))).toBeNull();
  });
});
