import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { describe, expect, it } from "vitest";
import { bootstrapRatio, pairedRatio, quantile, type RatioSample, scopeSeed } from "./bootstrap.ts";

/** A sample of means (every den 1) in one stratum per entry of `strata` (default all 0). */
function means(values: readonly number[], strata?: readonly number[]): RatioSample {
  return {
    strata: Int32Array.from(strata ?? values.map(() => 0)),
    num: [Float64Array.from(values)],
    den: [Float64Array.from(values, () => 1)],
  };
}

/** Standard normal draws from a seeded generator (Box-Muller). */
function normals(seed: number, n: number): number[] {
  const rng = xoroshiro128plus(seed);
  const u = () => ((rng.next() >>> 0) + 0.5) / 0x1_0000_0000;
  return Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

describe("bootstrapRatio", () => {
  it("estimates the mean, and pools a ratio of sums (MTTR over recovered faults)", () => {
    const [mean] = bootstrapRatio(means([1, 2, 3, 6]), { resamples: 10 });
    expect(mean).toMatchObject({ estimate: 3, n: 4 });
    // Episode A recovered 2 faults in 30 s total, B 1 fault in 60 s, C none: (30 + 60) / 3 = 30.
    const mttr: RatioSample = {
      strata: Int32Array.of(0, 0, 0),
      num: [Float64Array.of(30, 60, 0)],
      den: [Float64Array.of(2, 1, 0)],
    };
    expect(bootstrapRatio(mttr, { resamples: 10 })[0]!.estimate).toBe(30);
  });

  it("gives the same interval for the same seed, and another for another seed", () => {
    const sample = means(normals(7, 25));
    const a = bootstrapRatio(sample, { seed: 42, resamples: 500 });
    const b = bootstrapRatio(sample, { seed: 42, resamples: 500 });
    const c = bootstrapRatio(sample, { seed: 43, resamples: 500 });
    expect(a).toEqual(b);
    expect(c[0]!.lower).not.toBe(a[0]!.lower);
  });

  it("has a degenerate interval for constant data and none for a stratum of one unit", () => {
    expect(bootstrapRatio(means([5, 5, 5]))[0]).toEqual({ estimate: 5, lower: 5, upper: 5, n: 3 });
    // Stratum 1 has one unit: its spread is unknown, so no interval at all.
    expect(bootstrapRatio(means([1, 2, 3], [0, 0, 1]))[0]).toEqual({ estimate: 2, lower: null, upper: null, n: 3 });
  });

  it("keeps each stratum's weight: resamples never move units between strata", () => {
    // Stratum 0 is all 0, stratum 1 all 10: every resample has mean exactly 5.
    const [r] = bootstrapRatio(means([0, 0, 0, 10, 10, 10], [0, 0, 0, 1, 1, 1]), { resamples: 200 });
    expect(r).toEqual({ estimate: 5, lower: 5, upper: 5, n: 6 });
  });

  it("covers a known mean in about 95% of repetitions (coverage sanity, seeded)", () => {
    // 400 samples of 30 draws from N(10, 2^2); the percentile interval should cover 10 about
    // 95% of the time (a little less at n = 30: the percentile bootstrap is slightly narrow).
    const reps = 400;
    let covered = 0;
    for (let r = 0; r < reps; r++) {
      const xs = normals(1000 + r, 30).map((z) => 10 + 2 * z);
      const [ci] = bootstrapRatio(means(xs), { seed: r, resamples: 1000 });
      if (ci!.lower! <= 10 && 10 <= ci!.upper!) covered++;
    }
    expect(covered / reps).toBeGreaterThan(0.9);
    expect(covered / reps).toBeLessThan(0.98);
  });

  it("refuses a resample count that is not a positive integer", () => {
    expect(() => bootstrapRatio(means([1, 2]), { resamples: 0 })).toThrow(
      "Expected resamples to be an integer >= 1, got 0",
    );
  });
});

describe("pairedRatio", () => {
  it("works out the exact sign-flip p-value by hand for three pairs", () => {
    // Differences +1, +2, +3 (mean 2). Of the 8 sign patterns only all-plus and all-minus
    // reach |mean| >= 2, so p = 2/8.
    const a = means([11, 12, 13]);
    const b = means([10, 10, 10]);
    const [d] = pairedRatio(a, b, { resamples: 1000 });
    expect(d!.estimate).toBe(2);
    expect(d!.p).toBe(0.25);
    expect(d!.n).toBe(3);
    // Resamples of the three differences: the mean lies between 1 and 3.
    expect(d!.lower).toBeGreaterThanOrEqual(1);
    expect(d!.upper).toBeLessThanOrEqual(3);
  });

  it("cancels what a pair has in common: a constant shift is significant despite noisy levels", () => {
    const base = normals(3, 40).map((z) => 100 + 50 * z);
    const [d] = pairedRatio(means(base.map((x) => x + 1)), means(base), { resamples: 2000, seed: 1 });
    expect(d!.estimate).toBeCloseTo(1, 9);
    expect(d!.lower).toBeCloseTo(1, 9);
    expect(d!.upper).toBeCloseTo(1, 9);
    expect(d!.p).toBeLessThan(0.001);
  });

  it("gives p = 1 and a zero interval when the two arms are identical", () => {
    const xs = normals(4, 20);
    const [d] = pairedRatio(means(xs), means(xs), { seed: 9 });
    expect(d).toEqual({ estimate: 0, lower: 0, upper: 0, n: 20, p: 1 });
  });

  it("rejects a true null about 5% of the time (permutation test calibration, seeded)", () => {
    const reps = 300;
    let rejected = 0;
    for (let r = 0; r < reps; r++) {
      const [d] = pairedRatio(means(normals(5000 + r, 20)), means(normals(9000 + r, 20)), {
        seed: r,
        resamples: 500,
      });
      if (d!.p! < 0.05) rejected++;
    }
    expect(rejected / reps).toBeGreaterThan(0.01);
    expect(rejected / reps).toBeLessThan(0.1);
  });

  it("is deterministic for a seed", () => {
    const a = means(normals(11, 30));
    const b = means(normals(12, 30));
    expect(pairedRatio(a, b, { seed: 5 })).toEqual(pairedRatio(a, b, { seed: 5 }));
  });
});

describe("helpers", () => {
  it("quantile interpolates linearly (type 7)", () => {
    expect(quantile(Float64Array.of(0, 10, 20, 30), 0.5)).toBe(15);
    expect(quantile(Float64Array.of(0, 10), 0.975)).toBe(9.75);
  });

  it("scopeSeed separates scopes and seeds", () => {
    expect(scopeSeed(0, "a")).not.toBe(scopeSeed(0, "b"));
    expect(scopeSeed(1, "a")).not.toBe(scopeSeed(0, "a"));
    expect(scopeSeed(1, "a")).toBe(scopeSeed(1, "a"));
  });
});
