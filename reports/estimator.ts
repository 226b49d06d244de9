/**
 * Intervals on demand over per-episode rows: "uptime of rl on pod-kill", "MTTR of rl minus
 * MTTR of hpa, paired by seed". Each scope (arm(s) + the cells selected) draws its resamples
 * from its own seed, derived from the report's seed and the scope's name, so a number never depends on
 * which other numbers were asked for first, or in which batch of metrics: a gate, a table
 * and a chart asking for the same thing get the same interval. Results are memoised.
 *
 * Clusters are seeds: a seed fixes the load curve and the fault times of every episode it
 * runs, in every cell, so the bootstrap resamples whole seeds (bootstrap.ts). A paired
 * comparison pairs the two arms' episodes of the same cell and seed (the same fault
 * schedule and load, DESIGN.md "common random numbers"), and resamples seeds of pairs.
 */
import {
  bootstrapRatio,
  type Interval,
  type PairedInterval,
  pairedRatio,
  type RatioSample,
  scopeSeed,
} from "./bootstrap.ts";
import type { Filter } from "./gates.ts";
import { type EpisodeRow, type MetricName, numDen } from "./metrics.ts";

/** Which episodes: one policy of one run. */
export interface Arm {
  readonly runId: string;
  readonly policy: string;
}

export interface EstimatorOptions {
  /** @default 2000 */
  readonly resamples?: number;
  /** @default 0 */
  readonly seed?: number;
}

export type Estimates<T> = Record<MetricName, T>;

export class Estimator {
  private readonly singles = new Map<string, Interval>();
  private readonly pairs = new Map<string, PairedInterval>();
  readonly resamples: number;
  readonly seed: number;
  /**
   * Run ids by order of first appearance. Scopes name a run by this position, never by its
   * id: ids carry a start time, and two runs of one scenario must give the same intervals.
   */
  private readonly runOrdinal = new Map<string, number>();

  constructor(
    readonly episodes: readonly EpisodeRow[],
    opts: EstimatorOptions = {},
  ) {
    this.resamples = opts.resamples ?? 2000;
    this.seed = opts.seed ?? 0;
    for (const e of episodes) if (!this.runOrdinal.has(e.runId)) this.runOrdinal.set(e.runId, this.runOrdinal.size);
  }

  private runTag(runId: string): string {
    return `run${this.runOrdinal.get(runId) ?? runId}`;
  }

  /** The arm's completed episodes inside the filter. */
  rows(arm: Arm, filter: Filter = {}): EpisodeRow[] {
    return this.episodes.filter(
      (e) =>
        e.runId === arm.runId &&
        e.policy === arm.policy &&
        (filter.fault === undefined || e.fault === filter.fault) &&
        (filter.frequency === undefined || e.frequency === filter.frequency),
    );
  }

  /** The interval of each metric for one arm. */
  single<M extends MetricName>(arm: Arm, filter: Filter, metrics: readonly M[]): Record<M, Interval> {
    const rows = this.rows(arm, filter);
    const scope = `single|${this.runTag(arm.runId)}|${arm.policy}|${cellsOf(rows)}`;
    const missing = metrics.filter((m) => !this.singles.has(`${scope}|${m}`));
    if (missing.length > 0) {
      const results = bootstrapRatio(sample(rows, missing), {
        resamples: this.resamples,
        seed: scopeSeed(this.seed, scope),
      });
      missing.forEach((m, j) => {
        this.singles.set(`${scope}|${m}`, results[j]!);
      });
    }
    return Object.fromEntries(metrics.map((m) => [m, this.singles.get(`${scope}|${m}`)!])) as Record<M, Interval>;
  }

  /**
   * The paired difference `a - b` of each metric, over the (cell, seed) pairs both arms
   * have; episodes without a partner are left out (n counts pairs).
   */
  paired<M extends MetricName>(a: Arm, b: Arm, filter: Filter, metrics: readonly M[]): Record<M, PairedInterval> {
    const [ra, rb] = matchPairs(this.rows(a, filter), this.rows(b, filter));
    const scope = `paired|${this.runTag(a.runId)}|${a.policy}|${this.runTag(b.runId)}|${b.policy}|${cellsOf(ra)}`;
    const missing = metrics.filter((m) => !this.pairs.has(`${scope}|${m}`));
    if (missing.length > 0) {
      const results = pairedRatio(sample(ra, missing), sample(rb, missing), {
        resamples: this.resamples,
        seed: scopeSeed(this.seed, scope),
      });
      missing.forEach((m, j) => {
        this.pairs.set(`${scope}|${m}`, results[j]!);
      });
    }
    return Object.fromEntries(metrics.map((m) => [m, this.pairs.get(`${scope}|${m}`)!])) as Record<M, PairedInterval>;
  }
}

/**
 * The cells a selection covers: the scope's name. Two filters that select the same episodes
 * (the whole matrix, and its only fault) are one scope: one interval, one p-value.
 */
function cellsOf(rows: readonly EpisodeRow[]): string {
  return [...new Set(rows.map(cellKey))].sort().join("|");
}

const cellKey = (e: EpisodeRow) => `${e.fault}\u0000${e.frequency}`;

/** Episodes of `a` and `b` of the same cell and seed, in the same order. */
function matchPairs(a: readonly EpisodeRow[], b: readonly EpisodeRow[]): [EpisodeRow[], EpisodeRow[]] {
  const key = (e: EpisodeRow) => `${cellKey(e)}\u0000${e.seed}`;
  const byKey = new Map<string, EpisodeRow>();
  for (const e of b) if (!byKey.has(key(e))) byKey.set(key(e), e);
  const ra: EpisodeRow[] = [];
  const rb: EpisodeRow[] = [];
  const used = new Set<string>();
  for (const e of a) {
    const k = key(e);
    const partner = byKey.get(k);
    if (partner === undefined || used.has(k)) continue;
    used.add(k);
    ra.push(e);
    rb.push(partner);
  }
  return [ra, rb];
}

/** The {@link RatioSample} of `metrics` over `rows`, clustered by seed. */
function sample(rows: readonly EpisodeRow[], metrics: readonly MetricName[]): RatioSample {
  const clusters = Int32Array.from(rows, (e) => e.seed);
  const num = metrics.map(() => new Float64Array(rows.length));
  const den = metrics.map(() => new Float64Array(rows.length));
  rows.forEach((row, i) => {
    metrics.forEach((m, j) => {
      const [n, d] = numDen(m, row);
      num[j]![i] = n;
      den[j]![i] = d;
    });
  });
  return { clusters, num, den };
}
