import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { describe, expect, it } from "vitest";
import { bootstrapRatio, pairedRatio, quantile, type RatioSample, scopeSeed } from "./bootstrap.ts";

/** A sample of means (every den 1), unit i in cluster `clusters[i]` (default: each its own). */
function means(values: readonly number[], clusters?: readonly number[]): RatioSample {
  return {
    clusters: Int32Array.from(clusters ?? values.map((_, i) => i)),
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
    expect(mean).toMatchObject({ estimate: 3, n: 4, clusters: 4 });
    // Episode A recovered 2 faults in 30 s total, B 1 fault in 60 s, C none: (30 + 60) / 3 = 30.
    const mttr: RatioSample = {
      clusters: Int32Array.of(0, 1, 2),
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

  it("has a degenerate interval for constant data and none for a single cluster", () => {
    expect(bootstrapRatio(means([5, 5, 5]))[0]).toEqual({ estimate: 5, lower: 5, upper: 5, n: 3, clusters: 3 });
    // Three episodes of one seed: how another seed would go is unknown, so no interval at all.
    expect(bootstrapRatio(means([1, 2, 3], [7, 7, 7]))[0]).toEqual({
      estimate: 2,
      lower: null,
      upper: null,
      n: 3,
      clusters: 1,
    });
  });

  it("resamples whole clusters: units of one cluster always come together", () => {
    // Each cluster holds a 0 and a 10: every resample of clusters has mean exactly 5, while
    // resampling the six units one by one would spread from 0 to 10.
    const [r] = bootstrapRatio(means([0, 10, 0, 10, 0, 10], [1, 1, 2, 2, 3, 3]), { resamples: 200 });
    expect(r).toEqual({ estimate: 5, lower: 5, upper: 5, n: 6, clusters: 3 });
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
    expect(d).toEqual({ estimate: 0, lower: 0, upper: 0, n: 20, clusters: 20, p: 1 });
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

  it("flips whole clusters: two clusters of identical shifts give the exact p of two units", () => {
    // Four pairs in two clusters, every difference +1. Flipping clusters, only all-plus and
    // all-minus reach |mean| >= 1 among 4 patterns: p = 0.5 (per pair it would be 2/16).
    const [d] = pairedRatio(means([1, 1, 1, 1], [5, 5, 6, 6]), means([0, 0, 0, 0], [5, 5, 6, 6]));
    expect(d!.p).toBe(0.5);
    expect(d!.clusters).toBe(2);
  });

  it("is deterministic for a seed", () => {
    const a = means(normals(11, 30));
    const b = means(normals(12, 30));
    expect(pairedRatio(a, b, { seed: 5 })).toEqual(pairedRatio(a, b, { seed: 5 }));
  });
});

describe("seed-correlated data (why intervals resample whole seeds)", () => {
  // A matrix like the harness's: 12 seeds x 9 cells, where a seed's episodes share its load
  // curve and fault times, so they share a seed effect (sd 3) on top of their own noise
  // (sd 1). The true mean is 50. The old scheme (resample seeds independently within each
  // cell) treats the 108 episodes as if only their own noise varied.
  const SEEDS = 12;
  const CELLS = 9;
  function matrix(rep: number): { values: number[]; seeds: number[]; cells: number[] } {
    const z = normals(70_000 + rep, SEEDS * (CELLS + 1));
    const values: number[] = [];
    const seeds: number[] = [];
    const cells: number[] = [];
    for (let s = 0; s < SEEDS; s++) {
      const seedEffect = 3 * z[s * (CELLS + 1)]!;
      for (let c = 0; c < CELLS; c++) {
        values.push(50 + seedEffect + z[s * (CELLS + 1) + c + 1]!);
        seeds.push(s);
        cells.push(c);
      }
    }
    return { values, seeds, cells };
  }

  /** The scheme this module used before: a stratified bootstrap, cells as strata. */
  function stratifiedInterval(values: number[], cells: number[], seed: number): [number, number] {
    const rng = xoroshiro128plus(seed);
    const byCell = Array.from({ length: CELLS }, (_, c) => values.filter((_, i) => cells[i] === c));
    const draws: number[] = [];
    for (let r = 0; r < 1000; r++) {
      let sum = 0;
      for (const g of byCell)
        for (let i = 0; i < g.length; i++) sum += g[Math.floor(((rng.next() >>> 0) / 2 ** 32) * g.length)]!;
      draws.push(sum / values.length);
    }
    const sorted = Float64Array.from(draws).sort();
    return [quantile(sorted, 0.025), quantile(sorted, 0.975)];
  }

  it("covers the true mean about 95% of the time, where the stratified scheme under-covers", () => {
    const reps = 300;
    let clustered = 0;
    let stratified = 0;
    for (let r = 0; r < reps; r++) {
      const { values, seeds, cells } = matrix(r);
      const [ci] = bootstrapRatio(means(values, seeds), { seed: r, resamples: 1000 });
      if (ci!.lower! <= 50 && 50 <= ci!.upper!) clustered++;
      const [lo, hi] = stratifiedInterval(values, cells, r);
      if (lo <= 50 && 50 <= hi) stratified++;
    }
    // 12 clusters: the percentile bootstrap runs a little narrow at so few, hence > 0.88.
    expect(clustered / reps).toBeGreaterThan(0.88);
    expect(clustered / reps).toBeLessThan(0.99);
    expect(stratified / reps).toBeLessThan(0.5);
  });

  it("rejects a true null about 5% of the time with seed-shared noise in both arms", () => {
    const reps = 200;
    let rejected = 0;
    for (let r = 0; r < reps; r++) {
      const a = matrix(2 * r);
      const b = matrix(2 * r + 1);
      const [d] = pairedRatio(means(a.values, a.seeds), means(b.values, b.seeds), { seed: r, resamples: 500 });
      if (d!.p! < 0.05) rejected++;
    }
    expect(rejected / reps).toBeLessThan(0.1);
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
