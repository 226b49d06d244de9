import { describe, expect, it } from "vitest";
import { Action, encodeObsV1, OBS_V1 } from "../harness/core/contract.ts";
import { SimEnv, type SimEnvConfig } from "./env.ts";
import { hashEpisode, noop, randomPolicy, runEpisode } from "./test-helpers.ts";

const MIXED: SimEnvConfig = {
  faults: [
    { type: "pod-kill" },
    { type: "pod-failure", durationS: 60 },
    { type: "cpu-stress" },
    { type: "memory-leak", ratePerMin: 0.3 },
    { type: "network-delay" },
    { type: "load-spike" },
  ],
  frequency: { kind: "poisson", meanIntervalS: 80 },
  workload: { pattern: "random-walk" },
};

describe("SimEnv determinism", () => {
  it("gives the identical trajectory for the same seed and actions", () => {
    const a = runEpisode(11, MIXED, randomPolicy(5));
    const b = runEpisode(11, MIXED, randomPolicy(5));
    expect(a.steps.length).toBeGreaterThan(5);
    expect(hashEpisode(a)).toBe(hashEpisode(b));
  });

  it("gives the identical trajectory when one env is reset again (no state leaks across resets)", () => {
    const env = new SimEnv();
    runEpisode(3, MIXED, randomPolicy(9), 150, env);
    const again = runEpisode(11, MIXED, randomPolicy(5), Number.POSITIVE_INFINITY, env);
    const fresh = runEpisode(11, MIXED, randomPolicy(5));
    expect(hashEpisode(again)).toBe(hashEpisode(fresh));
  });

  it("gives different trajectories for different seeds", () => {
    const a = runEpisode(1, MIXED, noop, 100);
    const b = runEpisode(2, MIXED, noop, 100);
    expect(hashEpisode(a)).not.toBe(hashEpisode(b));
  });
});

describe("SimEnv episode contract", () => {
  it("truncates at episodeSteps and only there", () => {
    const e = runEpisode(4, { params: { episodeSteps: 30 } }, noop);
    expect(e.steps.length).toBe(30);
    expect(e.steps.slice(0, -1).every((s) => !s.truncated && !s.terminated)).toBe(true);
    expect(e.steps.at(-1)?.truncated).toBe(true);
    expect(e.steps.at(-1)?.terminated).toBe(false);
  });

  it("terminates when no pod can serve (every ready pod drained)", () => {
    const e = runEpisode(4, {}, () => Action.DrainPod);
    expect(e.steps.length).toBe(3);
    const last = e.steps[2];
    expect(last.terminated).toBe(true);
    expect(last.snapshot.readyReplicas).toBe(3);
    expect(last.snapshot.drained).toBe(3);
    expect(last.snapshot.errorRate).toBe(1);
  });

  it("refuses step() after the episode ended, and before reset()", () => {
    const env = new SimEnv();
    expect(() => env.step(Action.Noop)).toThrow(/call reset\(\)/);
    env.reset(1, { params: { episodeSteps: 1 } });
    env.step(Action.Noop);
    expect(() => env.step(Action.Noop)).toThrow(/after the episode ended/);
  });

  it("reuses the obs buffer and the result object, and obs is obs-v1 of the snapshot", () => {
    const env = new SimEnv();
    const r0 = env.reset(2, MIXED);
    const r1 = env.step(Action.ScaleUp);
    const r2 = env.step(Action.Noop);
    expect(r1).toBe(r2);
    expect(r1.obs).toBe(r0.obs);
    expect(r2.obs.length).toBe(OBS_V1.dim);
    const expected = encodeObsV1(r2.info.snapshot, { maxReplicas: 10, episodeSeconds: 2000 });
    expect(Array.from(r2.obs)).toEqual(Array.from(expected));
  });

  it("rejects a bad action and a bad config with the offending value", () => {
    const env = new SimEnv();
    env.reset(1);
    expect(() => env.step(7 as Action)).toThrow(/got `7`/);
    expect(() => env.reset(1, { faults: [{ type: "pod-kill" }] })).toThrow(/`faults` and `frequency` together/);
    expect(() => env.reset(1, { params: { minReplicas: 5, maxReplicas: 2, initialReplicas: 3 } })).toThrow();
    expect(() => env.reset(1.5)).toThrow(/got `1.5`/);
  });

  it("injects a fixed schedule at the first step boundary at or after each time", () => {
    const e = runEpisode(
      1,
      {
        schedule: [
          { id: 0, atS: 15, spec: { type: "network-delay", durationS: 40, delayMs: 300 }, targetKey: 0 },
          { id: 1, atS: 50, spec: { type: "pod-kill" }, targetKey: 0.99 },
        ],
      },
      noop,
      12,
    );
    const injected = e.steps.flatMap((s) => s.events.filter((ev) => ev.kind === "fault-injected"));
    const cleared = e.steps.flatMap((s) => s.events.filter((ev) => ev.kind === "fault-cleared"));
    expect(injected.map((ev) => [ev.faultId, ev.time, ev.podId])).toEqual([
      [0, 20, 0],
      [1, 50, 2],
    ]);
    // Cleared durationS after the actual injection.
    expect(cleared.map((ev) => [ev.faultId, ev.time, ev.podId])).toEqual([[0, 60, 0]]);
  });
});
