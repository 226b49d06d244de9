import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { describe, expect, it } from "vitest";
import {
  createRngState,
  drawUniforms,
  loadRngState,
  mixSeed,
  Stream,
  streamRng,
  streamRngs,
  uniform01,
} from "./rng.ts";

describe("random streams", () => {
  it("drawUniforms steps the state exactly as pure-rand's xoroshiro128+ next()", () => {
    const g = xoroshiro128plus(12345);
    g.jump();
    const st = createRngState();
    loadRngState(g, st);
    const out = new Float64Array(1000);
    drawUniforms(st, out, 1000);
    for (let k = 0; k < 1000; k++) expect(out[k]).toBe(uniform01(g));
    expect(Array.from(st)).toEqual(g.getState());
  });

  it("derives one independent stream per consumer, the same ones streamRngs and streamRng give", () => {
    const all = streamRngs(7);
    expect(all.workload.getState()).toEqual(streamRng(7, Stream.Workload).getState());
    expect(all.schedule.getState()).toEqual(streamRng(7, Stream.Schedule).getState());
    expect(all.dynamics.getState()).toEqual(streamRng(7, Stream.Dynamics).getState());
    const firsts = [all.workload, all.schedule, all.dynamics].map((g) => g.next());
    expect(new Set(firsts).size).toBe(3);
  });

  it("scrambles neighbouring seeds", () => {
    expect(mixSeed(1)).not.toBe(mixSeed(2));
    const a = uniform01(streamRng(1, Stream.Workload));
    const b = uniform01(streamRng(2, Stream.Workload));
    expect(Math.abs(a - b)).toBeGreaterThan(1e-6);
  });
});
