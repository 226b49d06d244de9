/** The defaults are calibrated: 3 replicas at base load near 50% CPU; a 2x spike overloads them. */
import { describe, expect, it } from "vitest";
import { faultSpecSchema, PodPhase } from "../harness/core/contract.ts";
import { mean, noop, runEpisode } from "./test-helpers.ts";

describe("calibration of the defaults", () => {
  it("3 replicas at base load sit near 50% CPU, 50 ms, ~0 errors, all healthy", () => {
    const e = runEpisode(7, {}, noop);
    expect(e.steps).toHaveLength(200);
    const cpu = mean(e.steps.map((s) => s.snapshot.cpu));
    expect(Math.abs(cpu - 0.5)).toBeLessThan(0.03);
    expect(Math.max(...e.steps.map((s) => s.snapshot.latencyMs))).toBeLessThan(60);
    expect(Math.max(...e.steps.map((s) => s.snapshot.errorRate))).toBeLessThan(0.005);
    expect(e.steps.every((s) => s.snapshot.healthy === 3 && s.snapshot.desiredReplicas === 3)).toBe(true);
    expect(mean(e.steps.map((s) => s.snapshot.requestRate))).toBeGreaterThan(145);
    expect(mean(e.steps.map((s) => s.snapshot.requestRate))).toBeLessThan(155);
  });

  it("a 2x load spike overloads them: CPU ~1, latency and error rate far up", () => {
    const spike = faultSpecSchema.parse({ type: "load-spike", factor: 2, durationS: 2000 });
    const e = runEpisode(7, { schedule: [{ id: 0, atS: 0, spec: spike, targetKey: 0 }] }, noop, 60);
    const late = e.steps.slice(20);
    expect(mean(late.map((s) => s.snapshot.cpu))).toBeGreaterThan(0.97);
    // 7x the unloaded 50 ms at 100% CPU, and errors near 5% (SLO of the scenarios: 300 ms, 1%).
    expect(mean(late.map((s) => s.snapshot.latencyMs))).toBeGreaterThan(300);
    expect(mean(late.map((s) => s.snapshot.errorRate))).toBeGreaterThan(0.03);
    expect(late.every((s) => s.pods.every((p) => p.phase === PodPhase.Degraded))).toBe(true);
  });
});
