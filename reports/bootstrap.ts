/**
 * Seeded bootstrap intervals and paired permutation tests (rliable's `get_interval_estimates`
 * and the paired tests of the RL-evaluation literature), as pure functions on one data shape.
 *
 * Data shape, a {@link RatioSample}: `units` rows (episodes, or pairs of episodes), each in
 * one cluster (the episode's seed), and for each statistic a numerator and a denominator
 * column. The statistic is the ratio of sums, `sum(num) / sum(den)`: a mean when every `den`
 * is 1, MTTR pooled over every closed incident when `num` is an episode's total time to
 * recover and `den` its closed incidents. A unit with `den` 0 does not count.
 *
 * The bootstrap resamples whole clusters (a cluster bootstrap): every episode of one seed
 * shares that seed's load curve and fault times, across every fault type and frequency, so
 * they are not independent, and resampling them one by one (or within cells) makes the
 * intervals too narrow. Each resample draws as many clusters as there are, with
 * replacement, and takes every unit of each drawn cluster. The permutation test flips whole
 * clusters too, so an interval and its p-value always agree on what varies. Intervals are
 * percentile intervals. Every function takes its seed explicitly: the same sample, seed and
 * resample count give the same interval, bit for bit.
 */
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";

/** `units` rows; `clusters[i]` is the cluster (seed) of unit i; `num[k][i]`, `den[k][i]` statistic k of unit i. */
export interface RatioSample {
  readonly clusters: Int32Array;
  readonly num: readonly Float64Array[];
  readonly den: readonly Float64Array[];
}

export interface BootstrapOptions {
  /** Resamples drawn. @default 2000 */
  readonly resamples?: number;
  /** Seeds the PRNG (pure-rand xoroshiro128+). @default 0 */
  readonly seed?: number;
  /** Coverage of the interval. @default 0.95 */
  readonly level?: number;
}

export interface Interval {
  /** The statistic on the sample itself; NaN when no unit counts. */
  readonly estimate: number;
  /**
   * Percentile bounds, or null: with fewer than 2 clusters (one seed says nothing about how
   * another would go, and a bootstrap would claim there is no spread), or when fewer than
   * `level` of the resamples have a value (a ratio whose denominator was resampled to 0 too
   * often).
   */
  readonly lower: number | null;
  readonly upper: number | null;
  /** Units in the sample (episodes, or pairs). */
  readonly n: number;
  /** Clusters (seeds) the units fall into: what the resampling draws. */
  readonly clusters: number;
}

export interface PairedInterval extends Interval {
  /**
   * Two-sided p-value of "no difference" by a sign-flip permutation test over clusters: the
   * two arms of every pair in a cluster are swapped together or not at all; every
   * combination when at most 16 clusters differ (exact), else `resamples` random ones
   * ((1 + hits) / (1 + resamples)). Null with no estimate.
   */
  readonly p: number | null;
}

export const DEFAULT_RESAMPLES = 2000;

/** Interval of each statistic of `sample` (the whole sample shares each resample's draw). */
export function bootstrapRatio(sample: RatioSample, opts: BootstrapOptions = {}): Interval[] {
  const { resamples, level } = resolve(opts);
  const n = sample.clusters.length;
  const c = collapse(sample);
  const m = c.clusters.length;
  const k = sample.num.length;
  const estimates = c.num.map((num, j) => ratio(num, c.den[j]!));
  if (m < 2) return estimates.map((estimate) => ({ estimate, lower: null, upper: null, n, clusters: m }));
  const rng = xoroshiro128plus(opts.seed ?? 0);
  const draws = new Float64Array(k * resamples);
  const idx = new Int32Array(m);
  for (let r = 0; r < resamples; r++) {
    drawIndices(rng, idx);
    for (let j = 0; j < k; j++) draws[j * resamples + r] = ratioAt(c.num[j]!, c.den[j]!, idx);
  }
  return estimates.map((estimate, j) => ({
    estimate,
    ...percentiles(draws.subarray(j * resamples, (j + 1) * resamples), level),
    n,
    clusters: m,
  }));
}

/**
 * Interval and p-value of `stat(a) - stat(b)` for each statistic, where unit i of `a` and
 * unit i of `b` are a pair (the same cell and seed: the same faults and load), in cluster
 * `a.clusters[i]`. Resampling draws clusters of pairs, so whatever a pair has in common
 * cancels and whatever a seed's pairs have in common stays together.
 */
export function pairedRatio(a: RatioSample, b: RatioSample, opts: BootstrapOptions = {}): PairedInterval[] {
  const { resamples, level } = resolve(opts);
  const n = a.clusters.length;
  if (b.clusters.length !== n) {
    throw new Error(`Expected paired samples of equal size, got ${n} and ${b.clusters.length}`);
  }
  const ca = collapse(a);
  const cb = collapse({ ...b, clusters: a.clusters });
  const m = ca.clusters.length;
  const k = a.num.length;
  const estimates = ca.num.map((num, j) => ratio(num, ca.den[j]!) - ratio(cb.num[j]!, cb.den[j]!));
  const pValues = signFlipP(ca, cb, estimates, resamples, opts.seed ?? 0);
  if (m < 2) {
    return estimates.map((estimate, j) => ({ estimate, lower: null, upper: null, n, clusters: m, p: pValues[j]! }));
  }
  const rng = xoroshiro128plus(opts.seed ?? 0);
  const draws = new Float64Array(k * resamples);
  const idx = new Int32Array(m);
  for (let r = 0; r < resamples; r++) {
    drawIndices(rng, idx);
    for (let j = 0; j < k; j++) {
      draws[j * resamples + r] = ratioAt(ca.num[j]!, ca.den[j]!, idx) - ratioAt(cb.num[j]!, cb.den[j]!, idx);
    }
  }
  return estimates.map((estimate, j) => ({
    estimate,
    ...percentiles(draws.subarray(j * resamples, (j + 1) * resamples), level),
    n,
    clusters: m,
    p: pValues[j]!,
  }));
}

/**
 * The sample with one unit per cluster: each cluster's numerators and denominators summed,
 * clusters in order of first appearance. A ratio of sums is the same over units or over
 * their cluster totals, and resampling cluster totals is resampling whole clusters.
 */
function collapse(sample: RatioSample): RatioSample {
  const index = new Map<number, number>();
  const of = Int32Array.from(sample.clusters, (c) => {
    let i = index.get(c);
    if (i === undefined) {
      i = index.size;
      index.set(c, i);
    }
    return i;
  });
  const m = index.size;
  const sum = (col: Float64Array) => {
    const out = new Float64Array(m);
    for (let i = 0; i < col.length; i++) out[of[i]!]! += col[i]!;
    return out;
  };
  return { clusters: Int32Array.from(index.keys()), num: sample.num.map(sum), den: sample.den.map(sum) };
}

/** Up to this many clusters with a non-zero difference, the permutation test enumerates every sign pattern. */
const EXACT_MAX_PAIRS = 16;

/**
 * Two-sided p-values of a sign-flip (within-pair swap) permutation test, one per statistic,
 * on cluster totals (so a flip swaps every pair of a cluster at once); see
 * {@link PairedInterval.p}. Clusters whose two totals are equal change nothing when swapped,
 * so only the others are permuted: every pattern of them when there are at most
 * {@link EXACT_MAX_PAIRS} (exact), else `resamples` random patterns.
 */
function signFlipP(
  a: RatioSample,
  b: RatioSample,
  observed: readonly number[],
  resamples: number,
  seed: number,
): (number | null)[] {
  const n = a.clusters.length;
  return observed.map((t, j) => {
    if (!Number.isFinite(t)) return null;
    // Sums of both arms; swapping pair i moves (a_i - b_i) from arm a to arm b.
    let sa = 0;
    let sad = 0;
    let sb = 0;
    let sbd = 0;
    const dn: number[] = [];
    const dd: number[] = [];
    for (let i = 0; i < n; i++) {
      const an = a.num[j]![i]!;
      const ad = a.den[j]![i]!;
      const bn = b.num[j]![i]!;
      const bd = b.den[j]![i]!;
      sa += an;
      sad += ad;
      sb += bn;
      sbd += bd;
      if (an !== bn || ad !== bd) {
        dn.push(an - bn);
        dd.push(ad - bd);
      }
    }
    const m = dn.length;
    // Float sums of the same numbers in another order differ in the last bits: a permuted
    // statistic equal to the observed one must count as "at least as extreme".
    const target = Math.abs(t) - 1e-9 * Math.max(1, Math.abs(t));
    let hits = 0;
    let total = 0;
    const tally = (flipped: (k: number) => boolean) => {
      let xa = sa;
      let xad = sad;
      let xb = sb;
      let xbd = sbd;
      for (let k = 0; k < m; k++) {
        if (!flipped(k)) continue;
        xa -= dn[k]!;
        xb += dn[k]!;
        xad -= dd[k]!;
        xbd += dd[k]!;
      }
      const x = xa / xad - xb / xbd;
      // A swap that leaves a denominator at 0 has no statistic: it is not counted.
      if (Number.isNaN(x)) return;
      total++;
      if (Math.abs(x) >= target) hits++;
    };
    if (m <= EXACT_MAX_PAIRS) {
      for (let mask = 0; mask < 2 ** m; mask++) tally((k) => ((mask >>> k) & 1) === 1);
      return total === 0 ? null : hits / total;
    }
    const rng = xoroshiro128plus((seed ^ Math.imul(j + 1, 0x9e37_79b9)) >>> 0);
    const bits = new Uint8Array(m);
    for (let r = 0; r < resamples; r++) {
      for (let k = 0; k < m; k++) bits[k] = rng.next() & 1;
      tally((k) => bits[k] === 1);
    }
    return total === 0 ? null : (1 + hits) / (1 + total);
  });
}

// ---------------------------------------------------------------------------

function resolve(opts: BootstrapOptions): { resamples: number; level: number } {
  const resamples = opts.resamples ?? DEFAULT_RESAMPLES;
  const level = opts.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new Error(`Expected resamples to be an integer >= 1, got ${resamples}`);
  }
  if (!(level > 0 && level < 1)) throw new Error(`Expected level in (0, 1), got ${level}`);
  return { resamples, level };
}

/**
 * Fills `out` with one resample of its length's clusters, drawn uniformly with replacement.
 * `floor(u * m)` on a 32-bit draw is biased by at most m / 2^32, far below what a few
 * thousand resamples can see.
 */
function drawIndices(rng: RandomGenerator, out: Int32Array): void {
  const m = out.length;
  for (let i = 0; i < m; i++) out[i] = Math.floor(((rng.next() >>> 0) / 0x1_0000_0000) * m);
}

function ratio(num: Float64Array, den: Float64Array): number {
  let s = 0;
  let d = 0;
  for (let i = 0; i < num.length; i++) {
    s += num[i]!;
    d += den[i]!;
  }
  return d === 0 ? Number.NaN : s / d;
}

function ratioAt(num: Float64Array, den: Float64Array, idx: Int32Array): number {
  let s = 0;
  let d = 0;
  for (let i = 0; i < idx.length; i++) {
    const u = idx[i]!;
    s += num[u]!;
    d += den[u]!;
  }
  return d === 0 ? Number.NaN : s / d;
}

/** Percentile bounds (linear interpolation, R's type 7) over the finite draws; see {@link Interval}. */
function percentiles(draws: Float64Array, level: number): { lower: number | null; upper: number | null } {
  const finite = Float64Array.from(draws.filter(Number.isFinite)).sort();
  if (finite.length === 0 || finite.length < level * draws.length) return { lower: null, upper: null };
  const alpha = (1 - level) / 2;
  return { lower: quantile(finite, alpha), upper: quantile(finite, 1 - alpha) };
}

/** Type-7 quantile of sorted values. */
export function quantile(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** A 32-bit seed for a named scope, so each scope's draws do not depend on which others ran. */
export function scopeSeed(seed: number, scope: string): number {
  // FNV-1a over the scope, mixed with the user's seed.
  let h = 0x811c_9dc5 ^ (seed >>> 0);
  for (let i = 0; i < scope.length; i++) {
    h ^= scope.charCodeAt(i);
    h = Math.imul(h, 0x0100_0193);
  }
  return h >>> 0;
}
