/** The fault schedule comes from the seed alone: times, specs and targets. */
import { describe, expect, it } from "vitest";
import { FAULT_TYPES } from "./contract.ts";
import { generateSchedule } from "./schedule.ts";

const MIXED = FAULT_TYPES.map((type) => ({ type }));

describe("generateSchedule", () => {
  it("is a function of the seed: same seed, same schedule; another seed, another", () => {
    const o = { faults: MIXED, frequency: { kind: "poisson", meanIntervalS: 60 }, episodeSeconds: 2000 } as const;
    const a = generateSchedule({ ...o, seed: 4 });
    expect(generateSchedule({ ...o, seed: 4 })).toEqual(a);
    expect(generateSchedule({ ...o, seed: 5 })).not.toEqual(a);
  });

  it("fixed: every intervalS from offsetS (default: one interval in), times before the episode end", () => {
    const base = { faults: [{ type: "pod-kill" as const }], episodeSeconds: 1000, seed: 1 };
    const a = generateSchedule({ ...base, frequency: { kind: "fixed", intervalS: 300 } });
    expect(a.map((f) => f.atS)).toEqual([300, 600, 900]);
    expect(a.map((f) => f.id)).toEqual([0, 1, 2]);
    const b = generateSchedule({ ...base, frequency: { kind: "fixed", intervalS: 250, offsetS: 0 } });
    expect(b.map((f) => f.atS)).toEqual([0, 250, 500, 750]);
    for (const f of [...a, ...b]) {
      expect(f.targetKey).toBeGreaterThanOrEqual(0);
      expect(f.targetKey).toBeLessThan(1);
      expect(f.spec).toEqual({ type: "pod-kill" });
    }
  });

  it("poisson: gaps average meanIntervalS", () => {
    const s = generateSchedule({
      faults: [{ type: "pod-kill" }],
      frequency: { kind: "poisson", meanIntervalS: 50 },
      episodeSeconds: 200_000,
      seed: 9,
    });
    expect(s.length / (200_000 / 50)).toBeGreaterThan(0.95);
    expect(s.length / (200_000 / 50)).toBeLessThan(1.05);
    expect(s.every((f, i) => i === 0 || f.atS > s[i - 1].atS)).toBe(true);
  });

  it("inject all: every spec at every injection time, each with its own id and target", () => {
    const o = {
      faults: [{ type: "pod-kill" as const }, { type: "cpu-stress" as const }, { type: "load-spike" as const }],
      frequency: { kind: "fixed", intervalS: 300 } as const,
      episodeSeconds: 1000,
      seed: 3,
    };
    const s = generateSchedule({ ...o, inject: "all" });
    expect(s.map((f) => f.atS)).toEqual([300, 300, 300, 600, 600, 600, 900, 900, 900]);
    expect(s.map((f) => f.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(s.map((f) => f.spec.type)).toEqual(Array(3).fill(["pod-kill", "cpu-stress", "load-spike"]).flat());
    expect(s[1]!.spec).toEqual({ type: "cpu-stress", durationS: 180, load: 0.6 });
    expect(new Set(s.map((f) => f.targetKey)).size).toBe(9);
    // Poisson times: every spec shares its injection's time, and the times still come from the seed.
    const p = generateSchedule({ ...o, frequency: { kind: "poisson", meanIntervalS: 100 }, inject: "all" });
    expect(p.length % 3).toBe(0);
    for (let i = 0; i < p.length; i += 3) expect(new Set([p[i]!.atS, p[i + 1]!.atS, p[i + 2]!.atS]).size).toBe(1);
    expect(generateSchedule({ ...o, frequency: { kind: "poisson", meanIntervalS: 100 }, inject: "all" })).toEqual(p);
    // The default is one drawn spec per injection.
    expect(generateSchedule(o).map((f) => f.atS)).toEqual([300, 600, 900]);
  });

  it("several specs: each injection draws one of them, with their defaults applied", () => {
    const s = generateSchedule({
      faults: MIXED,
      frequency: { kind: "fixed", intervalS: 10 },
      episodeSeconds: 6000,
      seed: 2,
    });
    expect(new Set(s.map((f) => f.atS)).size).toBe(s.length); // one fault per time
    for (const type of FAULT_TYPES) {
      const share = s.filter((f) => f.spec.type === type).length / s.length;
      expect(share).toBeGreaterThan(0.1);
      expect(share).toBeLessThan(0.24);
    }
    expect(s.find((f) => f.spec.type === "load-spike")?.spec).toEqual({
      type: "load-spike",
      durationS: 300,
      factor: 2,
    });
  });

  it("rejects an empty fault list and a bad frequency", () => {
    const o = { frequency: { kind: "fixed", intervalS: 10 }, episodeSeconds: 100, seed: 1 } as const;
    expect(() => generateSchedule({ ...o, faults: [] })).toThrow();
    expect(() =>
      generateSchedule({ faults: MIXED, frequency: { kind: "fixed", intervalS: -1 }, episodeSeconds: 100, seed: 1 }),
    ).toThrow();
  });
});
